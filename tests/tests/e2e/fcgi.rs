//! `[fcgi-program:x]`: a group of three real processes sharing one listening
//! socket as their fd 0, on a unix and on a TCP socket.
//!
//! One scenario, [`shared_socket_scenario`], states what a user can observe
//! (the same listening socket on every fd 0, answers from the group, the
//! socket surviving the death of one process, closed when the group stops,
//! recreated on start) and runs against two runners: the reference
//! supervisord with a `numprocs=3` config, and our [`SocketManager`] driving
//! plain `std::process::Command`s that `dup2` the socket onto fd 0, as the
//! process engine will. [`DaemonRunner`] takes the supervisord and
//! supervisorctl to run, so the same scenario runs against our daemon too
//! (ignored until it spawns fcgi groups; the Python supervisorctl drives it,
//! which also checks the RPC answers it parses).
//!
//! The server is `examples/fd0-echo`: it greets each connection with its pid
//! and echoes lines back.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use supervisor_tests::free_port;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use supervisor::config::{FcgiSocket, Owner};
use supervisor::process::fcgi_socket::{SocketLease, SocketManager};
use supervisor_tests::{
    ChildGuard, Sandbox, is_root, our_bin, reference_bin, run_with_timeout, stderr_text,
    stdout_text, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(20);
const NUMPROCS: usize = 3;
/// `socket_mode` in every unix scenario: not the default 0700, so the test
/// shows the option is applied.
const SOCKET_MODE: u32 = 0o660;
/// `socket_owner` when the tests run as root: nobody:nogroup.
const NOBODY: u32 = 65534;

/// Where clients reach the group.
#[derive(Debug, Clone)]
enum Address {
    Unix(PathBuf),
    Tcp(u16),
}

impl Address {
    fn url(&self) -> String {
        match self {
            Address::Unix(path) => format!("unix://{}", path.display()),
            Address::Tcp(port) => format!("tcp://127.0.0.1:{port}"),
        }
    }

    fn connect(&self) -> io::Result<Box<dyn Conversation>> {
        Ok(match self {
            Address::Unix(path) => Box::new(UnixStream::connect(path)?),
            Address::Tcp(port) => Box::new(TcpStream::connect(("127.0.0.1", *port))?),
        })
    }

    /// Connect, read the greeting of the process that accepted, check it
    /// echoes, and return its pid.
    fn ask(&self) -> io::Result<u32> {
        let mut conn = self.connect()?;
        conn.set_timeout(DEADLINE)?;
        let mut reader = BufReader::new(conn.try_clone_box()?);
        let mut greeting = String::new();
        reader.read_line(&mut greeting)?;
        let pid = greeting
            .strip_prefix("fd0-echo pid=")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("not a greeting of fd0-echo: {greeting:?}"));
        conn.write_all(b"ping\n")?;
        let mut echo = String::new();
        reader.read_line(&mut echo)?;
        assert_eq!(echo, "ping\n", "process {pid} echoes");
        Ok(pid)
    }

    /// The kernel's inode number of the socket listening on this address,
    /// from /proc/net: the same number /proc/<pid>/fd/0 shows as
    /// `socket:[N]`, so it ties each process's fd 0 to this address.
    fn listening_inode(&self) -> Option<u64> {
        match self {
            Address::Unix(path) => {
                let table = std::fs::read_to_string("/proc/net/unix").expect("/proc/net/unix");
                let path = path.to_str().expect("sandbox paths are UTF-8");
                table.lines().skip(1).find_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // Num RefCount Protocol Flags Type St Inode Path;
                    // flags 00010000 is __SO_ACCEPTCON: listening.
                    (fields.len() == 8 && fields[7] == path && fields[3] == "00010000")
                        .then(|| fields[6].parse().expect("an inode number"))
                })
            }
            Address::Tcp(port) => {
                let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
                let local = format!("0100007F:{port:04X}");
                table.lines().skip(1).find_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // sl local rem st ... inode (10th); st 0A is LISTEN.
                    (fields.len() > 9 && fields[1] == local && fields[3] == "0A")
                        .then(|| fields[9].parse().expect("an inode number"))
                })
            }
        }
    }
}

