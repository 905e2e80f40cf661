//! Operators' conveniences on the real binaries: `[program-defaults]`
//! applied, overridden and shown by `--test-config`; unknown sections and
//! options listed with suggestions, `--strict`, the daemon's warning
//! lines; the reference accepting each config used.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, run_with_timeout, stderr_text, stdout_text, wait_for,
};

use crate::envfile::reference_accepts;

fn test_config(conf: &Path, extra: &[&str]) -> Output {
    run_with_timeout(
        Command::new(our_bin("supervisord"))
            .arg("--test-config")
            .args(extra)
            .arg("-c")
            .arg(conf)
            .current_dir(conf.parent().expect("the config is in the sandbox")),
        Duration::from_secs(20),
    )
}

// Every program keeps its own `command`: the reference refuses a program
// without one, and these configs must load there too.
const DEFAULTS: &str = "[supervisord]\nlogfile=%(here)s/main.log\n\
[program-defaults]\nautorestart=false\nstartsecs=0\n\
stdout_logfile=%(here)s/%(program_name)s.out\n\
[program:a]\ncommand=/bin/echo a says hi\n\
[program:b]\ncommand=/bin/echo b has its own\nstartsecs=2\nstdout_logfile=%(here)s/own.out\n";

#[test]
fn program_defaults_apply_per_program_and_are_shown() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", DEFAULTS);
    let out = test_config(&conf, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let text = stdout_text(&out);
    assert!(
        text.contains(
            "[program-defaults]: autorestart=false startsecs=0 \
             stdout_logfile=%(here)s/%(program_name)s.out\n"
        ),
        "{text}"
    );
    let here = sandbox.path().display();
    assert!(
        text.contains(&format!(
            "    a: priority=999 autostart=true autorestart=false startsecs=0 stopsignal=SIGTERM \
             user=- stdout={here}/a.out"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "    b: priority=999 autostart=true autorestart=false startsecs=2 stopsignal=SIGTERM \
             user=- stdout={here}/own.out"
        )),
        "{text}"
    );

    let _daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(&conf)
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    for (name, line) in [("a", "a says hi\n"), ("own", "b has its own\n")] {
        let log = sandbox.path().join(format!("{name}.out"));
        wait_for(&format!("{name}'s output"), Duration::from_secs(20), || {
            std::fs::read_to_string(&log).ok().filter(|t| t == line)
        });
    }
    reference_accepts(&[], DEFAULTS);
}

const TYPOS: &str = "[supervisord]\nlogfile=%(here)s/main.log\nloglevl=debug\n\
[progam:web]\ncommand=/bin/sleep 100\n\
[program:db]\ncommand=/bin/sleep 100\nautostrat=false\n";

#[test]
fn unknown_names_are_listed_with_suggestions_and_strict_refuses_them() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", TYPOS);
    let path = conf.display().to_string();
    let expected = [
        format!(
            "warn: {path}:3: [supervisord] unknown option loglevl, ignored (did you mean loglevel?)"
        ),
        format!(
            "warn: {path}:4: unknown section [progam:web], ignored (did you mean [program:web]?)"
        ),
        format!(
            "warn: {path}:8: [program:db] unknown option autostrat, ignored (did you mean autostart?)"
        ),
    ];
    let out = test_config(&conf, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let text = stdout_text(&out);
    for line in &expected {
        assert!(text.contains(&format!("{line}\n")), "{line}\n---\n{text}");
    }
    assert!(text.ends_with("The configuration is valid.\n"), "{text}");

    let strict = test_config(&conf, &["--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(
        stderr_text(&strict).contains("3 unknown section(s) or option(s)"),
        "{}",
        stderr_text(&strict)
    );
    let clean = sandbox.write("clean.conf", DEFAULTS);
    assert_eq!(test_config(&clean, &["--strict"]).status.code(), Some(0));

    // The daemon says the same in its log, one warning line each.
    let _daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(&conf)
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let log = sandbox.path().join("main.log");
    let text = wait_for(
        "the warnings in the main log",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|t| t.contains("autostrat"))
        },
    );
    for line in &expected {
        let message = line.strip_prefix("warn: ").unwrap();
        let found: Vec<&str> = text.lines().filter(|l| l.contains(message)).collect();
        assert_eq!(found.len(), 1, "{message}\n---\n{text}");
        assert!(found[0].contains(" WARN "), "{}", found[0]);
    }
    reference_accepts(&[], TYPOS);
}

/// A daemon with `a` and a two-process group `web`, each printing a
/// numbered line every 0.2 s, and a ctl command line for it.
struct Tailing {
    sandbox: Sandbox,
    conf: std::path::PathBuf,
    _daemon: ChildGuard,
}

