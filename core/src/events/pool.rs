//! An `[eventlistener:x]` pool: its event buffer, its serial, the protocol
//! state of each listener process, dispatch, and the result handler call;
//! the reference's `EventListenerPool` and `PEventListenerDispatcher` in
//! one self-contained component.
//!
//! The pool does no I/O and owns no process. Whoever drives it (the
//! supervisor task) tells it when a listener process spawned, became
//! RUNNING, wrote to stdout, or died, and takes the envelopes to write to
//! listeners' stdin from [`ListenerPool::take_deliveries`]. Every call
//! returns at once, so a slow or dead listener only fills its own pool's
//! buffer. Log lines are the reference's, through `tracing`.

use std::collections::VecDeque;
use std::sync::Arc;

use super::event::{Event, PublishedEvent};
use super::protocol::{self, ListenerState, READY_TOKEN};
use crate::config::model::{GroupConfig, GroupKind};
use crate::config::{EventTypeSet, UnknownEventType};
use crate::pyrepr::py_bytes_repr;

/// How a result handler judged a listener's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The event was processed (the default handler: the body was `OK`).
    Processed,
    /// The event was rejected and goes back to the head of the buffer,
    /// with the reason (the reference's `RejectEvent`).
    Rejected(String),
    /// The handler failed: the event goes back to the buffer and the
    /// listener enters UNKNOWN (the reference's "any other exception").
    Failed(String),
}

/// The event a listener answered about, with everything a handler may
/// want to know (the SDK's `EventRef` carries the same fields).
#[derive(Debug, Clone, Copy)]
pub struct AnsweredEvent<'a> {
    /// The event.
    pub event: &'a Event,
    /// Its type name (`eventname:`).
    pub name: &'static str,
    /// Its global serial.
    pub serial: i64,
    /// The pool's name.
    pub pool: &'a str,
    /// Its serial in the pool.
    pub pool_serial: i64,
    /// The payload as sent.
    pub payload: &'a str,
}

/// What judges a listener's `RESULT` body (an eventlistener's
/// `result_handler`). This is the daemon-side trait, ours: the SDK's
/// ABI-stable result-handler object (`supervisor_sdk::handler`), builtin or
/// from a plugin library, is adapted to it by
/// [`crate::plugins::handler::PluginResultHandler`]; the reference's
/// `default_handler` is the builtin plugin, reached through
/// [`crate::plugins::handler::default_result_handler`]. It is
/// called inline on the supervisor task, without a thread hop, so it must
/// not block.
pub trait ResultHandler: Send + Sync {
    /// Judge `result`, the body a listener sent for `event`.
    fn handle(&self, event: &AnsweredEvent<'_>, result: &[u8]) -> Verdict;
}

/// The main-log debug line for what a listener wrote to stdout, as the
/// reference's listener dispatcher writes it: the name's repr, then the
/// bytes' repr (`'lst' stdout output:\nb'READY\n'`), unlike ordinary
/// programs, whose output it decodes. Build it only when debug is enabled.
pub fn listener_stdout_debug_line(process_name: &str, data: &[u8]) -> String {
    format!(
        "{} stdout output:\n{}",
        crate::pyrepr::py_repr(process_name),
        py_bytes_repr(data)
    )
}

/// A serial counter as the reference keeps them: the first number is 0 and
/// it wraps to 0 after the largest integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serial(i64);

impl Default for Serial {
    fn default() -> Self {
        Serial(-1)
    }
}

impl Serial {
    /// A counter whose next number follows `last`.
    pub const fn after(last: i64) -> Serial {
        Serial(last)
    }

    /// The next number.
    pub fn next_serial(&mut self) -> i64 {
        self.0 = if self.0 == i64::MAX { 0 } else { self.0 + 1 };
        self.0
    }
}

/// An envelope to write to one listener's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The listener, by its index in the pool (config order).
    pub listener: usize,
    /// The event's global serial.
    pub serial: i64,
    /// Header line and payload.
    pub envelope: Vec<u8>,
}

