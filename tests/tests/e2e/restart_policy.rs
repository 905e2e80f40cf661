//! The restart policy options (issue 16) on the real daemon: exponential
//! backoff and its cap measured between the main log's `spawned:` lines,
//! `retry_forever` never reaching FATAL, and `shutdown_on = fatal | exit`
//! ending supervisord (after stopping the other programs) with status 1,
//! the program's exit status, or 128+N for signal N.

use std::process::Command;
use std::time::Duration;

use supervisor_tests::{Sandbox, our_bin, start_supervisord, wait_for};

const DEADLINE: Duration = Duration::from_secs(40);

fn conf(sandbox: &Sandbox, programs: &str) -> std::path::PathBuf {
    let dir = sandbox.path().display();
    let programs = programs.replace("%EXIT", &our_bin("fixture_exit").display().to_string());
    sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
             nodaemon=true\nloglevel=info\n\n{programs}"
        ),
    )
}

fn main_log(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.path().join("main.log")).unwrap_or_default()
}

/// Seconds since midnight of a main-log line's `YYYY-MM-DD HH:MM:SS,mmm`.
pub(crate) fn stamp(line: &str) -> f64 {
    let time = &line[11..23];
    let (hms, ms) = time.split_once(',').expect("a ,mmm part");
    let parts: Vec<f64> = hms
        .split(':')
        .map(|p| p.parse::<f64>().expect("a number"))
        .collect();
    let [h, m, s] = parts[..] else {
        panic!("no HH:MM:SS in {line:?}")
    };
    h * 3600.0 + m * 60.0 + s + ms.parse::<f64>().expect("milliseconds") / 1000.0
}

/// The times of the main log's lines containing `needle`.
fn times(log: &str, needle: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains(needle))
        .map(stamp)
        .collect()
}

#[test]
fn exponential_backoff_doubles_up_to_its_cap() {
    let sandbox = Sandbox::new();
    let path = conf(
        &sandbox,
        "[program:flaky]\ncommand=%EXIT 3\nstartsecs=1\nstartretries=4\n\
         backoff=exponential\nbackoff_max=4\n",
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    let log = wait_for("flaky to give up", DEADLINE, || {
        let log = main_log(&sandbox);
        log.contains("gave up: flaky entered FATAL state")
            .then_some(log)
    });
    let spawns = times(&log, "spawned: 'flaky'");
    let backoffs = times(&log, "exited: flaky (exit status 3; not expected)");
    assert_eq!(spawns.len(), 5, "{log}");
    // Each retry waits from the exit that put it in BACKOFF.
    let waits: Vec<f64> = spawns[1..]
        .iter()
        .zip(&backoffs)
        .map(|(spawn, exit)| spawn - exit)
        .collect();
    for (wait, want) in waits.iter().zip([1.0, 2.0, 4.0, 4.0]) {
        assert!(
            *wait >= want - 0.05 && *wait < want + 0.9,
            "waits {waits:?}, want 1, 2, 4, 4\n{log}"
        );
    }
}

#[test]
fn retry_forever_keeps_retrying_past_startretries() {
    let sandbox = Sandbox::new();
    let path = conf(
        &sandbox,
        "[program:flaky]\ncommand=%EXIT 3\nstartsecs=1\nstartretries=0\n\
         retry_forever=true\nbackoff_max=1\n",
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    let log = wait_for("five attempts", DEADLINE, || {
        let log = main_log(&sandbox);
        (times(&log, "spawned: 'flaky'").len() >= 5).then_some(log)
    });
    assert!(!log.contains("FATAL"), "{log}");
    let spawns = times(&log, "spawned: 'flaky'");
    let backoffs = times(&log, "exited: flaky");
    for (spawn, exit) in spawns[1..].iter().zip(&backoffs) {
        let wait = spawn - exit;
        assert!((0.95..1.9).contains(&wait), "capped at 1 s: {wait}\n{log}");
    }
}

fn exit_status_of(programs: &str) -> (Option<i32>, String) {
    let sandbox = Sandbox::new();
    let path = conf(&sandbox, programs);
    let mut daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    let status = daemon.wait_timeout(DEADLINE);
    (status.code(), main_log(&sandbox))
}

const BYSTANDER: &str = "[program:bystander]\ncommand=sleep 1000\nstartsecs=0\n";

#[test]
fn shutdown_on_fatal_ends_supervisord_with_status_1_after_stopping_the_rest() {
    let (code, log) = exit_status_of(&format!(
        "[program:key]\ncommand=%EXIT 3\nstartsecs=1\nstartretries=0\nshutdown_on=fatal\n\
         {BYSTANDER}"
    ));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("key entered FATAL state and has shutdown_on = fatal: shutting down"),
        "{log}"
    );
    assert!(
        log.contains("stopped: bystander (terminated by SIGTERM)"),
        "{log}"
    );
}

#[test]
fn shutdown_on_exit_ends_supervisord_with_the_programs_status() {
    let (code, log) = exit_status_of(&format!(
        "[program:job]\ncommand=%EXIT 7 300\nstartsecs=0\nautorestart=false\n\
         shutdown_on=exit\n{BYSTANDER}"
    ));
    assert_eq!(code, Some(7), "{log}");
    assert!(log.contains("shutting down with exit status 7"), "{log}");
    assert!(log.contains("stopped: bystander"), "{log}");

    // Killed by a signal: 128+N, as a shell reports it.
    let (code, log) = exit_status_of(
        "[program:job]\ncommand=sh -c 'sleep 0.3; kill -9 $$'\nstartsecs=0\n\
         autorestart=false\nshutdown_on=exit\n",
    );
    assert_eq!(code, Some(128 + 9), "{log}");

    // A stop asked for by a user does not count (an exit followed by a
    // restart does not either: the machine's tests hold that).
    let sandbox = Sandbox::new();
    let path = conf(
        &sandbox,
        "[program:job]\ncommand=sleep 1000\nstartsecs=0\nautorestart=false\nshutdown_on=exit\n\
         [unix_http_server]\nfile=%(here)s/sd.sock\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         [supervisorctl]\nserverurl=unix://%(here)s/sd.sock\n",
    );
    let mut daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_for("job to run", DEADLINE, || {
        main_log(&sandbox).contains("success: job").then_some(())
    });
    let out = supervisor_tests::run_with_timeout(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(&path)
            .args(["stop", "job"]),
        DEADLINE,
    );
    assert!(out.status.success());
    assert!(
        daemon.try_wait().is_none(),
        "a user's stop ended the daemon"
    );
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(daemon.wait_timeout(DEADLINE).code(), Some(0));
}
