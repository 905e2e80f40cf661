//! A stand-in daemon for plugin authors' unit tests: a [`Host`] with a
//! process table the test sets, a fixed clock, and a record of every
//! command and log line the plugin issued. Commands only get tickets; the
//! test decides their outcomes when it drives a deferred reply.
//!
//! Not for production: it supervises nothing.

use crate::fault::Fault;
use crate::host::{ConfigInfo, Host, Host_TO, HostBox, LogChannel, LogLevel, ProcessInfo, Ticket};
use crate::state::{ProcessState, SupervisorState};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, ROption, RSlice, RStr, RString, RVec};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// Every command issued, by name (`start_process web:web`), in order.
    pub commands: Vec<String>,
    /// Every line logged through the host.
    pub log: Vec<(LogLevel, String)>,
}

/// A cloneable fake host; clones share their state.
#[derive(Debug, Clone)]
pub struct TestHost(Arc<Mutex<TestHostState>>);

impl Default for TestHost {
    fn default() -> TestHost {
        TestHost(Arc::new(Mutex::new(TestHostState {
            supervisor_state: SupervisorState::Running,
            processes: Vec::new(),
            configs: Vec::new(),
            now: 1_700_000_000,
            commands: Vec::new(),
            log: Vec::new(),
        })))
    }
}

impl TestHost {
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
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn issue(&self, command: String) -> Ticket {
        let mut state = self.state();
        state.commands.push(command);
        Ticket(state.commands.len() as u64)
    }
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
        "supervisor".into()
    }
    fn supervisor_pid(&self) -> u32 {
        std::process::id()
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
    fn check_command(&self, _: RStr<'_>, _: RStr<'_>) -> ROption<Fault> {
        ROption::RNone
    }
    fn start_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        self.issue(format!("start_process {group}:{process} wait={wait}"))
    }
    fn stop_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        self.issue(format!("stop_process {group}:{process} wait={wait}"))
    }
    fn signal_process(&self, group: RStr<'_>, process: RStr<'_>, signal: i32) -> Ticket {
        self.issue(format!("signal_process {group}:{process} {signal}"))
    }
    fn send_stdin(&self, group: RStr<'_>, process: RStr<'_>, data: RSlice<'_, u8>) -> Ticket {
        self.issue(format!("send_stdin {group}:{process} {} bytes", data.len()))
    }
    fn read_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        self.issue(format!(
            "read_log {channel:?} {group}:{process} {offset} {length}"
        ))
    }
    fn tail_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        self.issue(format!(
            "tail_log {channel:?} {group}:{process} {offset} {length}"
        ))
    }
    fn clear_log(&self, channel: LogChannel, group: RStr<'_>, process: RStr<'_>) -> Ticket {
        self.issue(format!("clear_log {channel:?} {group}:{process}"))
    }
    fn reload_config(&self) -> Ticket {
        self.issue("reload_config".to_string())
    }
    fn add_group(&self, name: RStr<'_>) -> Ticket {
        self.issue(format!("add_group {name}"))
    }
    fn remove_group(&self, name: RStr<'_>) -> Ticket {
        self.issue(format!("remove_group {name}"))
    }
    fn publish_event(&self, event_name: RStr<'_>, payload: RStr<'_>) -> Ticket {
        self.issue(format!("publish_event {event_name} {payload}"))
    }
    fn shutdown(&self) -> Ticket {
        self.issue("shutdown".to_string())
    }
    fn restart(&self) -> Ticket {
        self.issue("restart".to_string())
    }
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        self.state().log.push((level, message.to_string()));
    }
}
