//! What the web UI asks of the daemon, through the registry's
//! `supervisor` namespace only (http never imports the daemon): the
//! process list, the tail of a stdout log, and the page actions, each
//! answered with the message text the reference's `web.py` shows.
//! It owns no state and renders no HTML.

use chrono::Local;
use supervisor_sdk::value::Value;

use super::page::Row;
use crate::rpc::{CallError, Fault, Registry, code};

/// An action of the status page, parsed from `action=` and
/// `processname=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    Refresh,
    StopAll,
    RestartAll,
    Start(String),
    Stop(String),
    Restart(String),
    ClearLog(String),
}

impl Action {
    /// The action `action` names, on `processname` where it needs one;
    /// `Err` says why the pair means nothing.
    pub(super) fn parse(action: &str, processname: Option<&str>) -> Result<Action, String> {
        let named = |make: fn(String) -> Action| match processname {
            Some(name) if !name.is_empty() => Ok(make(name.to_owned())),
            _ => Err(format!("The action {action} needs a processname")),
        };
        match action {
            "refresh" => Ok(Action::Refresh),
            "stopall" => Ok(Action::StopAll),
            "restartall" => Ok(Action::RestartAll),
            "start" => named(Action::Start),
            "stop" => named(Action::Stop),
            "restart" => named(Action::Restart),
            "clearlog" => named(Action::ClearLog),
            other => Err(format!("Unknown action {other}")),
        }
    }

    /// The process this action is about, if any.
    pub(super) fn process(&self) -> Option<&str> {
        match self {
            Action::Start(name)
            | Action::Stop(name)
            | Action::Restart(name)
            | Action::ClearLog(name) => Some(name),
            _ => None,
        }
    }

    /// The `action=` value.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Action::Refresh => "refresh",
            Action::StopAll => "stopall",
            Action::RestartAll => "restartall",
            Action::Start(_) => "start",
            Action::Stop(_) => "stop",
            Action::Restart(_) => "restart",
            Action::ClearLog(_) => "clearlog",
        }
    }

    /// The question the confirmation page asks.
    pub(super) fn question(&self) -> String {
        match self {
            Action::Refresh => "Refresh the page?".to_owned(),
            Action::StopAll => "Stop all processes?".to_owned(),
            Action::RestartAll => "Restart all processes?".to_owned(),
            Action::Start(name) => format!("Start process {name}?"),
            Action::Stop(name) => format!("Stop process {name}?"),
            Action::Restart(name) => format!("Restart process {name}?"),
            Action::ClearLog(name) => {
                format!("Clear the logs of process {name}? Their files are emptied on disk.")
            }
        }
    }
}

async fn call(registry: &Registry, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
    registry
        .dispatch(method, params)
        .await
        .map_err(|error| match error {
            CallError::Fault(fault) => fault,
            CallError::Internal(why) => Fault {
                code: code::FAILED,
                string: why.into(),
            },
        })
}

fn unexpected(fault: &Fault) -> String {
    format!("unexpected rpc fault [{}] {}", fault.code, fault.string)
}

/// The reference's `time.ctime()`, in local time.
fn ctime() -> String {
    Local::now().format("%a %b %e %H:%M:%S %Y").to_string()
}

/// Whether `namespec` names one process; `Err` is the reference's message
/// when it does not.
pub(super) async fn check_process(registry: &Registry, namespec: &str) -> Result<(), String> {
    match call(registry, "supervisor.getProcessInfo", vec![namespec.into()]).await {
        Ok(_) => Ok(()),
        Err(fault) if fault.code == code::BAD_NAME => {
            Err(format!("No such process named {namespec}"))
        }
        Err(fault) => Err(unexpected(&fault)),
    }
}

