//! supervisord's command line: every option of the reference, parsed with
//! Python getopt rules ([`crate::cli`]), with its usage errors and their
//! exact wording (`option -Z not recognized`, `conflicting command line
//! option '-n'`, `invalid value for -e 'bogus': ...`), which scripts and
//! tests match, and our own `--test-config`. Values given here override
//! the config file ([`DaemonArgs::apply`]). This module does not read the
//! config file and exits nothing: the binary decides.

use std::path::{Path, PathBuf};

use crate::cli::{GetoptError, OptSpec, getopt};
use crate::config::types::{self, BadValue, LogLevel};
use crate::config::{Config, MainLog};
use crate::pyrepr::py_repr;

/// The options, in the reference's order (`--test-config` is ours; no
/// existing long option starts with `t`, so no prefix users type changes
/// meaning).
const SPECS: &[OptSpec] = &[
    OptSpec::flag(Some('h'), Some("help")),
    OptSpec::flag(Some('?'), None),
    OptSpec::value(Some('c'), Some("configuration")),
    OptSpec::flag(Some('v'), Some("version")),
    OptSpec::flag(Some('n'), Some("nodaemon")),
    OptSpec::value(Some('u'), Some("user")),
    OptSpec::value(Some('m'), Some("umask")),
    OptSpec::value(Some('d'), Some("directory")),
    OptSpec::value(Some('l'), Some("logfile")),
    OptSpec::value(Some('y'), Some("logfile_maxbytes")),
    OptSpec::value(Some('z'), Some("logfile_backups")),
    OptSpec::value(Some('e'), Some("loglevel")),
    OptSpec::value(Some('j'), Some("pidfile")),
    OptSpec::value(Some('i'), Some("identifier")),
    OptSpec::value(Some('q'), Some("childlogdir")),
    OptSpec::value(Some('a'), Some("minfds")),
    OptSpec::value(None, Some("minprocs")),
    OptSpec::flag(Some('k'), Some("nocleanup")),
    OptSpec::flag(Some('t'), Some("strip_ansi")),
    OptSpec::value(None, Some("profile_options")),
    OptSpec::flag(Some('s'), Some("silent")),
    OptSpec::flag(None, Some("test-config")),
    // Only as typed in full: `--st`/`--str` keep meaning --strip_ansi.
    OptSpec::exact_flag("strict"),
];

/// Our help text (`-h`); `{prog}` is replaced by the program name.
const HELP: &str = "\
{prog}: start the process supervisor (a drop-in Supervisor 4.3.0)

Usage: {prog} [options]

Options (a value given here wins over the config file):
  -c/--configuration FILE   config file to read (default: the first of
                            <prefix>/etc/supervisord.conf, <prefix>/supervisord.conf,
                            ./supervisord.conf, ./etc/supervisord.conf,
                            /etc/supervisord.conf, /etc/supervisor/supervisord.conf)
  -n/--nodaemon             stay in the foreground
  -s/--silent               in the foreground, do not copy the log to stdout
  -u/--user USER            switch to this user (name or uid) after start-up
  -m/--umask UMASK          octal umask of the daemon and its children (022)
  -d/--directory DIR        directory to change to when daemonizing
  -l/--logfile FILE         main log file, or 'syslog'
  -y/--logfile_maxbytes N   rotate the main log at this size (KB, MB, GB; 0: never)
  -z/--logfile_backups N    rotated main logs to keep
  -e/--loglevel LEVEL       critical, error, warn, info, debug, trace or blather
  -j/--pidfile FILE         where to write the daemon's pid
  -i/--identifier NAME      name of this supervisor instance (for the API)
  -q/--childlogdir DIR      directory for AUTO child log files
  -k/--nocleanup            keep old AUTO child logs at start-up
  -a/--minfds N             open files needed to start (raises the limit if it can)
  --minprocs N              processes needed to start (raises the limit if it can)
  -t/--strip_ansi           remove ANSI escapes from child output
  --profile_options LIST    accepted for compatibility; ignored
  --test-config             load and check the config, print what would run, exit
                            (0: valid, 2: errors); it also lists unknown sections
                            and options, with the nearest known name
  --strict                  with --test-config: exit 2 when there is any unknown
                            section or option
  --hash-password           read a password (no echo; or stdin's first line) and
                            print its argon2id hash for a password = option
  -v/--version              print the version and exit
  -h/--help                 print this help and exit
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Print the help text and exit 0.
    Help,
    /// Print the version and exit 0.
    Version,
    /// Load the config and run (or only check it).
    Run(Box<DaemonArgs>),
}

