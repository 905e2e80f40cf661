//! The `description` text of `getProcessInfo` per state, exactly as the
//! reference renders it (`rpcinterface.py`'s `_interpretProcessInfo`):
//! `pid 42, uptime 1 day, 2:03:04`, the spawn error, `Not started`, or the
//! local stop time. supervisorctl's `status` prints it verbatim.
//!
//! Pure: it takes the numbers and returns text; it reads no clock except the
//! local time zone needed for the stop time.

use crate::state::ProcessState;
use chrono::{Local, TimeZone};

/// How the spawn error of a process whose start waits for its dependencies
/// begins (`waiting for db`); such a STOPPED or EXITED process shows it as
/// its description.
pub const WAITING_FOR: &str = "waiting for ";

/// How the spawn error of a STARTING or RUNNING process begins when it
/// carries the `STATUS=` text its child sent (`ready_check = notify`,
/// issue 16). The reference clears the spawn error when it spawns, so it
/// never shows one in these states; ours only does for this and
/// [`HEALTH_FAILED`].
pub const STATUS: &str = "status: ";

/// How the spawn error of a RUNNING process begins while its last health
/// check failed (`health_check`, issue 16).
pub const HEALTH_FAILED: &str = "health check failed";

/// Whether the spawn error of a process in `state` is one of issue 16's
/// notes ([`STATUS`], [`HEALTH_FAILED`]) rather than a failed spawn.
pub fn is_note(state: ProcessState, spawnerr: &str) -> bool {
    matches!(state, ProcessState::Starting | ProcessState::Running)
        && (spawnerr.starts_with(STATUS) || spawnerr.starts_with(HEALTH_FAILED))
}

/// Whether a process is **up** (issue 16's one definition): RUNNING (which,
/// where it has a ready check, means the check passed) and, where it has a
/// health check, its last check passed. `spawnerr` is the process's spawn
/// error as `getProcessInfo` reports it.
pub fn is_up(state: ProcessState, spawnerr: &str) -> bool {
    state == ProcessState::Running && !spawnerr.starts_with(HEALTH_FAILED)
}

/// What the description of one process depends on.
#[derive(Debug, Clone, Copy)]
pub struct DescriptionInput<'a> {
    /// The process name (not the namespec), for the "tail" hint.
    pub name: &'a str,
    /// Its state.
    pub state: ProcessState,
    /// Its pid (0 when not running).
    pub pid: u32,
    /// UNIX time of the last start, 0 if never started.
    pub start: i64,
    /// UNIX time of the last stop, 0 if never stopped.
    pub stop: i64,
    /// The current UNIX time.
    pub now: i64,
    /// The last spawn error, empty if none.
    pub spawnerr: &'a str,
}

/// The `description` for a process.
pub fn describe(input: &DescriptionInput<'_>) -> String {
    match input.state {
        // By hand rather than `format!`: thousands of these make up much
        // of a getAllProcessInfo answer's cost. A child's STATUS= text or
        // a failed health check (issue 16) follows the uptime.
        ProcessState::Running => {
            let mut text = String::with_capacity(40 + input.spawnerr.len());
            text.push_str("pid ");
            push_decimal(&mut text, u64::from(input.pid));
            text.push_str(", uptime ");
            push_uptime(&mut text, input.now - input.start);
            if !input.spawnerr.is_empty() {
                text.push_str(", ");
                text.push_str(input.spawnerr);
            }
            text
        }
        ProcessState::Starting => input.spawnerr.to_string(),
        ProcessState::Fatal | ProcessState::Backoff => {
            if input.spawnerr.is_empty() {
                format!("unknown error (try \"tail {}\")", input.name)
            } else {
                input.spawnerr.to_string()
            }
        }
        // A start waiting for its dependencies says so (issue 16); the
        // reference never sets a spawn error with this prefix.
        ProcessState::Stopped | ProcessState::Exited if input.spawnerr.starts_with(WAITING_FOR) => {
            input.spawnerr.to_string()
        }
        ProcessState::Stopped | ProcessState::Exited => {
            if input.start == 0 {
                "Not started".to_string()
            } else {
                format_stop_time(input.stop)
            }
        }
        ProcessState::Stopping | ProcessState::Unknown => String::new(),
    }
}

/// A duration in whole seconds as Python prints a `timedelta`: `0:00:12`,
/// `1 day, 2:03:04`, `3 days, 0:00:01`. A negative duration (the clock went
/// back) prints as `0:00:00`, as the reference clamps it.
pub fn format_uptime(seconds: i64) -> String {
    let mut text = String::with_capacity(16);
    push_uptime(&mut text, seconds);
    text
}

/// Append [`format_uptime`]'s text to `out`.
fn push_uptime(out: &mut String, seconds: i64) {
    // Not negative: the conversion cannot fail.
    let seconds = u64::try_from(seconds.max(0)).unwrap_or(0);
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    match days {
        0 => {}
        1 => out.push_str("1 day, "),
        _ => {
            push_decimal(out, days);
            out.push_str(" days, ");
        }
    }
    push_decimal(out, rest / 3600);
    for part in [rest % 3600 / 60, rest % 60] {
        out.push(':');
        out.push(char::from(b'0' + (part / 10) as u8));
        out.push(char::from(b'0' + (part % 10) as u8));
    }
}

