//! Start and stop order (`depends_on`, issue 16), on the real daemon with
//! `fixture_order` children that append `start NAME` / `stop NAME` to a
//! journal: a chain and a diamond start dependencies first and stop
//! dependents first (shutdown, `stop all`, a group stop), whatever their
//! priorities say; a start pulls in stopped dependencies and waits through
//! them, showing `waiting for ...`; a dependency going FATAL fails the
//! dependent; cycles and unknown names are config errors; and the same
//! file loads in the reference, which ignores the option.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run_with_timeout, start_supervisord, stderr_text,
    stdout_text, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(20);

/// A config with a unix socket, the main log at `main.log` and `programs`
/// appended; `%(J)s` in it stands for the journal fixture command prefix.
fn conf(sandbox: &Sandbox, programs: &str) -> std::path::PathBuf {
    let dir = sandbox.path().display();
    let fixture = our_bin("fixture_order").display().to_string();
    let programs = programs.replace("%J", &format!("{fixture} {dir}/journal"));
    sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
             nodaemon=true\nloglevel=info\n\n\
             [unix_http_server]\nfile={dir}/sd.sock\n\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [supervisorctl]\nserverurl=unix://{dir}/sd.sock\n\n{programs}"
        ),
    )
}

fn ctl(sandbox: &Sandbox, args: &[&str]) -> (String, Option<i32>) {
    let out = run_with_timeout(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(sandbox.path().join("supervisord.conf"))
            .args(args),
        DEADLINE,
    );
    (stdout_text(&out), out.status.code())
}

