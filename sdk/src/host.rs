//! The host handle: what a plugin may ask of the daemon. Reads come from
//! the latest published snapshot and never wait; commands (start, stop,
//! signal, ...) return a [`Ticket`] at once and complete later with an
//! [`Outcome`], which the daemon hands to the continuation of a deferred
//! reply (see [`crate::namespace`]). Logging goes through the daemon's
//! logger, because tracing's global state does not cross into a shared
//! library.
//!
//! This module defines the contract only. The daemon implements [`Host`];
//! plugins receive a [`HostBox`] from their factory and clone it freely.
//! Factories must not call the host: the supervisor task does not run yet
//! while plugins load.

use crate::fault::Fault;
use crate::state::{ProcessState, SupervisorState};
use crate::value::Value;
use abi_stable::StableAbi;
use abi_stable::sabi_trait;
use abi_stable::std_types::{RArc, RBox, ROption, RSlice, RStr, RString, RVec};

/// Identifies a command the daemon accepted; its [`Outcome`] arrives later
/// through the continuation of a deferred reply.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// How a command ended.
///
/// What each command reports is documented on the [`Host`] method that
/// issued it; fields a command does not use are `RNone` / nil.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The fault the command ended with, as the reference would raise it
    /// (`FAILED: <why>` when a kill failed, `BAD_NAME: x` when the process
    /// vanished meanwhile, ...). `RNone` when it was carried out.
    pub fault: ROption<Fault>,
    /// For process commands: the process as it was when the command
    /// completed.
    pub process: ROption<ProcessInfo>,
    /// For commands that produce data (log reads, reloadConfig): the data.
    pub value: Value,
    /// True when the command finished in the same step that carried it out
    /// (a start with `startsecs=0`, a stop of a BACKOFF process, any signal,
    /// anything without `wait`): the reference answers those without
    /// deferring, which puts them in iteration order in group results.
    pub immediate: bool,
}

impl Outcome {
    /// A command carried out with nothing to report.
    pub fn done() -> Outcome {
        Outcome {
            fault: ROption::RNone,
            process: ROption::RNone,
            value: Value::nil(),
            immediate: false,
        }
    }

    /// The same outcome, marked as reached without waiting.
    pub fn immediate(self) -> Outcome {
        Outcome {
            immediate: true,
            ..self
        }
    }

    /// A command that ended with `fault`.
    pub fn failed(fault: Fault) -> Outcome {
        Outcome {
            fault: ROption::RSome(fault),
            ..Outcome::done()
        }
    }

    /// A process command that completed, leaving the process as `info`.
    pub fn process(info: ProcessInfo) -> Outcome {
        Outcome {
            process: ROption::RSome(info),
            ..Outcome::done()
        }
    }
}

/// One process as the latest snapshot shows it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    /// The group's name.
    pub group: RString,
    /// The process's name within its group.
    pub name: RString,
    /// The group's `priority`; groups are acted on in ascending order.
    pub group_priority: i64,
    /// The process's `priority`.
    pub priority: i64,
    /// Its state.
    pub state: ProcessState,
    /// Its pid, 0 when it has none.
    pub pid: u32,
    /// UNIX time of the last start (0 if never started).
    pub start: i64,
    /// UNIX time of the last stop or exit (0 if never).
    pub stop: i64,
    /// The last spawn error (`Exited too quickly (process log may have
    /// details)`, `can't find command '/x'`), empty if none.
    pub spawnerr: RString,
    /// The last exit status; -1 when killed by a signal; 0 if none.
    pub exitstatus: i32,
    /// The stdout log file, empty when there is none.
    pub stdout_logfile: RString,
    /// The stderr log file, empty when there is none (redirected, `NONE`).
    pub stderr_logfile: RString,
}

/// An option that may be unset or still automatic, as `getAllConfigInfo`
/// distinguishes them (it sends `'none'` and `'auto'`).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// Not set (`None` in the reference).
    Unset,
    /// `AUTO`, not yet turned into a path.
    Auto,
    /// A value.
    Text(RString),
}

