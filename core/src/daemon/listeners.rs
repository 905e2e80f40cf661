//! The event hub: the daemon's [`EventBus`] (its listener pools) behind one
//! short-held lock, together with the stdin pipes of the listener
//! processes, so that an event travels from the task that produced it to
//! the listener's stdin without a hop through the supervisor task.
//!
//! Why a lock and not the supervisor task: each event is a round trip to
//! a listener, and every hop between tasks on different threads costs a
//! futex wake-up and two context switches. Here the output task that reads
//! a listener's `RESULT` runs the protocol and writes the next envelope
//! itself; the output task that reads a capture block publishes it and, if
//! a listener is READY, writes it at once. The supervisor task still owns
//! every process: it tells the hub when listeners spawn, run and die, and
//! publishes state events through it. The lock is never held across an
//! await or a system call: envelopes are taken out under the lock and
//! written after it is released (non-blocking; what a pipe cannot take goes
//! to a writer task), so the task writing one listener's envelope never
//! holds up the task reading another's output.
//!
//! What it must not do: decide anything about processes, or call the
//! supervisor task while locked.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use supervisor_sdk::state::ProcessState;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use crate::events::{Event, EventBus, EventTypeSet, ListenerPool, ProcessStateChange, Publisher};
use crate::process::StateChange;

thread_local! {
    /// Set while this thread holds the hub's lock, so that a publish from
    /// inside it (a result handler plugin publishing through the host)
    /// goes through the bus's inbox instead of deadlocking.
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// The bus and the listeners' stdin pipes, shared by the supervisor task
/// and the output tasks. See the module documentation.
#[derive(Debug)]
pub struct EventHub {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    bus: EventBus,
    /// Per pool name, per listener index: where its envelopes go.
    stdins: HashMap<Arc<str>, Vec<Option<SharedStdin>>>,
}

/// A listener's stdin, written by whichever task dispatched to it (one
/// envelope at a time: a listener is BUSY until it answers).
type SharedStdin = Arc<Mutex<ListenerStdin>>;

/// An envelope taken out under the lock, to write after it.
struct Write {
    pool: Arc<str>,
    listener: usize,
    stdin: Option<SharedStdin>,
    envelope: Vec<u8>,
}

/// The bus, locked; on drop, the lock is released and then the envelopes
/// the pools want written are written.
pub struct Locked<'a> {
    hub: &'a EventHub,
    /// Always `Some` until the guard is dropped.
    guard: Option<MutexGuard<'a, Inner>>,
}

impl Locked<'_> {
    fn inner(&mut self) -> &mut Inner {
        self.guard
            .as_mut()
            .expect("a Locked holds its guard until it is dropped")
    }
}

impl std::ops::Deref for Locked<'_> {
    type Target = EventBus;
    fn deref(&self) -> &EventBus {
        &self
            .guard
            .as_ref()
            .expect("a Locked holds its guard until it is dropped")
            .bus
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut EventBus {
        &mut self.inner().bus
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        // A failed write puts the event back for another listener, which
        // may produce a new delivery: a few rounds settle it.
        for _ in 0..4 {
            let writes = guard.take_writes();
            drop(guard);
            HOLDING.with(|h| h.set(false));
            if writes.is_empty() {
                return;
            }
            let failed: Vec<Write> = writes
                .into_iter()
                .filter_map(|mut write| {
                    let envelope = std::mem::take(&mut write.envelope);
                    let written = write
                        .stdin
                        .as_ref()
                        .is_some_and(|stdin| lock(stdin).write(envelope));
                    (!written).then_some(write)
                })
                .collect();
            if failed.is_empty() {
                return;
            }
            guard = self.hub.lock();
            for write in &failed {
                guard.stdin_failed(write);
            }
        }
        drop(guard);
        HOLDING.with(|h| h.set(false));
    }
}

