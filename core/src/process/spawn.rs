//! Spawning one child the way the reference does, off the async runtime.
//!
//! The parent does everything that may allocate or consult NSS: split the
//! command and search the PATH ([`super::command`]), compose the
//! environment, look up the user's groups, make the pipes and pre-format
//! every error line the child may need. Then it clones the child with
//! `CLONE_VM | CLONE_VFORK` (no page-table copy: the child borrows our
//! memory, on a stack of its own, until it execs) and the child, using only
//! raw system calls, resets the daemon's signal handlers, makes a process
//! group, wires the pipes onto 0/1/2, closes every other fd, drops
//! privileges, changes directory and umask, ignores SIGPIPE and SIGXFSZ
//! (children of the Python reference inherit that) and calls `execve`
//! itself. If
//! anything fails there it writes the reference's `supervisor: couldn't …`
//! line to the child's stderr (so it lands in the child's log) and
//! `_exit(127)`s: the spawn itself never waits on the child, so it cannot
//! race the reaper.
//!
//! This module does not track the child afterwards: the caller records the
//! pid and the reaper reports its exit.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

use nix::errno::Errno;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

use super::command::{self, ExecTarget};
use crate::pyrepr::{errno_name, py_repr, write_errno_name};

/// What the child's standard input is.
#[derive(Debug, Clone)]
pub enum StdinSource {
    /// A pipe the daemon writes to (`sendProcessStdin`).
    Pipe,
    /// A listening socket shared by an fcgi-program's processes, put on
    /// fd 0; there is then no stdin pipe.
    Socket(Arc<OwnedFd>),
}

/// Everything needed to start one process, built from the config model.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// The process name (`SUPERVISOR_PROCESS_NAME`, error texts).
    pub process_name: Arc<str>,
    /// The group name (`SUPERVISOR_GROUP_NAME`).
    pub group_name: Arc<str>,
    /// The `command` option, unsplit.
    pub command: String,
    /// `directory`: where the child runs.
    pub directory: Option<String>,
    /// `umask`, applied in the child only when set.
    pub umask: Option<u32>,
    /// `user`, already resolved to a uid by the config layer.
    pub uid: Option<u32>,
    /// `[supervisord] environment` then the program's `environment`, in
    /// that order (later pairs win). Shared: the processes of a numprocs
    /// program have the same one.
    pub environment: Arc<[(String, String)]>,
    /// `SUPERVISOR_SERVER_URL` (the program's `serverurl` or the daemon's
    /// default); none when no HTTP server is configured.
    pub server_url: Option<String>,
    /// What fd 0 is.
    pub stdin: StdinSource,
    /// Send stderr into the stdout pipe instead of a pipe of its own.
    pub redirect_stderr: bool,
    /// Nothing would read the child's stdout (nor, when redirected, its
    /// stderr): give it `/dev/null` instead of a pipe, so the daemon keeps
    /// no pipe, task or poll registration for it.
    pub discard_stdout: bool,
    /// The same for a stderr that is not redirected.
    pub discard_stderr: bool,
}

/// Why a process could not be spawned. `Display` gives the reference's
/// spawnerr text, which users see in `status` and the main log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// `shlex` refused the command (`reason` is Python's message).
    #[error("can't parse command {}: {reason}", py_repr(command))]
    CantParse { command: String, reason: String },
    /// The command has no words.
    #[error("command is empty")]
    EmptyCommand,
    /// No such file, on the PATH or as given.
    #[error("can't find command {}", py_repr(.0))]
    NotFound(String),
    /// The command names a directory.
    #[error("command at {} is a directory", py_repr(.0))]
    IsDirectory(String),
    /// The file has no execute bit at all.
    #[error("command at {} is not executable", py_repr(.0))]
    NotExecutable(String),
    /// `access(X_OK)` refused it.
    #[error("no permission to run command {}", py_repr(.0))]
    NoPermission(String),
    /// A NUL byte cannot be passed to `execve` (the reference fails in the
    /// child instead; refusing before the fork is clearer).
    #[error("can't pass {what} to {}: it contains a NUL byte", py_repr(name))]
    NulByte { name: String, what: &'static str },
    /// EMFILE/ENFILE while making the pipes.
    #[error("too many open files to spawn {}", py_repr(name))]
    TooManyFiles { name: String },
    /// Any other error making the pipes.
    #[error("unknown error making dispatchers for {}: {}", py_repr(name), errno_name(*errno))]
    Pipes { name: String, errno: i32 },
    /// EAGAIN from fork: the process table is full.
    #[error("Too many processes in process table to spawn {}", py_repr(name))]
    ProcessTable { name: String },
    /// Any other fork error.
    #[error("unknown error during fork for {}: {}", py_repr(name), errno_name(*errno))]
    Fork { name: String, errno: i32 },
}

