//! The value types of supervisord.conf (the reference's `datatypes.py`):
//! booleans, Python integers, byte sizes, octal modes, signals, exit-code
//! lists, log levels, `autorestart`, user and group names, directories,
//! process names and `environment` lists. Each parser accepts exactly what
//! the reference accepts. A refusal carries two texts: ours, for the
//! config-file errors, and the reference's, which the command line prints
//! (`invalid value for -e 'bogus': bad logging level name 'bogus'`).
//! Nothing here reads the config file; user and group names are looked up
//! in the system databases, as the reference does at parse time.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use super::shlex;
use crate::pyrepr::py_repr;

/// A refused value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// What was expected, in our words (the value is quoted by the caller).
    pub ours: String,
    /// The reference's message, value included.
    pub python: String,
}

impl BadValue {
    fn new(ours: impl Into<String>, python: impl Into<String>) -> Self {
        BadValue {
            ours: ours.into(),
            python: python.into(),
        }
    }
}

/// The result of a value parser.
pub type Parsed<T> = Result<T, BadValue>;

fn int_error(value: &str) -> BadValue {
    let digits = value
        .trim_matches(char::is_whitespace)
        .trim_start_matches(['-', '+']);
    let too_large = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    BadValue::new(
        if too_large {
            "too large a number (beyond 64 bits)"
        } else {
            "not an integer"
        },
        format!("invalid literal for int() with base 10: {}", py_repr(value)),
    )
}

/// Python's `int(value, base)` for bases 8 and 10: surrounding whitespace,
/// a sign, `_` between digits, and for base 8 an optional `0o` prefix.
fn py_int(value: &str, base: u32) -> Option<i64> {
    let s = value.trim_matches(char::is_whitespace);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = if base == 8 {
        digits
            .strip_prefix("0o")
            .or_else(|| digits.strip_prefix("0O"))
            .map(|rest| rest.strip_prefix('_').unwrap_or(rest))
            .unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if !clean.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    let magnitude = i64::from_str_radix(&clean, base).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `integer`: a Python int literal in base 10.
pub fn integer(value: &str) -> Parsed<i64> {
    py_int(value, 10).ok_or_else(|| int_error(value))
}

const TRUTHY: [&str; 4] = ["yes", "true", "on", "1"];
const FALSY: [&str; 4] = ["no", "false", "off", "0"];

/// `boolean`: yes/true/on/1 or no/false/off/0, any case.
pub fn boolean(value: &str) -> Parsed<bool> {
    let lower = value.to_lowercase();
    if TRUTHY.contains(&lower.as_str()) {
        Ok(true)
    } else if FALSY.contains(&lower.as_str()) {
        Ok(false)
    } else {
        Err(BadValue::new(
            "not a boolean (use true/false, yes/no, on/off or 1/0)",
            format!("not a valid boolean value: {}", py_repr(value)),
        ))
    }
}

/// `byte_size`: an integer with an optional `KB`, `MB` or `GB` suffix
/// (any case; powers of 1024).
pub fn byte_size(value: &str) -> Parsed<u64> {
    let lower = value.to_lowercase();
    let (number, multiplier) = [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)]
        .iter()
        .find_map(|(suffix, m)| lower.strip_suffix(suffix).map(|n| (n, *m)))
        .unwrap_or((lower.as_str(), 1));
    let bad = || {
        BadValue::new(
            "not a byte size (a whole number, optionally followed by KB, MB or GB)",
            format!(
                "invalid literal for int() with base 10: {}",
                py_repr(number)
            ),
        )
    };
    let n = py_int(number, 10).ok_or_else(bad)?;
    // Negative sizes parse in the reference; they behave like 0 (no limit).
    u64::try_from(n.max(0))
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(bad)
}

/// `octal_type`: a Python int in base 8 (`022`, `0o22`).
pub fn octal(value: &str) -> Parsed<u32> {
    py_int(value, 8)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            BadValue::new(
                "not an octal number (such as 022)",
                format!("{value} can not be converted to an octal type"),
            )
        })
}