/// Lock `mutex`. A poisoned lock is used as is: the pools and pipes are
/// consistent between calls, which is all a panic can interrupt.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventHub {
    /// A hub around `bus`.
    pub fn new(bus: EventBus) -> Arc<EventHub> {
        Arc::new(EventHub {
            inner: Mutex::new(Inner {
                bus,
                stdins: HashMap::new(),
            }),
        })
    }

    /// Lock the bus. Whatever the pools want written is written when the
    /// guard goes, after the lock is released.
    pub fn bus(&self) -> Locked<'_> {
        Locked {
            hub: self,
            guard: Some(self.lock()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        let guard = lock(&self.inner);
        HOLDING.with(|h| h.set(true));
        guard
    }

    /// A publisher for other tasks that publishes under the lock, in the
    /// caller's task; from inside the lock (re-entrant), it falls back to
    /// the bus's inbox, which the supervisor task drains.
    pub fn publisher(self: &Arc<Self>) -> Publisher {
        let hub = Arc::downgrade(self);
        let bus = self.bus();
        bus.direct_publisher(Arc::new(move |publish: &mut dyn FnMut(&mut EventBus)| {
            if HOLDING.with(Cell::get) {
                return false;
            }
            match hub.upgrade() {
                Some(hub) => {
                    publish(&mut hub.bus());
                    true
                }
                None => false,
            }
        }))
    }

    /// Run `f` on the pool and index of listener process `process` of
    /// pool `pool`, if both exist.
    pub fn with_listener(
        &self,
        pool: &str,
        process: &str,
        f: impl FnOnce(&mut ListenerPool, usize),
    ) {
        let mut bus = self.bus();
        if let Some((pool, index)) = bus.listener_mut(pool, process) {
            f(pool, index);
        }
    }

    /// Process `group:name` (a listener of `pool`, if set) changed state:
    /// a listener is ready for events only while RUNNING, and
    /// subscribers get the `PROCESS_STATE` event.
    pub fn process_changed(
        &self,
        group: &str,
        name: &str,
        pool: Option<&str>,
        change: &StateChange,
    ) {
        if let Some(pool) = pool {
            self.with_listener(pool, name, |pool, index| {
                if change.to == ProcessState::Running {
                    pool.listener_running(index, true);
                } else if change.from == ProcessState::Running {
                    pool.listener_running(index, false);
                }
            });
        }
        let mut bus = self.bus();
        if bus.subscribed() != EventTypeSet::EMPTY {
            bus.publish(Event::ProcessState(ProcessStateChange {
                process: name.to_string(),
                group: group.to_string(),
                from: change.from,
                to: change.to,
                tries: change.tries,
                pid: change.pid,
                expected: change.expected,
            }));
        }
    }

    /// Listener `process` of `pool` wrote `data` to its stdout.
    pub fn listener_output(&self, pool: &str, process: &str, data: &[u8]) {
        self.with_listener(pool, process, |pool, index| {
            pool.listener_output(index, data)
        });
    }

    /// Listener `process` of `pool` was spawned with `stdin` (its stdin
    /// pipe, if any): envelopes for it go there from now on.
    pub fn listener_spawned(&self, pool: &str, process: &str, stdin: Option<pipe::Sender>) {
        let mut bus = self.bus();
        let Some((listeners, index)) = bus.listener_mut(pool, process) else {
            return;
        };
        listeners.listener_spawned(index);
        let inner = bus.inner();
        let slots = match inner.stdins.get_mut(pool) {
            Some(slots) => slots,
            None => inner.stdins.entry(Arc::from(pool)).or_default(),
        };
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index] = stdin.map(|pipe| Arc::new(Mutex::new(ListenerStdin::new(pipe))));
    }

    /// Listener `process` of `pool` died: its stdin goes with it.
    pub fn listener_exited(&self, pool: &str, process: &str) {
        let mut bus = self.bus();
        let Some((listeners, index)) = bus.listener_mut(pool, process) else {
            return;
        };
        listeners.listener_exited(index);
        if let Some(slot) = bus
            .inner()
            .stdins
            .get_mut(pool)
            .and_then(|s| s.get_mut(index))
        {
            *slot = None;
        }
    }

    /// Remove pool `pool` and forget its stdin pipes (its group is gone).
    pub fn pool_removed(&self, pool: &str) {
        let mut bus = self.bus();
        bus.remove_pool(pool);
        bus.inner().stdins.remove(pool);
    }

    /// Write `data` to the stdin of listener `process` of `pool`
    /// (`sendProcessStdin`). False when it has no stdin.
    pub fn write_stdin(&self, pool: &str, process: &str, data: Vec<u8>) -> bool {
        let stdin = {
            let mut bus = self.bus();
            let Some(index) = bus.pool(pool).and_then(|p| p.listener_index(process)) else {
                return false;
            };
            bus.inner()
                .stdins
                .get(pool)
                .and_then(|s| s.get(index))
                .and_then(Option::clone)
        };
        stdin.is_some_and(|stdin| lock(&stdin).write(data))
    }
}

