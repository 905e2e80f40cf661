//! The order of a shutdown or restart: groups stop one at a time in
//! reverse priority, moving to the next the moment the current one is
//! fully stopped, and the processes still waited for are reported at most
//! every [`SHUTDOWN_REPORT_EVERY`]. It holds the queue and the report
//! throttle and says what each process is told; the supervisor task feeds
//! the inputs and decides when the daemon's mode ends (`super::mode`).
//!
//! The task runs a wind-down pass after every batch of inputs, thousands
//! in the shutdown of thousands of processes, so a pass must not look at
//! every process: the queue remembers which processes were fed since the
//! last pass (only their records can have changed) and how many of each
//! group it looked at are not stopped yet. A group is looked at in full
//! the first time (and every time while `depends_on` may block or free
//! any of its processes); after that a pass costs what changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use supervisor_sdk::state::ProcessState;
use tokio::time::Instant;

use super::table::{Group, ProcId, ProcessTable};
use crate::logs::LogLevel;
use crate::process::Input;

/// How often, at most, shutdown reports the processes it still waits for
/// (the reference's throttle).
const SHUTDOWN_REPORT_EVERY: Duration = Duration::from_secs(3);

/// The groups still to stop and when the last report was.
#[derive(Debug, Default)]
pub struct StopQueue {
    /// Lowest priority first, so the one to stop now is the last; `None`
    /// until the wind-down began.
    queue: Option<Vec<String>>,
    last_report: Option<Instant>,
    /// Processes fed since the last pass began.
    fed: Vec<ProcId>,
    /// The processes a group looked at has not stopped, by group; a
    /// group has an entry once it was looked at in full.
    unstopped: HashMap<Arc<str>, HashSet<ProcId>>,
}

impl StopQueue {
    /// Back to running (a new run of the task).
    pub fn reset(&mut self) {
        *self = StopQueue::default();
    }

    /// Begin with `groups` (in priority order) unless already begun; true
    /// when this began it.
    pub fn begin(&mut self, groups: impl FnOnce() -> Vec<String>) -> bool {
        if self.queue.is_some() {
            return false;
        }
        self.queue = Some(groups());
        true
    }

    /// The group to stop now.
    pub fn current(&self) -> Option<&str> {
        self.queue.as_ref()?.last().map(String::as_str)
    }

    /// The group `k` places after the current one (0: the current one).
    pub fn nth(&self, k: usize) -> Option<&str> {
        let queue = self.queue.as_ref()?;
        let at = queue.len().checked_sub(k + 1)?;
        queue.get(at).map(String::as_str)
    }

    /// The current group is done (or gone).
    pub fn pop(&mut self) {
        if let Some(queue) = self.queue.as_mut() {
            queue.pop();
        }
    }

    /// Process `id` was fed an input while winding down: its record may
    /// have changed, the next pass looks at it.
    pub fn fed(&mut self, id: ProcId) {
        if self.queue.is_some() {
            self.fed.push(id);
        }
    }

    /// Begin a pass: the processes fed since the last one (the pass's own
    /// inputs are seen by [`StopQueue::settle`] and the next pass).
    pub fn begin_pass(&mut self) -> Vec<ProcId> {
        std::mem::take(&mut self.fed)
    }

    /// The processes of `group` a pass looks at, in that order: all of
    /// them, last first, the first time or when `every_time`; after that
    /// those of `fed` (from [`StopQueue::begin_pass`]) in it.
    pub fn look_at(
        &mut self,
        table: &ProcessTable,
        group: &Group,
        fed: &[ProcId],
        every_time: bool,
    ) -> Vec<ProcId> {
        if every_time || !self.unstopped.contains_key(group.name.as_str()) {
            self.unstopped
                .insert(Arc::from(group.name.as_str()), HashSet::new());
            return group.procs.iter().rev().copied().collect();
        }
        let mut seen = HashSet::new();
        fed.iter()
            .copied()
            .filter(|id| table.get(*id).is_some_and(|p| *p.group == *group.name))
            .filter(|id| seen.insert(*id))
            .collect()
    }

    /// Note whether `id` (of a group looked at) is stopped now.
    pub fn looked(&mut self, table: &ProcessTable, id: ProcId) {
        let Some(proc) = table.get(id) else { return };
        let Some(unstopped) = self.unstopped.get_mut(&proc.group) else {
            return;
        };
        if proc.record.state.is_stopped() {
            unstopped.remove(&id);
        } else {
            unstopped.insert(id);
        }
    }