/// `signal_number`: a signal name (with or without `SIG`, any case) or a
/// valid number.
pub fn signal(value: &str) -> Parsed<i32> {
    supervisor_sdk::signal::parse_signal(value).map_err(|e| {
        let ours = match e {
            supervisor_sdk::signal::SignalError::BadNumber(_) => "not a signal number",
            supervisor_sdk::signal::SignalError::BadName(_) => "not a signal name",
        };
        BadValue::new(ours, e.to_string())
    })
}

/// `list_of_exitcodes`: comma-separated integers 0..=255; empty is an
/// empty list.
pub fn exitcodes(value: &str) -> Parsed<Vec<i32>> {
    let bad = || {
        BadValue::new(
            "not a list of exit codes (comma-separated numbers from 0 to 255)",
            format!("not a valid list of exit codes: {}", py_repr(value)),
        )
    };
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|part| {
            py_int(part, 10)
                .filter(|n| (0..=255).contains(n))
                .map(|n| n as i32)
                .ok_or_else(bad)
        })
        .collect()
}

/// Python's `list_of_strings`: split on commas, strip; empty is empty.
pub fn list_of_strings(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    value
        .split(',')
        .map(|s| s.trim_matches(char::is_whitespace).to_string())
        .collect()
}

/// The reference's log levels, with its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// 3
    Blather = 3,
    /// 5
    Trace = 5,
    /// 10
    Debug = 10,
    /// 20
    Info = 20,
    /// 30
    Warn = 30,
    /// 40
    Error = 40,
    /// 50
    Critical = 50,
}

impl LogLevel {
    /// The name the reference prints (`INFO` in log lines uses upper case).
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Blather => "blather",
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// The level named by a `loglevel` value, case-insensitively as the
    /// reference reads it ([`log_level`] gives the error text for a bad
    /// one).
    pub fn from_name(name: &str) -> Option<LogLevel> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(name))
    }
}

/// `logging_level`: one of critical error warn info debug trace blather.
pub fn log_level(value: &str) -> Parsed<LogLevel> {
    LogLevel::from_name(value).ok_or_else(|| {
        BadValue::new(
            "not a log level (critical, error, warn, info, debug, trace or blather)",
            format!("bad logging level name {}", py_repr(value)),
        )
    })
}

/// When a process that exited after reaching RUNNING is restarted; the
/// process state machine uses this type as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoRestart {
    /// `autorestart=false`: never.
    Never,
    /// `autorestart=unexpected`: when the exit status is not in
    /// `exitcodes` (a signal death never is).
    Unexpected,
    /// `autorestart=true`: always.
    Always,
}

/// `auto_restart`.
pub fn autorestart(value: &str) -> Parsed<AutoRestart> {
    let lower = value.to_lowercase();
    if TRUTHY.contains(&lower.as_str()) {
        Ok(AutoRestart::Always)
    } else if FALSY.contains(&lower.as_str()) {
        Ok(AutoRestart::Never)
    } else if lower == "unexpected" {
        Ok(AutoRestart::Unexpected)
    } else {
        Err(BadValue::new(
            "not an autorestart value (true, false or unexpected)",
            format!("invalid 'autorestart' value {}", py_repr(&lower)),
        ))
    }
}

/// A system user, resolved when the config is read: the spawner needs the
/// uid, the primary gid and the supplementary groups, and must not do
/// name lookups between fork and exec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserSpec {
    /// The user's name in the password database.
    pub name: String,
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// Every group the user is in (primary included), for `setgroups`.
    pub groups: Vec<u32>,
    /// The home directory.
    pub home: PathBuf,
}

fn user_record(user: nix::unistd::User) -> UserSpec {
    let groups = CString::new(user.name.clone())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, user.gid).ok())
        .map(|list| list.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|| vec![user.gid.as_raw()]);
    UserSpec {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
        home: user.dir,
    }
}