/// A buffered event. `event` is `None` for a ghost: an event of a batch
/// that [`ListenerPool::batch_drops`] found will be pushed out of the
/// buffer before any listener could take it, so its payload was never
/// built; it still holds its place and serials, so the buffer, the pool
/// serial and the overflow log line are those of the one-at-a-time path.
#[derive(Debug, Clone)]
struct Queued {
    event: Option<Arc<PublishedEvent>>,
    serial: i64,
    pool_serial: i64,
}

#[derive(Debug)]
struct Listener {
    name: String,
    running: bool,
    stdin_open: bool,
    state: ListenerState,
    /// Stdout not yet consumed by the protocol.
    unparsed: Vec<u8>,
    /// The length announced by the `RESULT` line being served.
    result_len: Option<usize>,
    result: Vec<u8>,
    in_flight: Option<Queued>,
}

impl Listener {
    fn new(name: String) -> Listener {
        Listener {
            name,
            running: false,
            stdin_open: false,
            state: ListenerState::Acknowledged,
            unparsed: Vec::new(),
            result_len: None,
            result: Vec::new(),
            in_flight: None,
        }
    }

    fn eligible(&self) -> bool {
        self.running && self.stdin_open && self.state == ListenerState::Ready
    }

    fn change_state(&mut self, new: ListenerState) {
        tracing::debug!("{}: {} -> {}", self.name, self.state, new);
        self.state = new;
        if new == ListenerState::Unknown {
            tracing::warn!(
                "{}: has entered the UNKNOWN state and will no longer receive events, this \
                 usually indicates the process violated the eventlistener protocol",
                self.name
            );
        }
    }
}

/// One eventlistener pool. See the module documentation for who drives it.
pub struct ListenerPool {
    name: String,
    server: Arc<str>,
    buffer_size: usize,
    wants: EventTypeSet,
    handler: Arc<dyn ResultHandler>,
    queue: VecDeque<Queued>,
    serial: Serial,
    listeners: Vec<Listener>,
    outbox: Vec<Delivery>,
}

impl std::fmt::Debug for ListenerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerPool")
            .field("name", &self.name)
            .field("buffer_size", &self.buffer_size)
            .field("wants", &self.wants)
            .field("buffered", &self.queue.len())
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}

impl ListenerPool {
    /// A pool named `name` (the `pool:` field) of supervisord `server`
    /// (`identifier`, the `server:` field), buffering at most
    /// `buffer_size` events of the types in `wants`, whose listener
    /// processes are `listeners` in config order.
    pub fn new(
        name: impl Into<String>,
        server: Arc<str>,
        buffer_size: usize,
        wants: EventTypeSet,
        listeners: impl IntoIterator<Item = String>,
        handler: Arc<dyn ResultHandler>,
    ) -> ListenerPool {
        ListenerPool {
            name: name.into(),
            server,
            // The config layer refuses a buffer_size below 1.
            buffer_size: buffer_size.max(1),
            wants,
            handler,
            queue: VecDeque::new(),
            serial: Serial::default(),
            listeners: listeners.into_iter().map(Listener::new).collect(),
            outbox: Vec::new(),
        }
    }

    /// The pool of an `[eventlistener:x]` group; `None` for other groups.
    pub fn from_config(
        group: &GroupConfig,
        server: Arc<str>,
        handler: Arc<dyn ResultHandler>,
    ) -> Result<Option<ListenerPool>, UnknownEventType> {
        let GroupKind::EventListener {
            buffer_size,
            events,
            ..
        } = &group.kind
        else {
            return Ok(None);
        };
        let wants = EventTypeSet::from_names(events.iter().map(String::as_str))?;
        let size = usize::try_from(*buffer_size).unwrap_or(1);
        let names = group.processes.iter().map(|p| p.name.clone());
        Ok(Some(ListenerPool::new(
            group.name.clone(),
            server,
            size,
            wants,
            names,
            handler,
        )))
    }

    /// The pool name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The event types this pool buffers.
    pub fn wants(&self) -> EventTypeSet {
        self.wants
    }

    /// How many events wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    /// The global serials of the buffered events, oldest first.
    pub fn buffered_serials(&self) -> Vec<i64> {
        self.queue.iter().map(|q| q.serial).collect()
    }