impl Inner {
    /// Take the envelopes the pools want written, with where they go.
    fn take_writes(&mut self) -> Vec<Write> {
        let mut writes = Vec::new();
        let stdins = &self.stdins;
        self.bus.drain_deliveries(|pool, delivery| {
            let slots = stdins.get_key_value(pool);
            writes.push(Write {
                pool: slots.map_or_else(|| Arc::from(pool), |(name, _)| Arc::clone(name)),
                listener: delivery.listener,
                stdin: slots
                    .and_then(|(_, s)| s.get(delivery.listener))
                    .and_then(Option::clone),
                envelope: delivery.envelope,
            });
        });
        writes
    }

    /// `write` could not be written: the listener's stdin is gone, unless
    /// the listener was respawned with a new one meanwhile.
    fn stdin_failed(&mut self, write: &Write) {
        let slot = self
            .stdins
            .get_mut(&write.pool)
            .and_then(|s| s.get_mut(write.listener));
        if let Some(slot) = slot {
            let current = match (&*slot, &write.stdin) {
                (Some(now), Some(then)) => Arc::ptr_eq(now, then),
                (None, None) => true,
                _ => false,
            };
            if !current {
                return;
            }
            *slot = None;
        }
        if let Some(pool) = self.bus.pool_mut(&write.pool) {
            pool.stdin_failed(write.listener);
        }
    }
}

/// One listener's stdin: written directly while the pipe takes whole
/// envelopes, through a writer task once it did not.
#[derive(Debug)]
struct ListenerStdin {
    pipe: Option<pipe::Sender>,
    queue: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl ListenerStdin {
    fn new(pipe: pipe::Sender) -> ListenerStdin {
        ListenerStdin {
            pipe: Some(pipe),
            queue: None,
        }
    }

    /// Write `data` without blocking. A listener gets an envelope only
    /// after READY, having read everything before, so its pipe is
    /// normally empty and takes the envelope whole. What it does not take
    /// (a payload larger than the pipe) goes to a writer task, which then
    /// keeps the order for every later write. False when the pipe is gone
    /// (EPIPE: the listener is on its way out).
    fn write(&mut self, mut data: Vec<u8>) -> bool {
        if self.queue.is_none() {
            let Some(pipe) = &self.pipe else {
                return false;
            };
            // The pipe is non-blocking (tokio made it so): this never waits.
            match nix::unistd::write(pipe, &data) {
                Ok(n) if n == data.len() => return true,
                Ok(n) => {
                    data.drain(..n);
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                Err(_) => {
                    self.pipe = None;
                    return false;
                }
            }
            let Some(pipe) = self.pipe.take() else {
                return false;
            };
            // A listener that closes its stdin loses the rest; its exit
            // puts the event in flight back in the buffer.
            self.queue = Some(super::output::spawn_pipe_writer(pipe));
        }
        self.queue.as_ref().is_some_and(|q| q.send(data).is_ok())
    }
}
