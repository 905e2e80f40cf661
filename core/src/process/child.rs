//! What runs in the cloned child, between `clone` and `execve`, and the
//! data it runs on, all prepared by the parent ([`super::spawn`]): the
//! user switch ([`Credentials`]), argv and envp as C arrays
//! ([`ExecImage`]) and the whole [`ChildPlan`]. The child shares the
//! daemon's memory (`CLONE_VM | CLONE_VFORK`) on a stack of its own, so
//! everything here that the child calls makes raw system calls only: no
//! allocation, no locks, no glibc wrapper that touches process-wide state.
//! This module must not decide anything about the process (that is the
//! spawn's and the state machine's); it carries out a finished plan.

use std::cell::RefCell;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

use nix::errno::Errno;

use super::command::ExecTarget;
use super::spawn_error::SpawnError;
use crate::pyrepr::write_errno_name;

/// The user switch the child performs, decided in the parent as the
/// reference's `drop_privileges` decides it.
#[derive(Debug)]
pub(super) enum Credentials {
    /// No `user`, or already that uid.
    Keep,
    Switch {
        uid: libc::uid_t,
        gid: libc::gid_t,
        groups: Vec<libc::gid_t>,
        groups_failed: Vec<u8>,
        gid_failed: Vec<u8>,
    },
    /// The switch cannot work; the child writes this line and exits.
    Refuse(Vec<u8>),
}

pub(super) fn plan_credentials(uid: Option<u32>) -> Credentials {
    let Some(uid) = uid else {
        return Credentials::Keep;
    };
    let line = |why: &str| format!("supervisor: couldn't setuid to {uid}: {why}\n").into_bytes();
    let user = match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => user,
        _ => return Credentials::Refuse(line(&format!("Can't find uid {uid}"))),
    };
    let current = nix::unistd::getuid();
    if current.as_raw() == uid {
        return Credentials::Keep;
    }
    if !current.is_root() {
        return Credentials::Refuse(line("Can't drop privilege as nonroot user"));
    }
    let gid = user.gid.as_raw();
    // The primary gid first, as the reference orders it.
    let mut groups = vec![gid];
    if let Ok(name) = CString::new(user.name.as_bytes())
        && let Ok(list) = nix::unistd::getgrouplist(&name, user.gid)
    {
        for group in list {
            if !groups.contains(&group.as_raw()) {
                groups.push(group.as_raw());
            }
        }
    }
    Credentials::Switch {
        uid,
        gid,
        groups,
        groups_failed: line("Could not set groups of effective user"),
        gid_failed: line("Could not set group id of effective user"),
    }
}

/// argv and envp as C arrays, built before the fork.
pub(super) struct ExecImage {
    filename: CString,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the pointer arrays point into the CStrings owned by the same
// struct (their heap buffers do not move when the struct moves), and the
// struct is only read, in the forked child.
unsafe impl Send for ExecImage {}
// SAFETY: as above; nothing mutates it after construction.
unsafe impl Sync for ExecImage {}

impl ExecImage {
    /// `process_name` is for the error when a word holds a NUL byte.
    pub(super) fn new(
        target: &ExecTarget,
        environment: &[(OsString, OsString)],
        process_name: &str,
    ) -> Result<ExecImage, SpawnError> {
        let nul = |what: &'static str| SpawnError::NulByte {
            name: process_name.to_string(),
            what,
        };
        let filename = CString::new(target.filename.as_bytes()).map_err(|_| nul("the command"))?;
        let argv = target
            .argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| nul("the command"))?;
        let envp = environment
            .iter()
            .map(|(k, v)| {
                let mut pair = OsString::with_capacity(k.len() + v.len() + 1);
                pair.push(k);
                pair.push(OsStr::new("="));
                pair.push(v);
                CString::new(pair.into_vec())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| nul("the environment"))?;
        let argv_ptrs = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp_ptrs = envp
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(ExecImage {
            filename,
            _argv: argv,
            _envp: envp,
            argv_ptrs,
            envp_ptrs,
        })
    }
}

