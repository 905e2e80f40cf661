//! What each event carries and its payload text, byte for byte as the
//! reference's `payload()` methods render it (supervisor/events.py). The
//! values are captured when the event is made (a process-state event holds
//! the pid and tries of that moment, as the reference renders them eagerly);
//! the text is rendered only when a pool delivers the event.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use supervisor_sdk::state::ProcessState;

use crate::config::EventType;
use crate::pyrepr::py_bytes_repr;

/// Which output channel of a process; the one definition is the config
/// layer's, shared with the logs.
pub use crate::config::Channel;

/// The `SUPERVISOR_STATE_CHANGE_*` moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SupervisorStateChange {
    /// The main loop started (at start-up and after every restart).
    Running,
    /// A shutdown or restart was asked for.
    Stopping,
}

/// The `TICK_*` periods, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickPeriod {
    /// `TICK_5`.
    Five,
    /// `TICK_60`.
    Sixty,
    /// `TICK_3600`.
    Hour,
}

impl TickPeriod {
    /// All periods, shortest first.
    pub const ALL: [TickPeriod; 3] = [TickPeriod::Five, TickPeriod::Sixty, TickPeriod::Hour];

    /// The period in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            TickPeriod::Five => 5,
            TickPeriod::Sixty => 60,
            TickPeriod::Hour => 3600,
        }
    }

    /// The event type of this period's ticks.
    pub const fn event_type(self) -> EventType {
        match self {
            TickPeriod::Five => EventType::Tick5,
            TickPeriod::Sixty => EventType::Tick60,
            TickPeriod::Hour => EventType::Tick3600,
        }
    }
}

/// A process state change, with the values of the moment it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStateChange {
    /// The process name (`processname:`).
    pub process: String,
    /// Its group name (`groupname:`).
    pub group: String,
    /// The state left (`from_state:`, by name).
    pub from: ProcessState,
    /// The state entered: it chooses the event type and the extra fields.
    pub to: ProcessState,
    /// The backoff counter (`tries:`, STARTING and BACKOFF only).
    pub tries: u32,
    /// The pid (`pid:`, RUNNING, STOPPING, STOPPED and EXITED; for STOPPED
    /// and EXITED the one that just died). `None` is printed as `0`, as the
    /// reference prints a process without a pid.
    pub pid: Option<i32>,
    /// Whether the exit status was in `exitcodes` (`expected:`, EXITED only).
    pub expected: bool,
}

/// One event, with everything its payload needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `PROCESS_STATE_*`.
    ProcessState(ProcessStateChange),
    /// `PROCESS_LOG_STDOUT` / `_STDERR`: one chunk of logged output.
    ProcessLog {
        /// The channel the chunk came from.
        channel: Channel,
        /// The process name (shared with the output reader that publishes).
        process: Arc<str>,
        /// Its group name.
        group: Arc<str>,
        /// Its pid.
        pid: i32,
        /// The chunk, as read.
        data: Vec<u8>,
    },
    /// `PROCESS_COMMUNICATION_STDOUT` / `_STDERR`: what a process wrote
    /// between the capture-mode tokens.
    ProcessCommunication {
        /// The channel the block came from.
        channel: Channel,
        /// The process name (shared with the output reader that publishes).
        process: Arc<str>,
        /// Its group name.
        group: Arc<str>,
        /// Its pid.
        pid: i32,
        /// The data between the tokens.
        data: Vec<u8>,
    },
    /// `REMOTE_COMMUNICATION` (`supervisor.sendRemoteCommEvent`).
    RemoteCommunication {
        /// The `type` argument.
        kind: String,
        /// The `data` argument.
        data: String,
    },
    /// `SUPERVISOR_STATE_CHANGE_RUNNING` / `_STOPPING`.
    SupervisorStateChange(SupervisorStateChange),
    /// `TICK_5` / `TICK_60` / `TICK_3600`.
    Tick {
        /// Which tick.
        period: TickPeriod,
        /// The UNIX time the slot starts at (a multiple of the period).
        when: i64,
    },
    /// `PROCESS_GROUP_ADDED`.
    ProcessGroupAdded {
        /// The group name.
        group: String,
    },
    /// `PROCESS_GROUP_REMOVED`.
    ProcessGroupRemoved {
        /// The group name.
        group: String,
    },
}

