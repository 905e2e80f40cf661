//! supervisorctl: the client transport, its commands and the interactive
//! shell, a drop-in for the reference's (same commands, output lines and
//! exit codes, because scripts and Ansible parse them).
//!
//! [`run`] is the whole program: command line ([`options`]), the config
//! file (through the config layer; this module parses none), then one
//! command line or the shell ([`shell`]). A command line names an action
//! of the table in [`actions`], which runs one of the [`commands`] against
//! the [`controller`] (connection, output, exit status). Calls go over
//! [`transport`]; `tail -f` and `fg` stream through [`stream`]. Never
//! depends on `process` or anything of the daemon: it is a client of the
//! same wire protocol any tool speaks.
//!
//! The one-shot path stays light: a current-thread runtime, no line
//! editor, one connection kept alive for the command.

#![warn(missing_docs)]

pub mod actions;
pub mod api;
pub mod commands;
pub mod controller;
pub mod ctlplugins;
pub mod help;
pub mod options;
pub mod shell;
pub mod stream;
pub mod tls;
pub mod transport;
pub mod xml;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::ctl as ctl_config;
use controller::{Connection, Controller, exit};
use options::Exit;

/// Run supervisorctl with `argv` (program name first) and return the
/// process exit status. Every error that ends the program maps to its
/// exit code here.
pub fn run(argv: Vec<OsString>) -> i32 {
    let progname = argv
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("supervisorctl"));
    let args: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let line = match options::parse(&args) {
        Ok(line) => line,
        Err(Exit::Help) => {
            print!("{}", options::usage_text(&progname));
            let _ = io::stdout().flush();
            return 0;
        }
        Err(Exit::Usage(msg)) => return usage_error(&progname, &msg),
    };
    let config_path = line.config_file.clone().or_else(|| find_config(&progname));
    let file = match config_path {
        Some(path) => match read_config(&path) {
            Ok(file) => Some(file),
            Err(msg) => return usage_error(&progname, &msg),
        },
        None => None,
    };
    let settings = options::merge(line, file);
    for warning in &settings.warnings {
        let _ = writeln!(io::stderr(), "Warning: {warning}");
    }
    let connection = Connection {
        serverurl: settings.serverurl.clone(),
        username: settings.username.clone(),
        password: settings.password.clone(),
        tls: settings.tls.clone(),
    };
    let mut controller = match Controller::new(connection, settings.interactive) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(io::stderr(), "Error: cannot start the I/O runtime: {e}");
            return exit::GENERIC;
        }
    };
    controller.plugins = settings.plugins.clone();
    if !settings.args.is_empty() {
        actions::onecmd(&mut controller, &settings.args.join(" "));
        controller.flush();
        return controller.exitstatus;
    }
    shell::run(controller, &settings.prompt, settings.history_file)
}

/// The reference's usage error: two lines on stderr, exit 2.
fn usage_error(progname: &Path, msg: &str) -> i32 {
    let _ = write!(
        io::stderr(),
        "Error: {msg}\nFor help, use {} -h\n",
        progname.display()
    );
    exit::INVALID_ARGS
}

/// The config file the search order finds (the config layer owns the
/// order, shared with supervisord).
fn find_config(progname: &Path) -> Option<PathBuf> {
    ctl_config::find_config_file(progname)
}

/// The `[supervisorctl]` settings of `path`, read by the config layer.
/// A missing file gets the reference's wording, which scripts may match.
fn read_config(path: &Path) -> Result<ctl_config::CtlConfig, String> {
    if !path.exists() {
        return Err(format!("could not find config file {}", path.display()));
    }
    ctl_config::load_ctl_config(path).map_err(|e| e.to_string())
}