/// What the forked child does, fully prepared by the parent.
pub(super) struct ChildPlan {
    /// Source of fd 0 (-1: leave it, which cannot happen for a spec).
    pub(super) stdin_fd: RawFd,
    pub(super) stdout_fd: RawFd,
    pub(super) stderr_fd: RawFd,
    pub(super) credentials: Credentials,
    pub(super) cwd: Option<CString>,
    pub(super) cwd_prefix: Vec<u8>,
    pub(super) umask: Option<libc::mode_t>,
    pub(super) exec_prefix: Vec<u8>,
    pub(super) image: ExecImage,
    /// How the child comes by its descriptor table.
    pub(super) fd_table: FdTable,
    /// The child's pipe ends (and a shared socket), open until the fork is
    /// done; dropped with the plan in the parent.
    pub(super) _keep_open: (
        Option<OwnedFd>,
        OwnedFd,
        Option<OwnedFd>,
        Option<Arc<OwnedFd>>,
    ),
}

const NOT_SPAWNED: &[u8] = b"supervisor: child process was not spawned\n";

/// How a cloned child comes by its descriptor table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FdTable {
    /// `clone` copies the daemon's whole table and the child closes all
    /// but 0..2: taking and dropping a reference to every log file and
    /// pipe the daemon holds, so each spawn costs in proportion to the
    /// programs already running (issue 22: a fifth of a 4000-program
    /// start was the kernel closing inherited descriptors).
    Copied,
    /// `clone` shares the daemon's table (`CLONE_FILES`); the child's first
    /// act is `close_range(keep_below, ~0, CLOSE_RANGE_UNSHARE)`, which
    /// gives it a private table holding only the descriptors below
    /// `keep_below` (Linux 5.9+ copies just those), where the spawner
    /// thread put the child's pipes (see `super::spawn::FdSlots`). The
    /// cost no longer depends on what the daemon holds. Without that
    /// flag the child falls back to `unshare(CLONE_FILES)`: a full copy,
    /// as `Copied`.
    Shared { keep_below: u32 },
}

impl ChildPlan {
    /// Runs in the cloned child: become what the process should be and
    /// exec, or explain on stderr and exit 127 as the reference does.
    ///
    /// # Safety
    /// Only in the child started by [`clone_and_exec`], with every signal
    /// blocked: it shares the parent's memory, so it only reads the plan
    /// and makes raw system calls (no allocation, no locks, no glibc
    /// wrapper that touches process-wide state such as the setxid ones).
    unsafe fn exec_or_exit(&self) -> ! {
        // SAFETY: every call below is a raw system call on descriptors and
        // memory prepared by the parent; see `spawn_now`.
        unsafe {
            // Nothing may touch a descriptor while the table is the
            // daemon's: dup2 onto 0..2 would rewire the daemon itself.
            if let FdTable::Shared { keep_below } = self.fd_table
                && !unshare_fd_table(keep_below)
            {
                libc::_exit(127);
            }
            // The daemon's handlers would run on our borrowed stack in the
            // daemon's memory: drop them before any signal is unblocked
            // (exec would reset them anyway).
            reset_caught_signals();
            if libc::setpgid(0, 0) == 0
                && self.wire_stdio()
                && close_fds_from(3)
                && self.switch_user()
                && self.change_directory()
            {
                if let Some(mask) = self.umask {
                    libc::umask(mask);
                }
                // The reference's children inherit Python's dispositions:
                // SIGPIPE and SIGXFSZ ignored. Programs that have run under
                // it for years may rely on EPIPE instead of dying, so a
                // drop-in keeps that.
                ignore_signal(libc::SIGPIPE);
                ignore_signal(libc::SIGXFSZ);
                // The program starts with nothing blocked, whatever the
                // spawner thread's mask was.
                unblock_all_signals();
                libc::execve(
                    self.image.filename.as_ptr(),
                    self.image.argv_ptrs.as_ptr(),
                    self.image.envp_ptrs.as_ptr(),
                );
                let errno = Errno::last_raw();
                write_all(2, &self.exec_prefix);
                write_errno_line(2, errno);
            }
            write_all(2, NOT_SPAWNED);
            libc::_exit(127);
        }
    }

    /// dup2 the pipes onto 0, 1 and 2 (all sources are above 2, except
    /// perhaps a shared socket, which goes first onto 0).
    ///
    /// # Safety
    /// Only in the forked child: it overwrites fds 0..2 behind the back of
    /// whatever owns them.
    unsafe fn wire_stdio(&self) -> bool {
        // SAFETY: dup2 and fcntl on descriptors that are open in the child.
        unsafe {
            (self.stdin_fd < 0 || libc::dup2(self.stdin_fd, 0) == 0)
                && libc::dup2(self.stdout_fd, 1) == 1
                && libc::dup2(self.stderr_fd, 2) == 2
                // dup2 onto itself keeps close-on-exec (a shared socket that
                // already was fd 0): clear it so exec keeps 0, 1 and 2.
                && (0..3).all(|fd| libc::fcntl(fd, libc::F_SETFD, 0) == 0)
        }
    }

