//! Signal names and numbers as the reference parses and prints them on
//! Linux: `stopsignal`, `signalProcess`, `terminated by SIGTERM` in logs.

/// The names the reference knows (Python's `signal.Signals` on Linux), by
/// number. Numbers not listed print as `signal N`.
const NAMES: &[(i32, &str)] = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGURG"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGPOLL"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
    (34, "SIGRTMIN"),
    (64, "SIGRTMAX"),
];

/// Other names Python's `signal` module resolves (the reference looks the
/// name up with `getattr(signal, name)`, so even the handler and sigmask
/// constants count).
const ALIASES: &[(&str, i32)] = &[
    ("SIGIO", 29),
    ("SIGIOT", 6),
    ("SIGCLD", 17),
    ("SIG_DFL", 0),
    ("SIG_IGN", 1),
    ("SIG_BLOCK", 0),
    ("SIG_UNBLOCK", 1),
    ("SIG_SETMASK", 2),
];

/// The display name of a signal number (`SIGTERM`, or `signal 40`).
pub fn signame(number: i32) -> String {
    match NAMES.iter().find(|(n, _)| *n == number) {
        Some((_, name)) => (*name).to_string(),
        None => format!("signal {number}"),
    }
}

/// Why a signal value was refused; `Display` is the reference's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalError {
    BadNumber(String),
    BadName(String),
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalError::BadNumber(v) => write!(f, "value '{v}' is not a valid signal number"),
            SignalError::BadName(v) => write!(f, "value '{v}' is not a valid signal name"),
        }
    }
}

impl std::error::Error for SignalError {}

/// Parse a signal as the reference does (`signal_number`): an integer must
/// be a known number (0 included, as Python's `SIG_DFL`); a name is trimmed,
/// upper-cased and gets `SIG` prepended when missing.
pub fn parse_signal(value: &str) -> Result<i32, SignalError> {
    if let Ok(number) = value.trim().parse::<i32>() {
        return if number == 0 || NAMES.iter().any(|(n, _)| *n == number) {
            Ok(number)
        } else {
            Err(SignalError::BadNumber(value.to_string()))
        };
    }
    let mut name = value.trim().to_ascii_uppercase();
    if !name.starts_with("SIG") {
        name.insert_str(0, "SIG");
    }
    NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(number, _)| *number)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, num)| *num)
        })
        .ok_or_else(|| SignalError::BadName(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse_like_the_reference() {
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal(" sigterm "), Ok(15));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("0"), Ok(0));
        assert_eq!(parse_signal("RTMIN"), Ok(34));
        assert_eq!(
            parse_signal("40").unwrap_err().to_string(),
            "value '40' is not a valid signal number"
        );
        assert_eq!(
            parse_signal("FOO").unwrap_err().to_string(),
            "value 'FOO' is not a valid signal name"
        );
        assert_eq!(
            parse_signal("SIGRTMIN+1").unwrap_err().to_string(),
            "value 'SIGRTMIN+1' is not a valid signal name"
        );
    }

    #[test]
    fn unknown_numbers_print_as_signal_n() {
        assert_eq!(signame(15), "SIGTERM");
        assert_eq!(signame(0), "signal 0");
        assert_eq!(signame(40), "signal 40");
    }
}
