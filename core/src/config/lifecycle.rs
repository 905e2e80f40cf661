//! The vocabulary of issue 16's options (start order, restart policy,
//! readiness): [`BackoffPolicy`], [`ShutdownOn`], [`Probe`] and their
//! checkers, in the shape of [`super::types`]' checkers. Shared by the
//! loader, the state machine and the probes; plain data, no I/O.

use super::types::{BadValue, Parsed};
use crate::pyrepr::py_repr;

fn bad_value(ours: impl Into<String>, python: impl Into<String>) -> BadValue {
    BadValue {
        ours: ours.into(),
        python: python.into(),
    }
}

/// How the delay before a retry grows with consecutive failed starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackoffKind {
    /// The reference: the nth failure waits n seconds.
    #[default]
    Linear,
    /// 1, 2, 4, 8 ... seconds.
    Exponential,
}

/// `backoff`, `backoff_max`, `backoff_jitter` and `retry_forever`: what
/// follows a failed start. The default is the reference's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackoffPolicy {
    /// How the delay grows.
    pub kind: BackoffKind,
    /// The cap in seconds (`None`: none, the reference's linear).
    pub max: Option<u64>,
    /// The spread, in thousandths of the delay, either way.
    pub jitter_permille: u32,
    /// Never give up (never FATAL; startretries is ignored).
    pub forever: bool,
}

/// The cap when `backoff_max` is not set but the delay could grow without
/// bound otherwise (exponential, or retrying forever).
pub const DEFAULT_BACKOFF_MAX: u64 = 60;

/// `backoff`: `linear` or `exponential`.
pub fn backoff_kind(value: &str) -> Parsed<BackoffKind> {
    match value.trim().to_lowercase().as_str() {
        "linear" => Ok(BackoffKind::Linear),
        "exponential" => Ok(BackoffKind::Exponential),
        _ => Err(bad_value(
            "not a backoff policy (linear or exponential)",
            format!("invalid 'backoff' value {}", py_repr(value)),
        )),
    }
}

/// A fraction from 0 to 1 (`backoff_jitter`), in thousandths.
pub fn fraction_permille(value: &str) -> Parsed<u32> {
    let bad = || {
        bad_value(
            "not a fraction from 0 to 1 (such as 0.25)",
            format!("invalid fraction {}", py_repr(value)),
        )
    };
    let number: f64 = value.trim().parse().map_err(|_| bad())?;
    if !(0.0..=1.0).contains(&number) {
        return Err(bad());
    }
    Ok((number * 1000.0).round() as u32)
}

/// When supervisord itself ends because of one program (`shutdown_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownOn {
    /// The program went FATAL: exit status 1.
    Fatal,
    /// The program exited and will not be restarted: its exit status, or
    /// 128+N for signal N.
    Exit,
}

/// `shutdown_on`: `fatal`, `exit` or `never` (the default).
pub fn shutdown_on(value: &str) -> Parsed<Option<ShutdownOn>> {
    match value.trim().to_lowercase().as_str() {
        "fatal" => Ok(Some(ShutdownOn::Fatal)),
        "exit" => Ok(Some(ShutdownOn::Exit)),
        "never" => Ok(None),
        _ => Err(bad_value(
            "not a shutdown_on value (fatal, exit or never)",
            format!("invalid 'shutdown_on' value {}", py_repr(value)),
        )),
    }
}

/// A readiness check (`ready_check`): what must answer before a STARTING
/// process counts as RUNNING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `tcp:HOST:PORT`: a TCP connection succeeds.
    Tcp {
        /// The host name or address.
        host: String,
        /// The port.
        port: u16,
    },
    /// `log:REGEX`: a line of the child's stdout or stderr matches.
    Log(LinePattern),
    /// `notify`: the child sends `READY=1` to its `NOTIFY_SOCKET` (the
    /// sd_notify protocol).
    Notify,
    /// `exec:COMMAND ARGS`: the command, run as the program's user with
    /// its environment, exits 0.
    Exec(String),
    /// `http://HOST[:PORT]/PATH` (or `https://`): a GET answers 2xx.
    Http {
        /// `https://`: over TLS, the server's certificate verified.
        tls: bool,
        /// The host name or address.
        host: String,
        /// The port (80, or 443 for https, when not given).
        port: u16,
        /// The path and query, starting with `/`.
        path: String,
    },
}

