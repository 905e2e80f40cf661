//! The commands waiting on a process (a `startProcess` with `wait` until
//! STARTING is over, a `stopProcess` until a stopped state, a start until
//! its spawn was reported) with their tickets, and the batch of outcomes
//! settled by the messages the task is handling. Outcomes are handed out
//! only when the task asks for the batch, after it published its
//! snapshot. It decides when a wait is over from the state it is told; it
//! never reads the process table or touches the ticket hub.

use std::collections::HashMap;

use supervisor_sdk::fault::Fault;
use supervisor_sdk::host::{Outcome, ProcessInfo, Ticket};
use supervisor_sdk::state::ProcessState;

use super::table::ProcId;

/// What a command waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// The spawn attempt was reported.
    Spawned,
    /// STARTING is over.
    Started,
    /// A stopped state.
    Stopped,
}

#[derive(Debug)]
struct Waiter {
    ticket: Ticket,
    until: WaitFor,
}

/// Where a process is, as far as its waiters care.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// The start waits for the process's dependencies (`depends_on`):
    /// no start wait is over yet.
    pub held: bool,
    pub state: ProcessState,
    /// A fork is under way.
    pub spawning: bool,
    /// The spawn report is being handled.
    pub spawn_step: bool,
    /// `startsecs=0`: RUNNING comes with the spawn report.
    pub starts_at_once: bool,
}

/// Whether a wait for `until` is over at `progress`; if so, whether the
/// outcome is `immediate` (the reply the reference gives without a
/// deferred callback: a start that ran or failed within the spawn step).
pub fn ready(until: WaitFor, progress: Progress) -> Option<bool> {
    let Progress {
        held,
        state,
        spawning,
        spawn_step,
        starts_at_once,
    } = progress;
    let over = match until {
        WaitFor::Spawned => !held && !spawning,
        WaitFor::Started => !held && !spawning && state != ProcessState::Starting,
        WaitFor::Stopped => state.is_stopped(),
    };
    over.then_some(match until {
        WaitFor::Spawned => true,
        WaitFor::Started => spawn_step && (starts_at_once || state != ProcessState::Running),
        WaitFor::Stopped => false,
    })
}

/// The waiting commands and the outcomes of the current batch.
#[derive(Debug, Default)]
pub struct Waiters {
    waiting: HashMap<ProcId, Vec<Waiter>>,
    settled: Vec<(Ticket, Outcome)>,
}

impl Waiters {
    /// `ticket` waits on `id` until `until`.
    pub fn wait(&mut self, id: ProcId, ticket: Ticket, until: WaitFor) {
        self.waiting
            .entry(id)
            .or_default()
            .push(Waiter { ticket, until });
    }

    /// Settle `ticket` once the current batch of messages is handled and
    /// its snapshot published, so a waiter reads a snapshot at least as
    /// fresh as the outcome, and commands settled by the same batch (a
    /// group stop whose processes were reaped together) complete in the
    /// order they were issued, as the reference reports them.
    pub fn complete(&mut self, ticket: Ticket, outcome: Outcome) {
        self.settled.push((ticket, outcome));
    }

    /// Complete the commands waiting on `id` that `progress` satisfies,
    /// with the process as `info` describes it.
    pub fn settle(&mut self, id: ProcId, progress: Progress, info: impl FnOnce() -> ProcessInfo) {
        let Some(waiters) = self.waiting.get_mut(&id) else {
            return;
        };
        let mut done = Vec::new();
        waiters.retain(|w| match ready(w.until, progress) {
            Some(immediate) => {
                done.push((w.ticket, immediate));
                false
            }
            None => true,
        });
        if waiters.is_empty() {
            self.waiting.remove(&id);
        }
        if done.is_empty() {
            return;
        }
        let info = info();
        for (ticket, immediate) in done {
            let mut outcome = Outcome::process(info.clone());
            outcome.immediate = immediate;
            self.complete(ticket, outcome);
        }
    }

    /// The process `id` is gone: whoever waits on it gets `fault`.
    pub fn fail(&mut self, id: ProcId, fault: impl Fn() -> Fault) {
        for waiter in self.waiting.remove(&id).unwrap_or_default() {
            self.complete(waiter.ticket, Outcome::failed(fault()));
        }
    }

    /// Every process is gone (a restart): everyone waiting gets `fault`.
    pub fn fail_all(&mut self, fault: impl Fn() -> Fault) {
        let ids: Vec<ProcId> = self.waiting.keys().copied().collect();
        for id in ids {
            self.fail(id, &fault);
        }
    }

    /// Whether outcomes wait for the end of the batch.
    pub fn has_settled(&self) -> bool {
        !self.settled.is_empty()
    }

