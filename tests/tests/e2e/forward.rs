//! `forward_output` on the real daemon: several children's output on
//! supervisord's stdout as whole lines (text and JSON), never mixed; the
//! per-program override and /dev/stdout not forwarded twice; a stalled
//! reader (children with a log file keep running and the drop notice
//! comes; a child whose only copy this is waits and loses nothing); a
//! reader keeping up with a bursting child with a log file losing nothing;
//! the refusal when daemonizing; the reference accepting these configs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use supervisor_tests::{ChildGuard, Sandbox, our_bin, run_with_timeout, stderr_text, wait_for};

use crate::envfile::reference_accepts;

fn lines_bin() -> String {
    our_bin("fixture_lines").display().to_string()
}

fn start(conf: &Path, dir: &Path) -> (ChildGuard, ChildStdout) {
    let mut daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(conf)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = daemon.child_mut().stdout.take().expect("stdout is piped");
    (daemon, stdout)
}

/// Lines of `stdout` as they come, read by a thread of their own.
fn line_reader(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Lossy: the spew fixture's bytes are not UTF-8.
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line);
            if tx.send(text.trim_end_matches('\n').to_string()).is_err() {
                return;
            }
            line.clear();
        }
    });
    rx
}

/// Read lines until `done` says so, or fail at the deadline.
fn collect(rx: &mpsc::Receiver<String>, mut done: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => got.push(line),
            Err(_) => panic!(
                "stdout ended or stalled after {} lines; last: {:?}",
                got.len(),
                got.iter().rev().take(5).collect::<Vec<_>>()
            ),
        }
    }
    got
}

/// The lines fixture_lines writes for `tag`: (stdout lines, stderr lines).
fn expected(tag: &str, count: usize) -> (Vec<String>, Vec<String>) {
    let out = (0..count)
        .map(|n| format!("{tag} out {n} {}", "=".repeat(n % 50)))
        .collect();
    let err = (0..count)
        .step_by(10)
        .map(|n| format!("{tag} err {n}"))
        .collect();
    (out, err)
}

const COUNT: usize = 2000;

fn several(format: &str) -> String {
    let bin = lines_bin();
    let mut conf = format!(
        "[supervisord]\nlogfile=%(here)s/main.log\nsilent=true\nforward_output=true\n\
         forward_format={format}\n"
    );
    for (tag, logfile) in [
        ("alpha", "NONE"),
        ("beta", "NONE"),
        ("gamma", "%(here)s/gamma.log"),
    ] {
        conf.push_str(&format!(
            "[program:{tag}]\ncommand={bin} {tag} {COUNT} 7\nautorestart=false\nstartsecs=0\n\
             stdout_logfile={logfile}\nstderr_logfile=NONE\n"
        ));
    }
    conf.push_str(&format!(
        "[program:web]\ncommand={bin} web {COUNT} 5\nprocess_name=web_%(process_num)02d\n\
         numprocs=2\nautorestart=false\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    ));
    conf
}

/// Every forwarded line of each child, by its label and mark, in order.
fn check_text(lines: &[String]) {
    for (label, tag) in [
        ("alpha", "alpha"),
        ("beta", "beta"),
        ("gamma", "gamma"),
        ("web:web_00", "web"),
        ("web:web_01", "web"),
    ] {
        let (out, err) = expected(tag, COUNT);
        let got_out: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{label} | ")))
            .collect();
        let got_err: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{label} ! ")))
            .collect();
        assert_eq!(got_out, out, "{label} stdout");
        assert_eq!(got_err, err, "{label} stderr");
    }
    // Nothing else: no line broken or mixed.
    assert_eq!(lines.len(), 5 * (COUNT + COUNT / 10), "{:?}", &lines[..5]);
}

fn all_arrived(lines: &[String]) -> bool {
    lines.len() >= 5 * (COUNT + COUNT / 10)
}

#[test]
fn text_lines_of_several_children_arrive_whole_and_labelled() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", &several("text"));
    let (_daemon, stdout) = start(&conf, sandbox.path());
    let rx = line_reader(stdout);
    let lines = collect(&rx, all_arrived);
    check_text(&lines);
    // The program with a log file has it all there too.
    let (out, _) = expected("gamma", COUNT);
    let log = sandbox.path().join("gamma.log");
    wait_for("gamma's log", Duration::from_secs(20), || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.lines().count() == COUNT)
    });
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        out.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    reference_accepts(&[], &several("json"));
}