/// A connected stream of either family.
trait Conversation: io::Read + Write {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()>;
    fn try_clone_box(&self) -> io::Result<Box<dyn io::Read>>;
}

impl Conversation for UnixStream {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))
    }
    fn try_clone_box(&self) -> io::Result<Box<dyn io::Read>> {
        Ok(Box::new(self.try_clone()?))
    }
}

impl Conversation for TcpStream {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))
    }
    fn try_clone_box(&self) -> io::Result<Box<dyn io::Read>> {
        Ok(Box::new(self.try_clone()?))
    }
}

/// The socket inode on a process's fd 0 (`socket:[N]`).
fn fd0_inode(pid: u32) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/0"))
        .unwrap_or_else(|e| panic!("cannot read fd 0 of {pid}: {e}"));
    let link = link.to_string_lossy();
    link.strip_prefix("socket:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("fd 0 of {pid} is not a socket: {link}"))
}

/// What runs the group: supervisord, or our socket manager by hand.
trait FcgiRunner {
    fn address(&self) -> &Address;
    /// Start every process of the group.
    fn start_group(&mut self);
    /// Once all of the group's processes run (restarting any that died, as
    /// `autorestart` does), their pids.
    fn running_pids(&mut self) -> Vec<u32>;
    /// SIGKILL one process and return once it is gone.
    fn kill(&mut self, pid: u32);
    /// Stop every process of the group and return once all are gone.
    fn stop_group(&mut self);
    /// Whether a closed unix socket leaves no file (ours) or a stale one
    /// (the reference).
    fn removes_socket_file(&self) -> bool;
}

/// What a user of an fcgi group sees, step by step.
fn shared_socket_scenario(runner: &mut dyn FcgiRunner) {
    let address = runner.address().clone();
    assert_eq!(
        address.listening_inode(),
        None,
        "nothing listens before start"
    );

    runner.start_group();
    let pids = runner.running_pids();
    assert_eq!(pids.len(), NUMPROCS);
    let listening = address
        .listening_inode()
        .unwrap_or_else(|| panic!("{} listens once the group runs", address.url()));
    for &pid in &pids {
        assert_eq!(
            fd0_inode(pid),
            listening,
            "process {pid} has the socket on fd 0"
        );
    }
    if let Address::Unix(path) = &address {
        check_socket_file(path);
    }
    for _ in 0..NUMPROCS * 2 {
        let pid = address.ask().expect("the group answers");
        assert!(
            pids.contains(&pid),
            "answered by {pid}, not one of {pids:?}"
        );
    }

    // One process dies: the others keep accepting on the same socket, and
    // its replacement gets that socket too.
    let victim = pids[1];
    runner.kill(victim);
    assert_eq!(
        address.listening_inode(),
        Some(listening),
        "still listening"
    );
    for _ in 0..NUMPROCS * 2 {
        let pid = address.ask().expect("the group still answers");
        assert_ne!(pid, victim, "a killed process cannot answer");
    }
    let after = runner.running_pids();
    assert_eq!(after.len(), NUMPROCS);
    assert!(!after.contains(&victim), "{victim} was replaced: {after:?}");
    for &pid in &after {
        assert_eq!(
            fd0_inode(pid),
            listening,
            "process {pid} shares the old socket"
        );
    }
    assert_eq!(address.listening_inode(), Some(listening), "never reopened");

    // The whole group stops: the socket closes.
    runner.stop_group();
    assert_eq!(
        address.listening_inode(),
        None,
        "closed with the last process"
    );
    let refused = address.ask().expect_err("nobody listens");
    match &address {
        Address::Unix(path) if runner.removes_socket_file() => {
            assert!(!path.exists(), "the socket file went with the socket");
            assert_eq!(refused.kind(), io::ErrorKind::NotFound);
        }
        Address::Unix(path) => {
            assert!(path.exists(), "the reference leaves a stale socket file");
            assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        }
        Address::Tcp(_) => assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused),
    }

    // And comes back, as a new socket, on the next start.
    runner.start_group();
    let again = runner.running_pids();
    let reopened = address.listening_inode().expect("listening again");
    assert_ne!(reopened, listening, "a new socket, not the closed one");
    for &pid in &again {
        assert_eq!(fd0_inode(pid), reopened);
    }
    if let Address::Unix(path) = &address {
        check_socket_file(path);
    }
    let pid = address.ask().expect("the restarted group answers");
    assert!(again.contains(&pid));
    runner.stop_group();
}

