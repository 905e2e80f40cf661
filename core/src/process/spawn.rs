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
//! This module prepares in the parent and returns the parent's ends;
//! `super::child` holds what the child runs between clone and exec,
//! [`super::spawn_error`] the errors. It does not track the child
//! afterwards: the caller records the pid and the reaper reports its exit.

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use nix::errno::Errno;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

use super::child::{ChildPlan, ExecImage, FdTable, clone_and_exec, plan_credentials};
use super::command;
pub use super::spawn_error::SpawnError;

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
    pub server_url: Option<Arc<str>>,
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
    /// The descriptors this spawn holds in the servers' budget, until the
    /// log files its first spawn opens are open (dropped with these fds).
    pub reserved: super::fd_budget::Reserved,
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

/// What a spawner thread does with a spawn's outcome.
pub type SpawnDone = Box<dyn FnOnce(Result<SpawnedFds, SpawnError>) + Send>;

/// A spawn request handed to the spawner threads.
type SpawnJob = (Arc<SpawnSpec>, SpawnDone);

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
            // Reserved now, while the daemon holds few descriptors, so the
            // slots get low numbers; without them spawns copy the table.
            let mut slots = FdSlots::new().ok();
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
                        let Ok((spec, done)) = job else { return };
                        done(spawn_with(&spec, &mut slots));
                    }
                })?;
        }
        Ok(Spawner { jobs })
    }

    /// Spawn `spec` on a spawner thread and wait for the outcome.
    pub async fn spawn(&self, spec: Arc<SpawnSpec>) -> Result<SpawnedFds, SpawnError> {
        let name = Arc::clone(&spec.process_name);
        let (reply, outcome) = oneshot::channel();
        self.submit(
            spec,
            Box::new(move |result| {
                let _ = reply.send(result);
            }),
        );
        outcome.await.unwrap_or_else(|_| Err(lost(&name)))
    }

    /// Spawn `spec` on a spawner thread, which hands the outcome to `done`.
    /// No task waits for it: a start of thousands of programs would hold a
    /// task and a channel per spawn in flight, freed one by one among the
    /// records made meanwhile, and the heap would keep those holes
    /// resident (issue 22's memory per program).
    pub fn submit(&self, spec: Arc<SpawnSpec>, done: SpawnDone) {
        // Only fails if every spawner thread died, which a panic in
        // spawn_now would be needed for: report it as a failed fork.
        if let Err(std::sync::mpsc::SendError((spec, done))) = self.jobs.send((spec, done)) {
            done(Err(lost(&spec.process_name)));
        }
    }
}

/// The outcome of a spawn whose spawner thread is gone.
fn lost(name: &str) -> SpawnError {
    SpawnError::Fork {
        name: name.to_string(),
        errno: libc::EIO,
    }
}

/// Spawn on the calling thread: prepare, fork, return the parent's fds.
/// The child gets a copy of the whole descriptor table (see
/// `FdTable::Copied`); the spawner threads use their slots instead.
pub fn spawn_now(spec: &SpawnSpec) -> Result<SpawnedFds, SpawnError> {
    spawn_with(spec, &mut None)
}

/// Three descriptors a spawner thread reserves at low numbers (copies of
/// `/dev/null` until a spawn loads them): the child's stdin, stdout and
/// stderr are duplicated onto them before the clone, so a child that
/// shares the daemon's table can unshare it keeping only the descriptors
/// below `keep_below` ([`FdTable::Shared`]), whatever numbers its pipes
/// got among thousands of open logs and pipes.
#[derive(Debug)]
struct FdSlots {
    null: OwnedFd,
    slots: [OwnedFd; 3],
    keep_below: u32,
}

impl FdSlots {
    fn new() -> Result<FdSlots, Errno> {
        let null = dev_null()?;
        let dup = || {
            nix::fcntl::fcntl(&null, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)).map(|fd| {
                // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor nothing else owns.
                unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
            })
        };
        let slots = [dup()?, dup()?, dup()?];
        let top = slots.iter().map(AsRawFd::as_raw_fd).max().unwrap_or(2);
        Ok(FdSlots {
            keep_below: u32::try_from(top + 1).unwrap_or(u32::MAX),
            null,
            slots,
        })
    }

    /// Point the slots at `sources` (a negative source leaves its slot on
    /// /dev/null); the slots' numbers, in the same order.
    fn load(&self, sources: [RawFd; 3]) -> Result<[RawFd; 3], Errno> {
        let mut loaded = [-1; 3];
        for ((slot, source), out) in self.slots.iter().zip(sources).zip(&mut loaded) {
            if source >= 0 {
                // SAFETY: dup3 onto a descriptor this struct owns, from one
                // the caller keeps open; O_CLOEXEC so no other child (of
                // the other spawner thread) inherits it.
                if unsafe { libc::dup3(source, slot.as_raw_fd(), libc::O_CLOEXEC) } < 0 {
                    return Err(Errno::last());
                }
                *out = slot.as_raw_fd();
            }
        }
        Ok(loaded)
    }

    /// Point every slot back at /dev/null, dropping the daemon's extra
    /// reference to the child's pipe ends (else the stdout pipe would
    /// never report the child's end of output).
    fn clear(&self) -> Result<(), Errno> {
        for slot in &self.slots {
            // SAFETY: dup3 between two descriptors this struct owns.
            if unsafe { libc::dup3(self.null.as_raw_fd(), slot.as_raw_fd(), libc::O_CLOEXEC) } < 0 {
                return Err(Errno::last());
            }
        }
        Ok(())
    }
}

