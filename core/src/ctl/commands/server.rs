//! The commands about the server itself rather than its processes:
//! `reload`, `shutdown`, `open`, `version`, and leaving the shell.

use crate::ctl::api::{self, fault};
use crate::ctl::controller::{CmdResult, Controller, Outcome, exit};
use crate::ctl::transport::CallError;

use super::status::status;

/// `quit`, `exit`, Ctrl-D: leave the shell (after an empty line, as the
/// reference).
pub fn quit(c: &mut Controller, _arg: &str) -> CmdResult {
    c.output("");
    Ok(Outcome::Quit)
}

/// `reload`: restart supervisord.
pub fn reload(c: &mut Controller, arg: &str) -> CmdResult {
    if c.refuse_arguments("reload", arg) {
        return Ok(Outcome::ShowUsage);
    }
    if !c.confirm("Really restart the remote supervisord process y/N? ") {
        return Ok(Outcome::Done);
    }
    match c.call("supervisor.restart", vec![]) {
        Ok(_) => c.output("Restarted supervisord"),
        Err(e) => return c.fail_unless_shutting_down(e, "ERROR: already shutting down"),
    }
    Ok(Outcome::Done)
}

/// `shutdown`: stop every process, then supervisord.
pub fn shutdown(c: &mut Controller, arg: &str) -> CmdResult {
    if c.refuse_arguments("shutdown", arg) {
        return Ok(Outcome::ShowUsage);
    }
    if !c.confirm("Really shut the remote supervisord process down y/N? ") {
        return Ok(Outcome::Done);
    }
    match c.call("supervisor.shutdown", vec![]) {
        Ok(_) => c.output("Shut down"),
        Err(e) if e.fault_code() == Some(fault::SHUTDOWN_STATE) => {
            c.output("ERROR: already shutting down");
        }
        Err(e @ CallError::Fault { .. }) => {
            c.exitstatus = exit::GENERIC;
            return Err(e.into());
        }
        Err(e @ CallError::Io(_)) => {
            c.exitstatus = exit::GENERIC;
            let url = c.connection().serverurl.clone();
            match e.errno() {
                Some(libc::ECONNREFUSED) => c.output(&format!(
                    "ERROR: {url} refused connection (already shut down?)"
                )),
                Some(libc::ENOENT) => {
                    c.output(&format!("ERROR: {url} no such file (already shut down?)"))
                }
                _ => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Outcome::Done)
}

/// `open url`: talk to another supervisord, and show its status.
pub fn open(c: &mut Controller, arg: &str) -> CmdResult {
    let url = arg.trim();
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("unix") | Some("http")) {
        c.output("ERROR: url must be http:// or unix://");
        c.exitstatus = exit::GENERIC;
        return Ok(Outcome::Done);
    }
    let mut connection = c.connection().clone();
    connection.serverurl = url.to_string();
    c.set_connection(connection);
    let kept = c.exitstatus;
    let result = status(c, "");
    c.exitstatus = kept;
    result
}

/// `version`: the server's supervisor version.
pub fn version(c: &mut Controller, arg: &str) -> CmdResult {
    if c.refuse_arguments("version", arg) {
        return Ok(Outcome::ShowUsage);
    }
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let v = c.call("supervisor.getSupervisorVersion", vec![])?;
    c.output(&api::display(&v));
    Ok(Outcome::Done)
}
