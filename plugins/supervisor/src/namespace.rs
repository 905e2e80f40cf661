//! The `supervisor` namespace object: its method table, one entry per
//! method (name, help, signature, arity, guard, call), and the dispatch
//! that applies the reference's order of checks to every entry: arity,
//! then the shutdown guard, then the method's own checks. It must not hold
//! method logic itself: that lives in `status`, `control` and `admin`.

use crate::admin;
use crate::control::{self, GroupAction, check_mood};
use crate::params::Params;
use crate::status;
use supervisor_sdk::fault::Fault;
use supervisor_sdk::host::HostBox;
use supervisor_sdk::host::LogChannel;
use supervisor_sdk::namespace::{MethodInfo, Reply, RpcNamespace, unknown_method};
use supervisor_sdk::value::Value;

/// The builtin namespace, bound to the daemon's host handle.
pub struct SupervisorNamespace {
    host: HostBox,
}

impl SupervisorNamespace {
    /// The namespace answering through `host`.
    pub fn new(host: HostBox) -> SupervisorNamespace {
        SupervisorNamespace { host }
    }
}

/// One method of the namespace: everything said about it, once.
struct Method {
    /// The name inside the namespace (`getState`).
    name: &'static str,
    /// What `system.methodHelp` returns (ours, not the reference's).
    help: &'static str,
    /// `[return type, parameter types...]`, the reference's.
    signature: &'static [&'static str],
    /// (required, optional) positional parameters; a count outside them is
    /// `INCORRECT_PARAMETERS`, checked first: the reference's TypeError
    /// happens when the method is called, before its body runs.
    arity: (usize, usize),
    /// Whether the shutdown guard runs (after the arity check, before the
    /// method's own checks).
    guarded: bool,
    /// Whether it may change anything: users with the read-only role are
    /// refused it. Reports (state, info, config info, logs and tails) do
    /// not; everything else, reloadConfig included, does.
    changes: bool,
    /// The method itself.
    call: fn(&HostBox, &Params<'_>) -> Result<Reply, Fault>,
}