/// [`spawn_now`], through `slots` when there are any; slots that cannot be
/// loaded or cleared are given up (closed), and this spawn and the later
/// ones copy the table instead.
fn spawn_with(spec: &SpawnSpec, slots: &mut Option<FdSlots>) -> Result<SpawnedFds, SpawnError> {
    let environment = compose_environment(std::env::vars_os(), spec);
    let target = command::resolve_for(&spec.command, &spec.environment)?;
    let image = ExecImage::new(&target, &environment, &spec.process_name)?;
    let credentials = plan_credentials(spec.uid);

    let mut reserved = super::fd_budget::reserve(&spec.process_name)?;
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

    let mut stdio = [
        child_stdin
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .or(socket.as_ref().map(|s| s.as_raw_fd()))
            .unwrap_or(-1),
        child_stdout.as_raw_fd(),
        child_stderr
            .as_ref()
            .map_or(child_stdout.as_raw_fd(), AsRawFd::as_raw_fd),
    ];
    let mut fd_table = FdTable::Copied;
    if let Some(reserved) = slots.as_ref() {
        match reserved.load(stdio) {
            Ok(loaded) => {
                stdio = loaded;
                fd_table = FdTable::Shared {
                    keep_below: reserved.keep_below,
                };
            }
            Err(_) => *slots = None,
        }
    }
    let plan = ChildPlan {
        stdin_fd: stdio[0],
        stdout_fd: stdio[1],
        stderr_fd: stdio[2],
        fd_table,
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

    let cloned = clone_and_exec(&plan);
    if fd_table != FdTable::Copied
        && slots
            .as_ref()
            .is_some_and(|reserved| reserved.clear().is_err())
    {
        // Closing the slots is the only way left to drop their references.
        *slots = None;
    }
    let pid = cloned.map_err(|errno| {
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
    reserved.pipes_made();
    Ok(SpawnedFds {
        pid,
        stdin: parent_stdin,
        stdout: parent_stdout,
        stderr: parent_stderr,
        reserved,
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
        set("SUPERVISOR_SERVER_URL".into(), (**url).into());
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
    fn a_child_through_the_slots_gets_only_its_stdio_and_the_slots_let_go() {
        use std::io::Read as _;
        let mut slots = Some(FdSlots::new().expect("slots"));
        // Descriptors the child must not see: one inheritable, as a
        // plugin's careless open would leave it, and a close-on-exec one.
        // SAFETY: plain opens of /dev/null, closed below.
        let stray = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        let stray_cloexec = dev_null().expect("open");
        let mut lister = spec();
        // Each descriptor and where it leads; ls's own reading of the
        // directory shows as one leading to /proc/PID/fd.
        lister.command = "/bin/ls -l /proc/self/fd/".into();
        let spawned = spawn_with(&lister, &mut slots).expect("the spawn succeeds");
        let reserved = slots.as_ref().expect("the slots are kept");
        for slot in &reserved.slots {
            let path = std::fs::read_link(format!("/proc/self/fd/{}", slot.as_raw_fd()));
            assert_eq!(path.unwrap(), std::path::Path::new("/dev/null"));
        }
        let mut text = String::new();
        // Ends only once nobody but the child holds the pipe's write end.
        std::fs::File::from(spawned.stdout.expect("stdout is a pipe"))
            .read_to_string(&mut text)
            .unwrap();
        let mut status = 0;
        // SAFETY: waiting for our own child, with a valid status pointer.
        unsafe { libc::waitpid(spawned.pid, &mut status, 0) };
        // SAFETY: the descriptor opened above.
        unsafe { libc::close(stray) };
        drop(stray_cloexec);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        let held: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(" -> "))
            .filter(|(_, target)| !target.ends_with("/fd"))
            .filter_map(|(left, _)| left.rsplit(' ').next())
            .collect();
        assert_eq!(
            held,
            ["0", "1", "2"],
            "the child holds only 0, 1 and 2: {text}"
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
}