/// `name_to_uid`: a user name, or a numeric uid that exists.
pub fn user(value: &str) -> Parsed<UserSpec> {
    if let Some(uid) = py_int(value, 10) {
        let found = u32::try_from(uid)
            .ok()
            .and_then(|uid| nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok())
            .flatten();
        return found.map(user_record).ok_or_else(|| {
            BadValue::new("no user has this id", format!("Invalid user id {value}"))
        });
    }
    nix::unistd::User::from_name(value)
        .ok()
        .flatten()
        .map(user_record)
        .ok_or_else(|| {
            BadValue::new(
                "no user has this name",
                format!("Invalid user name {value}"),
            )
        })
}

/// `name_to_gid`: a group name, or a numeric gid that exists.
pub fn group(value: &str) -> Parsed<u32> {
    if let Some(gid) = py_int(value, 10) {
        return u32::try_from(gid)
            .ok()
            .filter(|&gid| {
                nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
                    .ok()
                    .flatten()
                    .is_some()
            })
            .ok_or_else(|| {
                BadValue::new("no group has this id", format!("Invalid group id {value}"))
            });
    }
    nix::unistd::Group::from_name(value)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| {
            BadValue::new(
                "no group has this name",
                format!("Invalid group name {value}"),
            )
        })
}

/// An owner for a socket: `user` or `user:group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The uid.
    pub uid: u32,
    /// The gid, or None to leave the group alone (`user` alone).
    pub gid: Option<u32>,
}

/// `colon_separated_user_group`.
pub fn owner(value: &str) -> Parsed<Owner> {
    let bad = |why: BadValue| {
        BadValue::new(
            format!("not a user or user:group ({})", why.ours),
            format!("Invalid user:group definition {value}"),
        )
    };
    match value.split_once(':') {
        None => Ok(Owner {
            uid: user(value).map_err(bad)?.uid,
            gid: None,
        }),
        Some((u, g)) => Ok(Owner {
            uid: user(u).map_err(bad)?.uid,
            gid: Some(group(g).map_err(bad)?),
        }),
    }
}

/// Python's `os.path.expanduser`: `~` and `~user` at the start.
pub fn expand_user(value: &str) -> PathBuf {
    let Some(rest) = value.strip_prefix('~') else {
        return PathBuf::from(value);
    };
    let (name, tail) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let home = if name.is_empty() {
        std::env::var_os("HOME").map(PathBuf::from).or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
    } else {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.dir)
    };
    match home {
        Some(home) => {
            let home = home.to_string_lossy();
            let home = if home.len() > 1 {
                home.trim_end_matches('/')
            } else {
                &home
            };
            PathBuf::from(format!("{home}{tail}"))
        }
        None => PathBuf::from(value),
    }
}

/// `existing_directory`: `~` expanded; must be a directory.
pub fn existing_directory(value: &str) -> Parsed<PathBuf> {
    let path = expand_user(value);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(BadValue::new(
            "no such directory",
            format!("{value} is not an existing directory"),
        ))
    }
}

/// `existing_dirpath`: `~` expanded; the directory part, if any, must
/// exist.
pub fn existing_dirpath(value: &str) -> Parsed<PathBuf> {
    let path = expand_user(value);
    let parent = python_dirname(&path.to_string_lossy());
    if parent.is_empty() || Path::new(&parent).is_dir() {
        Ok(path)
    } else {
        Err(BadValue::new(
            format!("the directory {parent} does not exist"),
            format!("The directory named as part of the path {value} does not exist"),
        ))
    }
}

/// Python's `os.path.dirname` (everything before the last `/`, trailing
/// slashes removed unless it is all slashes).
fn python_dirname(path: &str) -> String {
    match path.rfind('/') {
        None => String::new(),
        Some(at) => {
            let head = &path[..=at];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
    }
}

/// Python's `os.path.normpath(os.path.abspath(path))` (no symlinks
/// resolved), against the current directory.
pub fn normalize_path(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in absolute.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p),
            _ => {}
        }
    }
    let mut out = PathBuf::from("/");
    for p in parts {
        out.push(p);
    }
    out
}

