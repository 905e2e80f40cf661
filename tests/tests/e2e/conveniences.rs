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