    /// Drop to the planned user, as the reference's `drop_privileges`.
    ///
    /// # Safety
    /// Only in the forked child: it changes the whole process's identity.
    unsafe fn switch_user(&self) -> bool {
        match &self.credentials {
            Credentials::Keep => true,
            Credentials::Refuse(line) => {
                write_all(2, line);
                false
            }
            Credentials::Switch {
                uid,
                gid,
                groups,
                groups_failed,
                gid_failed,
            } => {
                // Raw system calls: glibc's wrappers broadcast the change to
                // every thread it knows, and those are the daemon's threads
                // here (the child shares their memory until it execs).
                // SAFETY: `groups` is a live slice of gid_t of the given length.
                if unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) } != 0
                {
                    write_all(2, groups_failed);
                    return false;
                }
                // SAFETY: plain integer arguments.
                if unsafe { libc::syscall(libc::SYS_setgid, *gid) } != 0 {
                    write_all(2, gid_failed);
                    return false;
                }
                // The reference has no message of its own for this one.
                // SAFETY: plain integer argument.
                unsafe { libc::syscall(libc::SYS_setuid, *uid) == 0 }
            }
        }
    }

    /// `chdir` to `directory`, or explain on stderr.
    ///
    /// # Safety
    /// Only in the forked child: the daemon's own directory must not move.
    unsafe fn change_directory(&self) -> bool {
        let Some(dir) = &self.cwd else { return true };
        // SAFETY: `dir` is a valid NUL-terminated string.
        if unsafe { libc::chdir(dir.as_ptr()) } == 0 {
            return true;
        }
        let errno = Errno::last_raw();
        write_all(2, &self.cwd_prefix);
        write_errno_line(2, errno);
        false
    }
}

/// Size of the stack a cloned child runs on until it execs: far more than
/// the few frames of [`ChildPlan::exec_or_exit`] need; pages never touched
/// cost nothing.
const CHILD_STACK_BYTES: usize = 256 * 1024;

/// An mmap'd stack with a guard page below it, for cloned children. Each
/// spawner thread keeps one: with `CLONE_VFORK` only one child at a time
/// runs on it, and only until its exec or exit.
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    fn new() -> Result<ChildStack, i32> {
        // SAFETY: sysconf takes an integer.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = CHILD_STACK_BYTES + page;
        // SAFETY: a fresh anonymous private mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Errno::last_raw());
        }
        let stack = ChildStack { base, len };
        // The lowest page faults instead of letting an overflow run into
        // whatever is mapped below.
        // SAFETY: the first page of the mapping made above.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(Errno::last_raw());
        }
        Ok(stack)
    }

    /// The initial stack pointer (stacks grow down on every Linux target
    /// we build for); the mapping's end is page-aligned.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, which is the top of stack.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no child runs on it any more
        // (the parent of a CLONE_VFORK child resumes only after its exec).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

thread_local! {
    static CHILD_STACK: RefCell<Option<ChildStack>> = const { RefCell::new(None) };
}

/// Start the child with `clone(CLONE_VM | CLONE_VFORK)`, as glibc's
/// posix_spawn does: no page tables are copied and no copy-on-write
/// faults follow, which is where a fork of the multi-threaded daemon
/// spends its time. The calling thread is suspended until the child execs
/// or exits, so `plan` stays valid and untouched for it. Returns the pid,
/// or the errno of the failed clone.
pub(super) fn clone_and_exec(plan: &ChildPlan) -> Result<i32, i32> {
    CHILD_STACK.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(ChildStack::new()?);
        }
        let stack = slot
            .as_ref()
            .expect("the child stack was created just above");
        // Block every signal so none is delivered to the child (which
        // shares our memory) before it has reset the daemon's handlers.
        // SAFETY: sigset_t is plain data and sigfillset initialises it.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut saved: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid sigset pointers; this thread's mask only.
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut saved);
        }
        let files = match plan.fd_table {
            FdTable::Copied => 0,
            FdTable::Shared { .. } => libc::CLONE_FILES,
        };
        // SAFETY: the child runs `child_entry` on its own stack with a
        // pointer to `plan`, which outlives it (CLONE_VFORK: we resume only
        // after its exec or exit). SIGCHLD as the exit signal makes it an
        // ordinary child for the reaper.
        let pid = unsafe {
            libc::clone(
                child_entry,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | files,
                std::ptr::from_ref(plan).cast_mut().cast(),
            )
        };
        let errno = Errno::last_raw();
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut()) };
        if pid < 0 { Err(errno) } else { Ok(pid) }
    })
}

