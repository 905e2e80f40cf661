//! The `supervisor` namespace object: its method table (names, help,
//! signatures) and the dispatch from a method name to its implementation,
//! with the reference's order of checks: arity, then the shutdown guard,
//! then the method's own checks.

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

/// (name, help, signature) of every method, in the reference's listing
/// order. Help texts are ours; signatures are the reference's.
const METHODS: &[(&str, &str, &[&str])] = &[
    (
        "addProcessGroup",
        "Activate a group of the loaded configuration that is not running yet.",
        &["boolean", "string"],
    ),
    (
        "clearAllProcessLogs",
        "Empty the logs of every process; returns a result per process.",
        &["array"],
    ),
    (
        "clearLog",
        "Empty the daemon's main log and reopen it.",
        &["boolean"],
    ),
    (
        "clearProcessLog",
        "Older name of clearProcessLogs.",
        &["boolean", "string"],
    ),
    (
        "clearProcessLogs",
        "Empty both logs of a process and reopen them.",
        &["boolean", "string"],
    ),
    (
        "getAPIVersion",
        "The version of the XML-RPC API this daemon speaks (\"3.0\").",
        &["string"],
    ),
    (
        "getAllConfigInfo",
        "One struct per process of the loaded configuration, active or not, sorted by name.",
        &["array"],
    ),
    (
        "getAllProcessInfo",
        "The status struct of every process, sorted by group and process name.",
        &["array"],
    ),
    (
        "getIdentification",
        "The identifier configured for this daemon.",
        &["string"],
    ),
    ("getPID", "The daemon's process id.", &["int"]),
    (
        "getProcessInfo",
        "The status struct of the named process (name or group:name).",
        &["struct", "string"],
    ),
    (
        "getState",
        "The daemon's state as a struct with statecode and statename.",
        &["struct"],
    ),
    (
        "getSupervisorVersion",
        "The Supervisor version this daemon stands in for.",
        &["string"],
    ),
    (
        "getVersion",
        "Older name of getAPIVersion, kept for old clients.",
        &["string"],
    ),
    (
        "readLog",
        "Read the main log: length bytes from offset, or the last -offset bytes when offset is negative and length 0.",
        &["string", "int", "int"],
    ),
    (
        "readMainLog",
        "Older name of readLog.",
        &["string", "int", "int"],
    ),
    (
        "readProcessLog",
        "Older name of readProcessStdoutLog.",
        &["string", "string", "int", "int"],
    ),
    (
        "readProcessStderrLog",
        "Read a process's stderr log, with readLog's offset rules.",
        &["string", "string", "int", "int"],
    ),
    (
        "readProcessStdoutLog",
        "Read a process's stdout log, with readLog's offset rules.",
        &["string", "string", "int", "int"],
    ),
    (
        "reloadConfig",
        "Read the configuration file again without applying it; returns [[added, changed, removed]] group names.",
        &["array"],
    ),
    (
        "removeProcessGroup",
        "Deactivate a group whose processes are all stopped.",
        &["boolean", "string"],
    ),
    (
        "restart",
        "Stop every process, read the configuration again and start over in the same daemon.",
        &["boolean"],
    ),
    (
        "sendProcessStdin",
        "Write text to a running process's stdin.",
        &["boolean", "string", "string"],
    ),
    (
        "sendRemoteCommEvent",
        "Publish a REMOTE_COMMUNICATION event with a type and data to event listeners.",
        &["boolean", "string", "string"],
    ),
    (
        "shutdown",
        "Stop every process and exit the daemon.",
        &["boolean"],
    ),
    (
        "signalAllProcesses",
        "Send a signal (name or number) to every process that can take one; returns a result per process.",
        &["array", "string"],
    ),
    (
        "signalProcess",
        "Send a signal (name such as HUP, or number) to a process, or to every process of group:*.",
        &["boolean", "string", "string"],
    ),
    (
        "signalProcessGroup",
        "Send a signal to every process of a group; returns a result per process.",
        &["array", "string", "string"],
    ),
    (
        "startAllProcesses",
        "Start every process that is not running, in priority order; with wait, answer once each is up.",
        &["array", "boolean"],
    ),
    (
        "startProcess",
        "Start a process (name, group:name or group:*); with wait (the default), answer once it is running.",
        &["boolean", "string", "boolean"],
    ),
    (
        "startProcessGroup",
        "Start every process of a group that is not running; returns a result per process.",
        &["array", "string", "boolean"],
    ),
    (
        "stopAllProcesses",
        "Stop every running process; with wait, answer once each has stopped.",
        &["array", "boolean"],
    ),
    (
        "stopProcess",
        "Stop a process (name, group:name or group:*); with wait (the default), answer once it has stopped.",
        &["boolean", "string", "boolean"],
    ),
    (
        "stopProcessGroup",
        "Stop every running process of a group; returns a result per process.",
        &["array", "string", "boolean"],
    ),
    (
        "tailProcessLog",
        "Older name of tailProcessStdoutLog.",
        &["array", "string", "int", "int"],
    ),
    (
        "tailProcessStderrLog",
        "Follow a process's stderr log: returns [text, new offset, overflow].",
        &["array", "string", "int", "int"],
    ),
    (
        "tailProcessStdoutLog",
        "Follow a process's stdout log: returns [text, new offset, overflow]; when more than length bytes arrived since offset, only the last length are sent and overflow is true.",
        &["array", "string", "int", "int"],
    ),
];