/// The parent's ends of a new child's pipes, and its pid.
#[derive(Debug)]
pub struct SpawnedFds {
    /// The child's pid (also its process group id).
    pub pid: i32,
    /// Write end of the child's stdin (none when stdin is a socket).
    pub stdin: Option<OwnedFd>,
    /// Read end of the child's stdout (and of its stderr when redirected);
    /// none when it is discarded.
    pub stdout: Option<OwnedFd>,
    /// Read end of the child's stderr, unless redirected or discarded.
    pub stderr: Option<OwnedFd>,
}

/// A new child's pipes as tokio I/O.
#[derive(Debug)]
pub struct ChildPipes {
    /// The child's stdin, unless it is a socket.
    pub stdin: Option<pipe::Sender>,
    /// The child's stdout (with stderr when redirected), unless discarded.
    pub stdout: Option<pipe::Receiver>,
    /// The child's stderr, unless redirected or discarded.
    pub stderr: Option<pipe::Receiver>,
}

impl SpawnedFds {
    /// Register the pipes with the current tokio runtime. The pid stays in
    /// `self.pid`; call this after recording it, since the child runs
    /// whatever happens here.
    pub fn into_async(self) -> io::Result<ChildPipes> {
        Ok(ChildPipes {
            stdin: self.stdin.map(pipe::Sender::from_owned_fd).transpose()?,
            stdout: self.stdout.map(pipe::Receiver::from_owned_fd).transpose()?,
            stderr: self.stderr.map(pipe::Receiver::from_owned_fd).transpose()?,
        })
    }
}

/// A spawn request handed to the spawner threads.
type SpawnJob = (
    Arc<SpawnSpec>,
    oneshot::Sender<Result<SpawnedFds, SpawnError>>,
);

/// A small pool of threads that fork children, so the supervisor task
/// never blocks on a fork (about a millisecond each, waiting for the child
/// to reach its exec). It is deliberately not tokio's blocking pool: that
/// pool grows to hundreds of threads under a burst of starts, and every
/// extra thread stack makes each later fork slower (fork copies the whole
/// address space's page tables).
#[derive(Debug, Clone)]
pub struct Spawner {
    jobs: std::sync::mpsc::Sender<SpawnJob>,
}

impl Spawner {
    /// Start `threads` spawner threads (at least one; two keep a 2-core
    /// machine's forks flowing while one waits for its child to exec).
    /// They end when the last `Spawner` clone is dropped.
    pub fn new(threads: usize) -> io::Result<Spawner> {
        let (jobs, queue) = std::sync::mpsc::channel::<SpawnJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("spawner-{index}"))
                // Enough for NSS lookups (getpwuid, getgrouplist), which
                // may run LDAP or sssd modules; still far below the 2 MiB
                // default that hundreds of blocking-pool threads would map.
                .stack_size(1024 * 1024)
                .spawn(move || {
                    loop {
                        // Take one job, then let the next thread take one.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok((spec, reply)) = job else { return };
                        let _ = reply.send(spawn_now(&spec));
                    }
                })?;
        }
        Ok(Spawner { jobs })
    }

    /// Spawn `spec` on a spawner thread and wait for the outcome.
    pub async fn spawn(&self, spec: Arc<SpawnSpec>) -> Result<SpawnedFds, SpawnError> {
        let name = Arc::clone(&spec.process_name);
        let lost = || SpawnError::Fork {
            name: name.to_string(),
            errno: libc::EIO,
        };
        let (reply, outcome) = oneshot::channel();
        // Only fails if every spawner thread died, which a panic in
        // spawn_now would be needed for: report it as a failed fork.
        self.jobs.send((spec, reply)).map_err(|_| lost())?;
        outcome.await.unwrap_or_else(|_| Err(lost()))
    }
}