/// One process of the pending configuration (what `getAllConfigInfo`
/// reports): the configuration read at start-up or by the last reload,
/// whether or not its group is active.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ConfigInfo {
    /// The process name.
    pub name: RString,
    /// The group name.
    pub group: RString,
    /// Whether the group is active (added to the running daemon).
    pub inuse: bool,
    /// `autostart`.
    pub autostart: bool,
    /// `directory`.
    pub directory: ROption<RString>,
    /// `user`, as a uid.
    pub uid: ROption<u32>,
    /// `command`, as written.
    pub command: RString,
    /// `exitcodes`.
    pub exitcodes: RVec<i32>,
    /// The group's `priority`.
    pub group_prio: i64,
    /// The process's `priority`.
    pub process_prio: i64,
    /// `killasgroup`.
    pub killasgroup: bool,
    /// `redirect_stderr`.
    pub redirect_stderr: bool,
    /// `startretries`.
    pub startretries: i64,
    /// `startsecs`.
    pub startsecs: i64,
    /// `stopsignal`, as a number.
    pub stopsignal: i32,
    /// `stopwaitsecs`.
    pub stopwaitsecs: i64,
    /// `serverurl`.
    pub serverurl: Setting,
    /// The `stdout_*` options.
    pub stdout: ChannelConfig,
    /// The `stderr_*` options.
    pub stderr: ChannelConfig,
}

/// The per-channel options of [`ConfigInfo`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// `*_logfile`.
    pub logfile: Setting,
    /// `*_logfile_backups`.
    pub logfile_backups: i64,
    /// `*_logfile_maxbytes`.
    pub logfile_maxbytes: i64,
    /// `*_capture_maxbytes`.
    pub capture_maxbytes: i64,
    /// `*_events_enabled`.
    pub events_enabled: bool,
    /// `*_syslog`.
    pub syslog: bool,
}

/// Which log a log command is about.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogChannel {
    /// The daemon's main log (group and process are ignored).
    Main,
    /// A process's stdout log.
    Stdout,
    /// A process's stderr log.
    Stderr,
}

/// The main log's levels (the reference's seven).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// CRIT
    Critical,
    /// ERRO
    Error,
    /// WARN
    Warn,
    /// INFO
    Info,
    /// DEBG
    Debug,
    /// TRAC
    Trace,
    /// BLAT
    Blather,
}

