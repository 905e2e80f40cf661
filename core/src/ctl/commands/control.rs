//! The commands that act on named processes: `start`, `stop`, `restart`,
//! `signal`, `clear` and `pid`. Each name is `all`, a group (`g` or
//! `g:*`) or one process, and each result line says what happened to
//! one process, in the reference's words.
//!
//! The reference spells `start`, `stop` and `signal` as three near-copies
//! (`do_start`, `do_stop`, `do_signal`); here they are one function,
//! `control`, and a `Control` value holding what tells them apart.

use dxr::Value;

use crate::ctl::api::{
    self, CallResult, Namespec, ProcessInfo, fault, make_namespec, split_namespec,
};
use crate::ctl::controller::{CmdResult, Controller, Outcome, exit, param};
use crate::ctl::transport::CallError;
use supervisor_sdk::state::ProcessState;

/// What tells `start`, `stop` and `signal` apart.
struct Control {
    /// The line printed when no process is named.
    missing: &'static str,
    /// The exit status then.
    missing_exit: i32,
    /// Whether the first argument is a signal name, passed after the name
    /// in every call.
    takes_signal: bool,
    /// The methods for `all`, a group and one process.
    all: &'static str,
    group: &'static str,
    process: &'static str,
    /// The exit status for a group the server does not know.
    bad_group_exit: i32,
    /// What a process it worked for is (`name: started`).
    done: &'static str,
    /// The line for one result.
    describe: fn(&CallResult, &str) -> Result<String, CallError>,
    /// The fault that does not fail the command (starting a started
    /// process, stopping a stopped one).
    ignored: Option<i32>,
}

const START: Control = Control {
    missing: "Error: start requires a process name",
    missing_exit: exit::INVALID_ARGS,
    takes_signal: false,
    all: "supervisor.startAllProcesses",
    group: "supervisor.startProcessGroup",
    process: "supervisor.startProcess",
    bad_group_exit: exit::INVALID_ARGS,
    done: "started",
    describe: start_result,
    ignored: Some(fault::ALREADY_STARTED),
};

const STOP: Control = Control {
    missing: "Error: stop requires a process name",
    missing_exit: exit::GENERIC,
    takes_signal: false,
    all: "supervisor.stopAllProcesses",
    group: "supervisor.stopProcessGroup",
    process: "supervisor.stopProcess",
    bad_group_exit: exit::GENERIC,
    done: "stopped",
    describe: signal_result,
    ignored: Some(fault::NOT_RUNNING),
};

const SIGNAL: Control = Control {
    missing: "Error: signal requires a signal name and a process name",
    missing_exit: exit::GENERIC,
    takes_signal: true,
    all: "supervisor.signalAllProcesses",
    group: "supervisor.signalProcessGroup",
    process: "supervisor.signalProcess",
    bad_group_exit: exit::GENERIC,
    done: "signalled",
    describe: signal_result,
    ignored: None,
};

/// `start name ...`.
pub fn start(c: &mut Controller, arg: &str) -> CmdResult {
    control(c, &START, arg)
}

/// `stop name ...`.
pub fn stop(c: &mut Controller, arg: &str) -> CmdResult {
    control(c, &STOP, arg)
}

/// `signal SIG name ...`.
pub fn signal(c: &mut Controller, arg: &str) -> CmdResult {
    control(c, &SIGNAL, arg)
}

/// `restart name ...`: `stop`, then `start`, as the reference (no
/// config is read again).
pub fn restart(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    if arg.split_whitespace().next().is_none() {
        c.output("Error: restart requires a process name");
        c.exitstatus = exit::GENERIC;
        return Ok(Outcome::ShowUsage);
    }
    stop(c, arg)?;
    start(c, arg)
}