/// Spawn on the calling thread: prepare, fork, return the parent's fds.
pub fn spawn_now(spec: &SpawnSpec) -> Result<SpawnedFds, SpawnError> {
    let environment = compose_environment(std::env::vars_os(), spec);
    let target = command::resolve_for(&spec.command, &spec.environment)?;
    let image = ExecImage::new(&target, &environment, spec)?;
    let credentials = plan_credentials(spec.uid);

    let name = &spec.process_name;
    let pipe_error = |e: Errno| {
        if e == Errno::EMFILE || e == Errno::ENFILE {
            SpawnError::TooManyFiles {
                name: name.to_string(),
            }
        } else {
            SpawnError::Pipes {
                name: name.to_string(),
                errno: e as i32,
            }
        }
    };
    let (child_stdin, parent_stdin, socket) = match &spec.stdin {
        StdinSource::Pipe => {
            let (read, write) = new_pipe().map_err(pipe_error)?;
            (Some(read), Some(write), None)
        }
        StdinSource::Socket(socket) => (None, None, Some(Arc::clone(socket))),
    };
    let (parent_stdout, child_stdout) = if spec.discard_stdout {
        (None, dev_null().map_err(pipe_error)?)
    } else {
        let (read, write) = new_pipe().map_err(pipe_error)?;
        (Some(read), write)
    };
    let (parent_stderr, child_stderr) = if spec.redirect_stderr {
        (None, None)
    } else if spec.discard_stderr {
        (None, Some(dev_null().map_err(pipe_error)?))
    } else {
        let (read, write) = new_pipe().map_err(pipe_error)?;
        (Some(read), Some(write))
    };

    let plan = ChildPlan {
        stdin_fd: child_stdin
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .or(socket.as_ref().map(|s| s.as_raw_fd()))
            .unwrap_or(-1),
        stdout_fd: child_stdout.as_raw_fd(),
        stderr_fd: child_stderr
            .as_ref()
            .map_or(child_stdout.as_raw_fd(), AsRawFd::as_raw_fd),
        cwd_prefix: spec
            .directory
            .as_ref()
            .map(|d| format!("supervisor: couldn't chdir to {d}: ").into_bytes())
            .unwrap_or_default(),
        cwd: match &spec.directory {
            Some(dir) => Some(
                CString::new(dir.as_bytes()).map_err(|_| SpawnError::NulByte {
                    name: dir.clone(),
                    what: "the directory",
                })?,
            ),
            None => None,
        },
        umask: spec.umask.map(|m| m as libc::mode_t),
        exec_prefix: format!("supervisor: couldn't exec {}: ", target.argv[0]).into_bytes(),
        credentials,
        image,
        _keep_open: (child_stdin, child_stdout, child_stderr, socket),
    };

    let pid = clone_and_exec(&plan).map_err(|errno| {
        if errno == libc::EAGAIN {
            SpawnError::ProcessTable {
                name: name.to_string(),
            }
        } else {
            SpawnError::Fork {
                name: name.to_string(),
                errno,
            }
        }
    })?;
    // The child has exec'd or exited: dropping the plan closes the
    // parent's copies of the child's pipe ends.
    drop(plan);
    Ok(SpawnedFds {
        pid,
        stdin: parent_stdin,
        stdout: parent_stdout,
        stderr: parent_stderr,
    })
}

/// The child's environment, composed as the reference does: supervisord's
/// own, then `SUPERVISOR_ENABLED`, `SUPERVISOR_SERVER_URL` (when there is
/// one), `SUPERVISOR_PROCESS_NAME`, `SUPERVISOR_GROUP_NAME`, then the
/// configured environment on top (so it may override those).
pub fn compose_environment(
    daemon_env: impl IntoIterator<Item = (OsString, OsString)>,
    spec: &SpawnSpec,
) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = Vec::new();
    let mut index: HashMap<OsString, usize> = HashMap::new();
    let mut set = |key: OsString, value: OsString| match index.get(&key) {
        Some(&at) => vars[at].1 = value,
        None => {
            index.insert(key.clone(), vars.len());
            vars.push((key, value));
        }
    };
    for (key, value) in daemon_env {
        set(key, value);
    }
    set("SUPERVISOR_ENABLED".into(), "1".into());
    if let Some(url) = &spec.server_url {
        set("SUPERVISOR_SERVER_URL".into(), url.into());
    }
    set(
        "SUPERVISOR_PROCESS_NAME".into(),
        (*spec.process_name).into(),
    );
    set("SUPERVISOR_GROUP_NAME".into(), (*spec.group_name).into());
    for (key, value) in spec.environment.iter() {
        set(key.into(), value.into());
    }
    vars
}

/// A pipe whose ends are close-on-exec and not on fds 0..2 (so wiring
/// them onto 0/1/2 in the child can never clobber one another).
fn new_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((above_stdio(read)?, above_stdio(write)?))
}

/// `/dev/null` open for writing, close-on-exec and above 0..2: the fd a
/// child gets for output nothing reads.
fn dev_null() -> Result<OwnedFd, Errno> {
    let fd = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    above_stdio(fd)
}

fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, Errno> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(moved) })
}

