//! supervisord: parse the command line, load and check the whole
//! configuration, then run. The one place that turns errors into exit
//! codes: usage and config errors print `Error: ...` and
//! `For help, use <argv0> -h` on stderr and exit 2, as the reference does.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use supervisor::config::{self, LoadOptions};
use supervisor::daemon::args::{self, Action};
use supervisor::daemon::startup;

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| "supervisord".to_string());
    let rest: Vec<String> = argv.collect();
    run(&argv0, &rest)
}

fn usage_exit(argv0: &str, messages: &[String]) -> ExitCode {
    let mut err = std::io::stderr().lock();
    for m in messages {
        let _ = writeln!(err, "Error: {m}");
    }
    let _ = writeln!(err, "For help, use {argv0} -h");
    ExitCode::from(2)
}

fn run(argv0: &str, rest: &[String]) -> ExitCode {
    let daemon_args = match args::parse_args(rest) {
        Ok(Action::Help) => {
            print!("{}", args::help_text(argv0));
            return ExitCode::SUCCESS;
        }
        Ok(Action::Version) => {
            println!("{}", supervisor::SUPERVISOR_VERSION);
            return ExitCode::SUCCESS;
        }
        Ok(Action::Run(a)) => a,
        Err(e) => return usage_exit(argv0, &[e.0]),
    };
    if daemon_args.configuration.is_none() && nix::unistd::getuid().is_root() {
        eprintln!("{}", args::ROOT_SEARCH_WARNING);
    }
    let path = match args::config_path(&daemon_args, Path::new(argv0)) {
        Ok(p) => p,
        Err(e) => return usage_exit(argv0, &[e.0]),
    };
    let mut options = LoadOptions::from_process();
    options.cli_user = daemon_args.user.clone();
    let mut loaded = match config::load_config_with(&path, &options) {
        Ok(c) => c,
        Err(errors) => {
            let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            return usage_exit(argv0, &lines);
        }
    };
    daemon_args.apply(&mut loaded);
    if daemon_args.test_config {
        print!("{}", config::summary(&loaded));
        println!("The configuration is valid.");
        return ExitCode::SUCCESS;
    }
    match startup::run(loaded, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(startup::StartError::Usage(lines)) => usage_exit(argv0, &lines),
        Err(startup::StartError::Fatal(text)) => {
            eprintln!("Error: {text}");
            ExitCode::from(1)
        }
    }
}