    /// The batch's outcomes, in the order their tickets were issued.
    pub fn take_settled(&mut self) -> Vec<(Ticket, Outcome)> {
        let mut settled = std::mem::take(&mut self.settled);
        settled.sort_by_key(|(ticket, _)| *ticket);
        settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProcessState as S;
    use supervisor_sdk::fault::{BAD_NAME, SHUTDOWN_STATE};

    /// Every wait against the progress that matters, as
    /// `until, state, spawning, spawn_step, starts_at_once => outcome`
    /// (`-` still waiting, `I` immediate, `D` deferred).
    #[test]
    fn every_wait_is_over_exactly_when_the_reference_answers() {
        let rows: &[(WaitFor, S, bool, bool, bool, &str)] = &[
            (WaitFor::Spawned, S::Starting, true, false, false, "-"),
            (WaitFor::Spawned, S::Starting, false, true, false, "I"),
            (WaitFor::Spawned, S::Backoff, false, true, false, "I"),
            (WaitFor::Started, S::Starting, true, false, false, "-"),
            (WaitFor::Started, S::Starting, false, true, false, "-"),
            (WaitFor::Started, S::Running, false, true, true, "I"),
            (WaitFor::Started, S::Running, false, true, false, "D"),
            (WaitFor::Started, S::Running, false, false, false, "D"),
            (WaitFor::Started, S::Backoff, false, true, false, "I"),
            (WaitFor::Started, S::Backoff, false, false, false, "D"),
            (WaitFor::Started, S::Fatal, false, false, false, "D"),
            (WaitFor::Stopped, S::Stopping, false, false, false, "-"),
            (WaitFor::Stopped, S::Running, false, false, false, "-"),
            (WaitFor::Stopped, S::Stopped, false, false, false, "D"),
            (WaitFor::Stopped, S::Exited, false, true, false, "D"),
            (WaitFor::Stopped, S::Fatal, false, false, false, "D"),
        ];
        let mut wrong = Vec::new();
        for &(until, state, spawning, spawn_step, starts_at_once, want) in rows {
            let progress = Progress {
                held: false,
                state,
                spawning,
                spawn_step,
                starts_at_once,
            };
            let got = match ready(until, progress) {
                None => "-",
                Some(true) => "I",
                Some(false) => "D",
            };
            if got != want {
                wrong.push(format!("{until:?} at {progress:?}: {got}, want {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_start_held_for_its_dependencies_is_not_over() {
        let held = Progress {
            held: true,
            state: S::Stopped,
            spawning: false,
            spawn_step: false,
            starts_at_once: false,
        };
        assert_eq!(ready(WaitFor::Spawned, held), None);
        assert_eq!(ready(WaitFor::Started, held), None);
        assert_eq!(ready(WaitFor::Stopped, held), Some(false));
    }

    fn ids() -> (ProcId, ProcId) {
        let mut table = super::super::table::ProcessTable::default();
        (table.next_id(), table.next_id())
    }

    fn info() -> ProcessInfo {
        ProcessInfo {
            group: "g".into(),
            name: "p".into(),
            group_priority: 999,
            priority: 999,
            state: S::Running,
            pid: 1,
            start: 0,
            stop: 0,
            spawnerr: "".into(),
            exitstatus: 0,
            stdout_logfile: "".into(),
            stderr_logfile: "".into(),
        }
    }

    #[test]
    fn outcomes_come_out_in_ticket_order_once_per_batch() {
        let (a, b) = ids();
        let mut waiters = Waiters::default();
        waiters.wait(a, Ticket(3), WaitFor::Stopped);
        waiters.wait(a, Ticket(1), WaitFor::Started);
        waiters.wait(b, Ticket(2), WaitFor::Stopped);
        let running = Progress {
            held: false,
            state: S::Running,
            spawning: false,
            spawn_step: false,
            starts_at_once: false,
        };
        waiters.settle(a, running, info);
        waiters.settle(b, running, || panic!("nothing settles: no info needed"));
        waiters.complete(Ticket(0), Outcome::done());
        assert!(waiters.has_settled());
        let order: Vec<u64> = waiters.take_settled().iter().map(|(t, _)| t.0).collect();
        assert_eq!(order, [0, 1]);
        assert!(!waiters.has_settled());
        waiters.fail(b, || Fault::with(BAD_NAME, "g"));
        waiters.fail_all(|| Fault::bare(SHUTDOWN_STATE));
        let faults: Vec<(u64, i32)> = waiters
            .take_settled()
            .into_iter()
            .map(|(t, o)| (t.0, o.fault.into_option().map_or(0, |f| f.code)))
            .collect();
        assert_eq!(faults, [(2, BAD_NAME), (3, SHUTDOWN_STATE)]);
    }
}