impl Event {
    /// The concrete type, which `eventname:` names.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::ProcessState(change) => match change.to {
                ProcessState::Stopped => EventType::ProcessStateStopped,
                ProcessState::Starting => EventType::ProcessStateStarting,
                ProcessState::Running => EventType::ProcessStateRunning,
                ProcessState::Backoff => EventType::ProcessStateBackoff,
                ProcessState::Stopping => EventType::ProcessStateStopping,
                ProcessState::Exited => EventType::ProcessStateExited,
                ProcessState::Fatal => EventType::ProcessStateFatal,
                ProcessState::Unknown => EventType::ProcessStateUnknown,
            },
            Event::ProcessLog {
                channel: Channel::Stdout,
                ..
            } => EventType::ProcessLogStdout,
            Event::ProcessLog {
                channel: Channel::Stderr,
                ..
            } => EventType::ProcessLogStderr,
            Event::ProcessCommunication {
                channel: Channel::Stdout,
                ..
            } => EventType::ProcessCommunicationStdout,
            Event::ProcessCommunication {
                channel: Channel::Stderr,
                ..
            } => EventType::ProcessCommunicationStderr,
            Event::RemoteCommunication { .. } => EventType::RemoteCommunication,
            Event::SupervisorStateChange(SupervisorStateChange::Running) => {
                EventType::SupervisorStateChangeRunning
            }
            Event::SupervisorStateChange(SupervisorStateChange::Stopping) => {
                EventType::SupervisorStateChangeStopping
            }
            Event::Tick { period, .. } => period.event_type(),
            Event::ProcessGroupAdded { .. } => EventType::ProcessGroupAdded,
            Event::ProcessGroupRemoved { .. } => EventType::ProcessGroupRemoved,
        }
    }

    /// The payload text, exactly as the reference renders it.
    pub fn payload(&self) -> String {
        let mut out = String::new();
        self.write_payload(&mut out);
        out
    }

    /// Append the payload text to `out` (one allocation for envelope and
    /// payload when the caller sized `out`).
    pub fn write_payload(&self, out: &mut String) {
        // Writing to a String cannot fail; the results are discarded.
        match self {
            Event::ProcessState(change) => {
                let _ = write!(
                    out,
                    "processname:{} groupname:{} from_state:{}",
                    change.process,
                    change.group,
                    change.from.name()
                );
                match change.to {
                    ProcessState::Starting | ProcessState::Backoff => {
                        let _ = write!(out, " tries:{}", change.tries);
                    }
                    ProcessState::Running | ProcessState::Stopping | ProcessState::Stopped => {
                        let _ = write!(out, " pid:{}", change.pid.unwrap_or(0));
                    }
                    ProcessState::Exited => {
                        let _ = write!(
                            out,
                            " expected:{} pid:{}",
                            u8::from(change.expected),
                            change.pid.unwrap_or(0)
                        );
                    }
                    ProcessState::Fatal | ProcessState::Unknown => {}
                }
            }
            Event::ProcessLog {
                channel,
                process,
                group,
                pid,
                data,
            } => {
                out.reserve(data.len() + process.len() + group.len() + 48);
                let _ = writeln!(
                    out,
                    "processname:{process} groupname:{group} pid:{pid} channel:{}",
                    channel.name()
                );
                push_text(out, data);
            }
            Event::ProcessCommunication {
                process,
                group,
                pid,
                data,
                ..
            } => {
                out.reserve(data.len() + process.len() + group.len() + 36);
                let _ = writeln!(out, "processname:{process} groupname:{group} pid:{pid}");
                push_text(out, data);
            }
            Event::RemoteCommunication { kind, data } => {
                let _ = write!(out, "type:{kind}\n{data}");
            }
            Event::SupervisorStateChange(_) => {}
            Event::Tick { when, .. } => {
                let _ = write!(out, "when:{when}");
            }
            Event::ProcessGroupAdded { group } | Event::ProcessGroupRemoved { group } => {
                let _ = writeln!(out, "groupname:{group}");
            }
        }
    }
}

