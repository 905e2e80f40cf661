//! The control methods: start, stop and signal one process, a group, or
//! everything, following `rpcinterface.py` check for check. The daemon does
//! the work; these methods validate from the snapshot, issue host commands
//! and turn their outcomes into the reference's values and faults through
//! deferred replies, so a `wait=true` call holds no thread.

use crate::lookup::{Target, group_exists, resolve};
use crate::status::by_priority;
use std::collections::HashMap;
use supervisor_sdk::describe::is_note;
use supervisor_sdk::fault::{
    ABNORMAL_TERMINATION, ALREADY_STARTED, BAD_NAME, BAD_SIGNAL, FAILED, Fault, NOT_RUNNING,
    SHUTDOWN_STATE, SPAWN_ERROR, SUCCESS,
};
use supervisor_sdk::host::{HostBox, Outcome, ProcessInfo, Ticket};
use supervisor_sdk::namespace::{Deferred, Reply};
use supervisor_sdk::namespec::make_namespec;
use supervisor_sdk::signal::parse_signal;
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::value::{Value, ValueKind};

/// Turns a finished command's outcome into success or the method's fault.
type Finish = Box<dyn FnOnce(Outcome) -> Result<(), Fault> + Send>;

/// Where one process's operation stands after its synchronous checks.
enum Step {
    /// Refused before anything was asked of the daemon.
    Refused(Fault),
    /// Issued; `Finish` judges the outcome.
    Issued(Ticket, Finish),
}

/// The reference's `_update` guard: no method works while the daemon is
/// shutting down or restarting.
pub(crate) fn check_mood(host: &HostBox) -> Result<(), Fault> {
    if host.supervisor_state().code() < 1 {
        Err(Fault::bare(SHUTDOWN_STATE))
    } else {
        Ok(())
    }
}

/// Which operation a group run applies.
#[derive(Clone)]
enum Action {
    Start { wait: bool },
    Stop { wait: bool },
    Signal { signal: Value },
    ClearLogs,
}

impl Action {
    /// The reference's predicate: which processes of the group it touches.
    fn applies_to(&self, state: ProcessState) -> bool {
        match self {
            Action::Start { .. } => !state.is_running(),
            Action::Stop { .. } => state.is_running(),
            Action::Signal { .. } => state.is_signallable(),
            Action::ClearLogs => true,
        }
    }

    /// Whether every result of this action is synchronous in the reference
    /// (no wait, or a signal), whatever the outcomes say.
    fn synchronous(&self) -> bool {
        match self {
            Action::Start { wait } | Action::Stop { wait } => !wait,
            Action::Signal { .. } | Action::ClearLogs => true,
        }
    }

    fn step(&self, host: &HostBox, spec: &str, info: &ProcessInfo) -> Step {
        match self {
            Action::Start { wait } => start_step(host, spec, info, *wait),
            Action::Stop { wait } => stop_step(host, spec, info, *wait),
            Action::Signal { signal } => signal_step(host, spec, info, signal),
            Action::ClearLogs => {
                let ticket = host.clear_log(
                    supervisor_sdk::host::LogChannel::Stdout,
                    info.group.as_str().into(),
                    info.name.as_str().into(),
                );
                Step::Issued(
                    ticket,
                    Box::new(|outcome| command_result(outcome).map(drop)),
                )
            }
        }
    }
}

fn start_step(host: &HostBox, spec: &str, info: &ProcessInfo, wait: bool) -> Step {
    if let Some(fault) = host
        .check_command(info.group.as_str().into(), info.name.as_str().into())
        .into_option()
    {
        return Step::Refused(fault);
    }
    if info.state.is_running() {
        return Step::Refused(Fault::with(ALREADY_STARTED, spec));
    }
    if info.state == ProcessState::Unknown {
        return Step::Refused(Fault::with(
            FAILED,
            format!("{spec} is in an unknown process state"),
        ));
    }
    let ticket = host.start_process(info.group.as_str().into(), info.name.as_str().into(), wait);
    let spec = spec.to_string();
    Step::Issued(
        ticket,
        Box::new(move |outcome| {
            let process = command_result(outcome)?;
            if let Some(process) = process {
                // A child's STATUS= text (issue 16) is no spawn error.
                if !process.spawnerr.is_empty() && !is_note(process.state, &process.spawnerr) {
                    return Err(Fault::with(SPAWN_ERROR, &spec));
                }
                let alive = matches!(
                    process.state,
                    ProcessState::Starting | ProcessState::Running
                );
                if wait && !alive {
                    return Err(Fault::with(ABNORMAL_TERMINATION, &spec));
                }
            }
            Ok(())
        }),
    )
}