/// Every method, sorted by name (the reference's listing order, and what
/// [`find`] searches). Help texts are ours; signatures are the reference's.
/// Adding a method is adding an entry here.
const METHODS: &[Method] = &[
    Method {
        name: "addProcessGroup",
        help: "Activate a group of the loaded configuration that is not running yet.",
        signature: &["boolean", "string"],
        arity: (1, 0),
        guarded: true,
        changes: true,
        call: |host, p| Ok(admin::add_group(host, p.string(0)?)),
    },
    Method {
        name: "clearAllProcessLogs",
        help: "Empty the logs of every process; returns a result per process.",
        signature: &["array"],
        arity: (0, 0),
        guarded: true,
        changes: true,
        call: |host, _| Ok(control::all_method(host, GroupAction::ClearLogs)),
    },
    Method {
        name: "clearLog",
        help: "Empty the daemon's main log and reopen it.",
        signature: &["boolean"],
        arity: (0, 0),
        guarded: true,
        changes: true,
        call: |host, _| Ok(admin::clear_main_log(host)),
    },
    Method {
        name: "clearProcessLog",
        help: "Older name of clearProcessLogs.",
        signature: &["boolean", "string"],
        arity: (1, 0),
        guarded: true,
        changes: true,
        call: |host, p| admin::clear_process_logs(host, p.string(0)?),
    },
    Method {
        name: "clearProcessLogs",
        help: "Empty both logs of a process and reopen them.",
        signature: &["boolean", "string"],
        arity: (1, 0),
        guarded: true,
        changes: true,
        call: |host, p| admin::clear_process_logs(host, p.string(0)?),
    },
    Method {
        name: "getAPIVersion",
        help: "The version of the XML-RPC API this daemon speaks (\"3.0\").",
        signature: &["string"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |_, _| done(Value::string(status::API_VERSION)),
    },
    Method {
        name: "getAllConfigInfo",
        help: "One struct per process of the loaded configuration, active or not, sorted by name.",
        signature: &["array"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |host, _| done(status::all_config_info(host)),
    },
    Method {
        name: "getAllProcessInfo",
        help: "The status struct of every process, sorted by group and process name.",
        signature: &["array"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |host, _| done(status::all_process_info(host)),
    },
    Method {
        name: "getIdentification",
        help: "The identifier configured for this daemon.",
        signature: &["string"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |host, _| done(Value::string(host.identification())),
    },
    Method {
        name: "getPID",
        help: "The daemon's process id.",
        signature: &["int"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |host, _| done(Value::capped_int(i64::from(host.supervisor_pid()))),
    },
    Method {
        name: "getProcessInfo",
        help: "The status struct of the named process (name or group:name).",
        signature: &["struct", "string"],
        arity: (1, 0),
        guarded: true,
        changes: false,
        call: |host, p| done(status::process_info(host, p.string(0)?)?),
    },
    Method {
        name: "getState",
        help: "The daemon's state as a struct with statecode and statename.",
        signature: &["struct"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |host, _| done(status::state(host)),
    },
    Method {
        name: "getSupervisorVersion",
        help: "The Supervisor version this daemon stands in for.",
        signature: &["string"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |_, _| done(Value::string(status::SUPERVISOR_VERSION)),
    },
    Method {
        name: "getVersion",
        help: "Older name of getAPIVersion, kept for old clients.",
        signature: &["string"],
        arity: (0, 0),
        guarded: true,
        changes: false,
        call: |_, _| done(Value::string(status::API_VERSION)),
    },
    Method {
        name: "readLog",
        help: "Read the main log: length bytes from offset, or the last -offset bytes when offset is negative and length 0.",
        signature: &["string", "int", "int"],
        arity: (2, 0),
        guarded: true,
        changes: false,
        call: |host, p| Ok(admin::read_main_log(host, p.int(0)?, p.int(1)?)),
    },
    Method {
        name: "readMainLog",
        help: "Older name of readLog.",
        signature: &["string", "int", "int"],
        arity: (2, 0),
        guarded: true,
        changes: false,
        call: |host, p| Ok(admin::read_main_log(host, p.int(0)?, p.int(1)?)),
    },
    Method {
        name: "readProcessLog",
        help: "Older name of readProcessStdoutLog.",
        signature: &["string", "string", "int", "int"],
        arity: (3, 0),
        guarded: true,
        changes: false,
        call: |host, p| read_process_log(host, p, LogChannel::Stdout),
    },
    Method {
        name: "readProcessStderrLog",
        help: "Read a process's stderr log, with readLog's offset rules.",
        signature: &["string", "string", "int", "int"],
        arity: (3, 0),
        guarded: true,
        changes: false,
        call: |host, p| read_process_log(host, p, LogChannel::Stderr),
    },
    Method {
        name: "readProcessStdoutLog",
        help: "Read a process's stdout log, with readLog's offset rules.",
        signature: &["string", "string", "int", "int"],
        arity: (3, 0),
        guarded: true,
        changes: false,
        call: |host, p| read_process_log(host, p, LogChannel::Stdout),
    },
    Method {
        name: "reloadConfig",
        help: "Read the configuration file again without applying it; returns [[added, changed, removed]] group names.",
        signature: &["array"],
        arity: (0, 0),
        guarded: true,
        changes: true,
        call: |host, _| Ok(admin::reload_config(host)),
    },
    Method {
        name: "removeProcessGroup",
        help: "Deactivate a group whose processes are all stopped.",
        signature: &["boolean", "string"],
        arity: (1, 0),
        guarded: true,
        changes: true,
        call: |host, p| Ok(admin::remove_group(host, p.string(0)?)),
    },
    Method {
        name: "restart",
        help: "Stop every process, read the configuration again and start over in the same daemon.",
        signature: &["boolean"],
        arity: (0, 0),
        guarded: true,
        changes: true,
        call: |host, _| Ok(admin::restart(host)),
    },
    Method {
        name: "sendProcessStdin",
        help: "Write text to a running process's stdin.",
        signature: &["boolean", "string", "string"],
        arity: (2, 0),
        guarded: true,
        changes: true,
        call: |host, p| admin::send_stdin(host, p.string(0)?, p.raw(1)?),
    },
    Method {
        name: "sendRemoteCommEvent",
        help: "Publish a REMOTE_COMMUNICATION event with a type and data to event listeners.",
        signature: &["boolean", "string", "string"],
        arity: (2, 0),
        guarded: false,
        changes: true,
        // The reference's method has no shutdown guard.
        call: |host, p| Ok(admin::send_remote_comm_event(host, p.raw(0)?, p.raw(1)?)),
    },
    Method {
        name: "shutdown",
        help: "Stop every process and exit the daemon.",
        signature: &["boolean"],
        arity: (0, 0),
        guarded: true,
        changes: true,
        call: |host, _| Ok(admin::shutdown(host)),
    },
    Method {
        name: "signalAllProcesses",
        help: "Send a signal (name or number) to every process that can take one; returns a result per process.",
        signature: &["array", "string"],
        arity: (1, 0),
        guarded: true,
        changes: true,
        // The reference signals through signalProcess, whose own guard
        // refuses every process while shutting down, and then raises
        // SHUTDOWN_STATE: nothing is signalled either way, so the guard
        // before the call says the same.
        call: |host, p| {
            let action = GroupAction::Signal(p.raw(0)?.clone());
            Ok(control::all_method(host, action))
        },
    },
    Method {
        name: "signalProcess",
        help: "Send a signal (name such as HUP, or number) to a process, or to every process of group:*.",
        signature: &["boolean", "string", "string"],
        arity: (2, 0),
        guarded: true,
        changes: true,
        call: |host, p| Ok(control::signal_process(host, p.string(0)?, p.raw(1)?)),
    },
    Method {
        name: "signalProcessGroup",
        help: "Send a signal to every process of a group; returns a result per process.",
        signature: &["array", "string", "string"],
        arity: (2, 0),
        guarded: true,
        changes: true,
        call: |host, p| {
            let action = GroupAction::Signal(p.raw(1)?.clone());
            Ok(control::group_method(host, p.string(0)?, action))
        },
    },
    Method {
        name: "startAllProcesses",
        help: "Start every process that is not running, in priority order; with wait, answer once each is up.",
        signature: &["array", "boolean"],
        arity: (0, 1),
        guarded: true,
        changes: true,
        call: |host, p| {
            Ok(control::all_method(
                host,
                GroupAction::Start(p.truthy(0, true)),
            ))
        },
    },
    Method {
        name: "startProcess",
        help: "Start a process (name, group:name or group:*); with wait (the default), answer once it is running.",
        signature: &["boolean", "string", "boolean"],
        arity: (1, 1),
        guarded: true,
        changes: true,
        call: |host, p| {
            Ok(control::start_process(
                host,
                p.string(0)?,
                p.truthy(1, true),
            ))
        },
    },
    Method {
        name: "startProcessGroup",
        help: "Start every process of a group that is not running; returns a result per process.",
        signature: &["array", "string", "boolean"],
        arity: (1, 1),
        guarded: true,
        changes: true,
        call: |host, p| {
            let action = GroupAction::Start(p.truthy(1, true));
            Ok(control::group_method(host, p.string(0)?, action))
        },
    },
    Method {
        name: "stopAllProcesses",
        help: "Stop every running process; with wait, answer once each has stopped.",
        signature: &["array", "boolean"],
        arity: (0, 1),
        guarded: true,
        changes: true,
        call: |host, p| {
            Ok(control::all_method(
                host,
                GroupAction::Stop(p.truthy(0, true)),
            ))
        },
    },
    Method {
        name: "stopProcess",
        help: "Stop a process (name, group:name or group:*); with wait (the default), answer once it has stopped.",
        signature: &["boolean", "string", "boolean"],
        arity: (1, 1),
        guarded: true,
        changes: true,
        call: |host, p| Ok(control::stop_process(host, p.string(0)?, p.truthy(1, true))),
    },
    Method {
        name: "stopProcessGroup",
        help: "Stop every running process of a group; returns a result per process.",
        signature: &["array", "string", "boolean"],
        arity: (1, 1),
        guarded: true,
        changes: true,
        call: |host, p| {
            let action = GroupAction::Stop(p.truthy(1, true));
            Ok(control::group_method(host, p.string(0)?, action))
        },
    },
    Method {
        name: "tailProcessLog",
        help: "Older name of tailProcessStdoutLog.",
        signature: &["array", "string", "int", "int"],
        arity: (3, 0),
        guarded: true,
        changes: false,
        call: |host, p| tail_process_log(host, p, LogChannel::Stdout),
    },
    Method {
        name: "tailProcessStderrLog",
        help: "Follow a process's stderr log: returns [text, new offset, overflow].",
        signature: &["array", "string", "int", "int"],
        arity: (3, 0),
        guarded: true,
        changes: false,
        call: |host, p| tail_process_log(host, p, LogChannel::Stderr),
    },
    Method {
        name: "tailProcessStdoutLog",
        help: "Follow a process's stdout log: returns [text, new offset, overflow]; when more than length bytes arrived since offset, only the last length are sent and overflow is true.",
        signature: &["array", "string", "int", "int"],
        arity: (3, 0),
        guarded: true,
        changes: false,
        call: |host, p| tail_process_log(host, p, LogChannel::Stdout),
    },
];

/// The entry of `name`, by binary search over the sorted table.
fn find(name: &str) -> Option<&'static Method> {
    METHODS
        .binary_search_by(|method| method.name.cmp(name))
        .ok()
        .map(|index| &METHODS[index])
}

fn done(value: Value) -> Result<Reply, Fault> {
    Ok(Reply::Value(value))
}

fn read_process_log(host: &HostBox, p: &Params<'_>, channel: LogChannel) -> Result<Reply, Fault> {
    admin::read_process_log(host, p.string(0)?, channel, p.int(1)?, p.int(2)?)
}

fn tail_process_log(host: &HostBox, p: &Params<'_>, channel: LogChannel) -> Result<Reply, Fault> {
    admin::tail_process_log(host, p.string(0)?, channel, p.int(1)?, p.int(2)?)
}

impl RpcNamespace for SupervisorNamespace {
    fn methods(&self) -> Vec<MethodInfo> {
        METHODS
            .iter()
            // Every method answers from the snapshot or issues commands and
            // defers: none waits, so even loaded from the cdylib it is
            // called inline.
            .map(|m| {
                let info = MethodInfo::new(m.name, m.help, m.signature).returns_at_once();
                if m.changes { info } else { info.reads_only() }
            })
            .collect()
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        let Some(method) = find(method) else {
            return unknown_method();
        };
        let run = || {
            let (required, optional) = method.arity;
            let params = Params::new(params, required, optional)?;
            if method.guarded {
                check_mood(&self.host)?;
            }
            (method.call)(&self.host, &params)
        };
        run().unwrap_or_else(Reply::Fault)
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_each_name_is_found() {
        for pair in METHODS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} >= {}",
                pair[0].name,
                pair[1].name
            );
        }
        for method in METHODS {
            assert!(find(method.name).is_some_and(|found| found.name == method.name));
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn only_reports_are_read_only() {
        let read_only: Vec<&str> = METHODS
            .iter()
            .filter(|m| !m.changes)
            .map(|m| m.name)
            .collect();
        assert_eq!(
            read_only,
            [
                "getAPIVersion",
                "getAllConfigInfo",
                "getAllProcessInfo",
                "getIdentification",
                "getPID",
                "getProcessInfo",
                "getState",
                "getSupervisorVersion",
                "getVersion",
                "readLog",
                "readMainLog",
                "readProcessLog",
                "readProcessStderrLog",
                "readProcessStdoutLog",
                "tailProcessLog",
                "tailProcessStderrLog",
                "tailProcessStdoutLog",
            ]
        );
        let declared =
            SupervisorNamespace::new(supervisor_sdk::testing::TestHost::default().handle())
                .methods();
        for info in declared {
            assert_eq!(
                info.changes_state,
                find(info.name.as_str()).is_some_and(|m| m.changes),
                "{}",
                info.name
            );
        }
    }
}
