//! A stand-in daemon for plugin authors' unit tests: a [`Host`] with a
//! process table the test sets, a fixed clock, and a record of every
//! command and log line the plugin issued. Commands only get tickets; the
//! test decides their outcomes when it drives a deferred reply.
//!
//! Not for production: it supervises nothing. Every test of this
//! workspace that needs a host uses this one, so it grows with their needs.

use crate::fault::Fault;
use crate::host::{
    ConfigInfo, Host, Host_TO, HostBox, LogChannel, LogLevel, Outcome, ProcessInfo, Ticket,
};
use crate::namespace::{NamespaceBox, Reply};
use crate::state::{ProcessState, SupervisorState};
use crate::value::Value;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, ROption, RSlice, RStr, RString, RVec};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A command a plugin issued through the host; `process` is
/// `group:name`. Its `Display` is a one-line summary
/// (`start_process web:web wait=true`), and a command equals its summary,
/// so a test can compare a record with text.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `start_process`.
    Start {
        /// `group:name`.
        process: String,
        /// Whether the caller waits for the start.
        wait: bool,
    },
    /// `stop_process`.
    Stop {
        /// `group:name`.
        process: String,
        /// Whether the caller waits for the stop.
        wait: bool,
    },
    /// `signal_process`.
    Signal {
        /// `group:name`.
        process: String,
        /// The signal number.
        signal: i32,
    },
    /// `send_stdin`.
    Stdin {
        /// `group:name`.
        process: String,
        /// The bytes to write.
        data: Vec<u8>,
    },
    /// `read_log`.
    ReadLog {
        /// Which log.
        channel: LogChannel,
        /// `group:name`, or `:` for the main log.
        process: String,
        /// As the plugin passed it.
        offset: i64,
        /// As the plugin passed it.
        length: i64,
    },
    /// `tail_log`.
    TailLog {
        /// Which log.
        channel: LogChannel,
        /// `group:name`.
        process: String,
        /// As the plugin passed it.
        offset: i64,
        /// As the plugin passed it.
        length: i64,
    },
    /// `clear_log`.
    ClearLog {
        /// Which log.
        channel: LogChannel,
        /// `group:name`, or `:` for the main log.
        process: String,
    },
    /// `reload_config`.
    ReloadConfig,
    /// `add_group`.
    AddGroup(String),
    /// `remove_group`.
    RemoveGroup(String),
    /// `publish_event`.
    Publish {
        /// The event's type name.
        event: String,
        /// Its payload.
        payload: String,
    },
    /// `shutdown`.
    Shutdown,
    /// `restart`.
    Restart,
    /// `scale_group`.
    Scale {
        /// The group.
        group: String,
        /// The number of processes asked for.
        count: i64,
    },
    /// `update_changed`.
    UpdateChanged {
        /// Only the plan.
        dry_run: bool,
    },
    /// `group_names`.
    GroupNames,
    /// `add_program_to_group`.
    AddProgram {
        /// The group.
        group: String,
        /// The program's name.
        program: String,
        /// Its options, in the order given.
        options: Vec<(String, String)>,
    },
    /// `remove_process_from_group`.
    RemoveProcess {
        /// The group and the process.
        process: String,
    },
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Start { process, wait } => write!(f, "start_process {process} wait={wait}"),
            Command::Stop { process, wait } => write!(f, "stop_process {process} wait={wait}"),
            Command::Signal { process, signal } => write!(f, "signal_process {process} {signal}"),
            Command::Stdin { process, data } => {
                write!(f, "send_stdin {process} {} bytes", data.len())
            }
            Command::ReadLog {
                channel,
                process,
                offset,
                length,
            } => write!(f, "read_log {channel:?} {process} {offset} {length}"),
            Command::TailLog {
                channel,
                process,
                offset,
                length,
            } => write!(f, "tail_log {channel:?} {process} {offset} {length}"),
            Command::ClearLog { channel, process } => write!(f, "clear_log {channel:?} {process}"),
            Command::ReloadConfig => f.write_str("reload_config"),
            Command::AddGroup(name) => write!(f, "add_group {name}"),
            Command::RemoveGroup(name) => write!(f, "remove_group {name}"),
            Command::Publish { event, payload } => write!(f, "publish_event {event} {payload}"),
            Command::Shutdown => f.write_str("shutdown"),
            Command::Restart => f.write_str("restart"),
            Command::Scale { group, count } => write!(f, "scale_group {group} {count}"),
            Command::UpdateChanged { dry_run } => write!(f, "update_changed dry_run={dry_run}"),
            Command::GroupNames => f.write_str("group_names"),
            Command::AddProgram {
                group,
                program,
                options,
            } => {
                write!(f, "add_program_to_group {group} {program}")?;
                options
                    .iter()
                    .try_for_each(|(key, value)| write!(f, " {key}={value}"))
            }
            Command::RemoveProcess { process } => write!(f, "remove_process_from_group {process}"),
        }
    }
}