#[test]
fn json_lines_carry_time_process_group_stream_and_line() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", &several("json"));
    let (_daemon, stdout) = start(&conf, sandbox.path());
    let rx = line_reader(stdout);
    let lines = collect(&rx, all_arrived);
    let mut as_text = Vec::new();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
        let (process, group) = (v["process"].as_str().unwrap(), v["group"].as_str().unwrap());
        let label = if process == group {
            process.to_string()
        } else {
            format!("{group}:{process}")
        };
        let mark = match v["stream"].as_str().unwrap() {
            "stdout" => "|",
            "stderr" => "!",
            other => panic!("stream {other}"),
        };
        assert!(v["time"].as_str().is_some_and(|t| t.len() >= 23), "{line}");
        as_text.push(format!("{label} {mark} {}", v["line"].as_str().unwrap()));
    }
    check_text(&as_text);
}

#[test]
fn timestamps_overrides_and_dev_stdout_once() {
    let sandbox = Sandbox::new();
    let bin = lines_bin();
    let text = format!(
        "[supervisord]\nlogfile=%(here)s/main.log\nsilent=true\nforward_output=true\n\
         forward_timestamps=true\n\
         [program:quiet]\ncommand={bin} quiet 50\nforward_output=false\nautorestart=false\n\
         startsecs=0\nstdout_logfile=%(here)s/quiet.log\nstderr_logfile=NONE\n\
         [program:direct]\ncommand={bin} direct 50 4096\nautorestart=false\nstartsecs=0\n\
         stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\nstderr_logfile=NONE\n\
         [program:marked]\ncommand={bin} marked 50\nautorestart=false\nstartsecs=0\n\
         stdout_logfile=NONE\nstderr_logfile=NONE\n"
    );
    // `direct` writes its 2 KB of stdout in one write: a /dev/stdout log
    // gets the bytes as read, not whole lines, so lines its child wrote in
    // pieces could have forwarded lines between the pieces (it stalled
    // this test about one run in four under load).
    let conf = sandbox.write("s.conf", &text);
    let (_daemon, stdout) = start(&conf, sandbox.path());
    let rx = line_reader(stdout);
    // direct: 50 raw stdout lines; marked: 50 + 5 forwarded ones.
    let lines = collect(&rx, |l| {
        l.iter().filter(|x| x.contains("direct out")).count() >= 50
            && l.iter().filter(|x| x.contains("marked ")).count() >= 55
    });
    let direct: Vec<&String> = lines.iter().filter(|l| l.contains("direct out")).collect();
    assert_eq!(direct.len(), 50, "{direct:?}");
    assert!(
        direct.iter().all(|l| l.starts_with("direct out")),
        "{direct:?}"
    );
    let marked: Vec<&String> = lines.iter().filter(|l| l.contains("marked ")).collect();
    assert_eq!(marked.len(), 55);
    for l in &marked {
        // `2026-01-02 15:04:05,123 marked | marked out 0 `
        let (stamp, rest) = l.split_at(24);
        assert_eq!(&stamp[4..5], "-", "{l}");
        assert_eq!(&stamp[19..20], ",", "{l}");
        assert!(
            rest.starts_with("marked | ") || rest.starts_with("marked ! "),
            "{l}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("quiet")), "{lines:?}");
    let quiet = sandbox.path().join("quiet.log");
    wait_for("quiet's log", Duration::from_secs(20), || {
        std::fs::read_to_string(&quiet)
            .ok()
            .filter(|t| t.lines().count() == 50)
    });
    reference_accepts(&[], &text);
}

#[test]
fn a_stalled_reader_drops_logged_lines_with_a_notice_and_holds_back_the_only_copy() {
    let sandbox = Sandbox::new();
    let bin = lines_bin();
    let spew = our_bin("fixture_spew").display().to_string();
    let big: usize = 64 << 20;
    let conf = sandbox.write(
        "s.conf",
        &format!(
            "[supervisord]\nlogfile=%(here)s/main.log\nsilent=true\nforward_output=true\n\
             [program:logged]\ncommand={spew} {big} 65536\nautorestart=false\nstartsecs=0\n\
             stdout_logfile=%(here)s/logged.log\nstdout_logfile_maxbytes=0\nstderr_logfile=NONE\n\
             [program:only]\ncommand={bin} only 600000 65536\nautorestart=false\nstartsecs=0\n\
             stdout_logfile=NONE\nstderr_logfile=NONE\n"
        ),
    );
    let (_daemon, stdout) = start(&conf, sandbox.path());
    // Nobody reads stdout yet: the logged child still finishes, its log
    // complete.
    let log = sandbox.path().join("logged.log");
    wait_for(
        "the logged child's whole output",
        Duration::from_secs(60),
        || {
            std::fs::metadata(&log)
                .ok()
                .filter(|m| m.len() == big as u64)
        },
    );
    // The only copy cannot have got through a stalled pipe and the
    // bounded buffer: its child is held back, still running.
    let ctl_status =
        || std::fs::read_to_string(sandbox.path().join("main.log")).unwrap_or_default();
    assert!(
        !ctl_status().contains("exited: only"),
        "the only-copy child ran past a stalled reader:\n{}",
        ctl_status()
    );
    let rx = line_reader(stdout);
    let (out, err) = expected("only", 600000);
    // Counted as they come: the predicate sees every prefix of the lines.
    let (mut only, mut noticed, mut seen) = (0, false, 0);
    let lines = collect(&rx, |l| {
        for x in &l[seen..] {
            only += usize::from(x.starts_with("only "));
            noticed |= x.contains("bytes of output dropped");
        }
        seen = l.len();
        only >= out.len() + err.len() && noticed
    });
    let got: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("only | "))
        .collect();
    assert_eq!(got, out, "the only copy lost nothing");
    let notice = lines
        .iter()
        .find(|l| l.contains("bytes of output dropped"))
        .unwrap();
    assert!(notice.starts_with("logged | [supervisord] "), "{notice}");
}

/// A child with a log file bursting (8 MiB at once, then 1 MiB bursts a
/// tenth of a second apart), read by a reader that keeps up with that,
/// loses nothing: each burst fits the buffer, however the reader is
/// scheduled, and the buffer frees as stdout is read. (Bursts past the
/// buffer faster than the reader drains them are dropped, by design: the
/// child is never held back, see the stalled-reader test.)
#[test]
fn a_reader_that_keeps_up_gets_every_line_of_a_bursting_child_with_a_log_file() {
    let sandbox = Sandbox::new();
    let spew = our_bin("fixture_spew").display().to_string();
    let (first, burst, bursts) = (8usize << 20, 1usize << 20, 8);
    let conf = sandbox.write(
        "s.conf",
        &format!(
            "[supervisord]\nlogfile=%(here)s/main.log\nsilent=true\nforward_output=true\n\
             [program:logged]\ncommand=/bin/sh -c '{spew} {first}; for i in $(seq {bursts}); do \
             sleep 0.1; {spew} {burst}; done'\nautorestart=false\nstartsecs=0\n\
             stdout_logfile=%(here)s/logged.log\nstdout_logfile_maxbytes=0\nstderr_logfile=NONE\n"
        ),
    );
    let (_daemon, stdout) = start(&conf, sandbox.path());
    let chunks = supervisor_tests::read_chunks(stdout);
    let mut spewed = vec![0; first + bursts * burst];
    supervisor_tests::fill_spew(0, &mut spewed[..first]);
    for n in 0..bursts {
        let at = first + n * burst;
        supervisor_tests::fill_spew(0, &mut spewed[at..at + burst]);
    }
    let mut wanted = Vec::with_capacity(spewed.len() + spewed.len() / 20);
    for line in spewed.split_inclusive(|b| *b == b'\n') {
        wanted.extend_from_slice(b"logged | ");
        wanted.extend_from_slice(line);
    }
    if wanted.last() != Some(&b'\n') {
        wanted.push(b'\n');
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut got = Vec::with_capacity(wanted.len());
    while got.len() < wanted.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match chunks.recv_timeout(left) {
            Ok(chunk) => {
                let text = String::from_utf8_lossy(&chunk);
                assert!(
                    !text.contains("bytes of output dropped"),
                    "lines were dropped under a reader that keeps up after {} bytes",
                    got.len()
                );
                got.extend_from_slice(&chunk);
            }
            Err(_) => panic!(
                "stdout stalled after {} of {} bytes",
                got.len(),
                wanted.len()
            ),
        }
    }
    assert_eq!(got.len(), wanted.len());
    assert!(
        got == wanted,
        "the forwarded stream differs from the child's output"
    );
    let log = sandbox.path().join("logged.log");
    wait_for("the whole log", Duration::from_secs(20), || {
        std::fs::metadata(&log)
            .ok()
            .filter(|m| m.len() == spewed.len() as u64)
    });
    assert!(std::fs::read(&log).unwrap() == spewed, "the log differs");
}

#[test]
fn forwarding_is_refused_when_supervisord_would_daemonize() {
    let sandbox = Sandbox::new();
    for (text, option) in [
        (
            "[supervisord]\nforward_output=true\n[program:a]\ncommand=/bin/true\n",
            "[supervisord] forward_output",
        ),
        (
            "[supervisord]\n[program:a]\ncommand=/bin/true\nforward_output=true\n",
            "[program:a] forward_output",
        ),
    ] {
        let conf = sandbox.write("s.conf", text);
        let out = run_with_timeout(
            Command::new(our_bin("supervisord"))
                .arg("-c")
                .arg(&conf)
                .current_dir(sandbox.path()),
            Duration::from_secs(20),
        );
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr_text(&out);
        assert!(
            err.contains(&format!("Error: {option} = true copies output")),
            "{err}"
        );
        assert!(!sandbox.path().join("supervisord.pid").exists());
    }
}

/// A daemonized supervisord, stopped (SIGKILL) on drop if still alive.
struct Detached(i32);

impl Drop for Detached {
    fn drop(&mut self) {
        if Path::new(&format!("/proc/{}", self.0)).exists() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn a_reload_into_forwarding_ends_a_daemonized_supervisord_naming_the_option() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display().to_string();
    let conf = |extra: &str| {
        format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/s.pid\n{extra}\n\
             [program:a]\ncommand=/bin/sleep 1000\nstdout_logfile=NONE\n"
        )
    };
    let path = sandbox.write("s.conf", &conf(""));
    let mut launcher = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(launcher.wait_timeout(Duration::from_secs(20)).success());
    let pid: i32 = wait_for("the pidfile", Duration::from_secs(20), || {
        std::fs::read_to_string(sandbox.path().join("s.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    let daemon = Detached(pid);
    sandbox.write("s.conf", &conf("forward_output=true"));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    );
    wait_for("the daemon to end", Duration::from_secs(30), || {
        (!Path::new(&format!("/proc/{}", daemon.0)).exists()).then_some(())
    });
    let log = std::fs::read_to_string(sandbox.path().join("main.log")).unwrap();
    assert!(
        log.contains("Error: [supervisord] forward_output = true copies output"),
        "{log}"
    );
}
