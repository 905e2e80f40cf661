//! Pipe helpers of the output path: how much one splice moves, a pipe's
//! default capacity, and growing the pipe of a child that writes flat out
//! (F_SETPIPE_SZ, sized by what the user's pipe limits allow). Both the
//! readers of children's pipes (the daemon's output tasks, `pump::drain_pipe`)
//! and the splice stage use them.
//!
//! This module opens, reads and splices nothing and knows nothing of logs:
//! it only sizes pipes, so that everything else in `logs/` may depend on it
//! and it on nothing there.

use std::os::fd::BorrowedFd;

use nix::fcntl::{FcntlArg, fcntl};

/// The most one splice moves: a whole pipe, whatever its size.
pub const SPLICE_MAX: usize = 1024 * 1024;

/// A pipe's capacity unless someone changes it (Linux: 16 pages).
pub const DEFAULT_PIPE_SIZE: usize = 64 * 1024;

/// The capacity [`grow_pipe`] gives the pipe of a child writing flat out
/// when pipe capacity counts against a limit of ours: 256 KiB.
const FLAT_OUT_PIPE_SIZE_LIMITED: usize = 256 * 1024;

/// The same without that limit: 1 MiB (the default `pipe-max-size`), which
/// lets the child write on through a log rotation instead of waiting for it.
const FLAT_OUT_PIPE_SIZE_UNLIMITED: usize = 1024 * 1024;

/// The capacity [`grow_pipe`] gives the pipe of a child writing flat out.
/// Pipe capacity, used or not, counts against the user's
/// `pipe-user-pages-soft` (64 MiB), and once a user is past it every new
/// pipe of theirs gets two pages, the children's own pipes too; the kernel
/// waives that for CAP_SYS_RESOURCE and CAP_SYS_ADMIN, which a daemon
/// running as root normally has. Decided once: privileges only ever drop,
/// and the first flat-out child comes after the daemon set its user.
pub fn flat_out_pipe_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        if pipe_limits_waived() {
            FLAT_OUT_PIPE_SIZE_UNLIMITED
        } else {
            FLAT_OUT_PIPE_SIZE_LIMITED
        }
    })
}

/// Whether the effective capabilities (`CapEff` in /proc/self/status)
/// hold CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
fn pipe_limits_waived() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_SYS_RESOURCE: u32 = 24;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN | 1 << CAP_SYS_RESOURCE) != 0)
}

/// Raise the capacity of the pipe a child writes to flat out (a read just
/// found it full) to [`flat_out_pipe_size`]: the child blocks less often
/// and each splice or read moves more, which measured a fifth less CPU per
/// byte at 256 KiB. Only such pipes get it, since the capacity counts
/// against the user's limit whether or not it is used. A refusal (that
/// limit reached) leaves the pipe as it was; the return says whether it
/// grew.
pub fn grow_pipe(pipe: BorrowedFd<'_>) -> bool {
    // nix takes the size as an i32; both sizes fit.
    fcntl(pipe, FcntlArg::F_SETPIPE_SZ(flat_out_pipe_size() as i32)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_grown_pipe_holds_the_flat_out_size() {
        let (reader, _writer) = std::io::pipe().unwrap();
        assert!(grow_pipe(reader.as_fd()));
        let size = fcntl(reader.as_fd(), FcntlArg::F_GETPIPE_SZ).unwrap();
        assert_eq!(size as usize, flat_out_pipe_size());
        assert!(size as usize > DEFAULT_PIPE_SIZE);
    }
}