/// `socket_mode`, and `socket_owner` when root.
fn check_socket_file(path: &Path) {
    let meta = std::fs::symlink_metadata(path).expect("the socket file exists");
    assert_eq!(meta.permissions().mode() & 0o7777, SOCKET_MODE);
    if is_root() {
        assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    } else {
        eprintln!("socket_owner not checked: it needs root");
    }
}

/// Our socket manager with three `fd0-echo` processes spawned by hand, each
/// holding a lease while it runs: what the process engine will do.
struct ManagerRunner {
    manager: SocketManager,
    address: Address,
    program: PathBuf,
    slots: Vec<Option<(ChildGuard, SocketLease)>>,
}

impl ManagerRunner {
    fn new(address: Address) -> Self {
        let socket = match &address {
            Address::Unix(path) => FcgiSocket::Unix {
                path: path.clone(),
                owner: is_root().then_some(Owner {
                    uid: NOBODY,
                    gid: Some(NOBODY),
                }),
                mode: SOCKET_MODE,
            },
            Address::Tcp(port) => FcgiSocket::Tcp {
                host: "127.0.0.1".to_owned(),
                port: *port,
            },
        };
        ManagerRunner {
            manager: SocketManager::new("echo", &socket, None),
            address,
            program: our_bin("fd0-echo"),
            slots: (0..NUMPROCS).map(|_| None).collect(),
        }
    }

    fn spawn(&self, index: usize) -> (ChildGuard, SocketLease) {
        let lease = self
            .manager
            .acquire()
            .unwrap_or_else(|e| panic!("acquire for echo_{index}: {e}"));
        let socket = lease.raw_fd();
        let mut cmd = Command::new(&self.program);
        cmd.env("SUPERVISOR_PROCESS_NAME", format!("echo_{index}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec the closure makes one
        // async-signal-safe call, dup2, on a descriptor the lease keeps
        // open in the parent until after spawn returns. dup2 leaves the
        // copy on fd 0 without close-on-exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(socket, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        (ChildGuard::spawn(&mut cmd), lease)
    }
}

impl FcgiRunner for ManagerRunner {
    fn address(&self) -> &Address {
        &self.address
    }

    fn start_group(&mut self) {
        for index in 0..NUMPROCS {
            if self.slots[index].is_none() {
                self.slots[index] = Some(self.spawn(index));
            }
        }
    }

    fn running_pids(&mut self) -> Vec<u32> {
        for index in 0..NUMPROCS {
            let exited = match &mut self.slots[index] {
                Some((child, _)) => child.try_wait().is_some(),
                None => true,
            };
            if exited {
                // The old lease goes only after its process was reaped.
                self.slots[index] = None;
                self.slots[index] = Some(self.spawn(index));
            }
        }
        self.slots
            .iter()
            .flatten()
            .map(|(child, _)| child.id())
            .collect()
    }

    fn kill(&mut self, pid: u32) {
        let slot = self
            .slots
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|(child, _)| child.id() == pid))
            .expect("the pid is one of ours");
        if let Some((mut child, lease)) = slot.take() {
            child.signal(Signal::SIGKILL);
            child.wait_timeout(DEADLINE);
            lease.release();
        }
    }

    fn stop_group(&mut self) {
        for slot in &mut self.slots {
            if let Some((mut child, lease)) = slot.take() {
                child.signal(Signal::SIGTERM);
                child.wait_timeout(DEADLINE);
                drop(lease);
            }
        }
        assert_eq!(self.manager.lease_count(), 0);
    }