/// Carry out `action` and answer the reference's message for it.
pub(super) async fn perform(registry: &Registry, action: &Action) -> String {
    if let Some(name) = action.process()
        && let Err(message) = check_process(registry, name).await
    {
        return message;
    }
    match action {
        Action::Refresh => format!("Page refreshed at {}", ctime()),
        Action::StopAll => match call(registry, "supervisor.stopAllProcesses", vec![]).await {
            Ok(_) => format!("All stopped at {}", ctime()),
            Err(fault) => unexpected(&fault),
        },
        Action::RestartAll => {
            // The reference's multicall: stop all, then start all, whatever
            // the first answered.
            let _ = call(registry, "supervisor.stopAllProcesses", vec![]).await;
            let _ = call(registry, "supervisor.startAllProcesses", vec![]).await;
            format!("All restarted at {}", ctime())
        }
        Action::Start(name) => {
            match call(
                registry,
                "supervisor.startProcess",
                vec![name.as_str().into()],
            )
            .await
            {
                Ok(_) => format!("Process {name} started"),
                Err(fault) => {
                    let why = match fault.code {
                        code::NO_FILE => "no such file".to_owned(),
                        code::NOT_EXECUTABLE => "file not executable".to_owned(),
                        code::ALREADY_STARTED => "already started".to_owned(),
                        code::SPAWN_ERROR => "spawn error".to_owned(),
                        code::ABNORMAL_TERMINATION => "abnormal termination".to_owned(),
                        _ => unexpected(&fault),
                    };
                    format!("ERROR: Process {name}: {why}")
                }
            }
        }
        Action::Stop(name) => {
            match call(
                registry,
                "supervisor.stopProcess",
                vec![name.as_str().into()],
            )
            .await
            {
                Ok(_) => format!("Process {name} stopped"),
                Err(fault) => unexpected(&fault),
            }
        }
        Action::Restart(name) => {
            // As the reference's multicall: stop (a process not running is
            // fine), then start.
            let _ = call(
                registry,
                "supervisor.stopProcess",
                vec![name.as_str().into()],
            )
            .await;
            let _ = call(
                registry,
                "supervisor.startProcess",
                vec![name.as_str().into()],
            )
            .await;
            format!("Process {name} restarted")
        }
        Action::ClearLog(name) => {
            match call(
                registry,
                "supervisor.clearProcessLogs",
                vec![name.as_str().into()],
            )
            .await
            {
                Ok(_) => format!("Log for {name} cleared"),
                Err(fault) => unexpected(&fault),
            }
        }
    }
}

/// Every process, sorted by group then name as the reference's status
/// page sorts them.
pub(super) async fn rows(registry: &Registry) -> Result<Vec<Row>, String> {
    let all = call(registry, "supervisor.getAllProcessInfo", vec![])
        .await
        .map_err(|fault| unexpected(&fault))?;
    let text = |info: &Value, key: &str| {
        info.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let int = |info: &Value, key: &str| info.get(key).and_then(Value::as_int).unwrap_or(0);
    let mut rows: Vec<Row> = all
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(|info| Row {
            group: text(info, "group"),
            name: text(info, "name"),
            statename: text(info, "statename"),
            description: text(info, "description"),
            pid: int(info, "pid"),
            start: i64::from(int(info, "start")),
            now: i64::from(int(info, "now")),
            exitstatus: int(info, "exitstatus"),
            spawnerr: text(info, "spawnerr"),
        })
        .collect();
    rows.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
    Ok(rows)
}

/// The last `limit` bytes of `namespec`'s stdout log, or the reference's
/// text for why there are none.
pub(super) async fn tail(registry: &Registry, namespec: &str, limit: u64) -> String {
    let offset = -i32::try_from(limit).unwrap_or(i32::MAX);
    let params = vec![namespec.into(), Value::int(offset), Value::int(0)];
    match call(registry, "supervisor.readProcessStdoutLog", params).await {
        Ok(value) => value.as_str().unwrap_or_default().to_owned(),
        Err(fault) if fault.code == code::NO_FILE => format!("No file for {namespec}"),
        Err(fault) => format!("ERROR: {}", unexpected(&fault)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_as_the_reference_names_them() {
        assert_eq!(Action::parse("refresh", None), Ok(Action::Refresh));
        assert_eq!(
            Action::parse("start", Some("a")),
            Ok(Action::Start("a".into()))
        );
        assert!(Action::parse("start", None).is_err());
        assert!(Action::parse("bogus", Some("a")).is_err());
    }
}
