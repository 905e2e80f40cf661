//! Decoding a raw `waitpid` status into what the reference reports: the exit
//! status it compares with `exitcodes` (−1 for anything but a normal exit)
//! and the text of its log lines (`exit status 2`, `terminated by SIGKILL
//! (core dumped)`). It owns no process state and performs no system calls.

use supervisor_sdk::signal::signame;

/// How a child ended, as the reference's `decode_wait_status` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCause {
    /// `exit(code)` or a return from `main`.
    Exited(i32),
    /// Killed by a signal; `core_dumped` when the kernel wrote a core file.
    Signaled {
        /// The signal number.
        signal: i32,
        /// The kernel wrote a core file.
        core_dumped: bool,
    },
    /// Anything else `waitpid` can report (stopped/continued are never
    /// requested, so this only covers corrupt values).
    Unknown(i32),
}

impl ExitCause {
    /// Decode a raw status word from `waitpid`.
    pub fn from_raw(status: i32) -> ExitCause {
        if libc::WIFEXITED(status) {
            ExitCause::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            ExitCause::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            }
        } else {
            ExitCause::Unknown(status)
        }
    }

    /// The status compared with `exitcodes` and reported as `exitstatus`:
    /// the exit code, or −1 (so a signal death is never "expected").
    pub fn exit_status(self) -> i32 {
        match self {
            ExitCause::Exited(code) => code,
            ExitCause::Signaled { .. } | ExitCause::Unknown(_) => -1,
        }
    }
}

impl std::fmt::Display for ExitCause {
    /// The reference's message: `exit status N`, `terminated by SIGTERM`,
    /// `terminated by SIGSEGV (core dumped)`, `unknown termination cause
    /// 0x007f`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitCause::Exited(code) => write!(f, "exit status {code}"),
            ExitCause::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "terminated by {}", signame(signal))?;
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
            ExitCause::Unknown(raw) => write!(f, "unknown termination cause 0x{raw:04x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_exits_report_their_code() {
        let cause = ExitCause::from_raw(2 << 8);
        assert_eq!(cause, ExitCause::Exited(2));
        assert_eq!(cause.exit_status(), 2);
        assert_eq!(cause.to_string(), "exit status 2");
        assert_eq!(ExitCause::from_raw(0).to_string(), "exit status 0");
    }

    #[test]
    fn signal_deaths_are_status_minus_one_with_the_signal_name() {
        let cause = ExitCause::from_raw(libc::SIGTERM);
        assert_eq!(cause.exit_status(), -1);
        assert_eq!(cause.to_string(), "terminated by SIGTERM");
        let core = ExitCause::from_raw(libc::SIGSEGV | 0x80);
        assert_eq!(core.to_string(), "terminated by SIGSEGV (core dumped)");
        assert_eq!(
            ExitCause::from_raw(40).to_string(),
            "terminated by signal 40"
        );
    }

    #[test]
    fn other_statuses_are_unknown_causes_in_hex() {
        // 0x137f is "stopped by SIGSTOP": never asked for, so unknown.
        let cause = ExitCause::from_raw(0x137f);
        assert_eq!(cause.exit_status(), -1);
        assert_eq!(cause.to_string(), "unknown termination cause 0x137f");
    }
}
