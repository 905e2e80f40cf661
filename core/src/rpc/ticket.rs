//! The one home of tickets: the [`TicketHub`] that carries the outcome of
//! a host command (start, stop, signal, ...) to the RPC call waiting on it.
//! The daemon issues and completes tickets; a plugin call watches them
//! through a [`TicketWatcher`] while its deferred reply waits.
//!
//! It owns the ticket numbering and the map from watched tickets to their
//! waiting calls, nothing else: it must not depend on the daemon (which
//! feeds it) nor on the plugins (which read it), so both can use it
//! without an import circle.
//!
//! # The contract
//!
//! The daemon's [`supervisor_sdk::host::Host`] hands out tickets (from
//! [`TicketHub::issue`], or its own numbering as long as tickets are unique)
//! and, whenever a command finishes, calls [`TicketHub::complete`] with the
//! ticket and its [`Outcome`]; at exit it calls [`TicketHub::close`] so
//! calls still waiting answer `FAILED` instead of hanging. That is all: one
//! `Arc<TicketHub>` shared by the host and every plugin namespace.
//!
//! Inside, each call that defers gets its own channel; the hub maps each
//! watched ticket to the channel of the call waiting for it. The hub's lock
//! is a plain mutex held for a map operation and never across an await.
//! A ticket may complete before its call starts watching it (the command
//! can run on another worker thread while the plugin is still building its
//! deferred reply): such an outcome waits in the hub for
//! [`UNCLAIMED_OUTCOME_TTL`], which bounds what fire-and-forget commands
//! (a plugin that issues a ticket and never waits on it) can pile up.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use supervisor_sdk::host::{Outcome, Ticket};
use tokio::sync::mpsc;

/// Where the daemon delivers the outcomes of host commands.
pub trait TicketWatcher: Send {
    /// Deliver the outcomes of `tickets` through [`TicketWatcher::next`].
    fn watch(&mut self, tickets: &[Ticket]);

    /// The next watched ticket to complete, with its outcome; `None` when
    /// none can complete any more (the daemon is going away).
    fn next(&mut self) -> impl Future<Output = Option<(Ticket, Outcome)>> + Send;
}

/// How long an outcome nobody watches yet is kept for a watcher to come.
/// The gap it covers is the rest of the plugin call that issued the
/// ticket: microseconds for the builtin namespace.
pub const UNCLAIMED_OUTCOME_TTL: Duration = Duration::from_secs(600);

type Delivery = (Ticket, Outcome);

/// Routes command outcomes to the calls waiting on them. Shared
/// (`Arc<TicketHub>`) by the daemon's host and every plugin namespace;
/// see the module documentation for the daemon's side of the contract.
#[derive(Default)]
pub struct TicketHub {
    next_ticket: AtomicU64,
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    /// Watched tickets and the channel of the call waiting on each.
    waiting: HashMap<Ticket, mpsc::UnboundedSender<Delivery>>,
    /// Outcomes that arrived before anyone watched their ticket.
    unclaimed: HashMap<Ticket, Outcome>,
    /// `unclaimed` in arrival order, to expire the old ones.
    arrivals: VecDeque<(Instant, Ticket)>,
    /// Set by [`TicketHub::close`]: nothing completes any more.
    closed: bool,
}

impl fmt::Debug for TicketHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("TicketHub")
            .field("waiting", &state.waiting.len())
            .field("unclaimed", &state.unclaimed.len())
            .field("closed", &state.closed)
            .finish()
    }
}

impl TicketHub {
    /// An empty hub.
    pub fn new() -> TicketHub {
        TicketHub::default()
    }

    /// A fresh ticket, unique for this hub (1, 2, 3, ...). The host may
    /// use these or number tickets itself.
    pub fn issue(&self) -> Ticket {
        Ticket(self.next_ticket.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// The command behind `ticket` finished with `outcome`: wake the call
    /// waiting on it, or keep the outcome for the call about to watch it.
    /// Never blocks beyond a map operation; callable from any thread.
    pub fn complete(&self, ticket: Ticket, outcome: Outcome) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        if let Some(waiter) = state.waiting.remove(&ticket) {
            // A send fails only when the call was dropped (its client went
            // away): nobody wants the outcome then.
            let _ = waiter.send((ticket, outcome));
            return;
        }
        let now = Instant::now();
        state.expire(now);
        if state.unclaimed.insert(ticket, outcome).is_none() {
            state.arrivals.push_back((now, ticket));
        }
    }

    /// The daemon is going away: every waiting call, and every call that
    /// watches from now on, answers `FAILED` instead of waiting forever.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.waiting.clear();
        state.unclaimed.clear();
        state.arrivals.clear();
    }

    /// A watcher for one call. Cheap: the channel is made only if the call
    /// defers.
    pub fn watcher(self: &Arc<Self>) -> HubWatcher {
        HubWatcher {
            hub: Arc::clone(self),
            receiver: None,
        }
    }

