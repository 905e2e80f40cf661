//! Delivering signals to a child or to its whole process group. Errors come
//! back as a raw errno so the state machine can tell "already gone"
//! (`ESRCH`, ignored as the reference does) from a real failure (the
//! process becomes UNKNOWN). Signal numbers are raw integers because the
//! reference accepts real-time ones (`SIGRTMIN`) that nix's `Signal` enum
//! cannot name.

/// Send `signal` to `pid`, or to the process group it leads when `group`
/// (children are spawned as group leaders, so `-pid` is their group).
/// Signal 0 only checks that the target exists.
pub fn send_signal(pid: i32, signal: i32, group: bool) -> Result<(), i32> {
    if pid <= 0 {
        // kill(0) or kill(-1) would hit the daemon's own group or every
        // process it may signal: never a child's pid.
        return Err(libc::ESRCH);
    }
    let target = if group { -pid } else { pid };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(target, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last_raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_positive_pids_are_refused_before_any_syscall() {
        assert_eq!(send_signal(0, 0, false), Err(libc::ESRCH));
        assert_eq!(send_signal(-1, 0, true), Err(libc::ESRCH));
    }

    #[test]
    fn signal_zero_probes_a_live_process_and_reports_esrch_for_a_dead_one() {
        assert_eq!(send_signal(std::process::id() as i32, 0, false), Ok(()));
        // pid_max is at most 2^22 on Linux, so this pid cannot exist.
        assert_eq!(send_signal(i32::MAX, 0, false), Err(libc::ESRCH));
    }
}