impl PartialEq<&str> for Command {
    fn eq(&self, text: &&str) -> bool {
        // Test-only code: the allocation is not worth a second formatter.
        self.to_string().as_str() == *text
    }
}

/// What a [`TestHost`] holds and records.
#[derive(Debug, Clone)]
pub struct TestHostState {
    /// `getState`'s answer.
    pub supervisor_state: SupervisorState,
    /// The process table.
    pub processes: Vec<ProcessInfo>,
    /// The pending configuration.
    pub configs: Vec<ConfigInfo>,
    /// The clock.
    pub now: i64,
    /// Every command issued, in order; command `n` (from 0) got
    /// `Ticket(n + 1)`.
    pub commands: Vec<Command>,
    /// Every line logged through the host.
    pub log: Vec<(LogLevel, String)>,
    /// `getIdentification`'s answer.
    pub identification: String,
    /// The daemon's pid (`getPID`).
    pub pid: u32,
    /// What `check_command` refuses, by `group:name`.
    pub refused: HashMap<String, Fault>,
}

/// What a [`TestHost`] does with each command once it is recorded and
/// ticketed: a test that plays the daemon changes the table and completes
/// the ticket here. Called on the plugin's thread, without the host's lock.
pub type Responder = Arc<dyn Fn(&TestHost, Ticket, &Command) + Send + Sync>;

/// A cloneable fake host; clones share their state.
#[derive(Clone)]
pub struct TestHost(Arc<Shared>);

struct Shared {
    state: Mutex<TestHostState>,
    responder: OnceLock<Responder>,
}

impl fmt::Debug for TestHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestHost")
            .field("state", &*self.state())
            .field("responds", &self.0.responder.get().is_some())
            .finish()
    }
}

impl Default for TestHost {
    fn default() -> TestHost {
        TestHost::from_state(TestHostState {
            supervisor_state: SupervisorState::Running,
            processes: Vec::new(),
            configs: Vec::new(),
            now: 1_700_000_000,
            commands: Vec::new(),
            log: Vec::new(),
            identification: "supervisor".to_owned(),
            pid: std::process::id(),
            refused: HashMap::new(),
        })
    }
}

impl TestHost {
    fn from_state(state: TestHostState) -> TestHost {
        TestHost(Arc::new(Shared {
            state: Mutex::new(state),
            responder: OnceLock::new(),
        }))
    }

    /// Carry out every command from now on with `respond` (see
    /// [`Responder`]); once per host. Without one, commands only get
    /// tickets.
    pub fn respond_with(
        &self,
        respond: impl Fn(&TestHost, Ticket, &Command) + Send + Sync + 'static,
    ) {
        let set = self.0.responder.set(Arc::new(respond));
        assert!(set.is_ok(), "a TestHost takes one responder");
    }

    /// A host whose table holds `processes`.
    pub fn with_processes(processes: Vec<ProcessInfo>) -> TestHost {
        let host = TestHost::default();
        host.state().processes = processes;
        host
    }

    /// The handle a factory receives.
    pub fn handle(&self) -> HostBox {
        Host_TO::from_value(self.clone(), TD_Opaque)
    }

    /// The shared state, to set up or inspect.
    pub fn state(&self) -> MutexGuard<'_, TestHostState> {
        // A test that panicked while holding the lock has failed already;
        // its data is still what the next assertion wants to see.
        self.0
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn issue(&self, command: Command) -> Ticket {
        let responder = self.0.responder.get();
        let copy = responder.map(|_| command.clone());
        let ticket = {
            let mut state = self.state();
            state.commands.push(command);
            Ticket(state.commands.len() as u64)
        };
        if let (Some(respond), Some(command)) = (responder, copy) {
            respond(self, ticket, &command);
        }
        ticket
    }

    /// The command that got `ticket`.
    pub fn command(&self, ticket: Ticket) -> Option<Command> {
        let index = usize::try_from(ticket.0).ok()?.checked_sub(1)?;
        self.state().commands.get(index).cloned()
    }

    /// Call `method` of `namespace` (built on this host) and drive its
    /// reply to the end as the daemon would: each ticket it waits on
    /// completes with the outcome `resolve` gives its command, in issue
    /// order (or the reverse, to check that order does not matter).
    pub fn drive(
        &self,
        namespace: &NamespaceBox,
        method: &str,
        params: Vec<Value>,
        resolve: &dyn Fn(&Command) -> Outcome,
        reverse: bool,
    ) -> Result<Value, Fault> {
        let mut reply = namespace.call(method.into(), params.into());
        loop {
            let deferred = match reply {
                Reply::Value(value) => return Ok(value),
                Reply::Fault(fault) => return Err(fault),
                Reply::Deferred(deferred) => deferred,
            };
            let mut tickets = deferred.tickets.into_vec();
            let mut continuation = deferred.continuation;
            if tickets.is_empty() {
                reply = continuation.finish();
                continue;
            }
            if reverse {
                tickets.reverse();
            }
            let mut next = None;
            for ticket in tickets {
                let command = self.command(ticket).expect("every ticket was issued");
                if let ROption::RSome(done) = continuation.resume(ticket, resolve(&command)) {
                    next = Some(done);
                    break;
                }
            }
            reply = next.expect("the continuation answers by its last ticket");
        }
    }
}