fn control(c: &mut Controller, what: &Control, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let mut names: Vec<&str> = arg.split_whitespace().collect();
    let signal = if what.takes_signal && !names.is_empty() {
        Some(param(names.remove(0)))
    } else {
        None
    };
    if names.is_empty() {
        c.output(what.missing);
        c.exitstatus = what.missing_exit;
        return Ok(Outcome::ShowUsage);
    }
    let params =
        |first: Value| -> Vec<Value> { std::iter::once(first).chain(signal.clone()).collect() };
    let describe = |r: &CallResult| (what.describe)(r, what.done);
    if names.contains(&"all") {
        let results = CallResult::list(&c.call(what.all, signal.clone().into_iter().collect())?);
        show_results(c, &results, describe, what.ignored)?;
        return Ok(Outcome::Done);
    }
    // `start all` names every process: only a narrower start pulls in.
    let mut pulled = if what.process == START.process {
        PulledIn::watch(c)
    } else {
        None
    };
    for name in names {
        let Namespec { group, process } = split_namespec(name);
        let called = match process {
            None => c.call(what.group, params(param(group))),
            Some(_) => c.call(what.process, params(param(name))),
        };
        if let Some(watch) = &mut pulled {
            for line in watch.lines(c, name, group, process) {
                c.output(&line);
            }
        }
        match process {
            None => match called {
                Ok(v) => show_results(c, &CallResult::list(&v), describe, what.ignored)?,
                Err(e) if e.fault_code() == Some(fault::BAD_NAME) => {
                    c.output(&format!("{group}: ERROR (no such group)"));
                    c.exitstatus = what.bad_group_exit;
                }
                Err(e) => {
                    c.exitstatus = exit::GENERIC;
                    return Err(e.into());
                }
            },
            Some(process) => match called {
                Ok(_) => c.output(&format!("{}: {}", make_namespec(group, process), what.done)),
                Err(e) => {
                    let r = fault_result(name, e)?;
                    show_results(c, &[r], describe, what.ignored)?;
                }
            },
        }
    }
    Ok(Outcome::Done)
}

/// The processes a start pulled in (`depends_on`, issue 16): those that
/// were stopped before a call and were started during it, beside the ones
/// the call names. The reference's answers have no room to say so, so
/// they are found by comparing `getAllProcessInfo` before and after each
/// call; a process another client starts at that very moment would be
/// counted too. The reference never pulls anything in, so against it
/// nothing is printed.
struct PulledIn {
    before: Vec<ProcessInfo>,
}

impl PulledIn {
    fn watch(c: &mut Controller) -> Option<PulledIn> {
        Some(PulledIn {
            before: c.all_process_info().ok()?,
        })
    }

    /// One line for each process the call for `asked` (`group`, or
    /// `group:process`) started beside those it names, dependencies
    /// first: `dbase: started (dependency of web)`, or an error line when
    /// it did not come up.
    fn lines(
        &mut self,
        c: &mut Controller,
        asked: &str,
        group: &str,
        process: Option<&str>,
    ) -> Vec<String> {
        let Ok(after) = c.all_process_info() else {
            return Vec::new();
        };
        let named = |p: &ProcessInfo| p.group == group && process.is_none_or(|n| p.name == n);
        let stopped = |p: &ProcessInfo| p.process_state().is_some_and(|s| s.is_stopped());
        let mut started: Vec<&ProcessInfo> = after
            .iter()
            .filter(|now| !named(now))
            .filter(|now| {
                self.before.iter().any(|then| {
                    then.group == now.group
                        && then.name == now.name
                        && stopped(then)
                        && (now.start != then.start || !stopped(now))
                })
            })
            .collect();
        started.sort_by_key(|p| p.start);
        let lines = started
            .iter()
            .map(|p| match p.process_state() {
                Some(ProcessState::Starting | ProcessState::Running | ProcessState::Backoff) => {
                    format!("{}: started (dependency of {asked})", p.namespec())
                }
                _ => format!(
                    "{}: ERROR (dependency of {asked}, {})",
                    p.namespec(),
                    p.statename
                ),
            })
            .collect();
        self.before = after;
        lines
    }
}

/// `start`'s words for a result.
fn start_result(r: &CallResult, done: &str) -> Result<String, CallError> {
    let name = make_namespec(&r.group, &r.name);
    let why = match r.status {
        fault::SUCCESS => return Ok(format!("{name}: {done}")),
        fault::BAD_NAME => "no such process",
        fault::NO_FILE => "no such file",
        fault::NOT_EXECUTABLE => "file is not executable",
        fault::ALREADY_STARTED => "already started",
        fault::SPAWN_ERROR => "spawn error",
        fault::ABNORMAL_TERMINATION => "abnormal termination",
        code => {
            return Err(CallError::Value(format!(
                "Unknown result code {code} for {name}"
            )));
        }
    };
    Ok(format!("{name}: ERROR ({why})"))
}

