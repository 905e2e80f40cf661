//! pidproxy: the usage error as the reference gives it, and a real program
//! that daemonizes itself (a shell script that backgrounds itself and writes
//! its pid to a pidfile): pidproxy stays up for it, forwards signals to the
//! pid in the pidfile (following a new pid after a reload), and exits with
//! its status.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run, stderr_text, stdout_text, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// A program that daemonizes: started in the background by a launcher that
/// writes its pid and exits. Each signal it gets is recorded in `got`; on
/// HUP it "reloads" by starting a new copy under a new pid, rewriting the
/// pidfile and exiting; it exits 7 when `stop-<name>` appears. It touches
/// `ready-<name>` once its traps are set: a signal sent before that would
/// take the default action and kill it.
const DAEMON: &str = r#"name=$1
trap 'echo "$name HUP" >> got; sh ./daemon.sh B & echo $! > pidfile; exit 0' HUP
trap 'echo "$name USR1" >> got' USR1
trap 'echo "$name USR2" >> got' USR2
trap 'echo "$name TERM" >> got; exit 0' TERM
touch "ready-$name"
while [ ! -e "stop-$name" ]; do sleep 0.02; done
exit 7
"#;

const LAUNCHER: &str = "sh ./daemon.sh A & echo $! > pidfile";

fn start_proxy(sandbox: &Sandbox) -> ChildGuard {
    sandbox.write("daemon.sh", DAEMON);
    ChildGuard::spawn(
        Command::new(our_bin("pidproxy"))
            .args(["pidfile", "/bin/sh", "-c", LAUNCHER])
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state, ppid, ...
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// The pid in the pidfile once it is complete and that process has been
/// re-parented to pidproxy (its launcher has exited).
fn daemon_adopted_by(sandbox: &Sandbox, proxy: u32, other_than: Option<u32>) -> u32 {
    wait_for(
        "the daemonized program to be adopted by pidproxy",
        DEADLINE,
        || {
            let text = std::fs::read_to_string(sandbox.path().join("pidfile")).ok()?;
            let pid: u32 = text.trim().parse().ok()?;
            (Some(pid) != other_than && parent_of(pid) == Some(proxy)).then_some(pid)
        },
    )
}

fn wait_recorded(sandbox: &Sandbox, line: &str) {
    let path = sandbox.path().join("got");
    wait_for(&format!("the program to record {line:?}"), DEADLINE, || {
        let got = std::fs::read_to_string(&path).ok()?;
        got.lines().any(|l| l == line).then_some(())
    });
}

fn wait_ready(sandbox: &Sandbox, name: &str) {
    let path = sandbox.path().join(format!("ready-{name}"));
    wait_for(
        &format!("program {name} to set its traps"),
        DEADLINE,
        || path.exists().then_some(()),
    );
}

#[test]
fn pidproxy_without_a_command_prints_usage_and_exits_1_like_the_reference() {
    for args in [&[][..], &["pidfile"][..]] {
        let ours = run(our_bin("pidproxy"), args);
        let reference = run(reference_bin("pidproxy"), args);
        assert_eq!(ours.status.code(), Some(1));
        assert_eq!(ours.status.code(), reference.status.code());
        let usage_line = format!(
            "Usage: {} <pidfile name> <command> [<cmdarg1> ...]",
            our_bin("pidproxy").display()
        );
        assert!(
            stdout_text(&ours).lines().any(|l| l == usage_line),
            "stdout: {}",
            stdout_text(&ours)
        );
    }
}

#[test]
fn pidproxy_reports_a_command_it_cannot_run() {
    let sandbox = Sandbox::new();
    let out = run(
        our_bin("pidproxy"),
        [
            sandbox.path().join("pidfile").to_str().expect("UTF-8"),
            "no-such-command",
        ],
    );
    assert_eq!(out.status.code(), Some(127));
    // Resolved against the current directory, as the reference does.
    let cwd = std::env::current_dir().expect("the test has a cwd");
    let expected = Path::new(&cwd).join("no-such-command");
    assert!(
        stderr_text(&out).contains(&expected.display().to_string()),
        "stderr: {}",
        stderr_text(&out)
    );
}

#[test]
fn pidproxy_stays_up_for_a_daemonized_program_and_exits_with_its_status() {
    let sandbox = Sandbox::new();
    let mut proxy = start_proxy(&sandbox);
    let daemon = daemon_adopted_by(&sandbox, proxy.id(), None);
    // The launcher has exited (its child was re-parented), and pidproxy is
    // still standing in for the program.
    assert!(
        proxy.try_wait().is_none(),
        "pidproxy exited with its launcher"
    );
    sandbox.write("stop-A", "");
    let status = proxy.wait_timeout(DEADLINE);
    assert_eq!(status.code(), Some(7));
    assert!(parent_of(daemon).is_none(), "the program was not reaped");
}

#[test]
fn pidproxy_forwards_signals_to_the_pid_in_the_pidfile_across_a_reload() {
    let sandbox = Sandbox::new();
    let mut proxy = start_proxy(&sandbox);
    let first = daemon_adopted_by(&sandbox, proxy.id(), None);
    wait_ready(&sandbox, "A");

    proxy.signal(Signal::SIGUSR1);
    wait_recorded(&sandbox, "A USR1");
    proxy.signal(Signal::SIGUSR2);
    wait_recorded(&sandbox, "A USR2");

    // HUP: the program starts a new copy under a new pid and exits; the
    // proxy must follow the rewritten pidfile instead of exiting.
    proxy.signal(Signal::SIGHUP);
    wait_recorded(&sandbox, "A HUP");
    let second = daemon_adopted_by(&sandbox, proxy.id(), Some(first));
    assert!(proxy.try_wait().is_none(), "pidproxy exited on the reload");
    wait_ready(&sandbox, "B");

    proxy.signal(Signal::SIGUSR1);
    wait_recorded(&sandbox, "B USR1");

    // TERM stops the program; the proxy exits 0 as the reference does, but
    // only once the program is gone.
    proxy.signal(Signal::SIGTERM);
    let status = proxy.wait_timeout(DEADLINE);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        sandbox.read("got"),
        "A USR1\nA USR2\nA HUP\nB USR1\nB TERM\n"
    );
    assert!(
        parent_of(second).is_none(),
        "the reloaded program still runs"
    );
}

/// A daemon written in Python, because a shell cannot trap INT and QUIT in
/// a background job: it forks, the parent writes the child's pid and exits,
/// the child records the signals it gets and exits 7 when `stop` appears.
const PY_DAEMON: &str = r#"
import os, signal, sys, time
pid = os.fork()
if pid:
    with open('pidfile.tmp', 'w') as f:
        f.write('%d\n' % pid)
    os.rename('pidfile.tmp', 'pidfile')
    sys.exit(0)
def record(sig, frame):
    with open('got', 'a') as f:
        f.write(signal.Signals(sig).name + '\n')
for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1):
    signal.signal(sig, record)
