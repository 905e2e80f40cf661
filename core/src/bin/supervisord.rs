//! supervisord: parse the command line, then run (each life of the daemon
//! loads and checks the whole configuration again, see
//! [`startup`]), or only check the configuration with `--test-config`. The one place that turns errors into exit
//! codes: usage and config errors print `Error: ...` and
//! `For help, use <argv0> -h` on stderr and exit 2, as the reference does.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use supervisor::config;
use supervisor::daemon::args::{self, Action};
use supervisor::daemon::startup;

/// The daemon's one use of libm: tokio's multi-thread scheduler calls
/// `f64::powf` for its average poll time. Defined here from the libm crate
/// (the algorithm glibc's `pow` has used since 2.28), the binary does not
/// need libm.so, whose pages would stay resident (about 0.5 MB of an idle
/// daemon's 6.5). An executable does not export it: plugins that call
/// `pow` still get libm's.
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

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
    // Matched whole, before getopt: as a long option it would make `--h`
    // (the reference's prefix of --help) ambiguous.
    if rest == ["--hash-password"] {
        return hash_password(argv0);
    }
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
    if daemon_args.strict && !daemon_args.test_config {
        return usage_exit(
            argv0,
            &["--strict is an option of --test-config".to_string()],
        );
    }
    if daemon_args.test_config {
        let checked =
            startup::load(&daemon_args, Path::new(argv0)).and_then(|(loaded, options)| {
                startup::check_plugins(&loaded, &options).map(|()| loaded)
            });
        return match checked {
            Ok(loaded) => {
                print!("{}", config::summary(&loaded));
                if daemon_args.strict && !loaded.unknown.is_empty() {
                    eprintln!(
                        "Error: {} unknown section(s) or option(s) (listed above as warn:), \
                         refused by --strict",
                        loaded.unknown.len()
                    );
                    return ExitCode::from(2);
                }
                println!("The configuration is valid.");
                ExitCode::SUCCESS
            }
            Err(error) => exit_for(argv0, error),
        };
    }
    match startup::run(&daemon_args, Path::new(argv0)) {
        Ok(status) => ExitCode::from(status),
        Err(error) => exit_for(argv0, error),
    }
}

fn exit_for(argv0: &str, error: startup::StartError) -> ExitCode {
    match error {
        startup::StartError::Usage(lines) => usage_exit(argv0, &lines),
        startup::StartError::Fatal(text) => {
            eprintln!("Error: {text}");
            ExitCode::from(1)
        }
    }
}

/// `supervisord --hash-password`: read a password (without echo from a
/// terminal, else the first line of stdin) and print its argon2id PHC
/// string for a `password =` option.
fn hash_password(argv0: &str) -> ExitCode {
    let password = match read_password() {
        Ok(password) => password,
        Err(why) => return usage_exit(argv0, &[why]),
    };
    if password.is_empty() {
        return usage_exit(argv0, &["the password is empty".to_string()]);
    }
    match supervisor::http::hash_password(&password) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(why) => usage_exit(argv0, &[format!("cannot hash the password: {why}")]),
    }
}

fn read_password() -> Result<String, String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let terminal = tcgetattr(&stdin).ok();
    if let Some(original) = &terminal {
        let mut quiet = original.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        eprint!("Password: ");
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet)
            .map_err(|e| format!("cannot turn echo off: {e}"))?;
    }
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if let Some(original) = &terminal {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, original);
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