impl std::fmt::Display for Probe {
    /// As written in the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Probe::Http {
                tls,
                host,
                port,
                path,
            } => {
                let scheme = if *tls { "https" } else { "http" };
                write!(f, "{scheme}://{host}:{port}{path}")
            }
            Probe::Log(pattern) => write!(f, "log:{}", pattern.0.as_str()),
            Probe::Notify => f.write_str("notify"),
            Probe::Exec(command) => write!(f, "exec:{command}"),
        }
    }
}

/// A compiled `log:` pattern; two are equal when written alike.
#[derive(Debug, Clone)]
pub struct LinePattern(pub regex::Regex);

impl PartialEq for LinePattern {
    fn eq(&self, other: &LinePattern) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for LinePattern {}

/// `ready_check`: `notify`, `tcp:HOST:PORT`, `http://HOST[:PORT]/PATH`,
/// `log:REGEX` or `exec:COMMAND`.
pub fn probe(value: &str) -> Parsed<Probe> {
    let value = value.trim();
    let bad = |why: &str| {
        bad_value(
            format!(
                "{why} (notify, tcp:HOST:PORT, http(s)://HOST:PORT/PATH, log:REGEX or exec:COMMAND)"
            ),
            format!("invalid ready check {}", py_repr(value)),
        )
    };
    let host_port = |text: &str, default: Option<u16>| -> Parsed<(String, u16)> {
        let (host, port) = match (text.rsplit_once(':'), default) {
            (Some((host, port)), _) => (host, port.parse::<u16>().ok()),
            (None, Some(port)) => (text, Some(port)),
            (None, None) => (text, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match port {
            Some(port) if port > 0 && !host.is_empty() => Ok((host.to_string(), port)),
            _ => Err(bad("no host and port")),
        }
    };
    if value == "notify" {
        return Ok(Probe::Notify);
    }
    if let Some(pattern) = value.strip_prefix("log:") {
        return regex::Regex::new(pattern)
            .map(|r| Probe::Log(LinePattern(r)))
            .map_err(|e| {
                let why = e.to_string().replace('\n', " ");
                bad_value(
                    format!("not a regular expression: {why}"),
                    format!("invalid ready check {}", py_repr(value)),
                )
            });
    }
    if let Some(command) = value.strip_prefix("exec:") {
        if command.trim().is_empty() {
            return Err(bad("no command"));
        }
        return Ok(Probe::Exec(command.trim().to_string()));
    }
    if let Some(rest) = value.strip_prefix("tcp:") {
        let (host, port) = host_port(rest, None)?;
        return Ok(Probe::Tcp { host, port });
    }
    let web = [("http://", false, 80), ("https://", true, 443)]
        .into_iter()
        .find_map(|(scheme, tls, port)| Some((value.strip_prefix(scheme)?, tls, port)));
    if let Some((rest, tls, default_port)) = web {
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let (host, port) = host_port(authority, Some(default_port))?;
        return Ok(Probe::Http {
            tls,
            host,
            port,
            path: path.to_string(),
        });
    }
    Err(bad("not a ready check this version runs"))
}

/// `health_check` with its `health_interval`, `health_timeout` and
/// `health_retries`: checked while RUNNING; after `retries` failures in a
/// row the process is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `tcp:` or `http://` (a `notify` or `log:` check cannot be repeated).
    pub probe: Probe,
    /// Seconds between checks (default 10).
    pub interval: u64,
    /// Seconds one check may take (default 5).
    pub timeout: u64,
    /// Failures in a row that restart the process (default 3).
    pub retries: u32,
}