    /// The index of the listener process named `name`.
    pub fn listener_index(&self, name: &str) -> Option<usize> {
        self.listeners.iter().position(|l| l.name == name)
    }

    /// The protocol state of listener `index`.
    pub fn listener_state(&self, index: usize) -> Option<ListenerState> {
        self.listeners.get(index).map(|l| l.state)
    }

    /// Take the envelopes to write, in order. Write each to its listener's
    /// stdin; if that write fails, call [`ListenerPool::stdin_failed`].
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.outbox)
    }

    /// Buffer an event of a type this pool wants (the bus checked) and
    /// dispatch what can be.
    pub fn accept(&mut self, event: &Arc<PublishedEvent>) {
        self.accept_queued(Some(Arc::clone(event)), event.serial());
    }

    /// Buffer the event numbered `serial` as a ghost (a place held without
    /// its payload, see `Queued`): the caller found with
    /// [`ListenerPool::batch_drops`] that the rest of its batch pushes it out
    /// before any listener can take it.
    pub fn accept_ghost(&mut self, serial: i64) {
        self.accept_queued(None, serial);
    }

    fn accept_queued(&mut self, event: Option<Arc<PublishedEvent>>, serial: i64) {
        let pool_serial = self.serial.next_serial();
        if self.queue.len() >= self.buffer_size {
            self.discard_oldest();
        }
        self.queue.push_back(Queued {
            event,
            serial,
            pool_serial,
        });
        crate::counters::events_buffered(1);
        self.dispatch();
    }

    /// Of a batch of `count` events of types this pool wants, accepted one
    /// after another with nothing else happening between them, the range
    /// of positions that are pushed out of the buffer by later events of
    /// the same batch before any listener could take them; the others are
    /// dispatched at once or still buffered after the batch. `None` when
    /// that cannot be told from the counts alone (events buffered while a
    /// listener is ready, which dispatch never leaves behind): then every
    /// event must be built.
    ///
    /// At rest either the buffer is empty or no listener is eligible, and
    /// nothing in a batch makes a listener eligible; so the first
    /// `eligible` events go straight out, and of the rest only the last
    /// `buffer_size` stay. Older buffered events are pushed out first, but
    /// they do not change how many of the batch's own events are.
    pub fn batch_drops(&self, count: usize) -> Option<std::ops::Range<usize>> {
        let eligible = self.listeners.iter().filter(|l| l.eligible()).count();
        if eligible > 0 && !self.queue.is_empty() {
            return None;
        }
        let sent = eligible.min(count);
        let dropped = (count - sent).saturating_sub(self.buffer_size);
        Some(sent..sent + dropped)
    }

    /// Listener `index` was spawned anew: its stdin is open and it owes a
    /// `READY` (state ACKNOWLEDGED, as the reference sets it, unlogged).
    pub fn listener_spawned(&mut self, index: usize) {
        let Some(listener) = self.listeners.get_mut(index) else {
            return;
        };
        let orphan = listener.in_flight.take();
        listener.running = false;
        listener.stdin_open = true;
        listener.state = ListenerState::Acknowledged;
        listener.unparsed.clear();
        listener.result_len = None;
        listener.result.clear();
        if let Some(queued) = orphan {
            self.rebuffer(queued);
        }
    }

    /// Listener `index` entered (`true`) or left (`false`) the RUNNING
    /// process state: only RUNNING listeners get events.
    pub fn listener_running(&mut self, index: usize, running: bool) {
        if let Some(listener) = self.listeners.get_mut(index) {
            listener.running = running;
            if running {
                self.dispatch();
            }
        }
    }

    /// Listener `index` died. An event it was serving goes back to the head
    /// of the buffer (the reference's EventRejectedEvent on process exit).
    pub fn listener_exited(&mut self, index: usize) {
        let Some(listener) = self.listeners.get_mut(index) else {
            return;
        };
        listener.running = false;
        listener.stdin_open = false;
        if let Some(queued) = listener.in_flight.take() {
            self.rebuffer(queued);
            self.dispatch();
        }
    }

    /// Writing the envelope to listener `index` failed (EPIPE: it is on its
    /// way out). As in the reference its protocol state is unchanged and
    /// the event goes to another listener; unlike the reference, whose
    /// write is synchronous, the event comes back to the head of the buffer
    /// first, and this listener gets nothing more until it is respawned.
    pub fn stdin_failed(&mut self, index: usize) {
        let Some(listener) = self.listeners.get_mut(index) else {
            return;
        };
        listener.stdin_open = false;
        if let Some(queued) = listener.in_flight.take() {
            tracing::debug!(
                "epipe occurred while sending event {} to listener {}, listener state unchanged",
                queued.serial,
                listener.name
            );
            if listener.state == ListenerState::Busy && listener.result_len.is_none() {
                listener.state = ListenerState::Ready;
            }
            self.rebuffer(queued);
            self.dispatch();
        }
    }

    /// Listener `index` wrote `data` to its stdout: run the protocol on it
    /// (as the reference's `handle_listener_state_change`), then dispatch.
    /// The caller logs the data and writes it to the listener's stdout log
    /// as for any child output.
    pub fn listener_output(&mut self, index: usize, data: &[u8]) {
        let Some(listener) = self.listeners.get_mut(index) else {
            return;
        };
        if listener.state == ListenerState::Unknown {
            return;
        }
        // Taken out of the listener so that the state can change while the
        // bytes are looked at; put back (with what is left) at the end.
        let mut unparsed = std::mem::take(&mut listener.unparsed);
        unparsed.extend_from_slice(data);
        let mut to_rebuffer: Vec<Queued> = Vec::new();
        let mut pos = 0;
        let len = unparsed.len();
        while pos < len {
            let rest = &unparsed[pos..];
            match listener.state {
                ListenerState::Unknown => pos = len,
                ListenerState::Acknowledged => {
                    if rest.len() < READY_TOKEN.len() {
                        break;
                    }
                    if rest.starts_with(READY_TOKEN) {
                        listener.change_state(ListenerState::Ready);
                        pos += READY_TOKEN.len();
                    } else {
                        listener.change_state(ListenerState::Unknown);
                        pos = len;
                    }
                }
                ListenerState::Ready => {
                    // Output nobody asked for: the reference is strict.
                    listener.change_state(ListenerState::Unknown);
                    pos = len;
                }
                ListenerState::Busy => match listener.result_len {
                    None => {
                        let Some(newline) = memchr::memchr(b'\n', rest) else {
                            break;
                        };
                        let line = &rest[..newline];
                        pos += newline + 1;
                        match protocol::result_length(line) {
                            Some(n) => {
                                listener.result_len = Some(n);
                                listener.result.reserve(n.min(len - pos));
                            }
                            None => {
                                let shown = match std::str::from_utf8(line) {
                                    Ok(text) => text.to_string(),
                                    Err(_) => format!("Undecodable: {}", py_bytes_repr(line)),
                                };
                                tracing::warn!("{}: bad result line: '{}'", listener.name, shown);
                                listener.change_state(ListenerState::Unknown);
                                to_rebuffer.extend(listener.in_flight.take());
                                pos = len;
                            }
                        }
                    }
                    Some(wanted) => {
                        let take = (wanted - listener.result.len()).min(rest.len());
                        listener.result.extend_from_slice(&rest[..take]);
                        pos += take;
                        if listener.result.len() == wanted {
                            let in_flight = listener.in_flight.take();
                            let answered_event = in_flight
                                .as_ref()
                                .and_then(|q| q.event.as_ref().map(|e| (q, e)));
                            let verdict = match answered_event {
                                Some((q, published)) => {
                                    let event = published.event();
                                    let answered = AnsweredEvent {
                                        event,
                                        name: event.event_type().name(),
                                        serial: q.serial,
                                        pool: &self.name,
                                        pool_serial: q.pool_serial,
                                        payload: published.payload().0,
                                    };
                                    self.handler.handle(&answered, &listener.result)
                                }
                                None => Verdict::Processed,
                            };
                            match verdict {
                                Verdict::Processed => {
                                    tracing::debug!("{}: event was processed", listener.name);
                                    listener.change_state(ListenerState::Acknowledged);
                                }
                                Verdict::Rejected(_) => {
                                    tracing::warn!("{}: event was rejected", listener.name);
                                    listener.change_state(ListenerState::Acknowledged);
                                    to_rebuffer.extend(in_flight);
                                }
                                Verdict::Failed(_) => {
                                    tracing::warn!("{}: event caused an error", listener.name);
                                    listener.change_state(ListenerState::Unknown);
                                    to_rebuffer.extend(in_flight);
                                }
                            }
                            listener.result.clear();
                            listener.result_len = None;
                        }
                    }
                },
            }
        }
        if pos >= len {
            unparsed.clear();
        } else {
            unparsed.drain(..pos);
        }
        listener.unparsed = unparsed;
        for queued in to_rebuffer {
            self.rebuffer(queued);
        }
        self.dispatch();
    }

    /// Hand buffered events, oldest first, to READY listeners of RUNNING
    /// processes (the first in config order), until none is left.
    fn dispatch(&mut self) {
        let mut sent = false;
        while let Some(front) = self.queue.front() {
            let Some(index) = self.listeners.iter().position(Listener::eligible) else {
                if sent {
                    // The reference pops the event, finds no listener and
                    // puts it back, saying so.
                    tracing::debug!(
                        "rebuffering event {} for pool {} (buf size={}, max={})",
                        front.serial,
                        self.name,
                        self.queue.len() - 1,
                        self.buffer_size
                    );
                }
                return;
            };
            let Some(queued) = self.queue.pop_front() else {
                return;
            };
            crate::counters::events_buffered(-1);
            let Some(event) = &queued.event else {
                // `batch_drops` guarantees a ghost is pushed out before a
                // listener is free; should that ever fail, the event is
                // lost loudly rather than sent empty.
                tracing::error!(
                    "pool {} event buffer overflowed, discarding event {}",
                    self.name,
                    queued.serial
                );
                crate::counters::event_overflow();
                continue;
            };
            let (payload, chars) = event.payload();
            let envelope = protocol::envelope(
                &self.server,
                queued.serial,
                &self.name,
                queued.pool_serial,
                event.event().event_type().name(),
                payload,
                chars,
            );
            let listener = &mut self.listeners[index];
            // Unlogged, as in the reference's _dispatchEvent.
            listener.state = ListenerState::Busy;
            tracing::debug!("event {} sent to listener {}", queued.serial, listener.name);
            self.outbox.push(Delivery {
                listener: index,
                serial: queued.serial,
                envelope,
            });
            listener.in_flight = Some(queued);
            sent = true;
        }
    }

    /// Put an event that was already numbered for this pool back at the
    /// head of the buffer. Only this pool gets it back: the reference finds
    /// "the pool of the rejecting process" by `process in pool.processes`,
    /// and its processes compare equal by priority, so a rejected event
    /// also lands in every other pool holding a listener of the same
    /// priority (all of them by default), subscribed or not.
    fn rebuffer(&mut self, queued: Queued) {
        tracing::debug!(
            "rebuffering event {} for pool {} (buf size={}, max={})",
            queued.serial,
            self.name,
            self.queue.len(),
            self.buffer_size
        );
        if self.queue.len() >= self.buffer_size {
            self.discard_oldest();
        }
        self.queue.push_front(queued);
        crate::counters::events_buffered(1);
    }

    fn discard_oldest(&mut self) {
        if let Some(discarded) = self.queue.pop_front() {
            crate::counters::events_buffered(-1);
            crate::counters::event_overflow();
            tracing::error!(
                "pool {} event buffer overflowed, discarding event {}",
                self.name,
                discarded.serial
            );
        }
    }
}

impl Drop for ListenerPool {
    /// A pool's buffered events leave the count with it (its group was
    /// removed, or the daemon restarts).
    fn drop(&mut self) {
        crate::counters::events_buffered(-(self.queue.len() as i64));
    }
}
