//! The commands: one method per action, each with the reference's output
//! lines and exit status (`supervisorctl.py`'s `DefaultControllerPlugin`),
//! plus our additions that no script can trip over (`status --json`,
//! colour on a terminal, `update --dry-run`).
//!
//! The controller owns the connection settings, the keep-alive session
//! and the exit status. It never reads a config file or the command line
//! (that is `options`) and never owns the line editor (that is `shell`).

use std::io::{self, IsTerminal, Write};
use std::panic::Location;

use dxr::Value;

use super::api::{
    self, API_VERSION, CallResult, ConfigChanges, ConfigInfo, Namespec, ProcessInfo, fault,
    make_namespec, split_namespec,
};
use super::help;
use super::stream::{self, SigintWatch, StdinLines};
use super::transport::{CallError, Endpoint, Session};
use crate::pyrepr::py_repr;

/// The LSB init-script exit codes the reference uses.
pub mod exit {
    /// Everything worked.
    pub const SUCCESS: i32 = 0;
    /// Something failed.
    pub const GENERIC: i32 = 1;
    /// Bad arguments (also usage errors).
    pub const INVALID_ARGS: i32 = 2;
    /// The server lacks the supervisor namespace.
    pub const UNIMPLEMENTED_FEATURE: i32 = 3;
    /// The server refused the connection.
    pub const INSUFFICIENT_PRIVILEGES: i32 = 4;
    /// The server speaks another API version.
    pub const NOT_INSTALLED: i32 = 5;
    /// A process is not running, or the socket file is missing.
    pub const NOT_RUNNING: i32 = 7;
    /// `status`: some process is not running (LSB status code).
    pub const STATUS_NOT_RUNNING: i32 = 3;
    /// `status`: unknown name, or the daemon is unreachable.
    pub const STATUS_UNKNOWN: i32 = 4;
}

/// Every action, for `help`, completion and dispatch.
pub const ACTIONS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version",
];

/// Where to connect and as whom; `open` and the authentication prompt
/// change it at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `http://host:port` or `unix:///path`.
    pub serverurl: String,
    /// Basic auth user name.
    pub username: Option<String>,
    /// Basic auth password.
    pub password: Option<String>,
}

/// A failed call and the place in our code that gave up on it, for the
/// reference's `error: <class 'X'>, <message>: file: F line: N` line.
#[derive(Debug)]
pub struct CmdError {
    /// What failed.
    pub error: CallError,
    /// Where in our code the command gave up.
    pub at: &'static Location<'static>,
}

impl From<CallError> for CmdError {
    #[track_caller]
    fn from(error: CallError) -> Self {
        CmdError {
            error,
            at: Location::caller(),
        }
    }
}

type CmdResult = Result<(), CmdError>;

/// Whether the shell goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Leave the shell.
    Quit,
}

/// Runs command lines against one server.
pub struct Controller {
    rt: tokio::runtime::Runtime,
    session: Session,
    connection: Connection,
    /// The reference's `options.interactive`: true in the shell and with
    /// `-i`; confirmations and the credentials prompt depend on it.
    pub interactive: bool,
    /// The exit status so far ("last writer wins", as in the reference).
    pub exitstatus: i32,
    out: io::BufWriter<io::Stdout>,
    color: bool,
    completion_cache: Option<Vec<ProcessInfo>>,
}

