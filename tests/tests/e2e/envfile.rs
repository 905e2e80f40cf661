//! `environment_file` on the real daemon: the precedence of the five
//! layers as a child sees them (the probe fixture prints its environment),
//! the optional `-PATH`, a bad line's error naming the env file and line,
//! an edited file counting as a change for `reread`; and the reference
//! accepting every config used here (it ignores the option).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run_with_timeout, stderr_text, stdout_text,
    wait_for,
};

/// Start `bin -n -c conf` in `dir`, output discarded.
fn start(bin: &Path, dir: &Path, conf: &Path) -> ChildGuard {
    ChildGuard::spawn(
        Command::new(bin)
            .arg("-n")
            .arg("-c")
            .arg(conf)
            .current_dir(dir)
            .env("FROM_DAEMON", "daemon")
            .env("OVERRIDDEN", "daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// The reference loads `conf` (written in a sandbox of its own with the
/// same relative files): it writes its pidfile only after the config was
/// read and checked, and exits 2 at once when it is not.
pub(crate) fn reference_accepts(files: &[(&str, &str)], conf: &str) {
    let sandbox = Sandbox::new();
    for (name, text) in files {
        sandbox.write(name, text);
    }
    let conf = sandbox.write("s.conf", conf);
    let mut daemon = start(&reference_bin("supervisord"), sandbox.path(), &conf);
    let pidfile = sandbox.path().join("supervisord.pid");
    wait_for(
        "the reference to load the config",
        Duration::from_secs(20),
        || {
            if let Some(status) = daemon.try_wait() {
                panic!("the reference refused the config: {status:?}");
            }
            pidfile.exists().then_some(())
        },
    );
}

fn probe() -> String {
    our_bin("fixture_probe").display().to_string()
}

/// The `env:` lines the probe wrote to `log`, once it has (its stderr,
/// redirected, ends the output).
fn probe_env(log: &Path) -> Vec<(String, String)> {
    let text = wait_for("the probe's output", Duration::from_secs(20), || {
        std::fs::read_to_string(log)
            .ok()
            .filter(|t| t.ends_with("to-stderr\n"))
    });
    text.lines()
        .filter_map(|l| l.strip_prefix("env:"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const FILES: &[(&str, &str)] = &[
    (
        "top.env",
        "# the supervisord-level file\nOVERRIDDEN=topfile\nSUP=topfile\nPROG=topfile\n",
    ),
    (
        "env/prog.env",
        "export PROG=progfile\nOWN='progfile'\nQUOTED=\"a \\\"b\\\" c\"\n",
    ),
];

fn conf(probe: &str) -> String {
    format!(
        "[supervisord]\nenvironment_file=top.env\nenvironment=SUP=sup\n\
         [program:p]\ncommand={probe}\nautostart=true\nautorestart=false\nstartsecs=0\n\
         stdout_logfile=%(here)s/p.log\nredirect_stderr=true\n\
         environment_file=env/prog.env, -env/missing.env\nenvironment=OWN=own\n"
    )
}

#[test]
fn environment_layers_reach_the_child_in_the_documented_order() {
    let sandbox = Sandbox::new();
    for (name, text) in FILES {
        sandbox.write(name, text);
    }
    let conf_path = sandbox.write("s.conf", &conf(&probe()));
    let _daemon = start(&our_bin("supervisord"), sandbox.path(), &conf_path);
    let env = probe_env(&sandbox.path().join("p.log"));
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} not in the child's environment: {env:?}"))
    };
    assert_eq!(get("FROM_DAEMON"), "daemon");
    assert_eq!(get("OVERRIDDEN"), "topfile");
    assert_eq!(get("SUP"), "sup");
    assert_eq!(get("PROG"), "progfile");
    assert_eq!(get("OWN"), "own");
    assert_eq!(get("QUOTED"), "a \"b\" c");
    reference_accepts(FILES, &conf("/bin/true"));
}

#[test]
fn a_bad_line_or_missing_file_is_a_config_error_naming_the_file() {
    let sandbox = Sandbox::new();
    sandbox.write("bad.env", "A=1\n# fine\nthis is not a pair\n");
    let conf = sandbox.write(
        "s.conf",
        "[supervisord]\n[program:p]\ncommand=/bin/true\nenvironment_file=bad.env\n\
         [program:q]\ncommand=/bin/true\nenvironment_file=absent.env\n",
    );
    let out = run_with_timeout(
        Command::new(our_bin("supervisord"))
            .args(["--test-config", "-c"])
            .arg(&conf)
            .current_dir(sandbox.path()),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout_text(&out));
    let err = stderr_text(&out);
    let bad = sandbox.path().join("bad.env");
    assert!(
        err.contains(&format!(
            "{}:3: [program:p] environment_file",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    assert!(
        err.contains(&format!(
            "{}:7: [program:q] environment_file = 'absent.env'",
            conf.display()
        )),
        "{err}"
    );
    assert!(err.contains("no such file"), "{err}");
}

#[test]
fn an_edited_environment_file_is_a_change_for_reread() {
    let sandbox = Sandbox::new();
    sandbox.write("p.env", "A=1\n");
    let sock = sandbox.path().join("s.sock");
    let conf = sandbox.write(
        "s.conf",
        &format!(
            "[supervisord]\n[unix_http_server]\nfile={}\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\nserverurl=unix://{}\n\
             [program:p]\ncommand=/bin/sleep 100\nenvironment_file=p.env\n\
             [program:other]\ncommand=/bin/sleep 100\n",
            sock.display(),
            sock.display()
        ),
    );
    let _daemon = start(&our_bin("supervisord"), sandbox.path(), &conf);
    let ctl = |args: &[&str]| {
        run_with_timeout(
            Command::new(our_bin("supervisorctl"))
                .arg("-c")
                .arg(&conf)
                .args(args),
            Duration::from_secs(20),
        )
    };
    wait_for("the daemon to answer", Duration::from_secs(20), || {
        ctl(&["pid"]).status.success().then_some(())
    });
    assert_eq!(
        stdout_text(&ctl(&["reread"])),
        "No config updates to processes\n"
    );
    sandbox.write("p.env", "A=2\n");
    assert_eq!(stdout_text(&ctl(&["reread"])), "p: changed\n");
}