/// The cloned child's entry point.
extern "C" fn child_entry(plan: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `clone_and_exec` passes a pointer to a live ChildPlan, and
    // this is the child it cloned, with every signal blocked.
    unsafe { (*plan.cast::<ChildPlan>()).exec_or_exit() }
}

/// Set every caught signal back to its default action; ignored ones stay
/// ignored, as they would across exec.
///
/// # Safety
/// Only in the cloned child: it changes signal dispositions.
unsafe fn reset_caught_signals() {
    for signal in 1..=libc::SIGRTMAX() {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction is plain data; a zeroed one is a valid query buffer.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: querying and setting a disposition with valid pointers;
        // glibc refuses its own internal signals, which is harmless here.
        unsafe {
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction != libc::SIG_IGN
                && current.sa_sigaction != libc::SIG_DFL
            {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
    }
}

/// Ignore `signal` in the cloned child.
///
/// # Safety
/// Only in the cloned child: it changes a signal disposition.
unsafe fn ignore_signal(signal: libc::c_int) {
    // SAFETY: a zeroed sigaction with SIG_IGN is a valid disposition.
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        libc::sigaction(signal, &ignore, std::ptr::null_mut());
    }
}

/// Clear the signal mask of the cloned child.
///
/// # Safety
/// Only in the cloned child, after [`reset_caught_signals`].
unsafe fn unblock_all_signals() {
    // SAFETY: an emptied sigset, this thread's mask only.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Leave the daemon's shared descriptor table for a private one that
/// holds only the descriptors below `keep_below`; false if neither way
/// works (the child must then exit without touching a descriptor).
///
/// # Safety
/// Only in a child cloned with `CLONE_FILES`.
unsafe fn unshare_fd_table(keep_below: u32) -> bool {
    // SAFETY: integer arguments; the range is closed in the new private
    // table only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            keep_below,
            u32::MAX,
            libc::CLOSE_RANGE_UNSHARE,
        )
    };
    // Before 5.9 (no close_range, or no UNSHARE flag): a full private copy,
    // which close_fds_from then trims.
    // SAFETY: an integer flag; it affects this child only.
    rc == 0 || unsafe { libc::unshare(libc::CLONE_FILES) } == 0
}

/// Close every descriptor from `first` up, in one system call when the
/// kernel has close_range (5.9+), else one by one up to the fd limit.
///
/// # Safety
/// Only in the forked child: it closes descriptors that Rust objects own.
unsafe fn close_fds_from(first: u32) -> bool {
    // SAFETY: close_range takes integers; closing fds in the child is the point.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if rc == 0 {
        return true;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    let top = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 20) as i32
    } else {
        1024
    };
    for fd in first as i32..top {
        // SAFETY: closing a descriptor number; EBADF for unused ones is fine.
        unsafe { libc::close(fd) };
    }
    true
}

/// write(2) all of `bytes`, giving up on error (there is nowhere to report).
fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a live slice of the given length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && Errno::last() == Errno::EINTR {
            continue;
        } else {
            return;
        }
    }
}

fn write_errno_line(fd: RawFd, errno: i32) {
    let mut text = StackText::new();
    // Formatting into a stack buffer allocates nothing, so the child may
    // do it between fork and exec.
    let _ = write_errno_name(&mut text, errno);
    text.push(b"\n");
    write_all(fd, text.as_bytes());
}

/// A fixed-size text buffer for the forked child, which must not allocate.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            buf: [0; 64],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = self.buf.len() - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_for_our_own_uid_change_nothing() {
        let me = nix::unistd::getuid().as_raw();
        assert!(matches!(plan_credentials(Some(me)), Credentials::Keep));
        assert!(matches!(plan_credentials(None), Credentials::Keep));
    }

    #[test]
    fn an_unknown_uid_is_refused_with_the_reference_text() {
        let Credentials::Refuse(line) = plan_credentials(Some(3_999_999)) else {
            panic!("an unknown uid must be refused");
        };
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "supervisor: couldn't setuid to 3999999: Can't find uid 3999999\n"
        );
    }
}