/// The options given on the command line; `None`/`false` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonArgs {
    /// `-c`.
    pub configuration: Option<PathBuf>,
    /// `-n`.
    pub nodaemon: bool,
    /// `-s`.
    pub silent: bool,
    /// `-u` (checked when the config loads, as in the reference).
    pub user: Option<String>,
    /// `-m`.
    pub umask: Option<u32>,
    /// `-d`.
    pub directory: Option<PathBuf>,
    /// `-l` (as given; `syslog` kept).
    pub logfile: Option<String>,
    /// `-y`.
    pub logfile_maxbytes: Option<u64>,
    /// `-z`.
    pub logfile_backups: Option<i64>,
    /// `-e`.
    pub loglevel: Option<LogLevel>,
    /// `-j`.
    pub pidfile: Option<PathBuf>,
    /// `-i`.
    pub identifier: Option<String>,
    /// `-q`.
    pub childlogdir: Option<PathBuf>,
    /// `-k`.
    pub nocleanup: bool,
    /// `-a`.
    pub minfds: Option<i64>,
    /// `--minprocs`.
    pub minprocs: Option<i64>,
    /// `-t`.
    pub strip_ansi: bool,
    /// `--profile_options` (accepted, ignored).
    pub profile_options: Option<String>,
    /// `--test-config`.
    pub test_config: bool,
    /// `--strict` (with `--test-config`).
    pub strict: bool,
}

/// A usage error; the binary prints `Error: <this>` and
/// `For help, use <argv0> -h`, and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl From<GetoptError> for UsageError {
    fn from(e: GetoptError) -> Self {
        UsageError(e.to_string())
    }
}

/// The help text for `prog`.
pub fn help_text(prog: &str) -> String {
    HELP.replace("{prog}", prog)
}

/// Parse supervisord's arguments (without the program name), the way the
/// reference's `Options.realize` does: getopt errors first, then
/// positional arguments, then each option in order (so `-h` after a bad
/// value reports the bad value).
pub fn parse_args(args: &[String]) -> Result<Action, UsageError> {
    let (found, rest) = getopt(SPECS, args)?;
    if !rest.is_empty() {
        let list: Vec<String> = rest.iter().map(|a| py_repr(a)).collect();
        return Err(UsageError(format!(
            "positional arguments are not supported: [{}]",
            list.join(", ")
        )));
    }
    let mut a = DaemonArgs::default();
    for opt in found {
        let spec = SPECS[opt.spec];
        let value = opt.value.clone().unwrap_or_default();
        let invalid = |e: BadValue| {
            UsageError(format!(
                "invalid value for {} {}: {}",
                opt.spelled,
                py_repr(&value),
                e.python
            ))
        };
        let conflict = || {
            UsageError(format!(
                "conflicting command line option {}",
                py_repr(&opt.spelled)
            ))
        };
        macro_rules! once {
            ($field:expr, $val:expr) => {{
                if $field.is_some() {
                    return Err(conflict());
                }
                $field = Some($val);
            }};
        }
        macro_rules! flag {
            ($field:expr) => {{
                if $field {
                    return Err(conflict());
                }
                $field = true;
            }};
        }
        match (spec.short, spec.long) {
            (Some('h'), _) | (Some('?'), _) => return Ok(Action::Help),
            (Some('v'), _) => return Ok(Action::Version),
            (Some('c'), _) => once!(a.configuration, PathBuf::from(&value)),
            (Some('n'), _) => flag!(a.nodaemon),
            (Some('s'), _) => flag!(a.silent),
            (Some('k'), _) => flag!(a.nocleanup),
            (Some('t'), _) => flag!(a.strip_ansi),
            (Some('u'), _) => once!(a.user, value.clone()),
            (Some('m'), _) => once!(a.umask, types::octal(&value).map_err(invalid)?),
            (Some('d'), _) => once!(
                a.directory,
                types::existing_directory(&value).map_err(invalid)?
            ),
            (Some('l'), _) => {
                types::existing_dirpath(&value).map_err(invalid)?;
                once!(a.logfile, value.clone())
            }
            (Some('y'), _) => once!(
                a.logfile_maxbytes,
                types::byte_size(&value).map_err(invalid)?
            ),
            (Some('z'), _) => once!(a.logfile_backups, types::integer(&value).map_err(invalid)?),
            (Some('e'), _) => once!(a.loglevel, types::log_level(&value).map_err(invalid)?),
            (Some('j'), _) => once!(a.pidfile, types::existing_dirpath(&value).map_err(invalid)?),
            (Some('i'), _) => once!(a.identifier, value.clone()),
            (Some('q'), _) => once!(
                a.childlogdir,
                types::existing_directory(&value).map_err(invalid)?
            ),
            (Some('a'), _) => once!(a.minfds, types::integer(&value).map_err(invalid)?),
            (None, Some("minprocs")) => once!(a.minprocs, types::integer(&value).map_err(invalid)?),
            (None, Some("profile_options")) => once!(a.profile_options, value.clone()),
            (None, Some("test-config")) => flag!(a.test_config),
            (None, Some("strict")) => flag!(a.strict),
            _ => unreachable!("every entry of SPECS has an arm above"),
        }
    }
    Ok(Action::Run(Box::new(a)))
}