/// The user switch the child performs, decided in the parent as the
/// reference's `drop_privileges` decides it.
#[derive(Debug)]
enum Credentials {
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

fn plan_credentials(uid: Option<u32>) -> Credentials {
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
struct ExecImage {
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
    fn new(
        target: &ExecTarget,
        environment: &[(OsString, OsString)],
        spec: &SpawnSpec,
    ) -> Result<ExecImage, SpawnError> {
        let nul = |what: &'static str| SpawnError::NulByte {
            name: spec.process_name.to_string(),
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
struct ChildPlan {
    /// Source of fd 0 (-1: leave it, which cannot happen for a spec).
    stdin_fd: RawFd,
    stdout_fd: RawFd,
    stderr_fd: RawFd,
    credentials: Credentials,
    cwd: Option<CString>,
    cwd_prefix: Vec<u8>,
    umask: Option<libc::mode_t>,
    exec_prefix: Vec<u8>,
    image: ExecImage,
    /// The child's pipe ends (and a shared socket), open until the fork is
    /// done; dropped with the plan in the parent.
    _keep_open: (
        Option<OwnedFd>,
        OwnedFd,
        Option<OwnedFd>,
        Option<Arc<OwnedFd>>,
    ),
}

const NOT_SPAWNED: &[u8] = b"supervisor: child process was not spawned\n";

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
fn clone_and_exec(plan: &ChildPlan) -> Result<i32, i32> {
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
        // SAFETY: the child runs `child_entry` on its own stack with a
        // pointer to `plan`, which outlives it (CLONE_VFORK: we resume only
        // after its exec or exit). SIGCHLD as the exit signal makes it an
        // ordinary child for the reaper.
        let pid = unsafe {
            libc::clone(
                child_entry,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
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

    fn spec() -> SpawnSpec {
        SpawnSpec {
            process_name: "web".into(),
            group_name: "front".into(),
            command: "/bin/true".into(),
            directory: None,
            umask: None,
            uid: None,
            environment: Arc::from([]),
            server_url: Some("unix:///tmp/s.sock".into()),
            stdin: StdinSource::Pipe,
            redirect_stderr: false,
            discard_stdout: false,
            discard_stderr: false,
        }
    }

    fn env_of(vars: &[(OsString, OsString)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect()
    }

    #[test]
    fn the_environment_layers_daemon_supervisor_vars_then_config() {
        let mut spec = spec();
        spec.environment = Arc::from([
            ("A".into(), "from-supervisord".into()),
            ("A".into(), "from-program".into()),
            ("SUPERVISOR_PROCESS_NAME".into(), "override".into()),
        ]);
        let daemon = vec![
            (OsString::from("HOME"), OsString::from("/root")),
            (OsString::from("SUPERVISOR_ENABLED"), OsString::from("0")),
        ];
        let got = env_of(&compose_environment(daemon, &spec));
        let expect: Vec<(String, String)> = [
            ("HOME", "/root"),
            ("SUPERVISOR_ENABLED", "1"),
            ("SUPERVISOR_SERVER_URL", "unix:///tmp/s.sock"),
            ("SUPERVISOR_PROCESS_NAME", "override"),
            ("SUPERVISOR_GROUP_NAME", "front"),
            ("A", "from-program"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn no_server_url_means_no_variable() {
        let mut spec = spec();
        spec.server_url = None;
        let got = env_of(&compose_environment(Vec::new(), &spec));
        assert!(got.iter().all(|(k, _)| k != "SUPERVISOR_SERVER_URL"));
    }

    #[test]
    fn spawn_errors_read_like_the_reference() {
        assert_eq!(
            SpawnError::TooManyFiles { name: "x".into() }.to_string(),
            "too many open files to spawn 'x'"
        );
        assert_eq!(
            SpawnError::Fork {
                name: "x".into(),
                errno: libc::ENOMEM
            }
            .to_string(),
            "unknown error during fork for 'x': ENOMEM"
        );
        assert_eq!(
            SpawnError::ProcessTable { name: "x".into() }.to_string(),
            "Too many processes in process table to spawn 'x'"
        );
    }

    #[test]
    fn credentials_for_our_own_uid_change_nothing() {
        let me = nix::unistd::getuid().as_raw();
        assert!(matches!(plan_credentials(Some(me)), Credentials::Keep));
        assert!(matches!(plan_credentials(None), Credentials::Keep));
    }

    /// The fields of the child's `/proc/self/status` that `cat` shows.
    fn child_status_from(spec: &SpawnSpec) -> (HashMap<String, String>, i32) {
        use std::io::Read as _;
        let spawned = spawn_now(spec).expect("cat spawns");
        let mut text = String::new();
        std::fs::File::from(spawned.stdout.expect("stdout is a pipe"))
            .read_to_string(&mut text)
            .unwrap();
        let mut status = 0;
        // SAFETY: waiting for our own child, with a valid status pointer.
        let reaped = unsafe { libc::waitpid(spawned.pid, &mut status, 0) };
        assert_eq!(reaped, spawned.pid);
        let fields = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        (fields, status)
    }

    extern "C" fn ignore_usr2(_: libc::c_int) {}

    #[test]
    fn a_cloned_child_starts_unblocked_with_only_pipe_and_xfsz_ignored() {
        // From a thread that blocks signals and whose process catches one,
        // as the daemon's threads do: none of that reaches the program.
        let handle = std::thread::spawn(|| {
            // SAFETY: a plain handler that does nothing, and a valid mask
            // for this test thread only.
            unsafe {
                libc::signal(
                    libc::SIGUSR2,
                    ignore_usr2 as extern "C" fn(libc::c_int) as libc::sighandler_t,
                );
                let mut blocked: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut blocked);
                libc::sigaddset(&mut blocked, libc::SIGUSR1);
                libc::sigaddset(&mut blocked, libc::SIGTERM);
                libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
            }
            let mut cat = spec();
            cat.command = "/bin/cat /proc/self/status".into();
            child_status_from(&cat)
        });
        let (fields, status) = handle.join().unwrap();
        assert_eq!(status, 0, "cat exits 0");
        assert_eq!(u64::from_str_radix(&fields["SigBlk"], 16), Ok(0));
        let bit = |signal: i32| 1u64 << (signal - 1);
        // What the daemon ignores stays ignored, as across any exec.
        let ours = std::fs::read_to_string("/proc/self/status").unwrap();
        let ours = ours
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(
            u64::from_str_radix(&fields["SigIgn"], 16),
            Ok(ours | bit(libc::SIGPIPE) | bit(libc::SIGXFSZ)),
            "ours: {ours:x}"
        );
        assert_eq!(fields["PPid"], std::process::id().to_string());
    }

    #[test]
    fn an_exec_failure_in_the_cloned_child_is_exit_127_with_the_reason() {
        use std::io::Read as _;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("noformat");
        std::fs::write(&script, "no interpreter line\n").unwrap();
        std::fs::set_permissions(
            &script,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .unwrap();
        let mut bad = spec();
        bad.command = script.to_str().unwrap().into();
        let spawned = spawn_now(&bad).expect("the clone itself succeeds");
        let mut text = String::new();
        std::fs::File::from(spawned.stderr.expect("stderr is a pipe"))
            .read_to_string(&mut text)
            .unwrap();
        let mut status = 0;
        // SAFETY: waiting for our own child, with a valid status pointer.
        unsafe { libc::waitpid(spawned.pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 127);
        assert_eq!(
            text,
            format!(
                "supervisor: couldn't exec {}: ENOEXEC\nsupervisor: child process was not spawned\n",
                script.display()
            )
        );
    }

    #[test]
    fn discarded_output_goes_to_dev_null_and_the_parent_gets_no_pipe() {
        let mut quiet = spec();
        // The child checks where its fds 1 and 2 lead; its exit status
        // tells us (it has no pipe back to us).
        quiet.command = "/bin/sh -c 'test \"$(readlink /proc/$$/fd/1)\" = /dev/null && \
                         test \"$(readlink /proc/$$/fd/2)\" = /dev/null'"
            .into();
        quiet.discard_stdout = true;
        quiet.discard_stderr = true;
        let spawned = spawn_now(&quiet).expect("the spawn succeeds");
        assert!(spawned.stdout.is_none() && spawned.stderr.is_none());
        assert!(spawned.stdin.is_some(), "stdin stays a pipe");
        let mut status = 0;
        // SAFETY: waiting for our own child, with a valid status pointer.
        unsafe { libc::waitpid(spawned.pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "fds 1 and 2 are /dev/null (status {status:#x})"
        );

        // Redirected stderr follows stdout, even when stderr is not
        // discarded on its own.
        let mut redirected = spec();
        redirected.command = "/bin/sh -c 'test \"$(readlink /proc/$$/fd/2)\" = /dev/null'".into();
        redirected.redirect_stderr = true;
        redirected.discard_stdout = true;
        let spawned = spawn_now(&redirected).expect("the spawn succeeds");
        assert!(spawned.stdout.is_none() && spawned.stderr.is_none());
        // SAFETY: as above.
        unsafe { libc::waitpid(spawned.pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
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