    /// After a pass fed its inputs: note what they changed (an input may
    /// change other processes too: a program ending the daemon), so the
    /// counts are true when the pass decides which groups are done.
    pub fn settle(&mut self, table: &ProcessTable) {
        let fed = std::mem::take(&mut self.fed);
        for id in &fed {
            self.looked(table, *id);
        }
        self.fed = fed;
    }

    /// Close the log files of the processes of `fed` that stopped: none
    /// spawns again in this life (a restart opens them afresh), and
    /// closing them as they stop overlaps with waiting for the others
    /// where the daemon's exit would close thousands at once. A pump still
    /// draining the child's pipe holds the file open until it is done.
    pub fn close_stopped_logs(table: &mut ProcessTable, fed: &[ProcId]) {
        for id in fed {
            if let Some(proc) = table.get_mut(*id)
                && proc.record.state.is_stopped()
                && proc.record.pid.is_none()
                && !proc.record.spawning
            {
                proc.logs = [None, None];
            }
        }
    }

    /// Whether `group` has a process not stopped: from the counts when it
    /// was looked at and `exact` is false, from the table otherwise.
    pub fn unstopped(&self, table: &ProcessTable, group: &Group, exact: bool) -> bool {
        match self.unstopped.get(group.name.as_str()) {
            Some(unstopped) if !exact => !unstopped.is_empty(),
            _ => table.unstopped(group),
        }
    }

    /// Whether the queue is over: every group it held is stopped (or
    /// gone), so only the table can say whether a process still runs.
    pub fn is_empty(&self) -> bool {
        self.queue.as_ref().is_none_or(Vec::is_empty)
    }

    /// When the next report is due, once one was made.
    pub fn report_due(&self) -> Option<Instant> {
        match (&self.queue, self.last_report) {
            (Some(_), Some(last)) => Some(last + SHUTDOWN_REPORT_EVERY),
            _ => None,
        }
    }

    /// Whether to report at `now` (and count it as reported).
    pub fn report(&mut self, now: Instant) -> bool {
        if self
            .last_report
            .is_some_and(|last| now < last + SHUTDOWN_REPORT_EVERY)
        {
            return false;
        }
        self.last_report = Some(now);
        true
    }
}

/// What a process of the group being stopped is told in `state`: a
/// running or starting one to stop, one in backoff to give up.
pub fn stop_input(state: ProcessState) -> Option<Input> {
    match state {
        ProcessState::Running | ProcessState::Starting => Some(Input::Stop),
        ProcessState::Backoff => Some(Input::GiveUp),
        _ => None,
    }
}

