//! A fake daemon for the namespace's tests: a process table the test sets
//! up, a record of every command issued, and a driver that completes
//! tickets the way the test says.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, ROption, RSlice, RStr, RString, RVec};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use supervisor_sdk::fault::Fault;
use supervisor_sdk::host::{
    ConfigInfo, Host, Host_TO, HostBox, LogChannel, LogLevel, Outcome, ProcessInfo, Ticket,
};
use supervisor_sdk::namespace::{NamespaceBox, Reply};
use supervisor_sdk::state::{ProcessState, SupervisorState};
use supervisor_sdk::value::Value;

/// A command the namespace asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Start {
        process: String,
        wait: bool,
    },
    Stop {
        process: String,
        wait: bool,
    },
    Signal {
        process: String,
        signal: i32,
    },
    Stdin {
        process: String,
        data: Vec<u8>,
    },
    Log {
        what: &'static str,
        channel: LogChannel,
        process: String,
    },
    Publish {
        event: String,
        payload: String,
    },
    Other(&'static str),
}

#[derive(Default)]
pub struct State {
    pub mood: Option<SupervisorState>,
    pub processes: Vec<ProcessInfo>,
    pub configs: Vec<ConfigInfo>,
    pub bad_commands: HashMap<String, Fault>,
    pub issued: Vec<(Ticket, Command)>,
    pub log: Vec<(LogLevel, String)>,
}

#[derive(Clone, Default)]
pub struct FakeHost(pub Arc<Mutex<State>>);

pub const NOW: i64 = 1_764_000_000;

impl FakeHost {
    pub fn boxed(&self) -> HostBox {
        Host_TO::from_value(self.clone(), TD_Opaque)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .expect("no test thread panics while holding the fake's lock")
    }

    fn issue(&self, command: Command) -> Ticket {
        let mut state = self.state();
        let ticket = Ticket(100 + state.issued.len() as u64);
        state.issued.push((ticket, command));
        ticket
    }

    pub fn commands(&self) -> Vec<Command> {
        self.state().issued.iter().map(|(_, c)| c.clone()).collect()
    }
}

fn key(group: RStr<'_>, process: RStr<'_>) -> String {
    format!("{group}:{process}")
}

impl Host for FakeHost {
    fn supervisor_state(&self) -> SupervisorState {
        self.state().mood.unwrap_or(SupervisorState::Running)
    }
    fn identification(&self) -> RString {
        "supervisor".into()
    }
    fn supervisor_pid(&self) -> u32 {
        4242
    }
    fn now(&self) -> i64 {
        NOW
    }
    fn process_infos(&self) -> RArc<RVec<ProcessInfo>> {
        RArc::new(self.state().processes.iter().cloned().collect())
    }
    fn config_infos(&self) -> RArc<RVec<ConfigInfo>> {
        RArc::new(self.state().configs.iter().cloned().collect())
    }
    fn check_command(&self, group: RStr<'_>, process: RStr<'_>) -> ROption<Fault> {
        self.state()
            .bad_commands
            .get(&key(group, process))
            .cloned()
            .into()
    }
    fn start_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        self.issue(Command::Start {
            process: key(group, process),
            wait,
        })
    }
    fn stop_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        self.issue(Command::Stop {
            process: key(group, process),
            wait,
        })
    }
    fn signal_process(&self, group: RStr<'_>, process: RStr<'_>, signal: i32) -> Ticket {
        self.issue(Command::Signal {
            process: key(group, process),
            signal,
        })
    }
    fn send_stdin(&self, group: RStr<'_>, process: RStr<'_>, data: RSlice<'_, u8>) -> Ticket {
        self.issue(Command::Stdin {
            process: key(group, process),
            data: data.to_vec(),
        })
    }
    fn read_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        assert!(
            offset >= -1000 && length >= -1000,
            "parameters arrive as given"
        );
        self.issue(Command::Log {
            what: "read",
            channel,
            process: key(group, process),
        })
    }
    fn tail_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        _: i64,
        _: i64,
    ) -> Ticket {
        self.issue(Command::Log {
            what: "tail",
            channel,
            process: key(group, process),
        })
    }
    fn clear_log(&self, channel: LogChannel, group: RStr<'_>, process: RStr<'_>) -> Ticket {
        self.issue(Command::Log {
            what: "clear",
            channel,
            process: key(group, process),
        })
    }
    fn reload_config(&self) -> Ticket {
        self.issue(Command::Other("reload_config"))
    }
    fn add_group(&self, _: RStr<'_>) -> Ticket {
        self.issue(Command::Other("add_group"))
    }
    fn remove_group(&self, _: RStr<'_>) -> Ticket {
        self.issue(Command::Other("remove_group"))
    }
    fn publish_event(&self, event: RStr<'_>, payload: RStr<'_>) -> Ticket {
        self.issue(Command::Publish {
            event: event.to_string(),
            payload: payload.to_string(),
        })
    }
    fn shutdown(&self) -> Ticket {
        self.issue(Command::Other("shutdown"))
    }
    fn restart(&self) -> Ticket {
        self.issue(Command::Other("restart"))
    }
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        self.state().log.push((level, message.to_string()));
    }
}

/// A process of the fake table.
pub fn process(group: &str, name: &str, priority: i64, state: ProcessState) -> ProcessInfo {
    let running = state.is_signallable() || state == ProcessState::Backoff;
    ProcessInfo {
        group: group.into(),
        name: name.into(),
        group_priority: 999,
        priority,
        state,
        pid: if running && state != ProcessState::Backoff {
            42
        } else {
            0
        },
        start: if state == ProcessState::Stopped {
            0
        } else {
            NOW - 12
        },
        stop: 0,
        spawnerr: "".into(),
        exitstatus: 0,
        stdout_logfile: format!("/tmp/{name}.log").into(),
        stderr_logfile: "".into(),
    }
}

/// Call `method` and drive any deferred reply to its end: each issued
/// ticket completes, in the order `order` returns (default: issue order),
/// with the outcome `resolve` gives its command.
pub fn drive(
    namespace: &NamespaceBox,
    fake: &FakeHost,
    method: &str,
    params: Vec<Value>,
    resolve: &dyn Fn(&Command) -> Outcome,
    reverse: bool,
) -> Result<Value, Fault> {
    let mut reply = namespace.call(method.into(), params.into());
    loop {
        match reply {
            Reply::Value(value) => return Ok(value),
            Reply::Fault(fault) => return Err(fault),
            Reply::Deferred(deferred) => {
                let mut tickets = deferred.tickets.into_vec();
                let mut continuation = deferred.continuation;
                if tickets.is_empty() {
                    reply = continuation.finish();
                    continue;
                }
                if reverse {
                    tickets.reverse();
                }
                let issued: HashMap<Ticket, Command> =
                    fake.state().issued.iter().cloned().collect();
                let mut next = None;
                for ticket in tickets {
                    let command = issued.get(&ticket).expect("every ticket was issued");
                    if let ROption::RSome(done) = continuation.resume(ticket, resolve(command)) {
                        next = Some(done);
                        break;
                    }
                }
                reply = next.expect("the continuation answers by its last ticket");
            }
        }
    }
}