    /// How many outcomes wait for a watcher (for tests and diagnostics).
    pub fn unclaimed_len(&self) -> usize {
        self.lock().unclaimed.len()
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // Every critical section is a map operation that cannot leave the
        // state half-changed, so a poisoned lock's data is still sound.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl HubState {
    fn expire(&mut self, now: Instant) {
        while let Some(&(arrived, ticket)) = self.arrivals.front() {
            if now.duration_since(arrived) < UNCLAIMED_OUTCOME_TTL {
                break;
            }
            self.arrivals.pop_front();
            self.unclaimed.remove(&ticket);
        }
    }
}

/// One call's view of the [`TicketHub`]: the outcomes of the tickets it
/// watches, in completion order.
pub struct HubWatcher {
    hub: Arc<TicketHub>,
    receiver: Option<mpsc::UnboundedReceiver<Delivery>>,
}

impl fmt::Debug for HubWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubWatcher")
            .field("deferred", &self.receiver.is_some())
            .finish()
    }
}

impl TicketWatcher for HubWatcher {
    fn watch(&mut self, tickets: &[Ticket]) {
        // A new channel per batch: whatever the previous batch left in the
        // old one is stale (settle stops listening to a batch once its
        // continuation answers). The watcher keeps no sender, so `next`
        // ends with `None` once every watched ticket was delivered or the
        // hub closed.
        let (sender, receiver) = mpsc::unbounded_channel();
        self.receiver = Some(receiver);
        let mut state = self.hub.lock();
        if state.closed {
            return;
        }
        for &ticket in tickets {
            match state.unclaimed.remove(&ticket) {
                Some(outcome) => {
                    let _ = sender.send((ticket, outcome));
                }
                None => {
                    state.waiting.insert(ticket, sender.clone());
                }
            }
        }
    }

    async fn next(&mut self) -> Option<(Ticket, Outcome)> {
        self.receiver.as_mut()?.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_sdk::fault::Fault;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a small runtime builds")
    }

    #[test]
    fn an_outcome_reaches_its_watcher_whether_it_comes_before_or_after_the_watch() {
        let hub = Arc::new(TicketHub::new());
        let (early, late) = (hub.issue(), hub.issue());
        assert_eq!((early, late), (Ticket(1), Ticket(2)));
        hub.complete(early, Outcome::done().immediate());
        assert_eq!(hub.unclaimed_len(), 1);
        let mut watcher = hub.watcher();
        watcher.watch(&[early, late]);
        assert_eq!(hub.unclaimed_len(), 0);
        let runtime = runtime();
        let first = runtime.block_on(watcher.next());
        assert_eq!(first, Some((early, Outcome::done().immediate())));
        let completer = {
            let hub = Arc::clone(&hub);
            std::thread::spawn(move || hub.complete(late, Outcome::failed(Fault::bare(70))))
        };
        let second = runtime.block_on(watcher.next());
        completer.join().expect("the completer runs");
        assert_eq!(second, Some((late, Outcome::failed(Fault::bare(70)))));
        // Every watched ticket delivered: the watcher is done.
        assert_eq!(runtime.block_on(watcher.next()), None);

        // A call that went away (its client hung up) leaves nothing behind
        // once its ticket completes.
        let mut abandoned = hub.watcher();
        let ticket = hub.issue();
        abandoned.watch(&[ticket]);
        drop(abandoned);
        hub.complete(ticket, Outcome::done());
        let state = hub.lock();
        assert!(state.waiting.is_empty() && state.unclaimed.is_empty());
    }

    #[test]
    fn closing_the_hub_ends_every_wait() {
        let hub = Arc::new(TicketHub::new());
        let mut watcher = hub.watcher();
        watcher.watch(&[hub.issue()]);
        let runtime = runtime();
        let waiting = runtime.spawn(async move { watcher.next().await });
        hub.close();
        assert_eq!(runtime.block_on(waiting).expect("the wait ends"), None);
        let mut late = hub.watcher();
        late.watch(&[Ticket(9)]);
        assert_eq!(runtime.block_on(late.next()), None);
        // Completions after close are dropped, not kept.
        hub.complete(Ticket(9), Outcome::done());
        assert_eq!(hub.unclaimed_len(), 0);
    }

    #[test]
    fn an_unwatched_outcome_does_not_outlive_its_ttl() {
        let hub = TicketHub::new();
        hub.complete(Ticket(1), Outcome::done());
        {
            let mut state = hub.lock();
            let aged = Instant::now() - UNCLAIMED_OUTCOME_TTL - Duration::from_secs(1);
            state.arrivals[0].0 = aged;
        }
        hub.complete(Ticket(2), Outcome::done());
        let state = hub.lock();
        assert!(!state.unclaimed.contains_key(&Ticket(1)));
        assert!(state.unclaimed.contains_key(&Ticket(2)));
        assert_eq!(state.arrivals.len(), 1);
    }
}
