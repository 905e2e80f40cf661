//! supervisord under systemd's notify protocol: a test binds the datagram
//! socket systemd would, starts the daemon with `NOTIFY_SOCKET` pointing
//! at it, and reads what arrives: `READY=1` only once the autostart
//! programs left STARTING, `RELOADING=1` then `READY=1` on SIGHUP,
//! `STOPPING=1` at shutdown, `WATCHDOG=1` pings with `WATCHDOG_USEC`; and
//! no child inherits the variables.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use supervisor_tests::{ChildGuard, Sandbox, our_bin, run_with_timeout, stdout_text};

const DEADLINE: Duration = Duration::from_secs(20);

/// The socket systemd would listen on.
struct FakeSystemd {
    socket: UnixDatagram,
}

impl FakeSystemd {
    fn bind(sandbox: &Sandbox) -> (FakeSystemd, std::path::PathBuf) {
        let path = sandbox.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        (FakeSystemd { socket }, path)
    }

    /// The next message, within the deadline.
    fn next(&self) -> String {
        let deadline = Instant::now() + DEADLINE;
        let left = deadline.saturating_duration_since(Instant::now());
        self.socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("set a read timeout");
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notify message before the deadline");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Messages until one has the line `line`; that message.
    fn until(&self, line: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "no {line:?} in time");
            let message = self.next();
            if message.lines().any(|l| l == line) {
                return message;
            }
        }
    }
}

fn conf(sandbox: &Sandbox) -> String {
    let dir = sandbox.path().display();
    let probe = our_bin("fixture_stubborn").display().to_string();
    let exit = our_bin("fixture_exit").display().to_string();
    format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
         nodaemon=true\nloglevel=debug\n\n\
         [unix_http_server]\nfile={dir}/sd.sock\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{dir}/sd.sock\n\n\
         [program:up]\ncommand={probe}\nstartsecs=1\nstopsignal=KILL\n\n\
         [program:fail]\ncommand={exit} 3\nstartsecs=1\nstartretries=0\n\n\
         [program:retry]\ncommand={exit} 3\nstartsecs=1\nstartretries=1000\n"
    )
}

fn start(sandbox: &Sandbox, notify: &Path, env: &[(&str, &str)]) -> ChildGuard {
    let path = sandbox.write("supervisord.conf", &conf(sandbox));
    ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(path)
            .current_dir(sandbox.path())
            .env("NOTIFY_SOCKET", notify)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// `name STATE ...` lines of `supervisorctl status` (XML-RPC).
fn status(sandbox: &Sandbox) -> String {
    let out = run_with_timeout(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(sandbox.path().join("supervisord.conf"))
            .arg("status"),
        DEADLINE,
    );
    stdout_text(&out)
}

fn state_of<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{name} missing from status:\n{status}"))
}

/// Check what the main log and XML-RPC say at the moment READY=1 came.
fn assert_settled(sandbox: &Sandbox) {
    // The main log is written before the snapshot READY follows is.
    let log = std::fs::read_to_string(sandbox.path().join("main.log")).unwrap_or_default();
    assert!(
        log.contains("success: up entered RUNNING state"),
        "READY before up was RUNNING:\n{log}"
    );
    assert!(
        log.contains("gave up: fail entered FATAL state"),
        "READY before fail was FATAL:\n{log}"
    );
    assert!(
        log.contains("exited: retry (exit status 3; not expected)"),
        "READY before retry failed once:\n{log}"
    );
    let status = status(sandbox);
    assert_eq!(state_of(&status, "up"), "RUNNING", "{status}");
    assert_eq!(state_of(&status, "fail"), "FATAL", "{status}");
}

fn pid_of(status: &str, name: &str) -> u32 {
    let line = status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} missing from status:\n{status}"));
    line.split("pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

#[test]
fn ready_comes_once_autostart_programs_settled_and_stopping_at_shutdown() {
    let sandbox = Sandbox::new();
    let (systemd, socket) = FakeSystemd::bind(&sandbox);
    let started = Instant::now();
    let mut daemon = start(&sandbox, &socket, &[]);
    let ready = systemd.until("READY=1");
    assert_settled(&sandbox);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "READY within up's startsecs"
    );
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS=")),
        "no STATUS with READY: {ready:?}"
    );

    // The child has none of systemd's variables.
    let pid = pid_of(&status(&sandbox), "up");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the child's environment");
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ.split('\0').any(|v| v.starts_with("NOTIFY_SOCKET=")),
        "the child inherited NOTIFY_SOCKET"
    );

    // A restart is announced, and READY comes again once the new life
    // settled.
    daemon.signal(Signal::SIGHUP);
    systemd.until("RELOADING=1");
    systemd.until("READY=1");
    let status = status(&sandbox);
    assert_eq!(state_of(&status, "up"), "RUNNING", "{status}");

    daemon.signal(Signal::SIGTERM);
    systemd.until("STOPPING=1");
    assert!(daemon.wait_timeout(DEADLINE).success());
}

#[test]
fn the_watchdog_is_pinged_at_half_its_timeout() {
    let sandbox = Sandbox::new();
    let (systemd, socket) = FakeSystemd::bind(&sandbox);
    let mut daemon = start(&sandbox, &socket, &[("WATCHDOG_USEC", "200000")]);
    systemd.until("READY=1");
    for _ in 0..3 {
        systemd.until("WATCHDOG=1");
    }
    let pid = pid_of(&status(&sandbox), "up");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the child's environment");
    let environ = String::from_utf8_lossy(&environ);
    for var in ["NOTIFY_SOCKET=", "WATCHDOG_USEC="] {
        assert!(
            !environ.split('\0').any(|v| v.starts_with(var)),
            "the child inherited {var}"
        );
    }
    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait_timeout(DEADLINE).success());
}
