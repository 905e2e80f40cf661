//! The rest of the namespace: the main log, process logs, configuration
//! reload and groups, daemon shutdown and restart, process stdin and remote
//! events. Each validates what the reference validates before acting, then
//! hands the work to the daemon and answers from the command's outcome.

use crate::lookup::{Target, resolve};
use crate::params::incorrect;
use supervisor_sdk::fault::{BAD_NAME, Fault, INCORRECT_PARAMETERS, NOT_RUNNING};
use supervisor_sdk::host::{HostBox, LogChannel, Outcome, Ticket};
use supervisor_sdk::namespace::{Deferred, Reply};
use supervisor_sdk::value::{Value, ValueKind};

/// Wait for `ticket`; answer its fault, or `then` of its value.
fn await_outcome(ticket: Ticket, then: fn(Outcome) -> Value) -> Reply {
    Reply::Deferred(Deferred::one(ticket, move |outcome| {
        match outcome.fault.clone().into_option() {
            Some(fault) => Reply::Fault(fault),
            None => Reply::Value(then(outcome)),
        }
    }))
}

fn value_of(outcome: Outcome) -> Value {
    outcome.value
}

fn true_value(_: Outcome) -> Value {
    Value::bool(true)
}

/// `readLog(offset, length)` / `readMainLog`.
pub(crate) fn read_main_log(host: &HostBox, offset: i64, length: i64) -> Reply {
    await_outcome(
        host.read_log(LogChannel::Main, "".into(), "".into(), offset, length),
        value_of,
    )
}

/// `clearLog()`.
pub(crate) fn clear_main_log(host: &HostBox) -> Reply {
    await_outcome(
        host.clear_log(LogChannel::Main, "".into(), "".into()),
        true_value,
    )
}

/// `shutdown()`.
pub(crate) fn shutdown(host: &HostBox) -> Reply {
    await_outcome(host.shutdown(), true_value)
}

/// `restart()`.
pub(crate) fn restart(host: &HostBox) -> Reply {
    await_outcome(host.restart(), true_value)
}

/// `reloadConfig()`: `[[added, changed, removed]]` as the daemon computed.
pub(crate) fn reload_config(host: &HostBox) -> Reply {
    await_outcome(host.reload_config(), value_of)
}

/// `addProcessGroup(name)`.
pub(crate) fn add_group(host: &HostBox, name: &str) -> Reply {
    await_outcome(host.add_group(name.into()), true_value)
}

/// `removeProcessGroup(name)`.
pub(crate) fn remove_group(host: &HostBox, name: &str) -> Reply {
    await_outcome(host.remove_group(name.into()), true_value)
}

/// One process of a spec; a whole-group spec is `BAD_NAME` here.
fn one_process(host: &HostBox, spec: &str) -> Result<(String, String, u32), Fault> {
    let infos = host.process_infos();
    match resolve(&infos, spec)? {
        Target::Process(info) => Ok((info.group.to_string(), info.name.to_string(), info.pid)),
        Target::Group(_) => Err(Fault::with(BAD_NAME, spec)),
    }
}

/// `readProcessStdoutLog` / `readProcessLog` / `readProcessStderrLog`.
pub(crate) fn read_process_log(
    host: &HostBox,
    spec: &str,
    channel: LogChannel,
    offset: i64,
    length: i64,
) -> Result<Reply, Fault> {
    let (group, name, _) = one_process(host, spec)?;
    let ticket = host.read_log(
        channel,
        group.as_str().into(),
        name.as_str().into(),
        offset,
        length,
    );
    Ok(await_outcome(ticket, value_of))
}

/// `tailProcessStdoutLog` / `tailProcessLog` / `tailProcessStderrLog`.
pub(crate) fn tail_process_log(
    host: &HostBox,
    spec: &str,
    channel: LogChannel,
    offset: i64,
    length: i64,
) -> Result<Reply, Fault> {
    let (group, name, _) = one_process(host, spec)?;
    let ticket = host.tail_log(
        channel,
        group.as_str().into(),
        name.as_str().into(),
        offset,
        length,
    );
    Ok(await_outcome(ticket, value_of))
}

/// `clearProcessLogs` / `clearProcessLog`.
pub(crate) fn clear_process_logs(host: &HostBox, spec: &str) -> Result<Reply, Fault> {
    let (group, name, _) = one_process(host, spec)?;
    let ticket = host.clear_log(
        LogChannel::Stdout,
        group.as_str().into(),
        name.as_str().into(),
    );
    Ok(await_outcome(ticket, true_value))
}

/// `sendProcessStdin(name, chars)`: the text is checked before the name, as
/// the reference does.
pub(crate) fn send_stdin(host: &HostBox, spec: &str, chars: &Value) -> Result<Reply, Fault> {
    let bytes: &[u8] = match chars.kind() {
        Some(ValueKind::String(text)) => text.as_bytes(),
        Some(ValueKind::Base64(bytes)) => bytes.as_slice(),
        _ => return Err(Fault::with(INCORRECT_PARAMETERS, chars.python_str())),
    };
    let (group, name, pid) = one_process(host, spec)?;
    if pid == 0 {
        return Err(Fault::with(NOT_RUNNING, spec));
    }
    let ticket = host.send_stdin(group.as_str().into(), name.as_str().into(), bytes.into());
    Ok(await_outcome(ticket, true_value))
}

/// `sendRemoteCommEvent(type, data)`: a REMOTE_COMMUNICATION event with the
/// reference's `type:<type>\n<data>` payload. It never checks the daemon's
/// state.
pub(crate) fn send_remote_comm_event(host: &HostBox, kind: &Value, data: &Value) -> Reply {
    let scalar = |value: &Value| {
        matches!(
            value.kind(),
            Some(
                ValueKind::String(_)
                    | ValueKind::Int(_)
                    | ValueKind::Bool(_)
                    | ValueKind::Double(_)
            )
        )
    };
    if !scalar(kind) || !scalar(data) {
        return Reply::Fault(incorrect());
    }
    let payload = format!("type:{}\n{}", kind.python_str(), data.python_str());
    await_outcome(
        host.publish_event("REMOTE_COMMUNICATION".into(), payload.as_str().into()),
        true_value,
    )
}
