//! The order of a shutdown or restart: groups stop one at a time in
//! reverse priority, moving to the next the moment the current one is
//! fully stopped, and the processes still waited for are reported at most
//! every [`SHUTDOWN_REPORT_EVERY`]. It holds the queue and the report
//! throttle and says what each process is told; the supervisor task feeds
//! the inputs and decides when the daemon's mode ends (`super::mode`).

use std::time::Duration;

use supervisor_sdk::state::ProcessState;
use tokio::time::Instant;

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
