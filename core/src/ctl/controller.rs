//! The controller: where supervisorctl talks to (the connection settings
//! and the keep-alive session), what it has printed (the buffered stdout)
//! and how it will exit (the exit status, "last writer wins" as in the
//! reference), with the plumbing every command shares: calls, the API
//! version check, fault-to-exit-status mapping, confirmations and the
//! credentials prompt.
//!
//! It knows no command by name: the table in `actions` runs the commands
//! of `commands` against it. It never reads a config file or the command
//! line (that is `options`) and never owns the line editor (that is
//! `shell`).

use std::io::{self, IsTerminal, Write};
use std::panic::Location;

use dxr::Value;

use super::api::{self, API_VERSION, ProcessInfo, fault};
use super::stream::{self, SigintWatch};
use super::transport::{self, CallError, Endpoint, Session};
use super::xml;

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
    /// How an `https://` server is trusted.
    pub tls: crate::config::ctl::ClientTls,
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

impl CmdError {
    /// A 401: the caller asks for credentials (or fails, one-shot).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.error, CallError::Http { status: 401, .. })
    }
}

/// How a command ended when no call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; read the next command.
    Done,
    /// Its arguments were wrong and it said so: its usage follows, as the
    /// reference prints `help_<action>` last.
    ShowUsage,
    /// Leave the shell.
    Quit,
}

/// What every command returns.
pub type CmdResult = Result<Outcome, CmdError>;