/// The main-log lines of a report on the processes still `unstopped`, as
/// the reference words them.
pub fn report(unstopped: &[(&str, ProcessState)]) -> Vec<(LogLevel, String)> {
    let names: Vec<&str> = unstopped.iter().map(|(name, _)| *name).collect();
    let mut lines = vec![(
        LogLevel::Info,
        format!("waiting for {} to die", names.join(", ")),
    )];
    for (name, state) in unstopped {
        lines.push((LogLevel::Blather, format!("{name} state: {}", state.name())));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_stop_last_first_and_reports_are_throttled() {
        let mut queue = StopQueue::default();
        assert_eq!((queue.current(), queue.report_due()), (None, None));
        assert!(queue.begin(|| vec!["low".into(), "high".into()]));
        assert!(!queue.begin(|| panic!("begun once")));
        assert_eq!(queue.current(), Some("high"));
        queue.pop();
        assert_eq!(queue.current(), Some("low"));
        let t0 = Instant::now();
        assert!(queue.report(t0));
        assert_eq!(queue.report_due(), Some(t0 + SHUTDOWN_REPORT_EVERY));
        assert!(!queue.report(t0 + Duration::from_secs(1)));
        assert!(queue.report(t0 + SHUTDOWN_REPORT_EVERY));
        queue.pop();
        queue.pop();
        assert_eq!(queue.current(), None);
        queue.reset();
        assert!(queue.begin(Vec::new));
    }

    #[test]
    fn after_a_group_is_looked_at_in_full_a_pass_sees_what_was_fed() {
        let (_dir, source) = super::super::table::tests::config();
        let mut table = ProcessTable::default();
        super::super::table::tests::fill(&mut table, &source);
        let id = |name| table.find("a", name).expect("a process of a");
        let (a0, a1, b) = (id("a_0"), id("a_1"), table.find("b", "b").expect("b:b"));
        let set = |table: &mut ProcessTable, id, state| {
            if let Some(proc) = table.get_mut(id) {
                proc.record.state = state;
            }
        };
        set(&mut table, a0, ProcessState::Running);
        set(&mut table, a1, ProcessState::Running);
        let mut queue = StopQueue::default();
        queue.fed(a0);
        assert!(
            queue.begin_pass().is_empty(),
            "nothing is noted before it began"
        );
        assert!(queue.begin(|| vec!["b".into(), "a".into()]));
        fn group_a(table: &ProcessTable) -> &Group {
            table.group("a").expect("a is active")
        }
        // First look: all of a, last first.
        let fed = queue.begin_pass();
        let look = queue.look_at(&table, group_a(&table), &fed, false);
        assert_eq!(look, [a1, a0]);
        for id in look {
            queue.looked(&table, id);
        }
        assert!(queue.unstopped(&table, group_a(&table), false));
        // a_0 stops (fed twice), b is fed: the next pass looks at a_0 once.
        set(&mut table, a0, ProcessState::Stopped);
        queue.fed(a0);
        queue.fed(b);
        queue.fed(a0);
        queue.settle(&table);
        assert!(queue.unstopped(&table, group_a(&table), false), "a_1 runs");
        let fed = queue.begin_pass();
        let look = queue.look_at(&table, group_a(&table), &fed, false);
        assert_eq!(look, [a0]);
        assert_eq!(
            queue.look_at(&table, group_a(&table), &fed, true),
            [a1, a0],
            "every time: in full"
        );
        // a_1 exits: the counts see it without a look at the whole group.
        set(&mut table, a1, ProcessState::Exited);
        queue.fed(a1);
        queue.settle(&table);
        assert!(!queue.unstopped(&table, group_a(&table), false));
        assert!(!queue.is_empty());
        queue.pop();
        let group_b = table.group("b").expect("b is active");
        let fed = queue.begin_pass();
        assert_eq!(queue.look_at(&table, group_b, &fed, false), [b]);
        queue.pop();
        assert!(queue.is_empty());
    }

    #[test]
    fn a_stopped_process_lets_go_of_its_logs_and_a_pump_keeps_writing() {
        use std::sync::Mutex;

        use crate::logs::{ChildLog, ChildLogSpec, Rotation};

        let (dir, source) = super::super::table::tests::config();
        let mut table = ProcessTable::default();
        super::super::table::tests::fill(&mut table, &source);
        let open = |name: &str| {
            let spec = ChildLogSpec {
                process_name: name.into(),
                channel: "stdout",
                path: Some(dir.path().join(format!("{name}.log")).into()),
                rotation: Rotation {
                    max_bytes: 0,
                    backups: 0,
                },
                syslog: false,
                strip_ansi: false,
            };
            Arc::new(Mutex::new(
                ChildLog::open(spec, None).expect("the log opens"),
            ))
        };
        let (a0, a1) = (
            table.find("a", "a_0").expect("a:a_0"),
            table.find("a", "a_1").expect("a:a_1"),
        );
        let pumps_copy = open("a_0");
        for (id, state, log) in [
            (a0, ProcessState::Stopped, Arc::clone(&pumps_copy)),
            (a1, ProcessState::Running, open("a_1")),
        ] {
            let proc = table.get_mut(id).expect("in the table");
            proc.record.state = state;
            proc.record.pid = (state == ProcessState::Running).then_some(4242);
            proc.logs[0] = Some(log);
        }
        StopQueue::close_stopped_logs(&mut table, &[a0, a1]);
        let logs = |id| table.get(id).map(|p| p.logs[0].is_some());
        assert_eq!((logs(a0), logs(a1)), (Some(false), Some(true)));
        // The pump's copy still writes: no byte of a draining pipe is lost.
        let mut log = pumps_copy.lock().expect("not poisoned");
        assert!(log.write(b"last words\n").1.is_ok());
        drop(log);
        drop(pumps_copy);
        let text = std::fs::read_to_string(dir.path().join("a_0.log")).expect("a_0.log");
        assert_eq!(text, "last words\n");
    }

    #[test]
    fn only_live_processes_are_told_to_stop() {
        let told: Vec<(ProcessState, Option<Input>)> = ProcessState::ALL
            .into_iter()
            .map(|s| (s, stop_input(s)))
            .filter(|(_, i)| i.is_some())
            .collect();
        assert_eq!(
            told,
            [
                (ProcessState::Starting, Some(Input::Stop)),
                (ProcessState::Running, Some(Input::Stop)),
                (ProcessState::Backoff, Some(Input::GiveUp)),
            ]
        );
        let lines = report(&[("a", ProcessState::Stopping), ("b", ProcessState::Running)]);
        assert_eq!(
            lines,
            [
                (LogLevel::Info, "waiting for a, b to die".to_string()),
                (LogLevel::Blather, "a state: STOPPING".to_string()),
                (LogLevel::Blather, "b state: RUNNING".to_string()),
            ]
        );
    }
}
