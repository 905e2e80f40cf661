//! The process timers: at most one armed timer per process (the state
//! machine's `ArmTimer`/`CancelTimer` effects), ordered by deadline so the
//! task sleeps until the first. Timers exist only while something is due,
//! so an idle daemon sleeps. It only keeps time: what a timer means is the
//! state machine's business, and TICKs and shutdown reports are not here.

use std::collections::{BTreeSet, HashMap};

use tokio::time::Instant;

use super::table::ProcId;
use crate::process::TimerKind;

/// The armed process timers.
#[derive(Debug, Default)]
pub struct Timers {
    /// Deadline order, for the next wake-up.
    due: BTreeSet<(Instant, ProcId)>,
    /// Each process's one armed timer.
    armed: HashMap<ProcId, (Instant, TimerKind)>,
}

impl Timers {
    /// Arm `timer` for `id`, replacing the one armed before; `None` only
    /// cancels.
    pub fn arm(&mut self, id: ProcId, timer: Option<(Instant, TimerKind)>) {
        self.cancel(id);
        if let Some((at, kind)) = timer {
            self.armed.insert(id, (at, kind));
            self.due.insert((at, id));
        }
    }

    /// Cancel `id`'s timer, if any (its process is gone).
    pub fn cancel(&mut self, id: ProcId) {
        if let Some((at, _)) = self.armed.remove(&id) {
            self.due.remove(&(at, id));
        }
    }

    /// When the first timer is due.
    pub fn next(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Take a timer due at `now`, if any: which process, which timer.
    pub fn pop_due(&mut self, now: Instant) -> Option<(ProcId, TimerKind)> {
        while let Some(&(at, id)) = self.due.first() {
            if at > now {
                return None;
            }
            self.due.pop_first();
            if let Some((_, kind)) = self.armed.remove(&id) {
                return Some((id, kind));
            }
        }
        None
    }

    /// Forget every timer.
    pub fn clear(&mut self) {
        self.due.clear();
        self.armed.clear();
    }
}

/// Sleep until `at`, or forever when nothing is due.
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ids() -> (ProcId, ProcId) {
        let mut table = super::super::table::ProcessTable::default();
        (table.next_id(), table.next_id())
    }

    #[test]
    fn timers_fire_in_deadline_order_and_rearming_replaces() {
        let (a, b) = ids();
        let now = Instant::now();
        let mut timers = Timers::default();
        assert_eq!(timers.next(), None);
        timers.arm(a, Some((now + Duration::from_secs(5), TimerKind::Stopwait)));
        timers.arm(b, Some((now + Duration::from_secs(1), TimerKind::Backoff)));
        // Re-arming moves a's timer; the old deadline is gone.
        timers.arm(
            a,
            Some((now + Duration::from_secs(2), TimerKind::Startsecs)),
        );
        assert_eq!(timers.next(), Some(now + Duration::from_secs(1)));
        assert_eq!(timers.pop_due(now), None, "nothing is due yet");
        let later = now + Duration::from_secs(10);
        assert_eq!(timers.pop_due(later), Some((b, TimerKind::Backoff)));
        assert_eq!(timers.pop_due(later), Some((a, TimerKind::Startsecs)));
        assert_eq!(timers.pop_due(later), None);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn a_cancelled_timer_never_fires() {
        let (a, b) = ids();
        let now = Instant::now();
        let mut timers = Timers::default();
        timers.arm(a, Some((now, TimerKind::Stopwait)));
        timers.arm(b, Some((now, TimerKind::Backoff)));
        timers.arm(a, None);
        timers.cancel(b);
        assert_eq!(timers.pop_due(now + Duration::from_secs(1)), None);
        timers.arm(a, Some((now, TimerKind::Stopwait)));
        timers.clear();
        assert_eq!(timers.next(), None);
    }
}