open('ready', 'w').close()
while not os.path.exists('stop'):
    time.sleep(0.02)
sys.exit(7)
"#;

#[test]
fn pidproxy_forwards_int_and_quit_and_waits_for_the_program_to_go() {
    let sandbox = Sandbox::new();
    sandbox.write("daemon.py", PY_DAEMON);
    let mut proxy = ChildGuard::spawn(
        Command::new(our_bin("pidproxy"))
            .arg("pidfile")
            .arg(reference_bin("python"))
            .arg("daemon.py")
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    daemon_adopted_by(&sandbox, proxy.id(), None);
    wait_for("the daemon's handlers", DEADLINE, || {
        sandbox.path().join("ready").exists().then_some(())
    });
    proxy.signal(Signal::SIGINT);
    wait_recorded(&sandbox, "SIGINT");
    proxy.signal(Signal::SIGQUIT);
    wait_recorded(&sandbox, "SIGQUIT");
    // The program shrugged the stop signals off: unlike the reference,
    // which exits at once, pidproxy keeps standing for it.
    assert!(
        proxy.try_wait().is_none(),
        "pidproxy left a running program"
    );
    sandbox.write("stop", "");
    // After a forwarded stop signal the exit status is 0, as the reference's.
    assert_eq!(proxy.wait_timeout(DEADLINE).code(), Some(0));
}

#[test]
fn pidproxy_exits_with_the_launchers_status_when_no_pidfile_appears() {
    let sandbox = Sandbox::new();
    let out = run(
        our_bin("pidproxy"),
        [
            sandbox.path().join("pidfile").to_str().expect("UTF-8"),
            "/bin/sh",
            "-c",
            "exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn pidproxy_signals_its_own_child_until_the_pidfile_exists() {
    let sandbox = Sandbox::new();
    let mut proxy = ChildGuard::spawn(
        Command::new(our_bin("pidproxy"))
            .args([
                "pidfile",
                "/bin/sh",
                "-c",
                "trap 'echo launcher USR1 >> got' USR1; : > ready; \
                 while [ ! -e stop ]; do sleep 0.02; done",
            ])
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    wait_for("the launcher's trap", DEADLINE, || {
        sandbox.path().join("ready").exists().then_some(())
    });
    proxy.signal(Signal::SIGUSR1);
    wait_recorded(&sandbox, "launcher USR1");
    sandbox.write("stop", "");
    assert_eq!(proxy.wait_timeout(DEADLINE).code(), Some(0));
    let mut stdout = String::new();
    std::io::Read::read_to_string(
        proxy.child_mut().stdout.as_mut().expect("stdout is piped"),
        &mut stdout,
    )
    .expect("pidproxy's stdout is readable");
    // The reference's complaint, word for word.
    assert_eq!(stdout, "Can't read child pidfile pidfile!\n");
}

/// The use pidproxy exists for: the reference supervisord runs a program
/// that daemonizes itself, through our pidproxy, sees it RUNNING (it stays
/// up past startsecs although the launcher exits at once) and stops it.
#[test]
fn pidproxy_lets_supervisord_run_and_stop_a_daemonizing_program() {
    let sandbox = Sandbox::new();
    sandbox.write("daemon.sh", DAEMON);
    let dir = sandbox.path().display().to_string();
    let config = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\n\
             logfile={dir}/supervisord.log\n\
             pidfile={dir}/supervisord.pid\n\
             childlogdir={dir}\n\
             [unix_http_server]\n\
             file={dir}/supervisor.sock\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\n\
             serverurl=unix://{dir}/supervisor.sock\n\
             [program:legacy]\n\
             command={proxy} {dir}/pidfile /bin/sh -c '{LAUNCHER}'\n\
             directory={dir}\n\
             startsecs=1\n\
             stopwaitsecs=5\n",
            proxy = our_bin("pidproxy").display(),
        ),
    );
    let mut supervisord = ChildGuard::spawn(
        Command::new(reference_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let ctl = |args: &[&str]| {
        let mut all = vec!["-c", config.to_str().expect("UTF-8")];
        all.extend_from_slice(args);
        run(reference_bin("supervisorctl"), all)
    };
    wait_for("legacy to be RUNNING", DEADLINE, || {
        stdout_text(&ctl(&["status", "legacy"]))
            .contains("RUNNING")
            .then_some(())
    });
    // RUNNING only says a second passed: under load the launcher may not
    // have written the pid yet, nor the program set its traps (a TERM
    // before that kills it by default and nothing is recorded).
    let daemon: u32 = wait_for("the launcher to write a pid", DEADLINE, || {
        std::fs::read_to_string(sandbox.path().join("pidfile"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    wait_ready(&sandbox, "A");
    assert!(
        parent_of(daemon).is_some(),
        "the daemonized program is gone"
    );

    let stop = ctl(&["stop", "legacy"]);
    assert!(stop.status.success(), "{}", stdout_text(&stop));
    wait_recorded(&sandbox, "A TERM");
    assert!(stdout_text(&ctl(&["status", "legacy"])).contains("STOPPED"));
    assert!(parent_of(daemon).is_none(), "the program outlived its stop");
    let log = sandbox.read("supervisord.log");
    assert!(
        !log.contains("exited: legacy"),
        "supervisord saw pidproxy exit on its own:\n{log}"
    );
    assert!(ctl(&["shutdown"]).status.success());
    supervisord.wait_timeout(DEADLINE);
}
