//! supervisorctl's command line (`ClientOptions` in the reference), parsed
//! with Python getopt rules, and the merge of command line, config file
//! and defaults into the settings a session uses. It reads no file itself:
//! the config layer hands it a [`CtlConfig`] value.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cli::{GetoptError, OptSpec, getopt};
use crate::config::ctl::{CtlConfig, DEFAULT_SERVERURL};
use crate::config::types::is_url;
use crate::pyrepr::py_repr;

const HELP: usize = 0;
const QUESTION: usize = 1;
const CONFIG: usize = 2;
const INTERACTIVE: usize = 3;
const SERVERURL: usize = 4;
const USERNAME: usize = 5;
const PASSWORD: usize = 6;
const HISTORY: usize = 7;

/// Every option the reference accepts, in its order. The long name is
/// `history_file` (the reference's usage text says `history-file`, which
/// it rejects; so do we).
const SPECS: &[OptSpec] = &[
    OptSpec::flag(Some('h'), Some("help")),
    OptSpec::flag(Some('?'), None),
    OptSpec::value(Some('c'), Some("configuration")),
    OptSpec::flag(Some('i'), Some("interactive")),
    OptSpec::value(Some('s'), Some("serverurl")),
    OptSpec::value(Some('u'), Some("username")),
    OptSpec::value(Some('p'), Some("password")),
    OptSpec::value(Some('r'), Some("history_file")),
];

/// What the command line said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// `-c FILE`.
    pub config_file: Option<PathBuf>,
    /// `-i`.
    pub interactive: bool,
    /// The server URL.
    pub serverurl: Option<String>,
    /// Basic auth user name.
    pub username: Option<String>,
    /// Basic auth password.
    pub password: Option<String>,
    /// Where the shell keeps its history.
    pub history_file: Option<PathBuf>,
    /// The action and its arguments, if any.
    pub args: Vec<String>,
}

/// What parsing decided instead of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// `-h`: print the usage text and exit 0.
    Help,
    /// A usage error: `Error: <msg>` and the hint on stderr, exit 2.
    Usage(String),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Help => f.write_str("help requested"),
            Exit::Usage(m) => f.write_str(m),
        }
    }
}

impl From<GetoptError> for Exit {
    fn from(e: GetoptError) -> Self {
        Exit::Usage(e.to_string())
    }
}

/// Parse the arguments (without the program name). Options are handled in
/// the order given, as the reference does, so `-s bad -h` is an error and
/// `-h -s bad` is help.
pub fn parse(args: &[String]) -> Result<CommandLine, Exit> {
    let (found, rest) = getopt(SPECS, args)?;
    let mut line = CommandLine {
        args: rest,
        ..CommandLine::default()
    };
    let conflict = |spelled: &str| {
        Exit::Usage(format!(
            "conflicting command line option {}",
            py_repr(spelled)
        ))
    };
    for opt in found {
        let value = opt.value.clone().unwrap_or_default();
        match opt.spec {
            HELP | QUESTION => return Err(Exit::Help),
            CONFIG => {
                if line.config_file.replace(PathBuf::from(&value)).is_some() {
                    return Err(conflict(&opt.spelled));
                }
            }
            INTERACTIVE => {
                if std::mem::replace(&mut line.interactive, true) {
                    return Err(conflict(&opt.spelled));
                }
            }
            SERVERURL => {
                if !is_url(&value) {
                    return Err(Exit::Usage(format!(
                        "invalid value for {} {}: value {} is not a URL",
                        opt.spelled,
                        py_repr(&value),
                        py_repr(&value)
                    )));
                }
                if line.serverurl.replace(value).is_some() {
                    return Err(conflict(&opt.spelled));
                }
            }
            USERNAME => {
                if line.username.replace(value).is_some() {
                    return Err(conflict(&opt.spelled));
                }
            }
            PASSWORD => {
                if line.password.replace(value).is_some() {
                    return Err(conflict(&opt.spelled));
                }
            }
            HISTORY => {
                if line.history_file.replace(PathBuf::from(&value)).is_some() {
                    return Err(conflict(&opt.spelled));
                }
            }
            _ => unreachable!("getopt only returns indexes into SPECS"),
        }
    }
    Ok(line)
}

