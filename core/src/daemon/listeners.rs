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
//! await or a blocking call: envelope writes are non-blocking, and what a
//! pipe cannot take goes to a writer task.
//!
//! What it must not do: decide anything about processes, or call the
//! supervisor task while locked.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use crate::events::{Event, EventBus, ListenerPool, Publisher};

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
    stdins: HashMap<String, Vec<Option<ListenerStdin>>>,
}

/// The bus, locked; on drop, pending envelopes are written.
pub struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = EventBus;
    fn deref(&self) -> &EventBus {
        &self.guard.bus
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut EventBus {
        &mut self.guard.bus
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.guard.deliver();
        HOLDING.with(|h| h.set(false));
    }
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
    /// guard goes. A poisoned lock is used as is: the pools' state is
    /// consistent between calls, which is all a panic can interrupt.
    pub fn bus(&self) -> Locked<'_> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        HOLDING.with(|h| h.set(true));
        Locked { guard }
    }

    /// A publisher for other tasks that publishes under the lock, in the
    /// caller's task; from inside the lock (re-entrant), it falls back to
    /// the bus's inbox, which the supervisor task drains.
    pub fn publisher(self: &Arc<Self>) -> Publisher {
        let hub = Arc::downgrade(self);
        let bus = self.bus();
        bus.direct_publisher(Arc::new(move |events: Vec<Event>| {
            if HOLDING.with(Cell::get) {
                return Err(events);
            }
            match hub.upgrade() {
                Some(hub) => {
                    hub.bus().publish_all(events);
                    Ok(())
                }
                None => Err(events),
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
        let inner = &mut *bus.guard;
        let slots = inner.stdins.entry(pool.to_string()).or_default();
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index] = stdin.map(ListenerStdin::new);
    }

    /// Listener `process` of `pool` died: its stdin goes with it.
    pub fn listener_exited(&self, pool: &str, process: &str) {
        let mut bus = self.bus();
        let Some((listeners, index)) = bus.listener_mut(pool, process) else {
            return;
        };
        listeners.listener_exited(index);
        if let Some(slot) = bus
            .guard
            .stdins
            .get_mut(pool)
            .and_then(|s| s.get_mut(index))
        {
            *slot = None;
        }
    }

    /// Forget the stdin pipes of pool `pool` (its group is gone).
    pub fn pool_removed(&self, pool: &str) {
        let mut bus = self.bus();
        bus.remove_pool(pool);
        bus.guard.stdins.remove(pool);
    }

    /// Write `data` to the stdin of listener `process` of `pool`
    /// (`sendProcessStdin`), in order with its envelopes. False when it
    /// has no stdin.
    pub fn write_stdin(&self, pool: &str, process: &str, data: Vec<u8>) -> bool {
        let mut bus = self.bus();
        let Some(index) = bus.pool(pool).and_then(|p| p.listener_index(process)) else {
            return false;
        };
        bus.guard
            .stdins
            .get_mut(pool)
            .and_then(|s| s.get_mut(index))
            .and_then(Option::as_mut)
            .is_some_and(|stdin| stdin.write(data))
    }
}

impl Inner {
    /// Write what the pools want written. A failed write puts the event
    /// back for another listener, which may produce a new delivery: a few
    /// rounds settle it.
    fn deliver(&mut self) {
        for _ in 0..4 {
            let mut failed: Vec<(String, usize)> = Vec::new();
            let stdins = &mut self.stdins;
            let mut any = false;
            self.bus.drain_deliveries(|pool, delivery| {
                any = true;
                let written = stdins
                    .get_mut(pool)
                    .and_then(|s| s.get_mut(delivery.listener))
                    .and_then(Option::as_mut)
                    .is_some_and(|stdin| stdin.write(delivery.envelope));
                if !written {
                    failed.push((pool.to_string(), delivery.listener));
                }
            });
            if !any || failed.is_empty() {
                return;
            }
            for (pool, index) in failed {
                if let Some(slot) = self.stdins.get_mut(&pool).and_then(|s| s.get_mut(index)) {
                    *slot = None;
                }
                if let Some(pool) = self.bus.pool_mut(&pool) {
                    pool.stdin_failed(index);
                }
            }
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
            let (queue, mut items) = mpsc::unbounded_channel::<Vec<u8>>();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt as _;
                let mut pipe = pipe;
                while let Some(item) = items.recv().await {
                    // A listener that closed its stdin loses the rest; its
                    // exit puts the event in flight back in the buffer.
                    if pipe.write_all(&item).await.is_err() {
                        return;
                    }
                }
            });
            self.queue = Some(queue);
        }
        self.queue.as_ref().is_some_and(|q| q.send(data).is_ok())
    }
}