/// `process_or_group_name`: stripped; no space, `:` or `/`.
pub fn process_name(value: &str) -> Parsed<String> {
    let stripped = value.trim_matches(char::is_whitespace);
    for bad in [' ', ':', '/'] {
        if stripped.contains(bad) {
            return Err(BadValue::new(
                format!("a name must not contain {}", py_repr(&bad.to_string())),
                format!(
                    "Invalid name: {} because of character: {}",
                    py_repr(value),
                    py_repr(&bad.to_string())
                ),
            ));
        }
    }
    Ok(stripped.to_string())
}

/// `dict_of_key_value_pairs`: `KEY=val,KEY2="val, with comma"`, split with
/// Python's non-POSIX `shlex` exactly as the reference does (so its odd
/// corners, such as a `$` or a non-ASCII letter ending a value, match).
pub fn environment(value: &str) -> Parsed<BTreeMap<String, String>> {
    let bad = || {
        BadValue::new(
            "not a list of KEY=value pairs separated by commas",
            format!("Unexpected end of key/value pairs in value '{value}'"),
        )
    };
    let tokens = shlex::tokens(value, "/.+-():").map_err(|why| {
        let why = why.to_string();
        BadValue::new(why.clone(), why)
    })?;
    let mut env = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        if i + 3 > tokens.len() || tokens[i + 1] != "=" {
            return Err(bad());
        }
        let v = tokens[i + 2].trim_matches(['\'', '"']);
        env.insert(tokens[i].clone(), v.to_string());
        i += 4;
    }
    Ok(env)
}

/// One of a process's two output channels, as the `stdout_*`/`stderr_*`
/// options, the logs API, `/logtail/<name>/<channel>`, event payloads and
/// the output path all name it: this is the one definition they share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The child's stdout (with its stderr when `redirect_stderr`).
    Stdout,
    /// The child's stderr.
    Stderr,
}

impl Channel {
    /// `stdout` or `stderr`, as the reference names channels.
    pub const fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }

    /// The channel the reference calls `name`; `None` for any other text
    /// (the reference looks up `<name>_logfile` and finds nothing).
    pub fn from_name(name: &str) -> Option<Channel> {
        match name {
            "stdout" => Some(Channel::Stdout),
            "stderr" => Some(Channel::Stderr),
            _ => None,
        }
    }
}

/// Where a child's output goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogFile {
    /// `NONE`/`off`: nowhere.
    None,
    /// `AUTO`: a file the daemon names in `childlogdir`.
    Auto,
    /// A path (`~` expanded, its directory exists).
    Path(PathBuf),
}

/// The raw classification of a logfile value: `syslog` is the deprecated
/// spelling the loader rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFileValue {
    /// A final value.
    File(LogFile),
    /// `syslog` (deprecated).
    Syslog,
}

/// `logfile_name`.
pub fn logfile(value: &str) -> Parsed<LogFileValue> {
    Ok(match value.to_lowercase().as_str() {
        "none" | "off" => LogFileValue::File(LogFile::None),
        "auto" => LogFileValue::File(LogFile::Auto),
        "syslog" => LogFileValue::Syslog,
        _ => LogFileValue::File(LogFile::Path(existing_dirpath(value)?)),
    })
}

/// `inet_address`: `port`, `host:port` or `*:port`; returns (host, port)
/// with an empty host meaning all interfaces.
pub fn inet_address(value: &str) -> Parsed<(String, u16)> {
    let port = |s: &str| -> Parsed<u16> {
        let n = py_int(s, 10).ok_or_else(|| int_error(s))?;
        if n < 1 {
            return Err(BadValue::new(
                "port must be from 1 to 65535",
                format!("{n} is below lower bound (1)"),
            ));
        }
        if n > 65535 {
            return Err(BadValue::new(
                "port must be from 1 to 65535",
                format!("{n} is above upper bound (65535)"),
            ));
        }
        Ok(n as u16)
    };
    match value.rsplit_once(':') {
        Some((host, p)) => {
            if p.is_empty() {
                return Err(BadValue::new(
                    "no port number after the colon",
                    "no port number specified in ''",
                ));
            }
            let port = port(p)?;
            let host = host.to_lowercase();
            let host = if host == "*" { String::new() } else { host };
            Ok((host, port))
        }
        None => port(value).map(|p| (String::new(), p)).map_err(|_| {
            BadValue::new(
                "not a port number",
                format!("not a valid port number: {} ", py_repr(value)),
            )
        }),
    }
}