/// `NAME STATE DESCRIPTION` of one process, from `supervisorctl status`.
fn status_line(sandbox: &Sandbox, name: &str) -> String {
    let (out, _) = ctl(sandbox, &["status", name]);
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn wait_state(sandbox: &Sandbox, name: &str, state: &str) -> String {
    wait_for(&format!("{name} to be {state}"), DEADLINE, || {
        let line = status_line(sandbox, name);
        (line.split_whitespace().nth(1) == Some(state)).then_some(line)
    })
}

fn journal(sandbox: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(sandbox.path().join("journal"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn main_log(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.path().join("main.log")).unwrap_or_default()
}

/// The position of the first main-log line containing `needle`.
fn log_at(log: &str, needle: &str) -> usize {
    log.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in the main log:\n{log}"))
}

/// Wait until the journal has `count` lines, then give them.
fn journal_of(sandbox: &Sandbox, count: usize) -> Vec<String> {
    wait_for(&format!("{count} journal lines"), DEADLINE, || {
        let lines = journal(sandbox);
        (lines.len() >= count).then_some(lines)
    })
}

/// c -> b -> a, priorities the other way round: a chain that priority
/// alone would start backwards. Each stop lingers, so a dependency stopped
/// too early would write its line first.
const CHAIN: &str = "[program:a]\ncommand=%J a 300\npriority=300\nstartsecs=0\n\n\
     [program:b]\ncommand=%J b 300\npriority=200\nstartsecs=0\ndepends_on=a\n\n\
     [program:c]\ncommand=%J c 300\npriority=100\nstartsecs=0\ndepends_on = b\n\n\
     [group:g]\nprograms=a,b,c\n";

/// a RUNNING before b is spawned, b RUNNING before c is (the journal
/// cannot tell: with startsecs=0 a child may write after the next spawned).
fn assert_chain_started(log: &str) {
    assert!(log_at(log, "success: a entered RUNNING") < log_at(log, "spawned: 'b'"));
    assert!(log_at(log, "success: b entered RUNNING") < log_at(log, "spawned: 'c'"));
}

#[test]
fn a_chain_starts_dependencies_first_and_stops_dependents_first() {
    let sandbox = Sandbox::new();
    let path = conf(&sandbox, CHAIN);
    let mut daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    // The main log is written before the snapshot status reads.
    wait_state(&sandbox, "g:c", "RUNNING");
    assert_chain_started(&main_log(&sandbox));
    journal_of(&sandbox, 3);

    // A group stop, then `stop all` after `start all`: dependents first,
    // each stop complete before what it depends on is stopped.
    for (stop, start) in [("g:*", "g:*"), ("all", "all")] {
        let before = journal(&sandbox).len();
        let log_before = main_log(&sandbox).len();
        let (out, code) = ctl(&sandbox, &["stop", stop]);
        assert_eq!(code, Some(0), "{out}");
        for name in ["a", "b", "c"] {
            assert!(out.contains(&format!("{name}: stopped")), "{out}");
        }
        let lines = journal_of(&sandbox, before + 3)[before..].to_vec();
        assert_eq!(lines, ["stop c", "stop b", "stop a"], "after stop {stop}");
        let (out, code) = ctl(&sandbox, &["start", start]);
        assert_eq!(code, Some(0), "{out}");
        journal_of(&sandbox, before + 6);
        wait_state(&sandbox, "g:c", "RUNNING");
        assert_chain_started(&main_log(&sandbox)[log_before..]);
    }

    // Stopping the bottom of the chain stops what depends on it first;
    // starting the top pulls the whole chain in again.
    let before = journal(&sandbox).len();
    let (out, code) = ctl(&sandbox, &["stop", "g:a"]);
    assert_eq!((out.as_str(), code), ("g:a: stopped\n", Some(0)));
    assert_eq!(journal(&sandbox)[before..], ["stop c", "stop b", "stop a"]);
    let (out, code) = ctl(&sandbox, &["start", "g:c"]);
    assert_eq!(
        (out.as_str(), code),
        (
            "g:a: started (dependency of g:c)\ng:b: started (dependency of g:c)\n\
             g:c: started\n",
            Some(0)
        )
    );
    for name in ["g:a", "g:b", "g:c"] {
        assert!(status_line(&sandbox, name).contains("RUNNING"), "{name}");
    }
    journal_of(&sandbox, before + 6);

    // Shutdown: the same order, and the daemon ends.
    let before = journal(&sandbox).len();
    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait_timeout(DEADLINE);
    assert!(status.success(), "{status:?}");
    assert_eq!(journal(&sandbox)[before..], ["stop c", "stop b", "stop a"]);
}

#[test]
fn a_diamond_starts_its_top_after_both_sides_and_stops_it_first() {
    let sandbox = Sandbox::new();
    let path = conf(
        &sandbox,
        "[program:top]\ncommand=%J top 300\npriority=1\nstartsecs=0\ndepends_on=left,right\n\n\
         [program:left]\ncommand=%J left 300\npriority=2\nstartsecs=1\ndepends_on=base\n\n\
         [program:right]\ncommand=%J right\npriority=3\nstartsecs=0\ndepends_on=base\n\n\
         [program:base]\ncommand=%J base\npriority=4\nstartsecs=0\n",
    );
    let mut daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    journal_of(&sandbox, 4);
    wait_state(&sandbox, "top", "RUNNING");
    let log = main_log(&sandbox);
    for side in ["left", "right"] {
        let running = log_at(&log, "success: base entered RUNNING");
        assert!(
            running < log_at(&log, &format!("spawned: '{side}'")),
            "{log}"
        );
    }
    // left has startsecs=1: top waits for it to be RUNNING, not spawned.
    assert!(log_at(&log, "success: left entered RUNNING") < log_at(&log, "spawned: 'top'"));
    assert!(log_at(&log, "success: right entered RUNNING") < log_at(&log, "spawned: 'top'"));

    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait_timeout(DEADLINE).success());
    let lines = journal(&sandbox)[4..].to_vec();
    assert_eq!(lines[0], "stop top", "{lines:?}");
    assert_eq!(lines[3], "stop base", "{lines:?}");
}

#[test]
fn a_start_pulls_in_stopped_dependencies_and_waits_through_them() {
    let sandbox = Sandbox::new();
    let path = conf(
        &sandbox,
        "[program:dbase]\ncommand=%J dbase\nautostart=false\nstartsecs=2\n\n\
         [program:web]\ncommand=%J web\nautostart=false\nstartsecs=0\ndepends_on=dbase\n",
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_state(&sandbox, "web", "STOPPED");
    let sock = sandbox.path().join("supervisord.conf");
    // startProcess(wait=true) in the background; meanwhile web waits.
    let mut starter = ChildGuard::spawn(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(&sock)
            .args(["start", "web"])
            .stdout(std::process::Stdio::piped()),
    );
    let waiting = wait_for("web to say what it waits for", DEADLINE, || {
        let line = status_line(&sandbox, "web");
        line.contains("waiting for dbase").then_some(line)
    });
    assert_eq!(waiting, "web STOPPED waiting for dbase");
    assert!(starter.try_wait().is_none(), "start web answered too early");
    assert!(
        status_line(&sandbox, "dbase").contains("STARTING"),
        "dbase was pulled in"
    );
    let status = starter.wait_timeout(DEADLINE);
    let mut out = String::new();
    std::io::Read::read_to_string(
        starter.child_mut().stdout.as_mut().expect("piped stdout"),
        &mut out,
    )
    .expect("read supervisorctl's output");
    assert!(status.success(), "{out}");
    // A line for the dependency it pulled in, then the reference's own.
    assert_eq!(out, "dbase: started (dependency of web)\nweb: started\n");
    assert!(status_line(&sandbox, "dbase").contains("RUNNING"));
    assert!(status_line(&sandbox, "web").contains("RUNNING"));
    assert_eq!(journal(&sandbox), ["start dbase", "start web"]);
}

#[test]
fn a_dependency_going_fatal_fails_its_dependent_with_its_name() {
    let sandbox = Sandbox::new();
    let exit = our_bin("fixture_exit").display().to_string();
    let path = conf(
        &sandbox,
        &format!(
            "[program:dbase]\ncommand={exit} 3\nstartsecs=1\nstartretries=1\n\n\
             [program:web]\ncommand=%J web\nstartsecs=0\ndepends_on=dbase\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_state(&sandbox, "dbase", "FATAL");
    let web = wait_state(&sandbox, "web", "FATAL");
    assert_eq!(web, "web FATAL dependency dbase entered FATAL state");
    assert!(
        main_log(&sandbox)
            .contains("gave up: web entered FATAL state, dependency dbase entered FATAL state")
    );
    assert!(journal(&sandbox).is_empty(), "web never ran");
    // Starting it again tries dbase again, and fails the same way.
    let (out, code) = ctl(&sandbox, &["start", "web"]);
    assert_ne!(code, Some(0));
    assert_eq!(
        out,
        "dbase: ERROR (dependency of web, FATAL)\nweb: ERROR (spawn error)\n"
    );
    assert!(journal(&sandbox).is_empty(), "web never ran");
}

fn check_config(path: &Path) -> (bool, String) {
    let out = run_with_timeout(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(path)
            .arg("--test-config"),
        DEADLINE,
    );
    (
        out.status.success(),
        format!("{}{}", stdout_text(&out), stderr_text(&out)),
    )
}

#[test]
fn cycles_self_references_and_unknown_names_are_config_errors() {
    let sandbox = Sandbox::new();
    let cases = [
        (
            "[program:a]\ncommand=x\ndepends_on=b\n[program:b]\ncommand=x\ndepends_on=a\n",
            "[program:a] depends_on = 'b': dependency cycle: a -> b -> a",
        ),
        (
            "[program:a]\ncommand=x\ndepends_on=a\n",
            "[program:a] depends_on = 'a': a cannot depend on itself",
        ),
        (
            "[program:a]\ncommand=x\ndepends_on=dbase\n",
            "[program:a] depends_on = 'dbase': dbase is no program, group or group:process",
        ),
    ];
    for (programs, want) in cases {
        let path = conf(&sandbox, programs);
        let (ok, out) = check_config(&path);
        assert!(!ok, "{out}");
        assert!(out.contains(want), "want {want:?} in:\n{out}");
        assert!(out.contains("supervisord.conf:"), "{out}");
    }
    let path = conf(
        &sandbox,
        &format!(
            "{CHAIN}\n[program:job]\ncommand=x\nautorestart=false\nshutdown_on=exit\n\
             backoff=exponential\nbackoff_jitter=0.25\nready_check=tcp:localhost:%(process_num)s81\n\
             health_check=http://localhost:81/up\n\n\
             [program:dog]\ncommand=x\nready_check=notify\nwatchdog_secs=5\n\
             health_check=exec:/bin/true\n"
        ),
    );
    let (ok, out) = check_config(&path);
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "      ready_check=notify ready_timeout=60 watchdog_secs=5 \
             health_check=exec:/bin/true every 10s, timeout 5s, 3 retries\n"
        ),
        "{out}"
    );
    assert!(out.contains("depends_on: g:b"), "{out}");
    assert!(
        out.contains(
            "      ready_check=tcp:localhost:81 ready_timeout=60 health_check=http://localhost:81/up \
             every 10s, timeout 5s, 3 retries backoff=exponential max=60s jitter=0.250 \
             retry_forever=false shutdown_on=exit\n"
        ),
        "{out}"
    );
}

#[test]
fn the_reference_loads_the_same_config_and_ignores_the_option() {
    let sandbox = Sandbox::new();
    // Every option of issue 16 at once: the reference ignores them all.
    let path = conf(
        &sandbox,
        &format!(
            "{CHAIN}\n[program:all]\ncommand=/bin/sleep 300\nstartsecs=0\ndepends_on=g:a\n\
             ready_check=notify\nready_timeout=5\nwatchdog_secs=2\n\
             health_check=https://localhost:1/up\nhealth_interval=3\nhealth_timeout=2\n\
             health_retries=4\nbackoff=exponential\nbackoff_max=9\nbackoff_jitter=0.5\n\
             retry_forever=true\nshutdown_on=never\n"
        ),
    );
    let _daemon = start_supervisord(reference_bin("supervisord"), &sandbox, &path);
    wait_for("the reference to run all three", DEADLINE, || {
        let log = main_log(&sandbox);
        ["a", "b", "c", "all"]
            .iter()
            .all(|n| log.contains(&format!("success: {n} entered RUNNING")))
            .then_some(())
    });
}