impl RpcNamespace for SupervisorNamespace {
    fn methods(&self) -> Vec<MethodInfo> {
        METHODS
            .iter()
            // Every method answers from the snapshot or issues commands and
            // defers: none waits, so even loaded from the cdylib it is
            // called inline.
            .map(|(name, help, signature)| MethodInfo::new(name, help, signature).returns_at_once())
            .collect()
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        match self.dispatch(method, params) {
            Ok(reply) => reply,
            Err(fault) => Reply::Fault(fault),
        }
    }
}

impl SupervisorNamespace {
    fn dispatch(&self, method: &str, params: &[Value]) -> Result<Reply, Fault> {
        let host = &self.host;
        // Arity is checked first: the reference's TypeError happens when the
        // method is called, before its body runs the shutdown guard.
        let (required, optional) = match arity(method) {
            Some(arity) => arity,
            None => return Ok(unknown_method()),
        };
        let p = Params::new(params, required, optional)?;
        // signalAllProcesses runs the guard itself; sendRemoteCommEvent
        // never does; all others run it first.
        if method != "signalAllProcesses" && method != "sendRemoteCommEvent" {
            check_mood(host)?;
        }
        let value = match method {
            "getAPIVersion" | "getVersion" => Value::string(status::API_VERSION),
            "getSupervisorVersion" => Value::string(status::SUPERVISOR_VERSION),
            "getIdentification" => Value::string(host.identification()),
            "getState" => status::state(host),
            "getPID" => Value::capped_int(i64::from(host.supervisor_pid())),
            "getProcessInfo" => status::process_info(host, p.string(0)?)?,
            "getAllProcessInfo" => status::all_process_info(host),
            "getAllConfigInfo" => status::all_config_info(host),
            "startProcess" => {
                return Ok(control::start_process(
                    host,
                    p.string(0)?,
                    p.truthy(1, true),
                ));
            }
            "stopProcess" => {
                return Ok(control::stop_process(host, p.string(0)?, p.truthy(1, true)));
            }
            "signalProcess" => return Ok(control::signal_process(host, p.string(0)?, p.raw(1)?)),
            "startProcessGroup" => {
                let action = GroupAction::Start(p.truthy(1, true));
                return Ok(control::group_method(host, p.string(0)?, action));
            }
            "stopProcessGroup" => {
                let action = GroupAction::Stop(p.truthy(1, true));
                return Ok(control::group_method(host, p.string(0)?, action));
            }
            "signalProcessGroup" => {
                let action = GroupAction::Signal(p.raw(1)?.clone());
                return Ok(control::group_method(host, p.string(0)?, action));
            }
            "startAllProcesses" => {
                return Ok(control::all_method(
                    host,
                    GroupAction::Start(p.truthy(0, true)),
                ));
            }
            "stopAllProcesses" => {
                return Ok(control::all_method(
                    host,
                    GroupAction::Stop(p.truthy(0, true)),
                ));
            }
            "signalAllProcesses" => {
                // The reference signals through signalProcess, whose own
                // guard refuses every process while shutting down, and then
                // raises SHUTDOWN_STATE: nothing is signalled either way.
                check_mood(host)?;
                return Ok(control::all_method(
                    host,
                    GroupAction::Signal(p.raw(0)?.clone()),
                ));
            }
            "readLog" | "readMainLog" => {
                return Ok(admin::read_main_log(host, p.int(0)?, p.int(1)?));
            }
            "clearLog" => return Ok(admin::clear_main_log(host)),
            "shutdown" => return Ok(admin::shutdown(host)),
            "restart" => return Ok(admin::restart(host)),
            "reloadConfig" => return Ok(admin::reload_config(host)),
            "addProcessGroup" => return Ok(admin::add_group(host, p.string(0)?)),
            "removeProcessGroup" => return Ok(admin::remove_group(host, p.string(0)?)),
            "readProcessStdoutLog" | "readProcessLog" | "readProcessStderrLog" => {
                let channel = log_channel(method);
                return admin::read_process_log(host, p.string(0)?, channel, p.int(1)?, p.int(2)?);
            }
            "tailProcessStdoutLog" | "tailProcessLog" | "tailProcessStderrLog" => {
                let channel = log_channel(method);
                return admin::tail_process_log(host, p.string(0)?, channel, p.int(1)?, p.int(2)?);
            }
            "clearProcessLogs" | "clearProcessLog" => {
                return admin::clear_process_logs(host, p.string(0)?);
            }
            "clearAllProcessLogs" => return Ok(control::all_method(host, GroupAction::ClearLogs)),
            "sendProcessStdin" => return admin::send_stdin(host, p.string(0)?, p.raw(1)?),
            "sendRemoteCommEvent" => {
                return Ok(admin::send_remote_comm_event(host, p.raw(0)?, p.raw(1)?));
            }
            _ => return Ok(unknown_method()),
        };
        Ok(Reply::Value(value))
    }
}

