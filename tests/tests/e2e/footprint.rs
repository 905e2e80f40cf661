//! Output nothing reads is not piped: a program whose channels go nowhere
//! (logfile NONE, no syslog, no capture, no events, loglevel above debug)
//! gets `/dev/null` for them, while a logged program, a debug-level main
//! log (which echoes child output, as the reference does) and every stdin
//! keep their pipes. Reading the log of such a program faults exactly as
//! it does under the reference.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use supervisor_tests::{ChildGuard, Sandbox, our_bin, reference_bin, start_supervisord, wait_for};

const DEADLINE: Duration = Duration::from_secs(20);

/// A running supervisord that is stopped (and waited for) on drop.
struct Daemon {
    guard: ChildGuard,
    log: PathBuf,
}

impl Daemon {
    fn start(bin: PathBuf, sandbox: &Sandbox, conf: &str) -> Daemon {
        let path = sandbox.write("supervisord.conf", conf);
        let guard = start_supervisord(bin, sandbox, &path);
        Daemon {
            guard,
            log: sandbox.path().join("main.log"),
        }
    }

    fn wait_line(&self, needle: &str) -> String {
        wait_for(&format!("{needle:?} in the main log"), DEADLINE, || {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            text.contains(needle).then_some(text)
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.guard.try_wait().is_none() {
            self.guard.signal(Signal::SIGTERM);
            let _ = wait_for("the daemon to exit", DEADLINE, || self.guard.try_wait());
        }
    }
}

/// A config with an RPC socket, `loglevel`, and two programs that write
/// a line to each channel and sleep: `quiet` logs nothing, `logged` logs
/// stdout to a file.
fn config(dir: &Path, loglevel: &str) -> String {
    let dir = dir.display();
    let program = |name: &str, logs: &str| {
        format!(
            "[program:{name}]\n\
             command=/bin/sh -c 'echo hello-from-{name}; echo oops-from-{name} >&2; exec sleep 600'\n\
             startsecs=0\n{logs}\n"
        )
    };
    format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
         nodaemon=true\nloglevel={loglevel}\n\
         [unix_http_server]\nfile={dir}/sock\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         [supervisorctl]\nserverurl=unix://{dir}/sock\n{}{}",
        program("quiet", "stdout_logfile=NONE\nstderr_logfile=NONE"),
        program(
            "logged",
            &format!("stdout_logfile={dir}/logged.out\nstderr_logfile=NONE")
        ),
    )
}

/// Where fds 0, 1 and 2 of program `name` lead, read from `/proc` once
/// it runs `sleep` (the shell execs it: same pid, same fds).
fn fds_of(daemon: &Daemon, name: &str) -> Vec<String> {
    let log = daemon.wait_line(&format!("spawned: '{name}' with pid "));
    let pid: i32 = log
        .lines()
        .find_map(|l| l.split(&format!("spawned: '{name}' with pid ")).nth(1))
        .and_then(|p| p.trim().parse().ok())
        .expect("the spawned line names a pid");
    wait_for(&format!("{name} to exec sleep"), DEADLINE, || {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "sleep").then_some(())
    });
    (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|target| target.display().to_string())
                .unwrap_or_else(|e| panic!("fd {fd} of {name} (pid {pid}): {e}"))
        })
        .collect()
}

/// The raw XML-RPC answers, fault code and text, to reading both logs of
/// `quiet`, as the reference's own client sees them.
fn log_read_faults(dir: &Path) -> String {
    let script = format!(
        "import xmlrpc.client as x\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         t = SupervisorTransport(None, None, 'unix://{}/sock')\n\
         s = x.ServerProxy('http://127.0.0.1', transport=t).supervisor\n\
         for call in (lambda: s.readProcessStdoutLog('quiet', 0, 100),\n\
                      lambda: s.readProcessStderrLog('quiet', -100, 0),\n\
                      lambda: s.tailProcessStdoutLog('quiet', 0, 100)):\n\
         \x20   try:\n\
         \x20       print('ok', repr(call()))\n\
         \x20   except x.Fault as f:\n\
         \x20       print(f.faultCode, f.faultString)\n",
        dir.display()
    );
    let out = supervisor_tests::run_with_timeout(
        Command::new(reference_bin("python")).arg("-c").arg(script),
        DEADLINE,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `supervisorctl tail` of both channels of `quiet`.
fn ctl_tails(dir: &Path) -> Vec<(String, Option<i32>)> {
    ["stdout", "stderr"]
        .iter()
        .map(|channel| {
            let out = supervisor_tests::run_with_timeout(
                Command::new(reference_bin("supervisorctl"))
                    .arg("-c")
                    .arg(dir.join("supervisord.conf"))
                    .args(["tail", "quiet", channel]),
                DEADLINE,
            );
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                out.status.code(),
            )
        })
        .collect()
}

#[test]
fn output_nothing_reads_goes_to_dev_null_and_its_tail_faults_as_the_reference() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path();
    let daemon = Daemon::start(our_bin("supervisord"), &sandbox, &config(dir, "info"));
    daemon.wait_line("success: quiet");
    daemon.wait_line("success: logged");

    let quiet = fds_of(&daemon, "quiet");
    assert!(
        quiet[0].starts_with("pipe:"),
        "stdin stays a pipe: {quiet:?}"
    );
    assert_eq!(quiet[1..], ["/dev/null", "/dev/null"], "{quiet:?}");
    let logged = fds_of(&daemon, "logged");
    assert!(
        logged[0].starts_with("pipe:") && logged[1].starts_with("pipe:"),
        "a logged stdout is read: {logged:?}"
    );
    assert_eq!(logged[2], "/dev/null", "its unlogged stderr is not");
    wait_for("the logged line", DEADLINE, || {
        std::fs::read_to_string(dir.join("logged.out"))
            .ok()
            .filter(|text| text.contains("hello-from-logged"))
    });

    // The discarded output appears nowhere, and nothing else changed.
    let main = std::fs::read_to_string(dir.join("main.log")).unwrap_or_default();
    assert!(!main.contains("hello-from-quiet") && !main.contains("oops-from-quiet"));
    let ours = (log_read_faults(dir), ctl_tails(dir));
    assert!(ours.0.starts_with("20 NO_FILE"), "{}", ours.0);
    drop(daemon);

    let reference_sandbox = Sandbox::new();
    let reference_dir = reference_sandbox.path();
    let reference = Daemon::start(
        reference_bin("supervisord"),
        &reference_sandbox,
        &config(reference_dir, "info"),
    );
    reference.wait_line("success: quiet");
    fds_of(&reference, "quiet");
    let theirs = (log_read_faults(reference_dir), ctl_tails(reference_dir));
    assert_eq!(ours, theirs, "ours, then the reference's");
}

#[test]
fn at_loglevel_debug_unlogged_output_is_still_read_into_the_main_log() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path();
    let daemon = Daemon::start(our_bin("supervisord"), &sandbox, &config(dir, "debug"));
    daemon.wait_line("success: quiet");
    let quiet = fds_of(&daemon, "quiet");
    assert!(
        quiet.iter().all(|fd| fd.starts_with("pipe:")),
        "the main log echoes child output at debug: {quiet:?}"
    );
    daemon.wait_line("'quiet' stdout output:\nhello-from-quiet\n");
    daemon.wait_line("'quiet' stderr output:\noops-from-quiet\n");
}
