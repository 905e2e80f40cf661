//! The event bus: it owns the listener pools, numbers events with the
//! global serial, hands each event to the pools that subscribe to its type,
//! and runs the TICK clock only while some pool wants ticks.
//!
//! The bus belongs to the supervisor task, which publishes directly
//! ([`EventBus::publish`]). Other tasks (child output readers, RPC) publish
//! through a [`Publisher`]: an unbounded channel into the supervisor task,
//! so publishing never blocks, plus a shared bit set of what is subscribed,
//! so a reader can skip building an event (and copying output) that no pool
//! would take. The channel carries batches: an output reader sends every
//! event of one read in one message, so a flood of capture blocks costs the
//! supervisor task one wake-up per read, not one per block. A batch handed
//! over as an [`EventBatch`] is built lazily: an event that the rest of its
//! own batch pushes out of every subscribed pool's buffer gets its serial
//! and its overflow line but is never built (no copy, no allocation). The
//! bus never blocks and never does I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::event::{Event, PublishedEvent, TickPeriod};
use super::pool::{Delivery, ListenerPool, Serial};
use crate::config::{EventType, EventTypeSet};

/// A cloneable, `Send` handle that publishes events to the bus from any
/// task without blocking.
#[derive(Clone)]
pub struct Publisher {
    interest: Arc<AtomicU32>,
    tx: mpsc::UnboundedSender<Vec<Event>>,
    direct: Option<DirectRoute>,
}

/// A way to publish straight into the bus from the caller's task (the
/// daemon's locked hub): it runs the given publishing step on the bus and
/// returns true, or returns false without running it when it cannot now,
/// and the events then go through the inbox.
pub type DirectRoute = Arc<dyn Fn(&mut dyn FnMut(&mut EventBus)) -> bool + Send + Sync>;

/// Events published together (the capture blocks and log chunks of one
/// read), built only on demand: the bus looks at each one's type, numbers
/// it, and builds (copies the data of) only those some pool will keep, so
/// an event pushed out of every buffer by the rest of its batch costs a
/// serial and a log line, not a copy and an allocation.
pub trait EventBatch {
    /// How many events.
    fn len(&self) -> usize;
    /// True when there is none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The type of event `index` (< `len`).
    fn event_type(&self, index: usize) -> EventType;
    /// Build event `index` (< `len`).
    fn build(&self, index: usize) -> Event;
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("interest", &self.interest)
            .field("direct", &self.direct.is_some())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// True when some pool subscribes to events of type `t`. Check this
    /// before building an event whose data would have to be copied.
    pub fn wants(&self, t: EventType) -> bool {
        EventTypeSet::from_bits(self.interest.load(Ordering::Relaxed)).contains(t)
    }

    /// Send `event` to the bus if some pool wants its type. Returns false
    /// when nobody wanted it or the bus is gone.
    pub fn publish(&self, event: Event) -> bool {
        self.wants(event.event_type()) && self.send(vec![event])
    }

    /// Send `events`, in order, as one message (the caller checked
    /// [`Publisher::wants`] for each before building it). Returns false
    /// when there was nothing to send or the bus is gone.
    pub fn publish_all(&self, events: Vec<Event>) -> bool {
        !events.is_empty() && self.send(events)
    }

    /// Publish `batch` (see [`EventBatch`]): straight into the bus when
    /// there is a direct route, building only the events some pool keeps;
    /// through the inbox otherwise, building each event some pool wants.
    /// Returns false when there was nothing to send or the bus is gone.
    pub fn publish_batch(&self, batch: &(impl EventBatch + ?Sized)) -> bool {
        if batch.is_empty() {
            return false;
        }
        if let Some(direct) = &self.direct
            && direct(&mut |bus: &mut EventBus| bus.publish_batch(batch))
        {
            return true;
        }
        let events: Vec<Event> = (0..batch.len())
            .filter(|&i| self.wants(batch.event_type(i)))
            .map(|i| batch.build(i))
            .collect();
        !events.is_empty() && self.tx.send(events).is_ok()
    }

    fn send(&self, events: Vec<Event>) -> bool {
        let mut events = Some(events);
        if let Some(direct) = &self.direct
            && direct(&mut |bus: &mut EventBus| bus.publish_all(events.take().unwrap_or_default()))
        {
            return true;
        }
        events.is_some_and(|events| self.tx.send(events).is_ok())
    }
}

