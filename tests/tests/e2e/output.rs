//! Child output through the real daemon: a channel that only logs is
//! spliced from the pipe into its log, one with capture mode is copied, and
//! either way every byte the child wrote is in the log and its backups, in
//! order, across 1 MB rotations. And `clearProcessLogs` in the middle of a
//! capture block drops the half already read, as the reference does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use supervisor_tests::{
    RECORDING_LISTENER, Sandbox, fill_spew, our_bin, reference_bin, run_with_timeout,
    start_supervisord, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(30);

/// The log and its backups, oldest first.
fn logged(path: &Path, backups: u32) -> Vec<u8> {
    let mut all = Vec::new();
    for n in (1..=backups).rev() {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        all.extend(std::fs::read(name).unwrap_or_default());
    }
    all.extend(std::fs::read(path).unwrap_or_default());
    all
}

#[test]
fn spliced_and_copied_channels_keep_every_byte_across_rotation() {
    const TOTAL: usize = 5_000_000;
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display();
    let spew = our_bin("fixture_spew").display().to_string();
    // loglevel=info: a debug main log echoes child output, which needs the
    // bytes in user space (no splice).
    let conf = format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
         nodaemon=true\nloglevel=info\n\
         [program:spliced]\ncommand={spew} {TOTAL} 65543\nstartsecs=0\nautorestart=false\n\
         numprocs=3\nprocess_name=%(program_name)s_%(process_num)s\n\
         stdout_logfile={dir}/%(program_name)s_%(process_num)s.log\nstdout_logfile_maxbytes=1MB\n\
         stdout_logfile_backups=10\n\
         [program:copied]\ncommand={spew} {TOTAL} 65543\nstartsecs=0\nautorestart=false\n\
         stdout_logfile={dir}/copied.log\nstdout_logfile_maxbytes=1MB\n\
         stdout_logfile_backups=10\nstdout_capture_maxbytes=1MB\n"
    );
    let conf_path = sandbox.write("supervisord.conf", &conf);
    let mut daemon = start_supervisord(our_bin("supervisord"), &sandbox, &conf_path);
    let main_log = sandbox.path().join("main.log");
    wait_for("every spewer to exit", DEADLINE, || {
        let text = std::fs::read_to_string(&main_log).unwrap_or_default();
        (0..3)
            .all(|n| text.contains(&format!("exited: spliced_{n} (exit status 0; expected)")))
            .then_some(())
            .filter(|()| text.contains("exited: copied (exit status 0; expected)"))
    });
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(daemon.wait_timeout(Duration::from_secs(15)).success());

    let mut expected = vec![0; TOTAL];
    fill_spew(0, &mut expected);
    // Three spliced writers at once share the daemon's two worker threads
    // and their stages; each log must still hold its own stream alone.
    for name in [
        "spliced_0.log",
        "spliced_1.log",
        "spliced_2.log",
        "copied.log",
    ] {
        let got = logged(&sandbox.path().join(name), 10);
        assert_eq!(got.len(), TOTAL, "{name}");
        assert!(got == expected, "{name} does not hold the exact stream");
        let first =
            std::fs::metadata(sandbox.path().join(format!("{name}.1"))).map_or(0, |m| m.len());
        assert!(first >= 1024 * 1024, "{name}.1 holds {first} bytes");
    }
}

/// The half block read before the clear: longer than the END token, or the
/// reference would still hold it back unread (it waits for more bytes than
/// a token before it looks), and a clear would not drop it.
const STALE: &str = "stale-data-longer-than-a-token";

/// Under `supervisord` (ours or the reference): a program opens a capture
/// block, writes [`STALE`], and waits; once the main log shows it was
/// read, `supervisorctl clear` runs, then the program writes "fresh" and
/// closes the block. Returns the PROCESS_COMMUNICATION lines the listener got.
/// Without `with_log_file` the program's stdout log is NONE.
fn communication_after_a_clear(supervisord: PathBuf, with_log_file: bool) -> Vec<String> {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display();
    let script = sandbox.write("listener.py", RECORDING_LISTENER);
    let seen = sandbox.path().join("events.txt");
    let go = sandbox.path().join("go");
    let conf = format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
         nodaemon=true\nloglevel=debug\n\
         [unix_http_server]\nfile={dir}/sock\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         [supervisorctl]\nserverurl=unix://{dir}/sock\n\
         [eventlistener:watch]\ncommand={python} {script} {seen}\nevents=PROCESS_COMMUNICATION\n\
         [program:talker]\n\
         command=/bin/sh -c 'printf \"<!--XSUPERVISOR:BEGIN-->{STALE}\"; \
         while [ ! -e {go} ]; do sleep 0.02; done; \
         printf \"fresh<!--XSUPERVISOR:END-->\"; exec sleep 600'\n\
         startsecs=0\nstdout_logfile={logfile}\nstdout_capture_maxbytes=1MB\n",
        python = reference_bin("python").display(),
        script = script.display(),
        seen = seen.display(),
        go = go.display(),
        logfile = if with_log_file {
            format!("{dir}/talker.log")
        } else {
            "NONE".to_string()
        },
    );
    let conf_path = sandbox.write("supervisord.conf", &conf);
    let mut daemon = start_supervisord(supervisord, &sandbox, &conf_path);
    let main_log = sandbox.path().join("main.log");
    wait_for("the half block to be read", DEADLINE, || {
        let text = std::fs::read_to_string(&main_log).unwrap_or_default();
        text.contains(&format!("stdout output:\n{STALE}"))
            .then_some(())
    });
    let out = run_with_timeout(
        Command::new(reference_bin("supervisorctl"))
            .arg("-c")
            .arg(&conf_path)
            .args(["clear", "talker"]),
        DEADLINE,
    );
    let reply = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        reply.trim(),
        "talker: cleared",
        "supervisorctl clear said {reply:?}"
    );
    std::fs::write(&go, b"").expect("the sandbox is writable");
    let text = wait_for("the communication event", DEADLINE, || {
        std::fs::read_to_string(&seen)
            .ok()
            .filter(|t| t.contains("PROCESS_COMMUNICATION_STDOUT"))
    });
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    daemon.wait_timeout(DEADLINE);
    text.lines()
        .map(|line| match line.split_once("pid:") {
            // The pid differs between runs; what follows it is the data.
            Some((head, rest)) => format!(
                "{head}pid:N{}",
                rest.trim_start_matches(|c: char| c.is_ascii_digit())
            ),
            None => line.to_string(),
        })
        .collect()
}

#[test]
fn clear_during_a_half_read_capture_block_drops_that_half_as_the_reference_does() {
    let ours = communication_after_a_clear(our_bin("supervisord"), true);
    assert_eq!(
        ours,
        ["PROCESS_COMMUNICATION_STDOUT processname:talker groupname:talker pid:N|fresh"],
    );
    let reference = communication_after_a_clear(reference_bin("supervisord"), true);
    assert_eq!(ours, reference, "ours (left) and the reference (right)");
}

/// The same with `stdout_logfile=NONE`: the capture buffer is cleared
/// though there is no file to clear.
#[test]
fn clear_without_a_log_file_still_drops_a_half_read_capture_block_as_the_reference_does() {
    let ours = communication_after_a_clear(our_bin("supervisord"), false);
    assert_eq!(
        ours,
        ["PROCESS_COMMUNICATION_STDOUT processname:talker groupname:talker pid:N|fresh"],
    );
    let reference = communication_after_a_clear(reference_bin("supervisord"), false);
    assert_eq!(ours, reference, "ours (left) and the reference (right)");
}