/// An event accepted by at least one pool: its global serial (the same
/// in every pool) and its payload, rendered once on first delivery and
/// shared by every pool that delivers it.
#[derive(Debug)]
pub struct PublishedEvent {
    event: Event,
    serial: i64,
    rendered: OnceLock<Rendered>,
}

#[derive(Debug)]
struct Rendered {
    text: String,
    chars: usize,
}

impl PublishedEvent {
    /// `event` numbered `serial`.
    pub fn new(event: Event, serial: i64) -> PublishedEvent {
        PublishedEvent {
            event,
            serial,
            rendered: OnceLock::new(),
        }
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The global serial (`serial:` in the envelope).
    pub fn serial(&self) -> i64 {
        self.serial
    }

    /// The payload text and its length in characters (`len:`).
    pub fn payload(&self) -> (&str, usize) {
        let rendered = self.rendered.get_or_init(|| {
            let text = self.event.payload();
            let chars = if text.is_ascii() {
                text.len()
            } else {
                text.chars().count()
            };
            Rendered { text, chars }
        });
        (&rendered.text, rendered.chars)
    }
}

/// Output data as the reference puts it in a payload: the text when it is
/// UTF-8, else `Undecodable: ` and Python's repr of the bytes.
fn push_text(out: &mut String, data: &[u8]) {
    match std::str::from_utf8(data) {
        Ok(text) => out.push_str(text),
        Err(_) => {
            out.push_str("Undecodable: ");
            out.push_str(&py_bytes_repr(data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(
        process: &str,
        group: &str,
        from: ProcessState,
        to: ProcessState,
        tries: u32,
        pid: i32,
        expected: bool,
    ) -> Event {
        Event::ProcessState(ProcessStateChange {
            process: process.into(),
            group: group.into(),
            from,
            to,
            tries,
            pid: (pid != 0).then_some(pid),
            expected,
        })
    }

    #[test]
    fn process_state_payloads_match_the_reference() {
        use ProcessState::*;
        // Recorded from Supervisor 4.3.0 (see golden.rs for the envelopes).
        let cases = [
            (
                state("rec", "rec", Stopped, Starting, 0, 0, false),
                "processname:rec groupname:rec from_state:STOPPED tries:0",
            ),
            (
                state("quick", "quick", Starting, Backoff, 1, 0, false),
                "processname:quick groupname:quick from_state:STARTING tries:1",
            ),
            (
                state("quick", "quick", Backoff, Fatal, 2, 0, false),
                "processname:quick groupname:quick from_state:BACKOFF",
            ),
            (
                state("exiter", "exiter", Running, Exited, 0, 30326, false),
                "processname:exiter groupname:exiter from_state:RUNNING expected:0 pid:30326",
            ),
            (
                state("member", "grp", Stopping, Stopped, 0, 30465, true),
                "processname:member groupname:grp from_state:STOPPING pid:30465",
            ),
            (
                state("x", "g", Running, Unknown, 0, 5, true),
                "processname:x groupname:g from_state:RUNNING",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(event.payload(), expected);
        }
    }

    #[test]
    fn undecodable_output_is_rendered_as_python_repr() {
        let event = Event::ProcessLog {
            channel: Channel::Stdout,
            process: "runner".into(),
            group: "runner".into(),
            pid: 30332,
            data: b"hello\n\xff\xfebad\n".to_vec(),
        };
        assert_eq!(
            event.payload(),
            "processname:runner groupname:runner pid:30332 channel:stdout\n\
             Undecodable: b'hello\\n\\xff\\xfebad\\n'"
        );
        assert_eq!(event.event_type(), EventType::ProcessLogStdout);
    }
}