/// What the daemon offers a plugin. Reads never block; commands return a
/// ticket at once. Unless a method says otherwise, `group` and `process`
/// name a process of an active group; a name that no longer exists when
/// the command runs completes with `BAD_NAME`.
///
/// The daemon re-checks every precondition when it carries a command out
/// (the snapshot a plugin read may be stale) and completes the ticket with
/// the fault the reference would raise if the command is no longer allowed.
///
/// Later SDK versions add methods after the last one of this list; a plugin
/// built against a newer SDK then refuses to load into an older daemon.
#[sabi_trait]
pub trait Host: Clone + Send + Sync + 'static {
    /// The daemon's state (`getState`).
    fn supervisor_state(&self) -> SupervisorState;

    /// The `identifier` option.
    fn identification(&self) -> RString;

    /// The daemon's pid.
    fn supervisor_pid(&self) -> u32;

    /// The daemon's clock, in UNIX seconds (what `getProcessInfo` calls
    /// `now`).
    fn now(&self) -> i64;

    /// Every process of every active group, in no particular order. The
    /// snapshot is shared, not copied: the daemon builds it once per change
    /// and every reader gets the same `RArc`.
    fn process_infos(&self) -> RArc<RVec<ProcessInfo>>;

    /// Every process of the pending configuration, in no particular order
    /// (shared like [`Host::process_infos`]).
    fn config_infos(&self) -> RArc<RVec<ConfigInfo>>;

    /// Whether the process's command can be run now (resolved on `PATH`,
    /// executable): `RNone` if so, else the reference's `NO_FILE` or
    /// `NOT_EXECUTABLE` fault with its message. A filesystem check only;
    /// nothing is spawned.
    fn check_command(&self, group: RStr<'_>, process: RStr<'_>) -> ROption<Fault>;

    /// Start a process. Completes, with the process info in the outcome:
    /// without `wait`, once the spawn was attempted and an immediate exit
    /// reaped; with `wait`, once the process left STARTING (or the spawn
    /// failed). `immediate` when it was settled in the step that spawned it
    /// (no `wait`, `startsecs=0`, a spawn failure). Faults:
    /// `ALREADY_STARTED`, `FAILED` (unknown state).
    fn start_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket;

    /// Stop a process (BACKOFF goes straight to STOPPED; otherwise the stop
    /// signal is sent). Completes, with the process info: without `wait`,
    /// once the signal was sent; with `wait`, once the process is in a
    /// stopped state. `immediate` when no waiting was needed (no `wait`,
    /// BACKOFF, already reaped). Faults: `NOT_RUNNING`, `FAILED: <why>` if
    /// the kill failed.
    fn stop_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket;

    /// Send `signal` (a number, 0 allowed) to the process's pid. Completes
    /// once sent, with the process info. Faults: `NOT_RUNNING`,
    /// `FAILED: <why>`.
    fn signal_process(&self, group: RStr<'_>, process: RStr<'_>, signal: i32) -> Ticket;

    /// Append `data` to the process's stdin. Completes once queued. Faults:
    /// `NOT_RUNNING`, `NO_FILE` (stdin closed).
    fn send_stdin(&self, group: RStr<'_>, process: RStr<'_>, data: RSlice<'_, u8>) -> Ticket;

    /// Read a log with `readLog`'s rules (see [`crate::logs::read_span`]).
    /// The outcome's value is the text read. Faults: `NO_FILE`,
    /// `BAD_ARGUMENTS`, `FAILED`.
    fn read_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket;

    /// Tail a log with `tailProcessStdoutLog`'s rules (see
    /// [`crate::logs::tail_span`]). The value is `[text, size, overflow]`.
    fn tail_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket;

    /// Truncate a log (the main log, or both logs of a process) and reopen
    /// it. Faults: `NO_FILE`, `FAILED`.
    fn clear_log(&self, channel: LogChannel, group: RStr<'_>, process: RStr<'_>) -> Ticket;

    /// Read the configuration again without applying it. The value is
    /// `[[added, changed, removed]]` (group names). Fault: `CANT_REREAD`.
    fn reload_config(&self) -> Ticket;

    /// Activate a group of the pending configuration. Faults: `BAD_NAME`,
    /// `ALREADY_ADDED`.
    fn add_group(&self, name: RStr<'_>) -> Ticket;

    /// Deactivate a stopped group. Faults: `BAD_NAME`, `STILL_RUNNING`.
    fn remove_group(&self, name: RStr<'_>) -> Ticket;

    /// Publish an event of a type plugins may emit (`REMOTE_COMMUNICATION`
    /// with its `type:<type>\n<data>` payload). Fault: `BAD_ARGUMENTS` for
    /// another type.
    fn publish_event(&self, event_name: RStr<'_>, payload: RStr<'_>) -> Ticket;

    /// Stop every process and exit. Fault: `SHUTDOWN_STATE` when already
    /// shutting down.
    fn shutdown(&self) -> Ticket;

    /// Stop every process, read the configuration again and start again in
    /// the same pid.
    fn restart(&self) -> Ticket;

    /// Write a line to the daemon's main log at `level`.
    #[sabi(last_prefix_field)]
    fn log(&self, level: LogLevel, message: RStr<'_>);
}

/// The owned, cloneable host handle a plugin holds.
pub type HostBox = Host_TO<RBox<()>>;