impl DaemonArgs {
    /// Put the command-line values over the file's, as the reference does
    /// (priority 2 over 0). `user` is applied by the loader, which checks
    /// only the winning value.
    pub fn apply(&self, config: &mut Config) {
        let s = &mut config.supervisord;
        if self.nodaemon {
            s.nodaemon = true;
        }
        if self.silent {
            s.silent = true;
        }
        if self.nocleanup {
            s.nocleanup = true;
        }
        if self.strip_ansi {
            s.strip_ansi = true;
        }
        if let Some(v) = self.umask {
            s.umask = v;
        }
        if let Some(v) = &self.directory {
            s.directory = Some(v.clone());
        }
        if let Some(v) = &self.logfile {
            s.logfile = if v == "syslog" {
                MainLog::Syslog
            } else {
                MainLog::File(types::normalize_path(&types::expand_user(v)))
            };
        }
        if let Some(v) = self.logfile_maxbytes {
            s.logfile_maxbytes = v;
        }
        if let Some(v) = self.logfile_backups {
            s.logfile_backups = v;
        }
        if let Some(v) = self.loglevel {
            s.loglevel = v;
        }
        if let Some(v) = &self.pidfile {
            s.pidfile = types::normalize_path(v);
        }
        if let Some(v) = &self.identifier {
            s.identifier = v.clone();
        }
        if let Some(v) = &self.childlogdir {
            s.childlogdir = v.clone();
        }
        if let Some(v) = self.minfds {
            s.minfds = v;
        }
        if let Some(v) = self.minprocs {
            s.minprocs = v;
        }
    }
}

/// The message when no config file was found in `paths`.
pub fn no_config_found(paths: &[PathBuf]) -> UsageError {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    UsageError(format!(
        "No config file found at default paths ({}); use the -c option to specify a config \
         file at a different path",
        list.join(", ")
    ))
}

/// The warning the reference prints when root searches for its config.
pub const ROOT_SEARCH_WARNING: &str = "Supervisord is running as root and it is searching for \
its configuration file in default locations (including its current working directory); you \
probably want to specify a \"-c\" argument specifying an absolute path to a configuration file \
for improved security.";