/// (required, optional) positional parameters of each method.
fn arity(method: &str) -> Option<(usize, usize)> {
    Some(match method {
        "getAPIVersion"
        | "getVersion"
        | "getSupervisorVersion"
        | "getIdentification"
        | "getState"
        | "getPID"
        | "getAllProcessInfo"
        | "getAllConfigInfo" => (0, 0),
        "getProcessInfo" => (1, 0),
        "startProcess" | "stopProcess" | "startProcessGroup" | "stopProcessGroup" => (1, 1),
        "startAllProcesses" | "stopAllProcesses" => (0, 1),
        "signalProcess" | "signalProcessGroup" => (2, 0),
        "signalAllProcesses" => (1, 0),
        "readLog" | "readMainLog" => (2, 0),
        "clearLog" | "shutdown" | "restart" | "reloadConfig" | "clearAllProcessLogs" => (0, 0),
        "addProcessGroup" | "removeProcessGroup" | "clearProcessLogs" | "clearProcessLog" => (1, 0),
        "readProcessStdoutLog"
        | "readProcessLog"
        | "readProcessStderrLog"
        | "tailProcessStdoutLog"
        | "tailProcessLog"
        | "tailProcessStderrLog" => (3, 0),
        "sendProcessStdin" | "sendRemoteCommEvent" => (2, 0),
        _ => return None,
    })
}

/// The log a process-log method reads.
fn log_channel(method: &str) -> LogChannel {
    if method.contains("Stderr") {
        LogChannel::Stderr
    } else {
        LogChannel::Stdout
    }
}