impl Tailing {
    fn start() -> Tailing {
        let sandbox = Sandbox::new();
        let sock = sandbox.path().join("s.sock");
        let ticker = |tag: &str| {
            format!(
                "/bin/sh -c 'i=0; while true; do echo \"{tag} $i\"; echo \"{tag} err $i\" >&2; \
                 i=$((i+1)); sleep 0.2; done'"
            )
        };
        let conf = sandbox.write(
            "s.conf",
            &format!(
                "[supervisord]\nlogfile=%(here)s/main.log\n[unix_http_server]\nfile={sock}\n\
                 [rpcinterface:supervisor]\n\
                 supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
                 [supervisorctl]\nserverurl=unix://{sock}\n\
                 [program:a]\ncommand={a}\nstdout_logfile=%(here)s/a.out\nstderr_logfile=%(here)s/a.err\n\
                 [program:web]\ncommand={web}\nprocess_name=web_%(process_num)d\nnumprocs=2\n\
                 stdout_logfile=%(here)s/%(process_num)d.out\nstderr_logfile=%(here)s/%(process_num)d.err\n",
                sock = sock.display(),
                a = ticker("a"),
                web = ticker("web"),
            ),
        );
        let daemon = ChildGuard::spawn(
            Command::new(our_bin("supervisord"))
                .args(["-n", "-c"])
                .arg(&conf)
                .current_dir(sandbox.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let t = Tailing {
            sandbox,
            conf,
            _daemon: daemon,
        };
        for log in ["a.out", "0.out", "1.out", "a.err"] {
            let path = t.sandbox.path().join(log);
            wait_for(&format!("{log} to fill"), Duration::from_secs(20), || {
                std::fs::read_to_string(&path)
                    .ok()
                    .filter(|text| text.lines().count() >= 2)
            });
        }
        t
    }

    fn ctl(&self) -> Command {
        let mut cmd = Command::new(our_bin("supervisorctl"));
        cmd.arg("-c").arg(&self.conf);
        cmd
    }
}

#[test]
fn tail_of_several_names_prints_each_under_a_header() {
    let t = Tailing::start();
    let out = run_with_timeout(
        t.ctl().args(["tail", "-30", "a", "web:*", "stderr"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let text = stdout_text(&out);
    let sections: Vec<&str> = text.split("==> ").skip(1).collect();
    let heads: Vec<&str> = sections
        .iter()
        .map(|s| s.split_once(" <==\n").unwrap().0)
        .collect();
    assert_eq!(heads, ["a", "web:web_0", "web:web_1"], "{text}");
    for (section, tag) in sections.iter().zip(["a err ", "web err ", "web err "]) {
        let body = section.split_once(" <==\n").unwrap().1;
        let lines: Vec<&str> = body.lines().filter(|l| !l.is_empty()).collect();
        assert!(!lines.is_empty(), "{text}");
        // -30 bytes of each: the tail of its own stderr log only.
        assert!(body.trim_end().len() <= 30, "{body:?}");
        assert!(lines.last().unwrap().starts_with(tag), "{text}");
    }
    assert!(text.starts_with("==> a <==\n"), "{text}");
    assert!(text.contains("\n\n==> web:web_0 <==\n"), "{text}");

    // One name: exactly what the one-name form prints (no header).
    let one = stdout_text(&run_with_timeout(
        t.ctl().args(["tail", "-30", "a", "stderr"]),
        Duration::from_secs(20),
    ));
    assert!(!one.contains("==>"), "{one}");
    let bad = run_with_timeout(
        t.ctl().args(["tail", "a", "nosuch:*", "stdout"]),
        Duration::from_secs(20),
    );
    assert!(
        stdout_text(&bad).contains("nosuch:*: ERROR (no such group)"),
        "{}",
        stdout_text(&bad)
    );
    assert_eq!(bad.status.code(), Some(1));
    // A last word that is neither a channel nor a name reads as the
    // reference reads it.
    let typo = run_with_timeout(
        t.ctl().args(["tail", "a", "stdot"]),
        Duration::from_secs(20),
    );
    assert_eq!(stdout_text(&typo), "Error: bad channel 'stdot'\n");
}

#[test]
fn tail_f_of_several_names_merges_whole_prefixed_lines() {
    use std::io::{BufRead, BufReader};
    let t = Tailing::start();
    let mut follow = ChildGuard::spawn(
        t.ctl()
            .args(["tail", "-f", "a", "web:*"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = follow.child_mut().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(first, "==> Press Ctrl-C to exit <==");
    while seen.len() < 3 || seen.values().any(|n| *n < 3) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("only {seen:?}"));
        let (label, rest) = line.split_once(" | ").unwrap_or_else(|| panic!("{line:?}"));
        let tag = if label == "a" { "a " } else { "web " };
        assert!(["a", "web:web_0", "web:web_1"].contains(&label), "{line:?}");
        // Whole lines only: each is exactly one line of that process.
        let n = rest.strip_prefix(tag).unwrap_or_else(|| panic!("{line:?}"));
        assert!(n.parse::<u32>().is_ok(), "{line:?}");
        *seen.entry(label.to_string()).or_default() += 1;
    }
}

// ---- scaling and the granular update (the bundled ext namespace) ----

const EXT_SECTION: &str = "[rpcinterface:ext]\n\
    supervisor.rpcinterface_factory = supervisor_rs.ext:make_ext_rpcinterface\n";

/// The config of these tests: the socket is `%(here)s`-relative so the
/// reference can load the same text in a sandbox of its own.
fn scaling_config(sock: &Path, ext: bool, programs: &str) -> String {
    format!(
        "[supervisord]\nlogfile=%(here)s/main.log\n[unix_http_server]\nfile=%(here)s/s.sock\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         {ext}[supervisorctl]\nserverurl=unix://{sock}\n{programs}",
        ext = if ext { EXT_SECTION } else { "" },
        sock = sock.display(),
    )
}

/// Our daemon on a config of [`scaling_config`].
struct Scaling {
    sandbox: Sandbox,
    conf: std::path::PathBuf,
    ext: bool,
    _daemon: ChildGuard,
}

impl Scaling {
    fn start(ext: bool, programs: &str) -> Scaling {
        let sandbox = Sandbox::new();
        let sock = sandbox.path().join("s.sock");
        let conf = sandbox.write("s.conf", &scaling_config(&sock, ext, programs));
        let daemon = ChildGuard::spawn(
            Command::new(our_bin("supervisord"))
                .args(["-n", "-c"])
                .arg(&conf)
                .current_dir(sandbox.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        Scaling {
            sandbox,
            conf,
            ext,
            _daemon: daemon,
        }
    }

    /// Write the programs anew (the other sections stay).
    fn rewrite(&self, programs: &str) {
        let sock = self.sandbox.path().join("s.sock");
        self.sandbox
            .write("s.conf", &scaling_config(&sock, self.ext, programs));
    }

    fn ctl(&self, args: &[&str]) -> Output {
        run_with_timeout(
            Command::new(our_bin("supervisorctl"))
                .arg("-c")
                .arg(&self.conf)
                .args(args),
            Duration::from_secs(30),
        )
    }

    /// `status` as name -> (state, pid).
    fn status(&self) -> std::collections::BTreeMap<String, (String, u32)> {
        stdout_text(&self.ctl(&["status"]))
            .lines()
            .filter_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let pid = match words.as_slice() {
                    [_, _, "pid", pid, ..] => pid.trim_end_matches(',').parse().ok()?,
                    _ => 0,
                };
                Some((words.first()?.to_string(), (words.get(1)?.to_string(), pid)))
            })
            .collect()
    }

    /// Once exactly `names` are listed, each RUNNING: their pids.
    fn running(&self, names: &[&str]) -> std::collections::BTreeMap<String, u32> {
        let mut wanted: Vec<&str> = names.to_vec();
        wanted.sort_unstable();
        wait_for(
            &format!("exactly {wanted:?} RUNNING"),
            Duration::from_secs(30),
            || {
                let status = self.status();
                let listed: Vec<&str> = status.keys().map(String::as_str).collect();
                (listed == wanted && status.values().all(|(state, _)| state == "RUNNING"))
                    .then(|| status.into_iter().map(|(n, (_, pid))| (n, pid)).collect())
            },
        )
    }
}

fn alive(pid: u32) -> bool {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid fits an i32"));
    nix::sys::signal::kill(pid, None).is_ok()
}

/// Waits until `pid` is gone (reaped by the daemon, not a zombie of it).
fn gone(pid: u32) {
    wait_for(
        &format!("pid {pid} to be gone"),
        Duration::from_secs(20),
        || (!alive(pid)).then_some(()),
    );
}

const SCALED: &str = "[program:web]\ncommand=/bin/sleep 600\nprocess_name=web_%(process_num)s\n\
    numprocs=2\nstartsecs=0\n\
    [program:a]\ncommand=/bin/sleep 601\nstartsecs=0\n\
    [program:b]\ncommand=/bin/sleep 602\nstartsecs=0\n\
    [group:pair]\nprograms=a,b\n";

#[test]
fn scale_starts_or_stops_only_the_difference_and_keeps_the_pids_of_the_rest() {
    let d = Scaling::start(true, SCALED);
    let before = d.running(&["web:web_0", "web:web_1", "pair:a", "pair:b"]);

    let up = d.ctl(&["scale", "web", "4"]);
    assert_eq!(up.status.code(), Some(0), "{}", stdout_text(&up));
    assert_eq!(
        stdout_text(&up),
        "web:web_2: added and started\nweb:web_3: added and started\n"
    );
    let grown = d.running(&[
        "web:web_0",
        "web:web_1",
        "web:web_2",
        "web:web_3",
        "pair:a",
        "pair:b",
    ]);
    for name in ["web:web_0", "web:web_1", "pair:a", "pair:b"] {
        assert_eq!(grown[name], before[name], "{name} kept its pid");
    }

    // Shrinking stops the highest process numbers first; those leave the
    // table and their children are reaped.
    let down = d.ctl(&["scale", "web", "1"]);
    assert_eq!(
        stdout_text(&down),
        "web:web_3: stopped and removed\nweb:web_2: stopped and removed\n\
         web:web_1: stopped and removed\n"
    );
    let shrunk = d.running(&["web:web_0", "pair:a", "pair:b"]);
    assert_eq!(shrunk["web:web_0"], before["web:web_0"]);
    for name in ["web:web_1", "web:web_2", "web:web_3"] {
        gone(grown[name]);
    }

    // Each refusal says why and changes nothing.
    for (args, code, says) in [
        (&["scale", "web", "-1"][..], 1, "must be 0 or more"),
        (&["scale", "web", "x"], 2, "bad number of processes 'x'"),
        (&["scale", "web"], 2, "a group name and a number"),
        (&["scale", "nosuch", "2"], 1, "ERROR: no such group: nosuch"),
        (
            &["scale", "pair", "3"],
            1,
            "several program sections (program:a, program:b)",
        ),
    ] {
        let out = d.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            stdout_text(&out)
        );
        assert!(
            stdout_text(&out).contains(says),
            "{args:?}: {}",
            stdout_text(&out)
        );
        assert_eq!(d.running(&["web:web_0", "pair:a", "pair:b"]), shrunk);
    }

    // 0 removes every process; the group stays and grows again.
    let zero = d.ctl(&["scale", "web", "0"]);
    assert_eq!(stdout_text(&zero), "web:web_0: stopped and removed\n");
    d.running(&["pair:a", "pair:b"]);
    let again = d.ctl(&["scale", "web", "3"]);
    assert_eq!(
        stdout_text(&again),
        "web:web_0: added and started\nweb:web_1: added and started\n\
         web:web_2: added and started\n"
    );
    let three = d.running(&["web:web_0", "web:web_1", "web:web_2", "pair:a", "pair:b"]);
    let same = d.ctl(&["scale", "web", "3"]);
    assert_eq!(stdout_text(&same), "web: already has 3 processes\n");

    // The count lasts while the program's config is unchanged ...
    assert_eq!(
        stdout_text(&d.ctl(&["reread"])),
        "No config updates to processes\n"
    );
    assert_eq!(stdout_text(&d.ctl(&["update"])), "");
    assert_eq!(
        d.running(&["web:web_0", "web:web_1", "web:web_2", "pair:a", "pair:b"]),
        three
    );
    // ... and update applies the file once the program changed.
    let edited = SCALED.replace("sleep 600", "sleep 603");
    d.rewrite(&edited);
    assert_eq!(
        stdout_text(&d.ctl(&["update"])),
        "web: stopped\nweb: updated process group\n"
    );
    let applied = d.running(&["web:web_0", "web:web_1", "pair:a", "pair:b"]);
    assert_ne!(applied["web:web_0"], three["web:web_0"]);
    gone(three["web:web_2"]);

    reference_accepts(
        &[],
        &scaling_config(Path::new("/nonexistent"), false, SCALED),
    );
    reference_accepts(
        &[],
        &scaling_config(Path::new("/nonexistent"), false, &edited),
    );
}

#[test]
fn granular_update_restarts_only_the_processes_whose_settings_changed() {
    let first = format!("{SCALED}[program:gone]\ncommand=/bin/sleep 604\nstartsecs=0\n");
    let d = Scaling::start(true, &first);
    let names = ["web:web_0", "web:web_1", "pair:a", "pair:b", "gone"];
    let before = d.running(&names);
    let second = SCALED
        .replace("numprocs=2", "numprocs=3")
        .replace("sleep 601", "sleep 611")
        + "[program:fresh]\ncommand=/bin/sleep 605\nstartsecs=0\n";
    d.rewrite(&second);

    let plan = d.ctl(&["update", "--dry-run", "--only-changed"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stdout_text(&plan));
    assert_eq!(
        stdout_text(&plan),
        "fresh: would add and start\npair:a: would restart with its new settings\n\
         web:web_2: would add and start\ngone: would stop and remove\n"
    );
    assert_eq!(d.running(&names), before, "a dry run changes no pid");
    let plain_plan = d.ctl(&["update", "--dry-run"]);
    assert_eq!(plain_plan.status.code(), Some(0));
    assert_eq!(d.running(&names), before, "a dry run changes no pid");

    let out = d.ctl(&["update", "--only-changed"]);
    assert_eq!(
        stdout_text(&out),
        "fresh: added and started\npair:a: restarted with its new settings\n\
         web:web_2: added and started\ngone: stopped and removed\n"
    );
    let after = d.running(&[
        "web:web_0",
        "web:web_1",
        "web:web_2",
        "pair:a",
        "pair:b",
        "fresh",
    ]);
    for name in ["web:web_0", "web:web_1", "pair:b"] {
        assert_eq!(
            after[name], before[name],
            "{name} is unchanged and kept running"
        );
    }
    assert_ne!(after["pair:a"], before["pair:a"]);
    gone(before["pair:a"]);
    gone(before["gone"]);
    assert_eq!(
        stdout_text(&d.ctl(&["update", "--only-changed"])),
        "No config updates to processes\n"
    );
    let bad = d.ctl(&["update", "--only-changed", "web"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stdout_text(&bad));

    reference_accepts(
        &[],
        &scaling_config(Path::new("/nonexistent"), false, &first),
    );
    reference_accepts(
        &[],
        &scaling_config(Path::new("/nonexistent"), false, &second),
    );
}

#[test]
fn ext_commands_say_how_to_enable_the_namespace_when_it_is_missing() {
    let d = Scaling::start(false, SCALED);
    let names = ["web:web_0", "web:web_1", "pair:a", "pair:b"];
    let before = d.running(&names);
    for args in [&["scale", "web", "3"][..], &["update", "--only-changed"]] {
        let out = d.ctl(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(
            stdout_text(&out).contains(
                "needs the ext namespace, which this supervisord does not serve. Enable it in \
                 supervisord's config:\n[rpcinterface:ext]\n\
                 supervisor.rpcinterface_factory = supervisor_rs.ext:make_ext_rpcinterface\n"
            ),
            "{args:?}: {}",
            stdout_text(&out)
        );
    }
    assert_eq!(d.running(&names), before);
    // `help` lists the reference's commands; `help scale` documents ours.
    assert!(!stdout_text(&d.ctl(&["help"])).contains("scale"));
    assert!(stdout_text(&d.ctl(&["help", "scale"])).starts_with("scale <gname> <n>"));
}

#[test]
fn the_sample_shows_the_ext_section_commented_out_and_uncommenting_it_enables_scale() {
    let sample = stdout_text(&run_with_timeout(
        &mut Command::new(our_bin("echo_supervisord_conf")),
        Duration::from_secs(20),
    ));
    let commented = ";[rpcinterface:ext]\n\
        ;supervisor.rpcinterface_factory = supervisor_rs.ext:make_ext_rpcinterface\n";
    assert!(sample.contains(commented), "{sample}");
    let sandbox = Sandbox::new();
    let dir = format!("{}/", sandbox.path().display());
    let text = sample
        .replace(commented, &commented.replace(';', ""))
        .replace("/tmp/", &dir)
        + "[program:web]\ncommand=/bin/sleep 600\nprocess_name=web_%(process_num)s\nstartsecs=0\n";
    let conf = sandbox.write("supervisord.conf", &text);
    let _daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(&conf)
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let ctl = |args: &[&str]| {
        run_with_timeout(
            Command::new(our_bin("supervisorctl"))
                .arg("-c")
                .arg(&conf)
                .args(args),
            Duration::from_secs(30),
        )
    };
    wait_for("web to run", Duration::from_secs(30), || {
        stdout_text(&ctl(&["status"]))
            .contains("RUNNING")
            .then_some(())
    });
    let out = ctl(&["scale", "web", "2"]);
    assert_eq!(stdout_text(&out), "web:web_1: added and started\n");
}