    fn removes_socket_file(&self) -> bool {
        true
    }
}

/// A supervisord (the reference's, or later ours) running an
/// `[fcgi-program:echo]` group with `numprocs=3`, driven by supervisorctl.
struct DaemonRunner {
    daemon: Option<ChildGuard>,
    supervisorctl: PathBuf,
    conf: PathBuf,
    address: Address,
    removes_socket_file: bool,
    /// Every pid the group ever had, to clean up after a failed test.
    seen: Vec<u32>,
}

impl DaemonRunner {
    fn reference(sandbox: &Sandbox, address: Address) -> Self {
        let mut runner = DaemonRunner::start(
            sandbox,
            address,
            &reference_bin("supervisord"),
            &reference_bin("supervisorctl"),
        );
        runner.removes_socket_file = false;
        runner
    }

    fn start(
        sandbox: &Sandbox,
        address: Address,
        supervisord: &Path,
        supervisorctl: &Path,
    ) -> Self {
        let dir = sandbox.path();
        let socket_options = match &address {
            Address::Unix(_) if is_root() => {
                format!("socket_mode = {SOCKET_MODE:o}\nsocket_owner = nobody:nogroup\n")
            }
            Address::Unix(_) => format!("socket_mode = {SOCKET_MODE:o}\n"),
            Address::Tcp(_) => String::new(),
        };
        let conf = sandbox.write(
            "supervisord.conf",
            &format!(
                "[supervisord]\n\
                 logfile = {d}/supervisord.log\n\
                 pidfile = {d}/supervisord.pid\n\
                 childlogdir = {d}\n\
                 nodaemon = true\n\
                 [unix_http_server]\n\
                 file = {d}/ctl.sock\n\
                 [rpcinterface:supervisor]\n\
                 supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
                 [supervisorctl]\n\
                 serverurl = unix://{d}/ctl.sock\n\
                 [fcgi-program:echo]\n\
                 socket = {url}\n\
                 {socket_options}\
                 command = {program}\n\
                 process_name = %(program_name)s_%(process_num)d\n\
                 numprocs = {NUMPROCS}\n\
                 autostart = false\n\
                 autorestart = true\n\
                 startsecs = 0\n",
                d = dir.display(),
                url = address.url(),
                program = our_bin("fd0-echo").display(),
            ),
        );
        let daemon = ChildGuard::spawn(
            Command::new(supervisord)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let ctl_socket = dir.join("ctl.sock");
        wait_for("supervisord's control socket", DEADLINE, || {
            UnixStream::connect(&ctl_socket).ok().map(drop)
        });
        DaemonRunner {
            daemon: Some(daemon),
            supervisorctl: supervisorctl.to_path_buf(),
            conf,
            address,
            removes_socket_file: true,
            seen: Vec::new(),
        }
    }

    fn ctl(&self, args: &[&str]) -> String {
        let out = run_with_timeout(
            Command::new(&self.supervisorctl)
                .arg("-c")
                .arg(&self.conf)
                .args(args),
            DEADLINE,
        );
        format!("{}{}", stdout_text(&out), stderr_text(&out))
    }

    /// (name, state, pid) of each process, from `supervisorctl status`.
    fn status(&self) -> Vec<(String, String, Option<u32>)> {
        self.ctl(&["status"])
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let name = fields.first()?.strip_prefix("echo:")?;
                let state = fields.get(1)?;
                let pid = (fields.get(2) == Some(&"pid"))
                    .then(|| fields.get(3)?.trim_end_matches(',').parse().ok())
                    .flatten();
                Some((name.to_owned(), (*state).to_owned(), pid))
            })
            .collect()
    }
}

impl FcgiRunner for DaemonRunner {
    fn address(&self) -> &Address {
        &self.address
    }

    fn start_group(&mut self) {
        let out = self.ctl(&["start", "echo:*"]);
        assert_eq!(out.matches("started").count(), NUMPROCS, "{out}");
    }