/// The bus. See the module documentation.
#[derive(Debug)]
pub struct EventBus {
    server: Arc<str>,
    serial: Serial,
    pools: Vec<ListenerPool>,
    interest: Arc<AtomicU32>,
    tx: mpsc::UnboundedSender<Vec<Event>>,
    inbox: Option<mpsc::UnboundedReceiver<Vec<Event>>>,
    /// The TICK slot last seen per period, while some pool wants it.
    tick_slots: [Option<i64>; 3],
    /// Scratch for [`EventBus::publish_batch`]: which events of the batch
    /// some pool keeps (kept between calls so a batch allocates nothing).
    batch_keep: Vec<bool>,
}

impl EventBus {
    /// A bus for supervisord `server` (its `identifier`, which envelopes
    /// carry), with no pool.
    pub fn new(server: impl Into<Arc<str>>) -> EventBus {
        let (tx, rx) = mpsc::unbounded_channel();
        EventBus {
            server: server.into(),
            serial: Serial::default(),
            pools: Vec::new(),
            interest: Arc::new(AtomicU32::new(0)),
            tx,
            inbox: Some(rx),
            tick_slots: [None; 3],
            batch_keep: Vec::new(),
        }
    }

    /// The `server:` name envelopes carry; pools are made with it.
    pub fn server(&self) -> Arc<str> {
        Arc::clone(&self.server)
    }

    /// A handle for other tasks to publish with, through the inbox.
    pub fn publisher(&self) -> Publisher {
        Publisher {
            interest: Arc::clone(&self.interest),
            tx: self.tx.clone(),
            direct: None,
        }
    }

    /// A handle that publishes through `direct` (which takes the events
    /// into this bus from the caller's task), and through the inbox when
    /// `direct` hands them back.
    pub fn direct_publisher(&self, direct: DirectRoute) -> Publisher {
        Publisher {
            direct: Some(direct),
            ..self.publisher()
        }
    }

    /// The receiving end of every [`Publisher`]: the supervisor task takes
    /// it once and passes the batches that arrive to
    /// [`EventBus::publish_all`].
    pub fn take_inbox(&mut self) -> Option<mpsc::UnboundedReceiver<Vec<Event>>> {
        self.inbox.take()
    }

    /// True when some pool subscribes to events of type `t`.
    pub fn wants(&self, t: EventType) -> bool {
        self.subscribed().contains(t)
    }

    /// Every concrete type some pool subscribes to.
    pub fn subscribed(&self) -> EventTypeSet {
        EventTypeSet::from_bits(self.interest.load(Ordering::Relaxed))
    }

    /// Give `event` to every pool that subscribes to its type; returns the
    /// serial it got, or `None` when no pool wanted it (it then takes no
    /// serial, as in the reference, and its payload is never rendered).
    /// Each pool gets the event once, even when its `events` name both a
    /// type and its parent (the reference buffers it twice then).
    pub fn publish(&mut self, event: Event) -> Option<i64> {
        let event_type = event.event_type();
        if !self.wants(event_type) {
            return None;
        }
        let serial = self.serial.next_serial();
        let published = Arc::new(PublishedEvent::new(event, serial));
        for pool in self.pools.iter_mut() {
            if pool.wants().contains(event_type) {
                pool.accept(&published);
            }
        }
        Some(serial)
    }