/// Append `number` in decimal, without the formatting machinery (itoa).
fn push_decimal(out: &mut String, number: u64) {
    out.push_str(itoa::Buffer::new().format(number));
}

/// A UNIX time as local `%b %d %I:%M %p` (`Nov 24 12:11 AM`).
pub fn format_stop_time(unix_seconds: i64) -> String {
    match Local.timestamp_opt(unix_seconds, 0).earliest() {
        Some(time) => time.format("%b %d %I:%M %p").to_string(),
        // Only out-of-range times (year ±262143) get here; the reference
        // would fail too. Say something rather than nothing.
        None => format!("at {unix_seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(state: ProcessState) -> DescriptionInput<'static> {
        DescriptionInput {
            name: "cat",
            state,
            pid: 7067,
            start: 1_000,
            stop: 0,
            now: 1_012,
            spawnerr: "",
        }
    }

    #[test]
    fn uptime_prints_like_a_python_timedelta() {
        assert_eq!(format_uptime(12), "0:00:12");
        assert_eq!(format_uptime(12 * 3600 + 3 * 60 + 4), "12:03:04");
        assert_eq!(
            format_uptime(86_400 + 2 * 3600 + 3 * 60 + 4),
            "1 day, 2:03:04"
        );
        assert_eq!(format_uptime(3 * 86_400 + 1), "3 days, 0:00:01");
        assert_eq!(format_uptime(-5), "0:00:00");
    }

    #[test]
    fn uptime_by_hand_is_what_format_printed() {
        let formatted = |seconds: i64| {
            let seconds = seconds.max(0);
            let (days, rest) = (seconds / 86_400, seconds % 86_400);
            let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
            match days {
                0 => clock,
                1 => format!("1 day, {clock}"),
                _ => format!("{days} days, {clock}"),
            }
        };
        for seconds in [0, 1, 9, 10, 59, 60, 599, 3599, 3600, 36_000, 86_399, 86_400]
            .into_iter()
            .chain([86_401, 172_800, 1_000_000_007, i64::MAX, i64::MIN, -1])
        {
            assert_eq!(format_uptime(seconds), formatted(seconds), "{seconds}");
        }
        let status = DescriptionInput {
            spawnerr: "ready",
            pid: u32::MAX,
            ..input(ProcessState::Running)
        };
        assert_eq!(describe(&status), "pid 4294967295, uptime 0:00:12, ready");
    }

    #[test]
    fn each_state_gets_the_reference_text() {
        assert_eq!(
            describe(&input(ProcessState::Running)),
            "pid 7067, uptime 0:00:12"
        );
        assert_eq!(
            describe(&input(ProcessState::Fatal)),
            "unknown error (try \"tail cat\")"
        );
        let backoff = DescriptionInput {
            spawnerr: "Exited too quickly (process log may have details)",
            ..input(ProcessState::Backoff)
        };
        assert_eq!(
            describe(&backoff),
            "Exited too quickly (process log may have details)"
        );
        let never = DescriptionInput {
            start: 0,
            ..input(ProcessState::Stopped)
        };
        assert_eq!(describe(&never), "Not started");
        for state in [
            ProcessState::Starting,
            ProcessState::Stopping,
            ProcessState::Unknown,
        ] {
            assert_eq!(describe(&input(state)), "");
        }
    }

    #[test]
    fn a_status_or_a_failed_health_check_follows_the_uptime() {
        let status = DescriptionInput {
            spawnerr: "status: serving",
            ..input(ProcessState::Running)
        };
        assert_eq!(
            describe(&status),
            "pid 7067, uptime 0:00:12, status: serving"
        );
        let starting = DescriptionInput {
            spawnerr: "status: warming up",
            ..input(ProcessState::Starting)
        };
        assert_eq!(describe(&starting), "status: warming up");
        assert!(is_up(ProcessState::Running, "status: serving"));
        assert!(is_up(ProcessState::Running, ""));
        assert!(!is_up(
            ProcessState::Running,
            "health check failed (1 of 3): x"
        ));
        assert!(!is_up(ProcessState::Starting, ""));
    }

    #[test]
    fn stop_time_is_local_month_day_and_12_hour_clock() {
        let stopped = DescriptionInput {
            stop: 1_764_000_000,
            ..input(ProcessState::Exited)
        };
        let text = describe(&stopped);
        let expected = Local
            .timestamp_opt(1_764_000_000, 0)
            .unwrap()
            .format("%b %d %I:%M %p")
            .to_string();
        assert_eq!(text, expected);
        // Shape: "Nov 24 12:11 AM".
        assert_eq!(text.len(), 15, "{text}");
        assert!(text.ends_with("AM") || text.ends_with("PM"), "{text}");
    }
}