fn key(group: RStr<'_>, process: RStr<'_>) -> String {
    format!("{group}:{process}")
}

/// A process of a test table: group and name alike, the given state and
/// pid, everything else empty.
pub fn process_info(name: &str, state: ProcessState, pid: u32) -> ProcessInfo {
    ProcessInfo {
        group: name.into(),
        name: name.into(),
        group_priority: 999,
        priority: 999,
        state,
        pid,
        start: 0,
        stop: 0,
        spawnerr: RString::new(),
        exitstatus: 0,
        stdout_logfile: RString::new(),
        stderr_logfile: RString::new(),
    }
}

impl Host for TestHost {
    fn supervisor_state(&self) -> SupervisorState {
        self.state().supervisor_state
    }
    fn identification(&self) -> RString {
        self.state().identification.as_str().into()
    }
    fn supervisor_pid(&self) -> u32 {
        self.state().pid
    }
    fn now(&self) -> i64 {
        self.state().now
    }
    fn process_infos(&self) -> RArc<RVec<ProcessInfo>> {
        RArc::new(self.state().processes.clone().into())
    }
    fn config_infos(&self) -> RArc<RVec<ConfigInfo>> {
        RArc::new(self.state().configs.clone().into())
    }
    fn check_command(&self, group: RStr<'_>, process: RStr<'_>) -> ROption<Fault> {
        self.state()
            .refused
            .get(&key(group, process))
            .cloned()
            .into()
    }
    fn start_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        let process = key(group, process);
        self.issue(Command::Start { process, wait })
    }
    fn stop_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        let process = key(group, process);
        self.issue(Command::Stop { process, wait })
    }
    fn signal_process(&self, group: RStr<'_>, process: RStr<'_>, signal: i32) -> Ticket {
        let process = key(group, process);
        self.issue(Command::Signal { process, signal })
    }
    fn send_stdin(&self, group: RStr<'_>, process: RStr<'_>, data: RSlice<'_, u8>) -> Ticket {
        let process = key(group, process);
        let data = data.to_vec();
        self.issue(Command::Stdin { process, data })
    }
    fn read_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        let process = key(group, process);
        self.issue(Command::ReadLog {
            channel,
            process,
            offset,
            length,
        })
    }
    fn tail_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        let process = key(group, process);
        self.issue(Command::TailLog {
            channel,
            process,
            offset,
            length,
        })
    }
    fn clear_log(&self, channel: LogChannel, group: RStr<'_>, process: RStr<'_>) -> Ticket {
        let process = key(group, process);
        self.issue(Command::ClearLog { channel, process })
    }
    fn reload_config(&self) -> Ticket {
        self.issue(Command::ReloadConfig)
    }
    fn add_group(&self, name: RStr<'_>) -> Ticket {
        self.issue(Command::AddGroup(name.to_string()))
    }
    fn remove_group(&self, name: RStr<'_>) -> Ticket {
        self.issue(Command::RemoveGroup(name.to_string()))
    }
    fn publish_event(&self, event: RStr<'_>, payload: RStr<'_>) -> Ticket {
        let (event, payload) = (event.to_string(), payload.to_string());
        self.issue(Command::Publish { event, payload })
    }
    fn shutdown(&self) -> Ticket {
        self.issue(Command::Shutdown)
    }
    fn restart(&self) -> Ticket {
        self.issue(Command::Restart)
    }
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        self.state().log.push((level, message.to_string()));
    }
}

impl crate::extras::Extras for TestHost {
    fn scale_group(&self, group: &str, count: i64) -> Ticket {
        let group = group.to_string();
        self.issue(Command::Scale { group, count })
    }
    fn update_changed(&self, dry_run: bool) -> Ticket {
        self.issue(Command::UpdateChanged { dry_run })
    }
    fn group_names(&self) -> Ticket {
        self.issue(Command::GroupNames)
    }
    fn add_program_to_group(
        &self,
        group: &str,
        program: &str,
        options: Vec<(String, String)>,
    ) -> Ticket {
        let (group, program) = (group.to_string(), program.to_string());
        self.issue(Command::AddProgram {
            group,
            program,
            options,
        })
    }
    fn remove_process_from_group(&self, group: &str, process: &str) -> Ticket {
        let process = format!("{group}:{process}");
        self.issue(Command::RemoveProcess { process })
    }
}