    /// [`EventBus::publish`] each of `events`, in order.
    pub fn publish_all(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.publish(event);
        }
    }

    /// Publish every event of `batch`, in order, with exactly the outcome
    /// of [`EventBus::publish`] on each in turn (serials, what each pool
    /// buffers and sends, the overflow lines), but building only the events
    /// that some subscribed pool does not push out before the batch ends;
    /// the others enter the buffers as ghosts holding their serials.
    pub fn publish_batch<B: EventBatch + ?Sized>(&mut self, batch: &B) {
        let count = batch.len();
        let subscribed = self.subscribed();
        let mut keep = std::mem::take(&mut self.batch_keep);
        keep.clear();
        keep.resize(count, false);
        for pool in &self.pools {
            let wants = pool.wants();
            let taken = (0..count).filter(|&i| wants.contains(batch.event_type(i)));
            let drops = pool.batch_drops(taken.clone().count());
            for (position, i) in taken.enumerate() {
                if !drops.as_ref().is_some_and(|d| d.contains(&position)) {
                    keep[i] = true;
                }
            }
        }
        for (i, &kept) in keep.iter().enumerate() {
            let event_type = batch.event_type(i);
            if !subscribed.contains(event_type) {
                continue;
            }
            let serial = self.serial.next_serial();
            if kept {
                let published = Arc::new(PublishedEvent::new(batch.build(i), serial));
                for pool in self.pools.iter_mut() {
                    if pool.wants().contains(event_type) {
                        pool.accept(&published);
                    }
                }
            } else {
                for pool in self.pools.iter_mut() {
                    if pool.wants().contains(event_type) {
                        pool.accept_ghost(serial);
                    }
                }
            }
        }
        self.batch_keep = keep;
    }

    /// Add a pool (a new `[eventlistener:x]` group); one of the same name
    /// is replaced and returned.
    pub fn add_pool(&mut self, pool: ListenerPool) -> Option<ListenerPool> {
        let old = self.remove_pool(pool.name());
        self.pools.push(pool);
        self.refresh_interest();
        old
    }

    /// Remove the pool named `name` (its group was removed); its buffered
    /// events are dropped with it.
    pub fn remove_pool(&mut self, name: &str) -> Option<ListenerPool> {
        let index = self.pools.iter().position(|p| p.name() == name)?;
        let pool = self.pools.remove(index);
        self.refresh_interest();
        Some(pool)
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&ListenerPool> {
        self.pools.iter().find(|p| p.name() == name)
    }

    /// The pool named `name`, to feed it listener events.
    pub fn pool_mut(&mut self, name: &str) -> Option<&mut ListenerPool> {
        self.pools.iter_mut().find(|p| p.name() == name)
    }

    /// Every pool, in the order they were added.
    pub fn pools_mut(&mut self) -> impl Iterator<Item = &mut ListenerPool> {
        self.pools.iter_mut()
    }

    /// The pool named `pool` and the index there of its listener process
    /// named `process`: where the supervisor task sends that process's
    /// spawns, state changes, stdout and exit.
    pub fn listener_mut(
        &mut self,
        pool: &str,
        process: &str,
    ) -> Option<(&mut ListenerPool, usize)> {
        let pool = self.pool_mut(pool)?;
        let index = pool.listener_index(process)?;
        Some((pool, index))
    }

    /// Hand every pool's pending deliveries to `write` with the pool's
    /// name, in order: what the supervisor task does after each input.
    pub fn drain_deliveries(&mut self, mut write: impl FnMut(&str, Delivery)) {
        for pool in self.pools.iter_mut() {
            for delivery in pool.take_deliveries() {
                write(pool.name(), delivery);
            }
        }
    }

    fn refresh_interest(&mut self) {
        let all = self
            .pools
            .iter()
            .fold(EventTypeSet::EMPTY, |acc, p| acc.union(p.wants()));
        self.interest.store(all.bits(), Ordering::Relaxed);
    }

    /// When the TICK clock next needs [`EventBus::tick`], or `None` when no
    /// pool subscribes to any tick (then no timer need exist). A period
    /// starts being watched at the slot `now` falls in, so no tick is sent
    /// for a slot already begun, as in the reference at start-up.
    pub fn next_tick(&mut self, now: SystemTime) -> Option<SystemTime> {
        let subscribed = self.subscribed();
        let now_secs = unix_seconds(now);
        let mut next: Option<i64> = None;
        for (slot, period) in self.tick_slots.iter_mut().zip(TickPeriod::ALL) {
            if !subscribed.contains(period.event_type()) {
                *slot = None;
                continue;
            }
            let last = *slot.get_or_insert_with(|| timeslice(period, now_secs));
            let due = last + period.seconds();
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        next.map(|secs| UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
    }

    /// How long the TICK timer should sleep from `now` (zero when a tick is
    /// already due), or `None` when no pool subscribes to ticks.
    pub fn tick_sleep(&mut self, now: SystemTime) -> Option<Duration> {
        self.next_tick(now)
            .map(|due| due.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// Publish a `TICK_*` event for each watched period whose slot changed
    /// since the last call (one per period, however many slots passed, as
    /// the reference does); returns how many were published.
    pub fn tick(&mut self, now: SystemTime) -> usize {
        let now_secs = unix_seconds(now);
        let mut due = Vec::new();
        for (slot, period) in self.tick_slots.iter_mut().zip(TickPeriod::ALL) {
            if let Some(last) = slot {
                let this = timeslice(period, now_secs);
                if this != *last {
                    *last = this;
                    due.push((period, this));
                }
            }
        }
        let mut published = 0;
        for (period, when) in due {
            if self.publish(Event::Tick { period, when }).is_some() {
                published += 1;
            }
        }
        published
    }
}

fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The start of the slot of `period` that `secs` falls in (the reference's
/// `timeslice`).
fn timeslice(period: TickPeriod, secs: i64) -> i64 {
    secs - secs.rem_euclid(period.seconds())
}
