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