/// Python's `urlparse`-based `url` check: a scheme and a host or path.
pub fn url(value: &str) -> Parsed<String> {
    if is_url(value) {
        Ok(value.to_string())
    } else {
        Err(BadValue::new(
            "not a URL (such as http://localhost:9001 or unix:///tmp/supervisor.sock)",
            format!("value {} is not a URL", py_repr(value)),
        ))
    }
}

/// The reference's URL test (`urlparse`): a scheme (a letter, then letters,
/// digits, `+`, `-` or `.`) and then a netloc or a path, ignoring any query
/// or fragment. supervisord's `serverurl` and supervisorctl's `-s` share it.
pub fn is_url(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return false;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    match rest.strip_prefix("//") {
        Some(after) => !after.is_empty(),
        None => !rest.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_python_int() {
        assert_eq!(integer(" 42 "), Ok(42));
        assert_eq!(integer("-3"), Ok(-3));
        assert_eq!(integer("+007"), Ok(7));
        assert_eq!(integer("1_000"), Ok(1000));
        for bad in ["abc", "", "1__0", "_1", "1.5", "0x10"] {
            assert!(integer(bad).is_err(), "{bad}");
        }
        assert_eq!(
            integer("high").unwrap_err().python,
            "invalid literal for int() with base 10: 'high'"
        );
    }

    #[test]
    fn booleans() {
        for t in ["yes", "TRUE", "On", "1"] {
            assert_eq!(boolean(t), Ok(true));
        }
        for f in ["no", "False", "OFF", "0"] {
            assert_eq!(boolean(f), Ok(false));
        }
        assert_eq!(
            boolean("maybe").unwrap_err().python,
            "not a valid boolean value: 'maybe'"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size("50MB"), Ok(50 << 20));
        assert_eq!(byte_size("1kb"), Ok(1024));
        assert_eq!(byte_size("2Gb"), Ok(2 << 30));
        assert_eq!(byte_size("100"), Ok(100));
        assert_eq!(
            byte_size("10XB").unwrap_err().python,
            "invalid literal for int() with base 10: '10xb'"
        );
    }

    #[test]
    fn octals() {
        assert_eq!(octal("022"), Ok(0o22));
        assert_eq!(octal("0o755"), Ok(0o755));
        assert_eq!(octal("7"), Ok(7));
        assert_eq!(
            octal("999").unwrap_err().python,
            "999 can not be converted to an octal type"
        );
    }

    #[test]
    fn signals_and_exit_codes() {
        assert_eq!(signal("hup"), Ok(1));
        assert!(signal("FOO").is_err());
        assert_eq!(exitcodes("0,2"), Ok(vec![0, 2]));
        assert_eq!(exitcodes(""), Ok(vec![]));
        assert_eq!(
            exitcodes("0,256").unwrap_err().python,
            "not a valid list of exit codes: '0,256'"
        );
        assert!(exitcodes("0,,1").is_err());
    }

    #[test]
    fn log_levels_and_autorestart() {
        assert_eq!(log_level("WARN"), Ok(LogLevel::Warn));
        assert_eq!(
            log_level("warning").unwrap_err().python,
            "bad logging level name 'warning'"
        );
        assert_eq!(autorestart("Unexpected"), Ok(AutoRestart::Unexpected));
        assert_eq!(autorestart("on"), Ok(AutoRestart::Always));
        assert_eq!(autorestart("0"), Ok(AutoRestart::Never));
        assert_eq!(
            autorestart("Sometimes").unwrap_err().python,
            "invalid 'autorestart' value 'sometimes'"
        );
    }

    #[test]
    fn users_and_groups() {
        assert_eq!(user("root").map(|u| u.uid), Ok(0));
        assert_eq!(user("0").map(|u| u.name), Ok("root".to_string()));
        assert_eq!(
            user("nosuchuser_xyz").unwrap_err().python,
            "Invalid user name nosuchuser_xyz"
        );
        assert_eq!(user("99999").unwrap_err().python, "Invalid user id 99999");
        assert_eq!(
            owner("root:root"),
            Ok(Owner {
                uid: 0,
                gid: Some(0)
            })
        );
        assert_eq!(owner("0"), Ok(Owner { uid: 0, gid: None }));
        assert!(owner("root:nosuchgroup_xyz").is_err());
        // The supplementary groups are resolved now, for setgroups after fork.
        let nobody = user("nobody").expect("the nobody user exists on Linux");
        assert!(nobody.groups.contains(&nobody.gid));
        assert_eq!(user("root").unwrap().groups.first(), Some(&0));
    }

    #[test]
    fn directories_and_paths() {
        assert!(existing_directory("/tmp").is_ok());
        assert_eq!(
            existing_directory("/nonexist").unwrap_err().python,
            "/nonexist is not an existing directory"
        );
        assert_eq!(existing_dirpath("x.log"), Ok(PathBuf::from("x.log")));
        assert!(existing_dirpath("/tmp/x.log").is_ok());
        assert!(existing_dirpath("/nonexist/x.log").is_err());
        assert_eq!(
            normalize_path(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }

    #[test]
    fn names() {
        assert_eq!(process_name(" web "), Ok("web".to_string()));
        assert_eq!(
            process_name("x y").unwrap_err().python,
            "Invalid name: 'x y' because of character: ' '"
        );
        assert!(process_name("a:b").is_err());
        assert!(process_name("a/b").is_err());
    }

    #[test]
    fn environment_follows_shlex() {
        let env = environment("A=1,B=\"x, y\",C='q'").unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "x, y");
        assert_eq!(env["C"], "q");
        assert_eq!(environment("").unwrap().len(), 0);
        assert_eq!(
            environment("A=1,B").unwrap_err().python,
            "Unexpected end of key/value pairs in value 'A=1,B'"
        );
        // `$` is punctuation for shlex: the value stops before it.
        assert_eq!(environment("P=$PATH").unwrap()["P"], "$");
        assert_eq!(environment("P=/a:/b,\n Q=2").unwrap()["Q"], "2");
        assert!(environment("A=\"open").is_err());
    }

    #[test]
    fn ports_and_urls() {
        assert_eq!(inet_address("9001"), Ok((String::new(), 9001)));
        assert_eq!(inet_address("*:9001"), Ok((String::new(), 9001)));
        assert_eq!(inet_address("LocalHost:1"), Ok(("localhost".into(), 1)));
        assert_eq!(
            inet_address("abc").unwrap_err().python,
            "not a valid port number: 'abc' "
        );
        assert_eq!(
            inet_address("99999").unwrap_err().python,
            "not a valid port number: '99999' "
        );
        assert_eq!(
            inet_address("h:99999").unwrap_err().python,
            "99999 is above upper bound (65535)"
        );
        assert!(inet_address("h:").is_err());
        assert!(url("http://localhost:9001").is_ok());
        assert!(url("unix:///tmp/s.sock").is_ok());
        assert!(url("foo").is_err());
    }

    #[test]
    fn urls_are_checked_like_urlparse() {
        assert!(is_url("http://localhost:9001"));
        assert!(is_url("unix:///tmp/s"));
        assert!(is_url("localhost:9001"));
        assert!(!is_url("foo"));
        assert!(!is_url("http://"));
        assert!(!is_url("http:"));
        assert!(!is_url("9001:x"));
        assert!(!is_url("http://?q"));
    }
}