fn stop_step(host: &HostBox, spec: &str, info: &ProcessInfo, wait: bool) -> Step {
    if !info.state.is_running() {
        return Step::Refused(Fault::with(NOT_RUNNING, spec));
    }
    let ticket = host.stop_process(info.group.as_str().into(), info.name.as_str().into(), wait);
    Step::Issued(
        ticket,
        Box::new(|outcome| command_result(outcome).map(drop)),
    )
}

fn signal_step(host: &HostBox, spec: &str, info: &ProcessInfo, signal: &Value) -> Step {
    let number = match signal_number(signal) {
        Ok(number) => number,
        Err(fault) => return Step::Refused(fault),
    };
    if !info.state.is_signallable() {
        return Step::Refused(Fault::with(NOT_RUNNING, spec));
    }
    let ticket = host.signal_process(
        info.group.as_str().into(),
        info.name.as_str().into(),
        number,
    );
    Step::Issued(
        ticket,
        Box::new(|outcome| command_result(outcome).map(drop)),
    )
}

/// A signal parameter as `signal_number` takes it: an int, or text naming
/// or numbering a signal (`BAD_SIGNAL: <as given>` otherwise). Another type
/// is a TypeError in the reference: `INCORRECT_PARAMETERS`.
fn signal_number(signal: &Value) -> Result<i32, Fault> {
    let text = match signal.kind() {
        Some(ValueKind::Int(number)) => number.to_string(),
        Some(ValueKind::Bool(flag)) => i32::from(*flag).to_string(),
        Some(ValueKind::String(text)) => text.to_string(),
        _ => return Err(crate::params::incorrect()),
    };
    parse_signal(&text).map_err(|_| Fault::with(BAD_SIGNAL, signal.python_str()))
}

/// The outcome's fault, or the process as the command left it.
fn command_result(outcome: Outcome) -> Result<Option<ProcessInfo>, Fault> {
    match outcome.fault.into_option() {
        Some(fault) => Err(fault),
        None => Ok(outcome.process.into_option()),
    }
}

/// The reply of a single-process operation.
fn single(step: Step) -> Reply {
    match step {
        Step::Refused(fault) => Reply::Fault(fault),
        Step::Issued(ticket, finish) => Reply::Deferred(Deferred::one(ticket, move |outcome| {
            match finish(outcome) {
                Ok(()) => Reply::Value(Value::bool(true)),
                Err(fault) => Reply::Fault(fault),
            }
        })),
    }
}

/// startProcess / stopProcess / signalProcess: one process, or its group
/// for a `group:*` spec.
fn process_method(host: &HostBox, spec: &str, action: Action) -> Reply {
    let infos = host.process_infos();
    match resolve(&infos, spec) {
        Err(fault) => Reply::Fault(fault),
        Ok(Target::Group(group)) => group_run(host, group_members(&infos, group), action),
        Ok(Target::Process(info)) => single(action.step(host, spec, info)),
    }
}

/// `startProcess(name, wait=True)`.
pub(crate) fn start_process(host: &HostBox, spec: &str, wait: bool) -> Reply {
    process_method(host, spec, Action::Start { wait })
}

/// `stopProcess(name, wait=True)`.
pub(crate) fn stop_process(host: &HostBox, spec: &str, wait: bool) -> Reply {
    process_method(host, spec, Action::Stop { wait })
}

/// `signalProcess(name, signal)`: the name is resolved before the signal is
/// parsed, as the reference does.
pub(crate) fn signal_process(host: &HostBox, spec: &str, signal: &Value) -> Reply {
    process_method(
        host,
        spec,
        Action::Signal {
            signal: signal.clone(),
        },
    )
}