    fn running_pids(&mut self) -> Vec<u32> {
        let pids = wait_for("every process of the group to run", DEADLINE, || {
            let status = self.status();
            let pids: Vec<u32> = status
                .iter()
                .filter(|(_, state, _)| state == "RUNNING")
                .filter_map(|(_, _, pid)| *pid)
                .collect();
            (pids.len() == NUMPROCS).then_some(pids)
        });
        self.seen.extend(&pids);
        pids
    }

    fn kill(&mut self, pid: u32) {
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("the process is alive");
        wait_for("the killed process to be reaped", DEADLINE, || {
            let gone = !Path::new(&format!("/proc/{pid}")).exists();
            let status = self.status();
            let listed = status.iter().any(|(_, _, p)| *p == Some(pid));
            (gone && !listed).then_some(())
        });
    }

    fn stop_group(&mut self) {
        let out = self.ctl(&["stop", "echo:*"]);
        assert_eq!(out.matches("stopped").count(), NUMPROCS, "{out}");
        let status = self.status();
        assert!(
            status.iter().all(|(_, state, _)| state == "STOPPED"),
            "{status:?}"
        );
    }

    fn removes_socket_file(&self) -> bool {
        self.removes_socket_file
    }
}

impl Drop for DaemonRunner {
    fn drop(&mut self) {
        // The group's processes are in process groups of their own: let
        // supervisord stop them, then make sure none is left.
        if let Some(mut daemon) = self.daemon.take() {
            daemon.signal(Signal::SIGTERM);
            let deadline = std::time::Instant::now() + DEADLINE;
            while daemon.try_wait().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        for &pid in &self.seen {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("fd0-echo") {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

#[test]
fn fcgi_unix_socket_shared_by_three_processes_through_the_socket_manager() {
    let sandbox = Sandbox::new();
    let mut runner = ManagerRunner::new(Address::Unix(sandbox.path().join("echo.sock")));
    shared_socket_scenario(&mut runner);
}

#[test]
fn fcgi_tcp_socket_shared_by_three_processes_through_the_socket_manager() {
    let mut runner = ManagerRunner::new(Address::Tcp(free_port()));
    shared_socket_scenario(&mut runner);
}

#[test]
fn fcgi_unix_socket_shared_by_three_processes_under_the_reference() {
    let sandbox = Sandbox::new();
    let address = Address::Unix(sandbox.path().join("echo.sock"));
    let mut runner = DaemonRunner::reference(&sandbox, address);
    shared_socket_scenario(&mut runner);
}

#[test]
fn fcgi_tcp_socket_shared_by_three_processes_under_the_reference() {
    let sandbox = Sandbox::new();
    let mut runner = DaemonRunner::reference(&sandbox, Address::Tcp(free_port()));
    shared_socket_scenario(&mut runner);
}

/// The same scenario against our daemon, which takes the socket from
/// `SocketManager` once the supervisor task spawns fcgi groups; until then
/// it refuses them, so these wait.
#[test]
fn fcgi_unix_socket_shared_by_three_processes_under_our_daemon() {
    let sandbox = Sandbox::new();
    let address = Address::Unix(sandbox.path().join("echo.sock"));
    let mut runner = DaemonRunner::start(
        &sandbox,
        address,
        &our_bin("supervisord"),
        &reference_bin("supervisorctl"),
    );
    shared_socket_scenario(&mut runner);
}

#[test]
fn fcgi_tcp_socket_shared_by_three_processes_under_our_daemon() {
    let sandbox = Sandbox::new();
    let mut runner = DaemonRunner::start(
        &sandbox,
        Address::Tcp(free_port()),
        &our_bin("supervisord"),
        &reference_bin("supervisorctl"),
    );
    shared_socket_scenario(&mut runner);
}

/// A socket that cannot be bound: the reference refuses to start with
/// `Could not create FastCGI socket <url>: <cause>`; our error carries the
/// same URL and cause (and the group's name).
#[test]
fn fcgi_bind_errors_carry_the_references_url_and_cause() {
    let sandbox = Sandbox::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to occupy");
    let port = taken.local_addr().expect("its address").port();
    let cases = [
        Address::Tcp(port),
        Address::Unix(sandbox.path().join("missing/dir/echo.sock")),
    ];
    for address in cases {
        let conf = sandbox.write(
            "bad.conf",
            &format!(
                "[supervisord]\nlogfile = {d}/bad.log\npidfile = {d}/bad.pid\nnodaemon = true\n\
                 [fcgi-program:echo]\nsocket = {url}\ncommand = /bin/true\n",
                d = sandbox.path().display(),
                url = address.url(),
            ),
        );
        let out = run_with_timeout(
            Command::new(reference_bin("supervisord"))
                .arg("-c")
                .arg(&conf),
            DEADLINE,
        );
        assert!(!out.status.success());
        let reference = stderr_text(&out);
        let line = reference
            .lines()
            .find_map(|l| l.strip_prefix("ValueError: "))
            .unwrap_or_else(|| panic!("the reference's error:\n{reference}"));

        let socket = match &address {
            Address::Unix(path) => FcgiSocket::Unix {
                path: path.clone(),
                owner: None,
                mode: 0o700,
            },
            Address::Tcp(port) => FcgiSocket::Tcp {
                host: "127.0.0.1".to_owned(),
                port: *port,
            },
        };
        let ours = SocketManager::new("echo", &socket, None)
            .acquire()
            .expect_err("the socket cannot be bound");
        assert_eq!(
            line,
            format!(
                "Could not create FastCGI socket {}: {}",
                ours.url(),
                ours.cause()
            )
        );
        assert_eq!(ours.group(), "echo");
        assert!(ours.to_string().contains("for group echo"), "{ours}");
    }
    drop(taken);
}

/// From supervisord.conf to a listening socket: the `[fcgi-program:x]`
/// section as our config loader reads it (expansions, mode, backlog) gives
/// the group's manager, and a plain program group gets none.
#[test]
fn fcgi_section_of_a_config_file_gives_its_group_a_working_socket() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile = %(here)s/s.log\n\
             [fcgi-program:web]\n\
             socket = unix://%(here)s/%(program_name)s.sock\n\
             socket_mode = 0660\n\
             socket_backlog = 16\n\
             command = {}\n\
             numprocs = 2\n\
             process_name = %(program_name)s_%(process_num)d\n\
             [program:plain]\n\
             command = /bin/true\n",
            our_bin("fd0-echo").display()
        ),
    );
    let config = supervisor::config::load_config(&conf)
        .unwrap_or_else(|e| panic!("the config loads: {e:?}"));
    let managers: Vec<SocketManager> = config
        .groups
        .iter()
        .filter_map(SocketManager::for_group)
        .collect();
    assert_eq!(managers.len(), 1, "only the fcgi group has a socket");
    let manager = &managers[0];
    assert_eq!(manager.group(), "web");
    let path = sandbox.path().join("web.sock");
    let address = Address::Unix(path.clone());
    assert_eq!(manager.url(), address.url());

    let lease = manager.acquire().expect("the socket can be created");
    let meta = std::fs::symlink_metadata(&path).expect("the socket file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
    assert!(address.listening_inode().is_some());
    drop(lease);
    assert!(!path.exists());
}

/// examples/fcgi.conf stays loadable as the code changes.
#[test]
fn fcgi_example_config_loads_with_two_socket_groups() {
    let example = supervisor_tests::workspace_root().join("examples/fcgi.conf");
    let config = supervisor::config::load_config(&example)
        .unwrap_or_else(|e| panic!("examples/fcgi.conf loads: {e:?}"));
    let urls: Vec<String> = config
        .groups
        .iter()
        .filter_map(SocketManager::for_group)
        .map(|m| m.url())
        .collect();
    assert_eq!(
        urls,
        [
            "unix:///tmp/supervisor-rs-fcgi-echo.sock",
            "tcp://127.0.0.1:9310"
        ]
    );
}
