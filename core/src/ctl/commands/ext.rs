//! Our commands served by the bundled `ext` namespace rather than the
//! reference's: `scale GROUP N` and `update --only-changed` (with
//! `--dry-run`). Each prints the daemon's lines, one per process touched;
//! when the daemon does not serve the namespace, each says which section
//! enables it.

use dxr::Value;

use crate::config::EXT_RPCINTERFACE;
use crate::ctl::api::fault;
use crate::ctl::controller::{CmdResult, Controller, Outcome, exit, param};
use crate::ctl::transport::CallError;

/// `scale GROUP N`: give a program's group N processes.
pub fn scale(c: &mut Controller, arg: &str) -> CmdResult {
    let words: Vec<&str> = arg.split_whitespace().collect();
    let [group, count] = words.as_slice() else {
        c.output("Error: scale takes a group name and a number of processes");
        c.exitstatus = exit::INVALID_ARGS;
        return Ok(Outcome::ShowUsage);
    };
    // XML-RPC integers are 32-bit; a negative count is the daemon's to
    // refuse, in its words.
    let Ok(number) = count.parse::<i32>() else {
        c.output(&format!(
            "Error: bad number of processes '{count}': a whole number, 0 or more"
        ));
        c.exitstatus = exit::INVALID_ARGS;
        return Ok(Outcome::ShowUsage);
    };
    let params = vec![param(group), Value::Integer(number)];
    match c.call("ext.scaleGroup", params) {
        Ok(lines) => {
            let lines = strings(&lines);
            if lines.is_empty() {
                c.output(&format!("{group}: already has {number} processes"));
            }
            for line in lines {
                c.output(&line);
            }
        }
        Err(e) => return refused(c, e, "scale", group),
    }
    Ok(Outcome::Done)
}

/// `update --only-changed [--dry-run]`: the granular update, or its plan.
pub fn update_only_changed(c: &mut Controller, dry_run: bool) -> CmdResult {
    match c.call("ext.updateChanged", vec![Value::Boolean(dry_run)]) {
        Ok(lines) => {
            let lines = strings(&lines);
            if lines.is_empty() {
                c.output("No config updates to processes");
            }
            for line in lines {
                c.output(&line);
            }
        }
        Err(e) => return refused(c, e, "update --only-changed", ""),
    }
    Ok(Outcome::Done)
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A fault as one `ERROR:` line (exit status 1); the missing namespace
/// with the section that enables it (exit status 3, the reference's for a
/// feature the server lacks).
fn refused(c: &mut Controller, error: CallError, command: &str, group: &str) -> CmdResult {
    c.exitstatus = exit::GENERIC;
    let string = match &error {
        CallError::Fault { string, .. } => string.clone(),
        _ => return Err(error.into()),
    };
    match error.fault_code() {
        Some(fault::UNKNOWN_METHOD) => {
            c.exitstatus = exit::UNIMPLEMENTED_FEATURE;
            c.output(&format!(
                "ERROR: {command} needs the ext namespace, which this supervisord does not \
                 serve. Enable it in supervisord's config:\n\
                 [rpcinterface:ext]\n\
                 supervisor.rpcinterface_factory = {EXT_RPCINTERFACE}\n\
                 then restart supervisord (supervisorctl reload)."
            ));
        }
        Some(fault::BAD_NAME) => c.output(&format!("ERROR: no such group: {group}")),
        Some(fault::SHUTDOWN_STATE) => c.output("ERROR: supervisor shutting down"),
        _ => c.output(&format!("ERROR: {string}")),
    }
    Ok(Outcome::Done)
}