/// The config file to read: `-c`, else the first of the search paths.
pub fn config_path(args: &DaemonArgs, argv0: &Path) -> Result<PathBuf, UsageError> {
    if let Some(path) = &args.configuration {
        return Ok(path.clone());
    }
    crate::config::find_config_file(argv0)
        .ok_or_else(|| no_config_found(&crate::config::search_paths(argv0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Action, UsageError> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn run_args(list: &[&str]) -> DaemonArgs {
        match parse(list).unwrap() {
            Action::Run(a) => *a,
            other => panic!("expected run, got {other:?}"),
        }
    }

    fn error(list: &[&str]) -> String {
        parse(list).unwrap_err().0
    }

    #[test]
    fn every_option_parses() {
        let a = run_args(&[
            "-c",
            "x.conf",
            "-n",
            "-s",
            "-u",
            "root",
            "-m",
            "027",
            "-d",
            "/tmp",
            "-l",
            "l.log",
            "-y",
            "1MB",
            "-z",
            "3",
            "-e",
            "debug",
            "-j",
            "p.pid",
            "-i",
            "id",
            "-q",
            "/tmp",
            "-k",
            "-a",
            "10",
            "--minprocs",
            "5",
            "-t",
            "--profile_options",
            "cumulative",
            "--test-config",
        ]);
        assert_eq!(a.configuration, Some(PathBuf::from("x.conf")));
        assert!(a.nodaemon && a.silent && a.nocleanup && a.strip_ansi && a.test_config);
        assert_eq!(a.umask, Some(0o27));
        assert_eq!(a.logfile_maxbytes, Some(1 << 20));
        assert_eq!(a.loglevel, Some(LogLevel::Debug));
        assert_eq!(a.minfds, Some(10));
        assert_eq!(a.minprocs, Some(5));
    }

    #[test]
    fn long_prefixes_work_and_test_config_adds_no_ambiguity() {
        assert_eq!(
            run_args(&["--config=a.conf"]).configuration,
            Some(PathBuf::from("a.conf"))
        );
        assert!(run_args(&["--nod"]).nodaemon);
        assert!(run_args(&["--test"]).test_config);
        assert!(run_args(&["--strict"]).strict);
        assert!(run_args(&["--str"]).strip_ansi);
        // Every prefix that named one option before still does.
        for long in SPECS.iter().filter_map(|s| s.long) {
            if long == "test-config" || long == "strict" {
                continue;
            }
            for end in 1..=long.len() {
                let prefix = &long[..end];
                let before: Vec<&str> = SPECS
                    .iter()
                    .filter_map(|s| s.long)
                    .filter(|l| *l != "test-config" && *l != "strict" && l.starts_with(prefix))
                    .collect();
                let after: Vec<&str> = SPECS
                    .iter()
                    .filter(|s| !s.exact_only || s.long == Some(prefix))
                    .filter_map(|s| s.long)
                    .filter(|l| l.starts_with(prefix))
                    .collect();
                assert_eq!(before, after, "prefix --{prefix}");
            }
        }
        assert_eq!(error(&["--min=3"]), "option --min not a unique prefix");
    }

    #[test]
    fn usage_errors_have_the_reference_wording() {
        assert_eq!(error(&["-Z"]), "option -Z not recognized");
        assert_eq!(error(&["-n", "-n"]), "conflicting command line option '-n'");
        assert_eq!(
            error(&["-c", "a", "--configuration", "b"]),
            "conflicting command line option '--configuration'"
        );
        assert_eq!(
            error(&["extra"]),
            "positional arguments are not supported: ['extra']"
        );
        assert_eq!(
            error(&["-e", "bogus"]),
            "invalid value for -e 'bogus': bad logging level name 'bogus'"
        );
        assert_eq!(
            error(&["-m", "99"]),
            "invalid value for -m '99': 99 can not be converted to an octal type"
        );
        assert_eq!(
            error(&["-a", "abc"]),
            "invalid value for -a 'abc': invalid literal for int() with base 10: 'abc'"
        );
        assert_eq!(
            error(&["--childlogdir", "/nonexist"]),
            "invalid value for --childlogdir '/nonexist': /nonexist is not an existing directory"
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["-h"]).unwrap(), Action::Help);
        assert_eq!(parse(&["-?"]).unwrap(), Action::Help);
        assert_eq!(parse(&["--version"]).unwrap(), Action::Version);
        // Options are handled in order: a conflict before -h wins.
        assert!(parse(&["-n", "-n", "-h"]).is_err());
        assert!(help_text("supervisord").contains("--test-config"));
    }
}