/// `start/stop/signalProcessGroup`.
pub(crate) fn group_method(host: &HostBox, group: &str, action_of: GroupAction) -> Reply {
    let infos = host.process_infos();
    if !group_exists(&infos, group) {
        return Reply::Fault(Fault::with(BAD_NAME, group));
    }
    group_run(host, group_members(&infos, group), action_of.into())
}

/// `start/stop/signalAllProcesses`.
pub(crate) fn all_method(host: &HostBox, action_of: GroupAction) -> Reply {
    group_run(host, by_priority(host), action_of.into())
}

/// The action of a group or all-processes method, as the namespace names it.
pub(crate) enum GroupAction {
    /// start…(wait)
    Start(bool),
    /// stop…(wait)
    Stop(bool),
    /// signal…(signal)
    Signal(Value),
    /// clearAllProcessLogs
    ClearLogs,
}

impl From<GroupAction> for Action {
    fn from(action: GroupAction) -> Action {
        match action {
            GroupAction::Start(wait) => Action::Start { wait },
            GroupAction::Stop(wait) => Action::Stop { wait },
            GroupAction::Signal(signal) => Action::Signal { signal },
            GroupAction::ClearLogs => Action::ClearLogs,
        }
    }
}

/// The group's processes in priority order.
fn group_members(infos: &[ProcessInfo], group: &str) -> Vec<ProcessInfo> {
    let mut members: Vec<&ProcessInfo> =
        infos.iter().filter(|p| p.group.as_str() == group).collect();
    crate::lookup::sort_by_priority(&mut members);
    members.into_iter().cloned().collect()
}

/// One entry of a group result array.
fn result_struct(info: &ProcessInfo, result: Result<(), Fault>) -> Value {
    let (status, description) = match result {
        Ok(()) => (SUCCESS, "OK".into()),
        Err(fault) => (fault.code, fault.string),
    };
    Value::structure([
        ("name", Value::string(info.name.clone())),
        ("group", Value::string(info.group.clone())),
        ("status", Value::int(status)),
        ("description", Value::string(description)),
    ])
}

/// The reference's `make_allfunc`: apply `action` to every process it
/// applies to. Results the reference reaches synchronously (refusals, and
/// outcomes reached without waiting) come first in iteration order; those
/// it had to poll for follow in completion order.
fn group_run(host: &HostBox, processes: Vec<ProcessInfo>, action: Action) -> Reply {
    let mut synchronous: Vec<(usize, Value)> = Vec::new();
    let mut pending: HashMap<Ticket, (usize, ProcessInfo, Finish)> = HashMap::new();
    let mut tickets = Vec::new();
    for (index, info) in processes.into_iter().enumerate() {
        if !action.applies_to(info.state) {
            continue;
        }
        let spec = make_namespec(info.group.as_str(), info.name.as_str());
        match action.step(host, &spec, &info) {
            Step::Refused(fault) => synchronous.push((index, result_struct(&info, Err(fault)))),
            Step::Issued(ticket, finish) => {
                tickets.push(ticket);
                pending.insert(ticket, (index, info, finish));
            }
        }
    }
    if tickets.is_empty() {
        return Reply::Value(Value::array(synchronous.into_iter().map(|(_, v)| v)));
    }
    let all_synchronous = action.synchronous();
    let mut waited: Vec<Value> = Vec::new();
    Reply::Deferred(Deferred::new(
        tickets,
        move |ticket, outcome| {
            let (index, info, finish) = pending.remove(&ticket)?;
            let immediate = all_synchronous || outcome.immediate;
            let entry = result_struct(&info, finish(outcome));
            if immediate {
                synchronous.push((index, entry));
            } else {
                waited.push(entry);
            }
            if !pending.is_empty() {
                return None;
            }
            synchronous.sort_by_key(|(index, _)| *index);
            let results = std::mem::take(&mut synchronous)
                .into_iter()
                .map(|(_, value)| value)
                .chain(std::mem::take(&mut waited));
            Some(Reply::Value(Value::array(results)))
        },
        || Reply::Value(Value::array([])),
    ))
}
