//! Completion tickets: the daemon hands one out for every command it
//! accepts and settles it with an [`Outcome`] when the supervisor task says
//! the command is done. Waiters (the plugin bridge through
//! [`TicketWatcher`], core callers through [`TicketHub::wait`]) may start
//! watching before or after the outcome exists; an outcome nobody claimed
//! is kept, up to a bound, so a late watcher still gets it.
//!
//! This module owns no process state and never blocks: the lock is held
//! only to move an outcome between two maps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use supervisor_sdk::host::{Outcome, Ticket};
use tokio::sync::mpsc;

use crate::plugins::call::TicketWatcher;

/// How many settled, unclaimed outcomes are kept. Commands whose issuer
/// never waits (a plugin that fires and forgets) must not grow memory
/// without bound; the oldest go first.
const UNCLAIMED_LIMIT: usize = 4096;

type Delivery = mpsc::UnboundedSender<(Ticket, Outcome)>;

#[derive(Default)]
struct Books {
    waiting: HashMap<u64, Delivery>,
    unclaimed: BTreeMap<u64, Outcome>,
}

/// Issues tickets and delivers their outcomes.
#[derive(Default)]
pub struct TicketHub {
    last: AtomicU64,
    books: Mutex<Books>,
}

impl std::fmt::Debug for TicketHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketHub")
            .field("last", &self.last.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TicketHub {
    /// A hub with no tickets issued.
    pub fn new() -> TicketHub {
        TicketHub::default()
    }

    /// A fresh ticket.
    pub fn issue(&self) -> Ticket {
        Ticket(self.last.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding this lock cannot leave the maps half
        // changed (each operation is one insert or remove), so a poisoned
        // lock is still usable.
        self.books
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Settle `ticket`: hand the outcome to its watcher, or keep it for
    /// one that comes later.
    pub fn complete(&self, ticket: Ticket, outcome: Outcome) {
        let mut books = self.books();
        if let Some(delivery) = books.waiting.remove(&ticket.0) {
            // A watcher that went away has lost interest: drop the outcome.
            let _ = delivery.send((ticket, outcome));
            return;
        }
        books.unclaimed.insert(ticket.0, outcome);
        while books.unclaimed.len() > UNCLAIMED_LIMIT {
            books.unclaimed.pop_first();
        }
    }

    fn watch_into(&self, tickets: &[Ticket], delivery: &Delivery) {
        let mut books = self.books();
        for ticket in tickets {
            match books.unclaimed.remove(&ticket.0) {
                Some(outcome) => {
                    let _ = delivery.send((*ticket, outcome));
                }
                None => {
                    books.waiting.insert(ticket.0, delivery.clone());
                }
            }
        }
    }

    /// Wait for one ticket's outcome. `None` if the hub is gone.
    pub async fn wait(&self, ticket: Ticket) -> Option<Outcome> {
        let (delivery, mut outcomes) = mpsc::unbounded_channel();
        self.watch_into(&[ticket], &delivery);
        drop(delivery);
        outcomes.recv().await.map(|(_, outcome)| outcome)
    }

    /// A [`TicketWatcher`] for the plugin bridge.
    pub fn watcher(self: &std::sync::Arc<Self>) -> HubWatcher {
        let (delivery, outcomes) = mpsc::unbounded_channel();
        HubWatcher {
            hub: std::sync::Arc::clone(self),
            delivery,
            outcomes,
        }
    }

    /// Forget every watcher: their `next` then answers `None` once the
    /// outcomes already delivered are read. Called when the daemon stops.
    pub fn close(&self) {
        let mut books = self.books();
        books.waiting.clear();
        books.unclaimed.clear();
    }
}

/// Receives the outcomes of the tickets it watches, in completion order.
#[derive(Debug)]
pub struct HubWatcher {
    hub: std::sync::Arc<TicketHub>,
    delivery: Delivery,
    outcomes: mpsc::UnboundedReceiver<(Ticket, Outcome)>,
}

impl TicketWatcher for HubWatcher {
    fn watch(&mut self, tickets: &[Ticket]) {
        self.hub.watch_into(tickets, &self.delivery);
    }

    async fn next(&mut self) -> Option<(Ticket, Outcome)> {
        // Our own sender keeps the channel open, so "nothing left to come"
        // is decided by asking the hub whether we still wait for anything.
        if let Ok(item) = self.outcomes.try_recv() {
            return Some(item);
        }
        let pending = {
            let books = self.hub.books();
            books
                .waiting
                .values()
                .any(|d| d.same_channel(&self.delivery))
        };
        if !pending {
            return None;
        }
        self.outcomes.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_outcome_settled_before_the_watch_is_still_delivered() {
        let hub = Arc::new(TicketHub::new());
        let ticket = hub.issue();
        hub.complete(ticket, Outcome::done().immediate());
        let mut watcher = hub.watcher();
        watcher.watch(&[ticket]);
        let (got, outcome) = watcher.next().await.expect("the outcome was kept");
        assert_eq!(got, ticket);
        assert!(outcome.immediate);
    }

    #[tokio::test]
    async fn a_watcher_waits_for_a_later_outcome() {
        let hub = Arc::new(TicketHub::new());
        let first = hub.issue();
        let second = hub.issue();
        assert_ne!(first, second);
        let waiting = {
            let hub = Arc::clone(&hub);
            tokio::spawn(async move { hub.wait(second).await })
        };
        tokio::task::yield_now().await;
        hub.complete(second, Outcome::done());
        let outcome = waiting.await.expect("the task ran").expect("delivered");
        assert!(!outcome.immediate);
    }

    #[tokio::test]
    async fn a_watcher_with_nothing_pending_ends() {
        let hub = Arc::new(TicketHub::new());
        let mut watcher = hub.watcher();
        assert!(watcher.next().await.is_none());
    }

    #[test]
    fn unclaimed_outcomes_are_bounded() {
        let hub = TicketHub::new();
        for _ in 0..UNCLAIMED_LIMIT + 10 {
            hub.complete(hub.issue(), Outcome::done());
        }
        assert_eq!(hub.books().unclaimed.len(), UNCLAIMED_LIMIT);
    }
}