/// Everything a session needs, after merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The server URL.
    pub serverurl: String,
    /// Basic auth user name.
    pub username: Option<String>,
    /// Basic auth password.
    pub password: Option<String>,
    /// The shell prompt, before `> `.
    pub prompt: String,
    /// Where the shell keeps its history.
    pub history_file: Option<PathBuf>,
    /// True with `-i` or when no action was given.
    pub interactive: bool,
    /// The action and its arguments (empty for the shell).
    pub args: Vec<String>,
    /// One-line warnings about the config file.
    pub warnings: Vec<String>,
    /// The `[ctlplugin:x]` sections with a native twin (factory, keys).
    pub plugins: Vec<crate::config::ctl::CtlPlugin>,
    /// How an `https://` server is trusted.
    pub tls: crate::config::ctl::ClientTls,
}

/// Command line over config file over defaults. `file` is the config
/// read from `-c` or found by the search, if any.
pub fn merge(line: CommandLine, file: Option<CtlConfig>) -> Settings {
    let file = file.unwrap_or_default();
    let interactive = line.interactive || line.args.is_empty();
    Settings {
        serverurl: line.serverurl.unwrap_or(file.serverurl),
        username: line.username.or(file.username),
        password: line.password.or(file.password),
        prompt: file.prompt,
        history_file: line.history_file.or(file.history_file),
        interactive,
        args: line.args,
        warnings: file.warnings,
        plugins: file.plugins,
        tls: file.tls,
    }
}

/// The usage text of `-h`, in our words; `%s` is the program name.
pub fn usage_text(progname: &Path) -> String {
    format!(
        "supervisorctl: control the programs a supervisord runs, from the command line.\n\
         \n\
         Usage: {prog} [options] [action [arguments]]\n\
         \n\
         Options:\n\
         -c/--configuration FILENAME -- read this config file (else the usual places are searched)\n\
         -h/--help -- show this text and exit\n\
         -i/--interactive -- with no action: open the shell (the default)\n\
         -s/--serverurl URL -- where supervisord listens\n\
         \x20    (default \"{DEFAULT_SERVERURL}\"; unix:///path for a UNIX socket).\n\
         -u/--username USERNAME -- user name for the server's authentication\n\
         -p/--password PASSWORD -- password for the server's authentication\n\
         -r/--history_file FILENAME -- keep the shell's command history in this file\n\
         \n\
         action [arguments] -- a command such as \"status\" or \"tail\", run once;\n\
         without one, an interactive shell starts. In the shell, \"help\" lists\n\
         the commands and \"help <command>\" explains one.\n",
        prog = progname.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ctl::DEFAULT_PROMPT;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_stop_at_the_action() {
        let line = parse(&args(&["-s", "unix:///x", "tail", "-f", "p"])).unwrap();
        assert_eq!(line.serverurl.as_deref(), Some("unix:///x"));
        assert_eq!(line.args, args(&["tail", "-f", "p"]));
    }

    #[test]
    fn usage_errors_use_the_reference_wording() {
        assert_eq!(
            parse(&args(&["-s", "foo"])),
            Err(Exit::Usage(
                "invalid value for -s 'foo': value 'foo' is not a URL".into()
            ))
        );
        assert_eq!(
            parse(&args(&["-s", "http://a", "--serverurl=http://b"])),
            Err(Exit::Usage(
                "conflicting command line option '--serverurl'".into()
            ))
        );
        assert_eq!(
            parse(&args(&["--history-file=x"])),
            Err(Exit::Usage("option --history-file not recognized".into()))
        );
        assert_eq!(
            parse(&args(&["-Z"])),
            Err(Exit::Usage("option -Z not recognized".into()))
        );
        assert_eq!(parse(&args(&["-?"])), Err(Exit::Help));
        assert_eq!(
            parse(&args(&["--hist=f", "status"])).unwrap().history_file,
            Some("f".into())
        );
    }

    #[test]
    fn command_line_beats_file_beats_defaults() {
        let line = parse(&args(&["-u", "cli", "status"])).unwrap();
        let file = CtlConfig {
            serverurl: "unix:///f.sock".into(),
            username: Some("file".into()),
            password: Some("pw".into()),
            prompt: "mine".into(),
            history_file: None,
            warnings: vec![],
            plugins: vec![],
            tls: Default::default(),
        };
        let s = merge(line, Some(file));
        assert_eq!(s.serverurl, "unix:///f.sock");
        assert_eq!(s.username.as_deref(), Some("cli"));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.prompt, "mine");
        assert!(!s.interactive);
        let s = merge(parse(&[]).unwrap(), None);
        assert_eq!(s.serverurl, DEFAULT_SERVERURL);
        assert_eq!(s.prompt, DEFAULT_PROMPT);
        assert!(s.interactive);
    }
}