/// `stop`'s and `signal`'s words for a result.
fn signal_result(r: &CallResult, done: &str) -> Result<String, CallError> {
    let name = make_namespec(&r.group, &r.name);
    let why = match r.status {
        fault::SUCCESS => return Ok(format!("{name}: {done}")),
        fault::FAILED => return Ok(r.description.clone()),
        fault::BAD_NAME => "no such process",
        fault::BAD_SIGNAL => "bad signal name",
        fault::NOT_RUNNING => "not running",
        code => {
            return Err(CallError::Value(format!(
                "Unknown result code {code} for {name}"
            )));
        }
    };
    Ok(format!("{name}: ERROR ({why})"))
}

/// `clear`'s words for a result.
fn clear_result(r: &CallResult) -> Result<String, CallError> {
    let name = make_namespec(&r.group, &r.name);
    match r.status {
        fault::SUCCESS => Ok(format!("{name}: cleared")),
        fault::BAD_NAME => Ok(format!("{name}: ERROR (no such process)")),
        fault::FAILED => Ok(format!("{name}: ERROR (failed)")),
        code => Err(CallError::Value(format!(
            "Unknown result code {code} for {name}"
        ))),
    }
}

/// A single-name call that failed, as the result entry the reference
/// builds from the fault.
fn fault_result(name: &str, e: CallError) -> Result<CallResult, CallError> {
    match e {
        CallError::Fault { code, string } => {
            let Namespec { group, process } = split_namespec(name);
            Ok(CallResult {
                // The reference prints `group:None` here; the spec as typed is
                // what a user can act on.
                name: process.unwrap_or("*").to_string(),
                group: group.to_string(),
                status: code,
                description: string,
            })
        }
        other => Err(other),
    }
}

/// One line per result; each result's fault sets the exit status.
fn show_results(
    c: &mut Controller,
    results: &[CallResult],
    describe: impl Fn(&CallResult) -> Result<String, CallError>,
    ignored: Option<i32>,
) -> Result<(), CallError> {
    for r in results {
        let line = describe(r)?;
        c.output(&line);
        c.set_exitstatus_from_fault(r.status, ignored);
    }
    Ok(())
}

/// `pid`, `pid all`, `pid name ...`.
pub fn pid(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let names: Vec<&str> = arg.split_whitespace().collect();
    if names.is_empty() {
        let pid = c.call("supervisor.getPID", vec![])?;
        c.output(&api::display(&pid));
    } else if names.contains(&"all") {
        for info in c.all_process_info()? {
            c.output(&info.pid.to_string());
        }
    } else {
        for name in names {
            match c.call("supervisor.getProcessInfo", vec![param(name)]) {
                Ok(v) => {
                    let pid = ProcessInfo::from_value(&v).pid;
                    c.output(&pid.to_string());
                    if pid == 0 {
                        c.exitstatus = exit::NOT_RUNNING;
                    }
                }
                Err(e) => {
                    c.exitstatus = exit::GENERIC;
                    if e.fault_code() == Some(fault::BAD_NAME) {
                        c.output(&format!("No such process {name}"));
                    } else {
                        return Err(e.into());
                    }
                }
            }
        }
    }
    Ok(Outcome::Done)
}

/// `clear name ...`, `clear all`: empty log files.
pub fn clear(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let names: Vec<&str> = arg.split_whitespace().collect();
    if names.is_empty() {
        c.output("Error: clear requires a process name");
        c.exitstatus = exit::GENERIC;
        return Ok(Outcome::ShowUsage);
    }
    if names.contains(&"all") {
        let results = CallResult::list(&c.call("supervisor.clearAllProcessLogs", vec![])?);
        show_results(c, &results, clear_result, None)?;
        return Ok(Outcome::Done);
    }
    for name in names {
        match c.call("supervisor.clearProcessLogs", vec![param(name)]) {
            Ok(_) => {
                let Namespec { group, process } = split_namespec(name);
                let ns = make_namespec(group, process.unwrap_or("*"));
                c.output(&format!("{ns}: cleared"));
            }
            Err(e) => {
                let r = fault_result(name, e)?;
                show_results(c, &[r], clear_result, None)?;
            }
        }
    }
    Ok(Outcome::Done)
}