/// Runs commands against one server.
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
    /// The `[ctlplugin:x]` sections with a native twin (factory, keys),
    /// which `ctlplugins` reads.
    pub plugins: Vec<crate::config::ctl::CtlPlugin>,
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
            plugins: Vec::new(),
        })
    }

    /// Where and as whom the controller connects now.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Talk to `connection` from now on (a new session).
    pub fn set_connection(&mut self, connection: Connection) {
        self.session = Session::new(endpoint_of(&connection));
        self.connection = connection;
    }

    /// Whether the status table is coloured (stdout is a terminal that
    /// wants colour).
    pub fn color(&self) -> bool {
        self.color
    }

    /// A fresh start for the next command line: a new connection if the
    /// last one broke, and process names fetched again for completion.
    pub fn begin_command(&mut self) {
        self.completion_cache = None;
        self.session.reset();
    }

    /// Drop the connection, for the retry after a 401.
    pub fn reset_session(&mut self) {
        self.session.reset();
    }

    /// One line of output.
    pub fn output(&mut self, line: &str) {
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.write_all(b"\n");
    }

    /// Text as it is (it carries its own newlines).
    pub fn write_raw(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Push buffered output out: before prompts, streams and at the end.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// One RPC. In the shell a Ctrl-C during it ends the shell, as the
    /// reference's does; one-shot, Ctrl-C keeps its default meaning.
    pub fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, CallError> {
        let body = self.call_raw(method, params)?;
        transport::parse_response(&body)
    }

    /// `supervisor.getAllProcessInfo` read straight into rows while it
    /// arrives (the status table of thousands of programs is mostly
    /// this); an answer outside the fast reader's subset, a fault
    /// included, reads as [`call`]'s.
    ///
    /// [`call`]: Controller::call
    pub fn all_process_info(&mut self) -> Result<Vec<ProcessInfo>, CallError> {
        self.process_infos(xml::ProcessInfoStream::default())
    }

    /// [`all_process_info`](Controller::all_process_info) for the status
    /// table: the texts it does not show (log file paths, the spawn
    /// error) may be left empty.
    pub fn process_table_rows(&mut self) -> Result<Vec<ProcessInfo>, CallError> {
        self.process_infos(xml::ProcessInfoStream::table_only())
    }

    fn process_infos(
        &mut self,
        mut rows: xml::ProcessInfoStream,
    ) -> Result<Vec<ProcessInfo>, CallError> {
        const METHOD: &str = "supervisor.getAllProcessInfo";
        self.interruptible(async |session| session.call_streamed(METHOD, vec![], &mut rows).await)?;
        let value = match rows.finish() {
            xml::Rows::Read(infos) => return Ok(infos),
            xml::Rows::Unread(body) => transport::parse_response(&body)?,
            xml::Rows::Again => self.call(METHOD, vec![])?,
        };
        Ok(ProcessInfo::list(&value))
    }

    /// [`call`](Controller::call) up to the answer's body, unread.
    fn call_raw(&mut self, method: &str, params: Vec<Value>) -> Result<Vec<u8>, CallError> {
        self.interruptible(async |session| session.call_raw(method, params).await)
    }

    /// Run one call's `work` on the runtime. In the shell a Ctrl-C during
    /// it ends the shell, as the reference's does (its KeyboardInterrupt
    /// leaves the command loop); one-shot, Ctrl-C keeps its default
    /// meaning.
    fn interruptible<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut Session) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let Controller {
            rt,
            session,
            interactive,
            ..
        } = self;
        if !*interactive {
            return rt.block_on(work(session));
        }
        rt.block_on(async {
            match SigintWatch::install() {
                Ok(watch) => tokio::select! {
                    result = work(session) => result,
                    () = watch.interrupted() => Err(CallError::Interrupted),
                },
                Err(_) => work(session).await,
            }
        })
    }

    /// Run `work` to its end on the runtime with the session lent to it,
    /// for a command that makes its own calls while it streams (`fg`).
    pub fn with_session<T>(&mut self, work: impl AsyncFnOnce(&mut Session) -> T) -> T {
        let Controller { rt, session, .. } = self;
        rt.block_on(work(session))
    }

    /// Where the session connects, for streams of their own.
    pub fn endpoint(&self) -> Endpoint {
        self.session.endpoint().clone()
    }

    /// Stream `path` to stdout until the server ends it or Ctrl-C.
    pub fn follow(&mut self, path: &str) {
        self.output("==> Press Ctrl-C to exit <==");
        self.flush();
        let endpoint = self.endpoint();
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

    /// The reference's line for a command that failed unexpectedly.
    pub fn report(&mut self, e: &CmdError) {
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

    /// The exit status for a fault in a result: SUCCESS and the command's
    /// ignorable fault leave it alone, dead-program faults give 7.
    pub fn set_exitstatus_from_fault(&mut self, code: i32, ignored: Option<i32>) {
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
    pub fn upcheck(&mut self) -> Result<bool, CmdError> {
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

    /// A call that failed while the daemon may be going down: the reference
    /// prints `message` for SHUTDOWN_STATE and raises anything else; either
    /// way the command fails.
    pub fn fail_unless_shutting_down(&mut self, error: CallError, message: &str) -> CmdResult {
        self.exitstatus = exit::GENERIC;
        if error.fault_code() == Some(fault::SHUTDOWN_STATE) {
            self.output(message);
            Ok(Outcome::Done)
        } else {
            Err(error.into())
        }
    }

    /// The reference's answer to arguments given to a command that takes
    /// none: an error line and a failing exit status (the command's usage
    /// follows). True when `arg` was refused.
    pub fn refuse_arguments(&mut self, command: &str, arg: &str) -> bool {
        if arg.trim().is_empty() {
            return false;
        }
        self.output(&format!("Error: {command} accepts no arguments"));
        self.exitstatus = exit::GENERIC;
        true
    }

    /// The reference's `y/N` question; always yes one-shot.
    pub fn confirm(&mut self, question: &str) -> bool {
        if !self.interactive {
            return true;
        }
        self.flush();
        read_answer(question).is_some_and(|a| a.trim_start().to_lowercase().starts_with('y'))
    }

    /// The reference's answer to a 401 in the shell: ask, remember, retry.
    pub fn ask_credentials(&mut self) -> bool {
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
            tls: self.connection.tls.clone(),
        };
        self.set_connection(connection);
        true
    }

    /// Process infos for completion, fetched once per command at most.
    pub fn completion_infos(&mut self) -> &[ProcessInfo] {
        if self.completion_cache.is_none() {
            let infos = self.all_process_info().unwrap_or_default();
            self.completion_cache = Some(infos);
        }
        self.completion_cache.as_deref().unwrap_or(&[])
    }
}

/// A string parameter.
pub fn param(text: &str) -> Value {
    Value::String(text.to_string())
}

fn endpoint_of(c: &Connection) -> Endpoint {
    Endpoint::new(&c.serverurl, c.username.as_deref(), c.password.as_deref())
        .with_tls(c.tls.clone())
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