impl Controller {
    /// A controller for `connection`. Builds a current-thread runtime: the
    /// client never needs more, and it starts in microseconds.
    pub fn new(connection: Connection, interactive: bool) -> io::Result<Controller> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let session = Session::new(endpoint_of(&connection));
        let stdout = io::stdout();
        let color = stdout.is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        Ok(Controller {
            rt,
            session,
            connection,
            interactive,
            exitstatus: exit::SUCCESS,
            out: io::BufWriter::new(stdout),
            color,
            completion_cache: None,
        })
    }

    /// Where and as whom the controller connects now.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    fn set_connection(&mut self, connection: Connection) {
        self.session = Session::new(endpoint_of(&connection));
        self.connection = connection;
    }

    /// One line of output.
    fn output(&mut self, line: &str) {
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.write_all(b"\n");
    }

    /// Push buffered output out: before prompts, streams and at the end.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// One RPC. In the shell a Ctrl-C during it ends the shell, as the
    /// reference's does (its KeyboardInterrupt leaves the command loop);
    /// one-shot, Ctrl-C keeps its default meaning.
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, CallError> {
        let Controller {
            rt,
            session,
            interactive,
            ..
        } = self;
        if !*interactive {
            return rt.block_on(session.call(method, params));
        }
        rt.block_on(async {
            match SigintWatch::install() {
                Ok(watch) => tokio::select! {
                    result = session.call(method, params) => result,
                    () = watch.interrupted() => Err(CallError::Interrupted),
                },
                Err(_) => session.call(method, params).await,
            }
        })
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_string())
    }

    /// Run one command line, as the reference's `onecmd`: unknown commands,
    /// the 401 retry and unexpected errors are handled here.
    pub fn onecmd(&mut self, line: &str) -> Flow {
        let Some((cmd, arg)) = parse_line(line) else {
            return Flow::Continue;
        };
        self.completion_cache = None;
        self.session.reset();
        if !is_action(&cmd) {
            self.output(&format!("*** Unknown syntax: {}", line.trim()));
            self.exitstatus = exit::GENERIC;
            self.flush();
            return Flow::Continue;
        }
        let flow = match self.dispatch(&cmd, &arg) {
            Ok(flow) => flow,
            Err(e) if is_unauthorized(&e) => {
                self.output("Server requires authentication");
                if self.interactive {
                    if self.ask_credentials() {
                        let flow = self.onecmd(line);
                        self.flush();
                        return flow;
                    }
                    Flow::Continue
                } else {
                    // The reference then runs the command once more, which
                    // fails the same way and adds the generic error line.
                    self.exitstatus = exit::GENERIC;
                    self.session.reset();
                    match self.dispatch(&cmd, &arg) {
                        Ok(flow) => flow,
                        Err(e) => {
                            self.report(&e);
                            Flow::Continue
                        }
                    }
                }
            }
            Err(e) if matches!(e.error, CallError::Interrupted) => {
                self.output("");
                Flow::Quit
            }
            Err(e) => {
                self.report(&e);
                Flow::Continue
            }
        };
        self.flush();
        flow
    }

    fn report(&mut self, e: &CmdError) {
        let line = format!(
            "error: <class '{}'>, {}: file: {} line: {}",
            e.error.python_class(),
            e.error,
            e.at.file(),
            e.at.line()
        );
        self.output(&line);
        self.exitstatus = exit::GENERIC;
    }

    fn dispatch(&mut self, cmd: &str, arg: &str) -> Result<Flow, CmdError> {
        match cmd {
            "help" => self.do_help(arg),
            "EOF" | "quit" | "exit" => {
                self.output("");
                return Ok(Flow::Quit);
            }
            "status" => self.do_status(arg)?,
            "start" => self.do_start(arg)?,
            "stop" => self.do_stop(arg)?,
            "restart" => self.do_restart(arg)?,
            "signal" => self.do_signal(arg)?,
            "pid" => self.do_pid(arg)?,
            "tail" => self.do_tail(arg)?,
            "maintail" => self.do_maintail(arg)?,
            "clear" => self.do_clear(arg)?,
            "avail" => self.do_avail(arg)?,
            "reread" => self.do_reread(arg)?,
            "update" => self.do_update(arg)?,
            "add" => self.do_add(arg)?,
            "remove" => self.do_remove(arg)?,
            "reload" => self.do_reload(arg)?,
            "shutdown" => self.do_shutdown(arg)?,
            "open" => self.do_open(arg)?,
            "version" => self.do_version(arg)?,
            "fg" => self.do_fg(arg)?,
            _ => {
                self.output(&format!("*** Unknown syntax: {cmd} {arg}"));
                self.exitstatus = exit::GENERIC;
            }
        }
        Ok(Flow::Continue)
    }

    /// The exit status for a fault in a result: SUCCESS and the command's
    /// ignorable fault leave it alone, dead-program faults give 7.
    fn set_exitstatus_from_fault(&mut self, code: i32, ignored: Option<i32>) {
        if code == fault::SUCCESS || Some(code) == ignored {
            return;
        }
        self.exitstatus = match code {
            fault::SPAWN_ERROR | fault::ABNORMAL_TERMINATION | fault::NOT_RUNNING => {
                exit::NOT_RUNNING
            }
            _ => exit::GENERIC,
        };
    }

    /// Ask the server for its API version before a command, with the
    /// reference's messages for the usual ways that fails.
    fn upcheck(&mut self) -> Result<bool, CmdError> {
        match self.call("supervisor.getVersion", vec![]) {
            Ok(version) => {
                let version = api::display(&version);
                if version != API_VERSION {
                    self.output(&format!(
                        "Sorry, this version of supervisorctl expects to talk to a server with \
                         API version {API_VERSION}, but the remote version is {version}."
                    ));
                    self.exitstatus = exit::NOT_INSTALLED;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(e) if e.fault_code() == Some(fault::UNKNOWN_METHOD) => {
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor \
                     namespace commands that supervisorctl uses to control it.  Please check \
                     that the [rpcinterface:supervisor] section is enabled in the \
                     configuration file (see sample.conf).",
                );
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(false)
            }
            Err(e) if e.errno() == Some(libc::ECONNREFUSED) => {
                let url = self.connection.serverurl.clone();
                self.output(&format!("{url} refused connection"));
                self.exitstatus = exit::INSUFFICIENT_PRIVILEGES;
                Ok(false)
            }
            Err(e) if e.errno() == Some(libc::ENOENT) => {
                let url = self.connection.serverurl.clone();
                self.output(&format!("{url} no such file"));
                self.exitstatus = exit::NOT_RUNNING;
                Ok(false)
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                Err(e.into())
            }
        }
    }

    fn do_help(&mut self, arg: &str) {
        let topic = arg.trim();
        let text = help::topic(topic);
        let _ = self.out.write_all(text.as_bytes());
    }

    fn help_for(&mut self, action: &str) {
        self.do_help(action);
    }

    /// A call that failed while the daemon may be going down: the reference
    /// prints `message` for SHUTDOWN_STATE and raises anything else; either
    /// way the command fails.
    fn fail_unless_shutting_down(&mut self, error: CallError, message: &str) -> CmdResult {
        self.exitstatus = exit::GENERIC;
        if error.fault_code() == Some(fault::SHUTDOWN_STATE) {
            self.output(message);
            Ok(())
        } else {
            Err(error.into())
        }
    }

    /// The reference's answer to arguments given to a command that takes
    /// none: an error line, the command's help and a failing exit status.
    /// True when `arg` was refused.
    fn refuse_arguments(&mut self, command: &str, arg: &str) -> bool {
        if arg.trim().is_empty() {
            return false;
        }
        self.output(&format!("Error: {command} accepts no arguments"));
        self.exitstatus = exit::GENERIC;
        self.help_for(command);
        true
    }

    // ---- status ----------------------------------------------------------

    fn do_status(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            self.exitstatus = exit::STATUS_UNKNOWN;
            return Ok(());
        }
        let mut json = false;
        let names: Vec<&str> = arg
            .split_whitespace()
            .filter(|w| {
                let flag = *w == "--json";
                json |= flag;
                !flag
            })
            .collect();
        let all = ProcessInfo::list(&self.call("supervisor.getAllProcessInfo", vec![])?);
        let matching: Vec<&ProcessInfo> =
            if names.is_empty() || names.contains(&"all") {
                all.iter().collect()
            } else {
                let mut matching = Vec::new();
                for name in &names {
                    let Namespec { group, process } = split_namespec(name);
                    let before = matching.len();
                    matching.extend(all.iter().filter(|info| {
                        info.group == group && process.is_none_or(|p| info.name == p)
                    }));
                    if matching.len() == before {
                        let msg = match process {
                            None => format!("{group}: ERROR (no such group)"),
                            Some(_) => format!("{name}: ERROR (no such process)"),
                        };
                        if json {
                            // Keep stdout a valid JSON document.
                            let _ = writeln!(io::stderr(), "{msg}");
                        } else {
                            self.output(&msg);
                        }
                        self.exitstatus = exit::STATUS_UNKNOWN;
                    }
                }
                matching
            };
        if json {
            let doc = status_json(&matching);
            self.output(&doc);
        } else {
            for line in status_lines(&matching, self.color) {
                self.output(&line);
            }
        }
        if matching.iter().any(|i| i.is_stopped()) {
            self.exitstatus = exit::STATUS_NOT_RUNNING;
        }
        Ok(())
    }

    // ---- start / stop / restart / signal ---------------------------------

    fn start_result(r: &CallResult) -> Result<String, CallError> {
        let name = make_namespec(&r.group, &r.name);
        let why = match r.status {
            fault::SUCCESS => return Ok(format!("{name}: started")),
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

    fn signal_result(r: &CallResult, success: &str) -> Result<String, CallError> {
        let name = make_namespec(&r.group, &r.name);
        let why = match r.status {
            fault::SUCCESS => return Ok(format!("{name}: {success}")),
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

    fn show_results(
        &mut self,
        results: &[CallResult],
        format: fn(&CallResult) -> Result<String, CallError>,
        ignored: Option<i32>,
    ) -> Result<(), CallError> {
        for r in results {
            let line = format(r)?;
            self.output(&line);
            self.set_exitstatus_from_fault(r.status, ignored);
        }
        Ok(())
    }

    fn do_start(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: start requires a process name");
            self.exitstatus = exit::INVALID_ARGS;
            self.help_for("start");
            return Ok(());
        }
        let ignored = Some(fault::ALREADY_STARTED);
        if names.contains(&"all") {
            let results = CallResult::list(&self.call("supervisor.startAllProcesses", vec![])?);
            self.show_results(&results, Self::start_result, ignored)?;
            return Ok(());
        }
        for name in names {
            let Namespec { group, process } = split_namespec(name);
            match process {
                None => match self.call("supervisor.startProcessGroup", vec![Self::s(group)]) {
                    Ok(v) => {
                        self.show_results(&CallResult::list(&v), Self::start_result, ignored)?
                    }
                    Err(e) if e.fault_code() == Some(fault::BAD_NAME) => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = exit::INVALID_ARGS;
                    }
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        return Err(e.into());
                    }
                },
                Some(process) => match self.call("supervisor.startProcess", vec![Self::s(name)]) {
                    Ok(_) => self.output(&format!("{}: started", make_namespec(group, process))),
                    Err(e) => {
                        let r = Self::fault_result(name, e)?;
                        self.show_results(&[r], Self::start_result, ignored)?;
                    }
                },
            }
        }
        Ok(())
    }

    fn do_stop(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: stop requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help_for("stop");
            return Ok(());
        }
        let stopped = |r: &CallResult| Self::signal_result(r, "stopped");
        let ignored = Some(fault::NOT_RUNNING);
        if names.contains(&"all") {
            let results = CallResult::list(&self.call("supervisor.stopAllProcesses", vec![])?);
            self.show_results(&results, stopped, ignored)?;
            return Ok(());
        }
        for name in names {
            let Namespec { group, process } = split_namespec(name);
            match process {
                None => match self.call("supervisor.stopProcessGroup", vec![Self::s(group)]) {
                    Ok(v) => self.show_results(&CallResult::list(&v), stopped, ignored)?,
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        if e.fault_code() == Some(fault::BAD_NAME) {
                            self.output(&format!("{group}: ERROR (no such group)"));
                        } else {
                            return Err(e.into());
                        }
                    }
                },
                Some(process) => match self.call("supervisor.stopProcess", vec![Self::s(name)]) {
                    Ok(_) => self.output(&format!("{}: stopped", make_namespec(group, process))),
                    Err(e) => {
                        let r = Self::fault_result(name, e)?;
                        self.show_results(&[r], stopped, ignored)?;
                    }
                },
            }
        }
        Ok(())
    }

    fn do_restart(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.output("Error: restart requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help_for("restart");
            return Ok(());
        }
        self.do_stop(arg)?;
        self.do_start(arg)
    }

    fn do_signal(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        if args.len() < 2 {
            self.output("Error: signal requires a signal name and a process name");
            self.help_for("signal");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let sig = args[0];
        let names = &args[1..];
        let signalled = |r: &CallResult| Self::signal_result(r, "signalled");
        if names.contains(&"all") {
            let results =
                CallResult::list(&self.call("supervisor.signalAllProcesses", vec![Self::s(sig)])?);
            self.show_results(&results, signalled, None)?;
            return Ok(());
        }
        for &name in names {
            let Namespec { group, process } = split_namespec(name);
            match process {
                None => {
                    let params = vec![Self::s(group), Self::s(sig)];
                    match self.call("supervisor.signalProcessGroup", params) {
                        Ok(v) => self.show_results(&CallResult::list(&v), signalled, None)?,
                        Err(e) if e.fault_code() == Some(fault::BAD_NAME) => {
                            self.output(&format!("{group}: ERROR (no such group)"));
                            self.exitstatus = exit::GENERIC;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(process) => {
                    let params = vec![Self::s(name), Self::s(sig)];
                    match self.call("supervisor.signalProcess", params) {
                        Ok(_) => {
                            let ns = make_namespec(group, process);
                            self.output(&format!("{ns}: signalled"));
                        }
                        Err(e) => {
                            let r = Self::fault_result(name, e)?;
                            self.show_results(&[r], signalled, None)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    // ---- pid / clear -----------------------------------------------------

    fn do_pid(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            let pid = self.call("supervisor.getPID", vec![])?;
            self.output(&api::display(&pid));
        } else if names.contains(&"all") {
            for info in ProcessInfo::list(&self.call("supervisor.getAllProcessInfo", vec![])?) {
                self.output(&info.pid.to_string());
            }
        } else {
            for name in names {
                match self.call("supervisor.getProcessInfo", vec![Self::s(name)]) {
                    Ok(v) => {
                        let pid = ProcessInfo::from_value(&v).pid;
                        self.output(&pid.to_string());
                        if pid == 0 {
                            self.exitstatus = exit::NOT_RUNNING;
                        }
                    }
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        if e.fault_code() == Some(fault::BAD_NAME) {
                            self.output(&format!("No such process {name}"));
                        } else {
                            return Err(e.into());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn do_clear(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: clear requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help_for("clear");
            return Ok(());
        }
        if names.contains(&"all") {
            let results = CallResult::list(&self.call("supervisor.clearAllProcessLogs", vec![])?);
            self.show_results(&results, Self::clear_result, None)?;
            return Ok(());
        }
        for name in names {
            match self.call("supervisor.clearProcessLogs", vec![Self::s(name)]) {
                Ok(_) => {
                    let Namespec { group, process } = split_namespec(name);
                    let ns = make_namespec(group, process.unwrap_or("*"));
                    self.output(&format!("{ns}: cleared"));
                }
                Err(e) => {
                    let r = Self::fault_result(name, e)?;
                    self.show_results(&[r], Self::clear_result, None)?;
                }
            }
        }
        Ok(())
    }

    // ---- tail / maintail -------------------------------------------------

    fn do_tail(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() {
            self.output("Error: too few arguments");
            self.exitstatus = exit::GENERIC;
            self.help_for("tail");
            return Ok(());
        }
        if args.len() > 3 {
            self.output("Error: too many arguments");
            self.exitstatus = exit::GENERIC;
            self.help_for("tail");
            return Ok(());
        }
        let modifier = if args[0].starts_with('-') {
            Some(args.remove(0))
        } else {
            None
        };
        let (name, channel) = match args.as_slice() {
            [name] => (*name, "stdout".to_string()),
            [name, .., last] => {
                let channel = last.to_lowercase();
                if channel != "stdout" && channel != "stderr" {
                    self.output(&format!("Error: bad channel {}", py_repr(&channel)));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
                (*name, channel)
            }
            [] => {
                self.output("Error: tail requires process name");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
        };
        let mut bytes = 1600i64;
        if let Some(modifier) = modifier {
            let what = &modifier[1..];
            if what == "f" {
                self.follow(&format!("/logtail/{name}/{channel}"));
                return Ok(());
            }
            match parse_python_int(what) {
                Some(n) => bytes = n,
                None => {
                    self.output(&format!("Error: bad argument {modifier}"));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
            }
        }
        let method = if channel == "stdout" {
            "supervisor.readProcessStdoutLog"
        } else {
            "supervisor.readProcessStderrLog"
        };
        let params = vec![Self::s(name), int_value(-bytes), Value::Integer(0)];
        match self.call(method, params) {
            Ok(text) => self.output(&api::display(&text)),
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                let why = match e.fault_code() {
                    Some(fault::NO_FILE) => "no log file",
                    Some(fault::FAILED) => "unknown error reading log",
                    Some(fault::BAD_NAME) => "no such process name",
                    _ => return Err(e.into()),
                };
                self.output(&format!("{name}: ERROR ({why})"));
            }
        }
        Ok(())
    }

    fn do_maintail(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes = match args.as_slice() {
            [] => 1600,
            [one] => {
                let parsed = one.strip_prefix('-').and_then(|what| {
                    if what == "f" {
                        Some(None)
                    } else {
                        parse_python_int(what).map(Some)
                    }
                });
                match parsed {
                    Some(None) => {
                        self.follow("/mainlogtail");
                        return Ok(());
                    }
                    Some(Some(n)) => n,
                    None => {
                        self.output(&format!("Error: bad argument {one}"));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            }
            _ => {
                self.output("Error: too many arguments");
                self.exitstatus = exit::GENERIC;
                self.help_for("maintail");
                return Ok(());
            }
        };
        match self.call(
            "supervisor.readLog",
            vec![int_value(-bytes), Value::Integer(0)],
        ) {
            Ok(text) => self.output(&api::display(&text)),
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                let why = match e.fault_code() {
                    Some(fault::NO_FILE) => "no log file",
                    Some(fault::FAILED) => "unknown error reading log",
                    _ => return Err(e.into()),
                };
                self.output(&format!("supervisord: ERROR ({why})"));
            }
        }
        Ok(())
    }

    /// Stream `path` to stdout until the server ends it or Ctrl-C.
    fn follow(&mut self, path: &str) {
        self.output("==> Press Ctrl-C to exit <==");
        self.flush();
        let endpoint = self.session.endpoint().clone();
        let interrupted = self.rt.block_on(async {
            let watch = match SigintWatch::install() {
                Ok(w) => w,
                Err(_) => {
                    stream::follow(&endpoint, path).await;
                    return false;
                }
            };
            tokio::select! {
                _ = stream::follow(&endpoint, path) => false,
                () = watch.interrupted() => true,
            }
        });
        if interrupted {
            self.output("");
        }
    }

    // ---- fg --------------------------------------------------------------

    fn do_fg(&mut self, arg: &str) -> CmdResult {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let name = match names.as_slice() {
            [] => {
                self.output("ERROR: no process name supplied");
                self.exitstatus = exit::GENERIC;
                self.help_for("fg");
                return Ok(());
            }
            [one] => one.to_string(),
            _ => {
                self.output("ERROR: too many process names supplied");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
        };
        let info = match self.call("supervisor.getProcessInfo", vec![Self::s(&name)]) {
            Ok(v) => ProcessInfo::from_value(&v),
            Err(e) if e.fault_code() == Some(fault::BAD_NAME) => {
                self.output("ERROR: bad process name supplied");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            Err(e @ CallError::Fault { .. }) => {
                self.output(&format!("ERROR: {e}"));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if !info.is_running_now() {
            self.output("ERROR: process not running");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.output("==> Press Ctrl-C to exit <==");
        self.flush();

        let endpoint = self.session.endpoint().clone();
        let Controller { rt, session, .. } = self;
        let messages: Vec<String> = rt.block_on(async {
            let watch = SigintWatch::install().ok();
            let out = tokio::spawn({
                let endpoint = endpoint.clone();
                let path = format!("/logtail/{name}/stdout");
                async move { stream::follow(&endpoint, &path).await }
            });
            let err = tokio::spawn({
                let endpoint = endpoint.clone();
                let path = format!("/logtail/{name}/stderr");
                async move { stream::follow(&endpoint, &path).await }
            });
            let mut input = StdinLines::start();
            let interrupted = async {
                match &watch {
                    Some(w) => w.interrupted().await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(interrupted);
            let messages = loop {
                let line = tokio::select! {
                    () = &mut interrupted => break vec![],
                    line = input.lines.recv() => line,
                };
                let Some(line) = line else { break vec![] };
                let params = vec![Value::String(name.clone()), Value::String(line + "\n")];
                match session.call("supervisor.sendProcessStdin", params).await {
                    Ok(_) => {}
                    Err(e) if e.fault_code() == Some(fault::NOT_RUNNING) => {
                        break vec!["Process got killed".to_string()];
                    }
                    Err(e) => break vec![format!("ERROR: {e}")],
                }
                let still = session
                    .call(
                        "supervisor.getProcessInfo",
                        vec![Value::String(name.clone())],
                    )
                    .await
                    .map(|v| ProcessInfo::from_value(&v).is_running_now());
                match still {
                    Ok(true) => {}
                    Ok(false) => break vec!["Process got killed".to_string()],
                    Err(e) => break vec![format!("ERROR: {e}")],
                }
            };
            out.abort();
            err.abort();
            drop(input);
            messages
        });
        for m in messages {
            self.output(&m);
        }
        self.output("Exiting foreground");
        Ok(())
    }

    // ---- avail / reread / update / add / remove --------------------------

    fn do_avail(&mut self, arg: &str) -> CmdResult {
        if self.refuse_arguments("avail", arg) {
            return Ok(());
        }
        match self.call("supervisor.getAllConfigInfo", vec![]) {
            Ok(v) => {
                for c in ConfigInfo::list(&v) {
                    let line = format!(
                        "{:<32} {:<9} {:<9} {}:{}",
                        make_namespec(&c.group, &c.name),
                        if c.inuse { "in use" } else { "avail" },
                        if c.autostart { "auto" } else { "manual" },
                        c.group_prio,
                        c.process_prio
                    );
                    self.output(&line);
                }
            }
            Err(e) => return self.fail_unless_shutting_down(e, "ERROR: supervisor shutting down"),
        }
        Ok(())
    }

    fn do_reread(&mut self, arg: &str) -> CmdResult {
        if self.refuse_arguments("reread", arg) {
            return Ok(());
        }
        match self.call("supervisor.reloadConfig", vec![]) {
            Ok(v) => {
                let changes = ConfigChanges::from_value(&v);
                let mut lines: Vec<(String, &str)> = Vec::new();
                for (names, what) in [
                    (&changes.added, "available"),
                    (&changes.changed, "changed"),
                    (&changes.removed, "disappeared"),
                ] {
                    for n in names {
                        // A later list wins for a name in two lists, as
                        // the reference's dict update does.
                        lines.retain(|(m, _)| m != n);
                        lines.push((n.clone(), what));
                    }
                }
                if lines.is_empty() {
                    self.output("No config updates to processes");
                }
                lines.sort();
                for (name, what) in lines {
                    self.output(&format!("{name}: {what}"));
                }
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                match e.fault_code() {
                    Some(fault::SHUTDOWN_STATE) => self.output("ERROR: supervisor shutting down"),
                    Some(fault::CANT_REREAD) => {
                        if let CallError::Fault { string, .. } = &e {
                            let line = format!("ERROR: {string}");
                            self.output(&line);
                        }
                    }
                    _ => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    fn do_update(&mut self, arg: &str) -> CmdResult {
        let mut dry_run = false;
        let mut wanted: Vec<&str> = Vec::new();
        for word in arg.split_whitespace() {
            if word == "--dry-run" || word == "-n" {
                dry_run = true;
            } else if !wanted.contains(&word) {
                wanted.push(word);
            }
        }
        let changes = match self.call("supervisor.reloadConfig", vec![]) {
            Ok(v) => ConfigChanges::from_value(&v),
            Err(e) => return self.fail_unless_shutting_down(e, "ERROR: already shutting down"),
        };
        // `all` means the same as naming nothing.
        if wanted.contains(&"all") {
            wanted.clear();
        }
        let mut running: Option<Vec<ProcessInfo>> = None;
        if !wanted.is_empty() {
            let infos = ProcessInfo::list(&self.call("supervisor.getAllProcessInfo", vec![])?);
            let known = |g: &str| {
                infos.iter().any(|i| i.group == g) || changes.added.iter().any(|a| a == g)
            };
            // The reference walks a set here; sorted is as good and stable.
            let mut unknown: Vec<&str> = wanted.iter().copied().filter(|g| !known(g)).collect();
            unknown.sort_unstable();
            for g in unknown {
                self.output(&format!("ERROR: no such group: {g}"));
                self.exitstatus = exit::GENERIC;
            }
            running = Some(infos);
        }
        let selected = |g: &String| wanted.is_empty() || wanted.contains(&g.as_str());
        if dry_run {
            let infos = match running {
                Some(i) => i,
                None => ProcessInfo::list(&self.call("supervisor.getAllProcessInfo", vec![])?),
            };
            let configs = ConfigInfo::list(&self.call("supervisor.getAllConfigInfo", vec![])?);
            let plan = update_plan(&changes, &infos, &configs, &selected);
            if plan.is_empty() {
                self.output("No config updates to processes");
            }
            for line in plan {
                self.output(&line);
            }
            return Ok(());
        }
        for g in changes.removed.iter().filter(|g| selected(g)) {
            let results =
                CallResult::list(&self.call("supervisor.stopProcessGroup", vec![Self::s(g)])?);
            self.output(&format!("{g}: stopped"));
            if results.iter().any(|r| r.status == fault::FAILED) {
                self.output(&format!("{g}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.call("supervisor.removeProcessGroup", vec![Self::s(g)])?;
            self.output(&format!("{g}: removed process group"));
        }
        for g in changes.changed.iter().filter(|g| selected(g)) {
            self.call("supervisor.stopProcessGroup", vec![Self::s(g)])?;
            self.output(&format!("{g}: stopped"));
            self.call("supervisor.removeProcessGroup", vec![Self::s(g)])?;
            self.call("supervisor.addProcessGroup", vec![Self::s(g)])?;
            self.output(&format!("{g}: updated process group"));
        }
        for g in changes.added.iter().filter(|g| selected(g)) {
            self.call("supervisor.addProcessGroup", vec![Self::s(g)])?;
            self.output(&format!("{g}: added process group"));
        }
        Ok(())
    }

    fn do_add(&mut self, arg: &str) -> CmdResult {
        for name in arg.split_whitespace() {
            match self.call("supervisor.addProcessGroup", vec![Self::s(name)]) {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(e) => match e.fault_code() {
                    Some(fault::SHUTDOWN_STATE) => {
                        self.output("ERROR: shutting down");
                        self.exitstatus = exit::GENERIC;
                    }
                    Some(fault::ALREADY_ADDED) => {
                        self.output("ERROR: process group already active")
                    }
                    Some(fault::BAD_NAME) => {
                        self.output(&format!("ERROR: no such process/group: {name}"));
                        self.exitstatus = exit::GENERIC;
                    }
                    _ => {
                        self.exitstatus = exit::GENERIC;
                        return Err(e.into());
                    }
                },
            }
        }
        Ok(())
    }

    fn do_remove(&mut self, arg: &str) -> CmdResult {
        for name in arg.split_whitespace() {
            match self.call("supervisor.removeProcessGroup", vec![Self::s(name)]) {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(e) => {
                    self.exitstatus = exit::GENERIC;
                    match e.fault_code() {
                        Some(fault::STILL_RUNNING) => {
                            self.output(&format!("ERROR: process/group still running: {name}"));
                        }
                        Some(fault::BAD_NAME) => {
                            self.output(&format!("ERROR: no such process/group: {name}"));
                        }
                        _ => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }

    // ---- reload / shutdown / open / version ------------------------------

    fn confirm(&mut self, question: &str) -> bool {
        if !self.interactive {
            return true;
        }
        self.flush();
        read_answer(question).is_some_and(|a| a.trim_start().to_lowercase().starts_with('y'))
    }

    fn do_reload(&mut self, arg: &str) -> CmdResult {
        if self.refuse_arguments("reload", arg) {
            return Ok(());
        }
        if !self.confirm("Really restart the remote supervisord process y/N? ") {
            return Ok(());
        }
        match self.call("supervisor.restart", vec![]) {
            Ok(_) => self.output("Restarted supervisord"),
            Err(e) => return self.fail_unless_shutting_down(e, "ERROR: already shutting down"),
        }
        Ok(())
    }

    fn do_shutdown(&mut self, arg: &str) -> CmdResult {
        if self.refuse_arguments("shutdown", arg) {
            return Ok(());
        }
        if !self.confirm("Really shut the remote supervisord process down y/N? ") {
            return Ok(());
        }
        match self.call("supervisor.shutdown", vec![]) {
            Ok(_) => self.output("Shut down"),
            Err(e) if e.fault_code() == Some(fault::SHUTDOWN_STATE) => {
                self.output("ERROR: already shutting down");
            }
            Err(e @ CallError::Fault { .. }) => {
                self.exitstatus = exit::GENERIC;
                return Err(e.into());
            }
            Err(e @ CallError::Io(_)) => {
                self.exitstatus = exit::GENERIC;
                let url = self.connection.serverurl.clone();
                match e.errno() {
                    Some(libc::ECONNREFUSED) => self.output(&format!(
                        "ERROR: {url} refused connection (already shut down?)"
                    )),
                    Some(libc::ENOENT) => {
                        self.output(&format!("ERROR: {url} no such file (already shut down?)"))
                    }
                    _ => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn do_open(&mut self, arg: &str) -> CmdResult {
        let url = arg.trim();
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("unix") | Some("http")) {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let mut connection = self.connection.clone();
        connection.serverurl = url.to_string();
        self.set_connection(connection);
        let kept = self.exitstatus;
        let result = self.do_status("");
        self.exitstatus = kept;
        result
    }

    fn do_version(&mut self, arg: &str) -> CmdResult {
        if self.refuse_arguments("version", arg) {
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let v = self.call("supervisor.getSupervisorVersion", vec![])?;
        self.output(&api::display(&v));
        Ok(())
    }

    // ---- interaction -----------------------------------------------------

    /// The reference's answer to a 401 in the shell: ask, remember, retry.
    fn ask_credentials(&mut self) -> bool {
        self.flush();
        let Some(username) = read_answer("Username:") else {
            return false;
        };
        let Some(password) = read_password("Password:") else {
            return false;
        };
        self.output("");
        let connection = Connection {
            serverurl: self.connection.serverurl.clone(),
            username: Some(username.trim_end_matches(['\r', '\n']).to_string()),
            password: Some(password),
        };
        self.set_connection(connection);
        true
    }

    /// Process infos for completion, fetched once per command at most.
    pub fn completion_infos(&mut self) -> &[ProcessInfo] {
        if self.completion_cache.is_none() {
            let infos = self
                .call("supervisor.getAllProcessInfo", vec![])
                .map(|v| ProcessInfo::list(&v))
                .unwrap_or_default();
            self.completion_cache = Some(infos);
        }
        self.completion_cache.as_deref().unwrap_or(&[])
    }
}

fn endpoint_of(c: &Connection) -> Endpoint {
    Endpoint::new(&c.serverurl, c.username.as_deref(), c.password.as_deref())
}

fn is_unauthorized(e: &CmdError) -> bool {
    matches!(e.error, CallError::Http { status: 401, .. })
}

/// Whether `cmd` names something `onecmd` can run.
pub fn is_action(cmd: &str) -> bool {
    cmd == "help" || cmd == "EOF" || ACTIONS.contains(&cmd)
}

/// Python `cmd.parseline`: `?` means help, the command is the leading run
/// of identifier characters, the rest (trimmed) is its argument. `None`
/// for a blank line.
pub fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let line = match line.strip_prefix('?') {
        Some(rest) => format!("help {rest}"),
        None => line.to_string(),
    };
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    let (cmd, arg) = line.split_at(end);
    Some((cmd.to_string(), arg.trim().to_string()))
}

/// Python's `int()` of a `tail -N` argument: optional sign, digits,
/// underscores between digits, surrounding whitespace.
fn parse_python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// An int parameter: i4 when it fits (what Python sends), i8 otherwise.
fn int_value(n: i64) -> Value {
    match i32::try_from(n) {
        Ok(i) => Value::Integer(i),
        Err(_) => Value::Long(n),
    }
}

/// The status table: name column `max(30, longest) + 3` wide, state 10,
/// then the description. Colour wraps the padded state so columns line up.
pub fn status_lines(infos: &[&ProcessInfo], color: bool) -> Vec<String> {
    let names: Vec<String> = infos.iter().map(|i| i.namespec()).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(30)
        + 3;
    infos
        .iter()
        .zip(&names)
        .map(|(info, name)| {
            let state = format!("{:<10}", info.statename);
            let state = match (color, state_color(&info.statename)) {
                (true, Some(code)) => format!(
                    "\x1b[{code}m{}\x1b[0m{}",
                    info.statename,
                    &state[info.statename.len()..]
                ),
                _ => state,
            };
            format!("{name:<width$}{state}{}", info.description)
        })
        .collect()
}

/// ANSI colour per state: green running, yellow in transition, red for
/// the states that need a look.
fn state_color(statename: &str) -> Option<&'static str> {
    match statename {
        "RUNNING" => Some("32"),
        "STARTING" | "STOPPING" | "BACKOFF" => Some("33"),
        "FATAL" | "EXITED" | "UNKNOWN" => Some("31"),
        _ => None,
    }
}

/// `status --json`: an array of the process infos, one object each, with
/// the namespec added.
pub fn status_json(infos: &[&ProcessInfo]) -> String {
    let mut out = String::from("[");
    for (n, i) in infos.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str("\n  {");
        let fields: [(&str, Json<'_>); 15] = [
            ("namespec", Json::Str(&i.namespec())),
            ("name", Json::Str(&i.name)),
            ("group", Json::Str(&i.group)),
            ("state", Json::Int(i.state)),
            ("statename", Json::Str(&i.statename)),
            ("description", Json::Str(&i.description)),
            ("pid", Json::Int(i.pid)),
            ("start", Json::Int(i.start)),
            ("stop", Json::Int(i.stop)),
            ("now", Json::Int(i.now)),
            ("exitstatus", Json::Int(i.exitstatus)),
            ("spawnerr", Json::Str(&i.spawnerr)),
            ("logfile", Json::Str(&i.logfile)),
            ("stdout_logfile", Json::Str(&i.stdout_logfile)),
            ("stderr_logfile", Json::Str(&i.stderr_logfile)),
        ];
        for (k, (key, value)) in fields.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            json_string(&mut out, key);
            out.push_str(": ");
            match value {
                Json::Str(s) => json_string(&mut out, s),
                Json::Int(v) => out.push_str(&v.to_string()),
            }
        }
        out.push('}');
    }
    if !infos.is_empty() {
        out.push('\n');
    }
    out.push(']');
    out
}

enum Json<'a> {
    Str(&'a str),
    Int(i64),
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What `update` would do, per process, without doing it: for removed
/// groups every process goes, for changed groups the old processes stop
/// and the new ones start as configured, for added groups the new
/// processes appear (and start when autostart is set).
pub fn update_plan(
    changes: &ConfigChanges,
    running: &[ProcessInfo],
    configs: &[ConfigInfo],
    selected: &dyn Fn(&String) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let old_of =
        |g: &str| -> Vec<&ProcessInfo> { running.iter().filter(|i| i.group == g).collect() };
    let new_of =
        |g: &str| -> Vec<&ConfigInfo> { configs.iter().filter(|c| c.group == g).collect() };
    for g in changes.removed.iter().filter(|g| selected(g)) {
        lines.push(format!("{g}: would be removed"));
        for p in old_of(g) {
            let what = if p.is_active() {
                "stop and remove"
            } else {
                "remove"
            };
            lines.push(format!("  {}: {what}", p.namespec()));
        }
    }
    for g in changes.changed.iter().filter(|g| selected(g)) {
        lines.push(format!("{g}: would be updated"));
        let mut names: Vec<&str> = old_of(g).into_iter().map(|p| p.name.as_str()).collect();
        for c in new_of(g) {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
        names.sort_unstable();
        for name in names {
            let old = old_of(g).into_iter().find(|p| p.name == name);
            let new = new_of(g).into_iter().find(|c| c.name == name);
            let was_active = old.is_some_and(|p| p.is_active());
            let what = match (old, new) {
                (Some(_), None) if was_active => "stop and remove",
                (Some(_), None) => "remove",
                (_, Some(c)) if c.autostart && was_active => "restart",
                (_, Some(c)) if c.autostart => "start",
                (_, Some(_)) if was_active => "stop",
                (Some(_), Some(_)) => "reload its settings (stays stopped)",
                (None, Some(_)) => "add (stays stopped)",
                (None, None) => continue,
            };
            lines.push(format!("  {}: {what}", make_namespec(g, name)));
        }
    }
    for g in changes.added.iter().filter(|g| selected(g)) {
        lines.push(format!("{g}: would be added"));
        for c in new_of(g) {
            let what = if c.autostart {
                "start"
            } else {
                "add (stays stopped)"
            };
            lines.push(format!("  {}: {what}", make_namespec(g, &c.name)));
        }
    }
    lines
}

/// Print `question` and read one line of stdin; `None` at end of input.
fn read_answer(question: &str) -> Option<String> {
    let mut stdout = io::stdout();
    let _ = stdout.write_all(question.as_bytes());
    let _ = stdout.flush();
    stream::read_stdin_line().map(|l| l.trim_end_matches('\r').to_string())
}

/// Like [`read_answer`] with echo off when stdin is a terminal.
fn read_password(question: &str) -> Option<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = io::stdin();
    let saved = tcgetattr(&stdin).ok();
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    }
    let answer = read_answer(question);
    if let Some(saved) = &saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, saved);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str, state: i64, statename: &str, desc: &str) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            group: group.into(),
            state,
            statename: statename.into(),
            description: desc.into(),
            pid: 0,
            start: 0,
            stop: 0,
            now: 0,
            exitstatus: 0,
            spawnerr: String::new(),
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
        }
    }

    #[test]
    fn lines_parse_like_pythons_cmd() {
        assert_eq!(
            parse_line("  status  a b "),
            Some(("status".into(), "a b".into()))
        );
        assert_eq!(parse_line("?start"), Some(("help".into(), "start".into())));
        assert_eq!(
            parse_line("status--json"),
            Some(("status".into(), "--json".into()))
        );
        assert_eq!(parse_line("!ls"), Some(("".into(), "!ls".into())));
        assert_eq!(parse_line("   "), None);
    }

    #[test]
    fn tail_sizes_follow_pythons_int() {
        assert_eq!(parse_python_int("100"), Some(100));
        assert_eq!(parse_python_int("1_000"), Some(1000));
        assert_eq!(parse_python_int("x"), None);
        assert_eq!(parse_python_int("_1"), None);
        assert_eq!(parse_python_int(""), None);
    }

    #[test]
    fn status_table_pads_like_the_reference() {
        let a = info("sleeper", "sleeper", 20, "RUNNING", "pid 1, uptime 0:00:01");
        let b = info("grp", "ga", 0, "STOPPED", "");
        let lines = status_lines(&[&a, &b], false);
        assert_eq!(
            lines[0],
            format!(
                "{:<33}{:<10}{}",
                "sleeper", "RUNNING", "pid 1, uptime 0:00:01"
            )
        );
        assert_eq!(lines[1], format!("{:<33}{:<10}", "grp:ga", "STOPPED"));
        let long = info("g", &"x".repeat(40), 0, "STOPPED", "");
        assert!(
            status_lines(&[&long], false)[0]
                .starts_with(&format!("g:{}   STOPPED", "x".repeat(40)))
        );
        let coloured = status_lines(&[&a], true);
        assert!(coloured[0].contains("\x1b[32mRUNNING\x1b[0m   pid 1"));
    }

    #[test]
    fn json_status_escapes_and_lists_every_field() {
        let a = info("g", "p\"q", 20, "RUNNING", "a\nb");
        let doc = status_json(&[&a]);
        assert!(doc.contains(r#""namespec": "g:p\"q""#), "{doc}");
        assert!(doc.contains(r#""description": "a\nb""#), "{doc}");
        assert!(doc.contains(r#""state": 20"#), "{doc}");
        assert_eq!(status_json(&[]), "[]");
    }

    #[test]
    fn update_plan_names_what_happens_to_each_process() {
        let changes = ConfigChanges {
            added: vec!["new".into()],
            changed: vec!["chg".into()],
            removed: vec!["old".into()],
        };
        let running = vec![
            info("old", "old", 20, "RUNNING", ""),
            info("chg", "a", 20, "RUNNING", ""),
            info("chg", "b", 0, "STOPPED", ""),
        ];
        let cfg = |g: &str, n: &str, auto: bool| ConfigInfo {
            name: n.into(),
            group: g.into(),
            inuse: false,
            autostart: auto,
            group_prio: 999,
            process_prio: 999,
        };
        let configs = vec![
            cfg("chg", "a", true),
            cfg("chg", "c", false),
            cfg("new", "new", true),
        ];
        let plan = update_plan(&changes, &running, &configs, &|_| true);
        assert_eq!(
            plan,
            [
                "old: would be removed",
                "  old: stop and remove",
                "chg: would be updated",
                "  chg:a: restart",
                "  chg:b: remove",
                "  chg:c: add (stays stopped)",
                "new: would be added",
                "  new: start",
            ]
        );
    }
}
