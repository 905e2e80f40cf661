//! `cargo install --debug --path core` into a temp root gives the four
//! commands, and they run the example config (examples/supervisord.conf,
//! its /tmp paths moved into the sandbox). Ignored by default: the install
//! compiles the crate again in a target dir of its own, which takes
//! a minute or more. `.ci/run` runs it after the suite, alone. Run with
//! `cargo test -p supervisor-tests --test e2e install -- --ignored`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, run, run_with_timeout, start_supervisord, stderr_text, stdout_text,
    wait_for, workspace_root,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn ctl(bin: &Path, conf: &Path, args: &[&str]) -> String {
    let out = run_with_timeout(
        Command::new(bin.join("supervisorctl"))
            .arg("-c")
            .arg(conf)
            .args(args),
        DEADLINE,
    );
    stdout_text(&out)
}

#[test]
#[ignore = "compiles the whole crate again (minutes)"]
fn cargo_install_gives_four_commands_that_run_the_example() {
    let sandbox = Sandbox::new();
    let root = sandbox.path().join("root");
    let core = workspace_root().join("core");
    let install = run_with_timeout(
        Command::new(env!("CARGO"))
            .args(["install", "--debug", "--locked", "--path"])
            .arg(&core)
            .arg("--root")
            .arg(&root)
            .arg("--target-dir")
            .arg(sandbox.path().join("target")),
        Duration::from_secs(3600),
    );
    assert!(
        install.status.success(),
        "cargo install failed:\n{}",
        stderr_text(&install)
    );
    let bin = root.join("bin");
    for name in [
        "supervisord",
        "supervisorctl",
        "echo_supervisord_conf",
        "pidproxy",
    ] {
        assert!(bin.join(name).is_file(), "{name} not installed");
    }
    let sample = run(bin.join("echo_supervisord_conf"), [] as [&str; 0]);
    assert!(stdout_text(&sample).contains("[supervisord]"));

    // The example, with its /tmp paths in the sandbox and its web port
    // one that is free now (9001 may be taken by another test or daemon).
    let dir = sandbox.path().display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let example = std::fs::read_to_string(workspace_root().join("examples/supervisord.conf"))
        .expect("the example config")
        .replace("/tmp/supervisor-rs-example", &format!("{dir}/example"))
        .replace("childlogdir = /tmp", &format!("childlogdir = {dir}"))
        .replace("127.0.0.1:9001", &format!("127.0.0.1:{port}"));
    let conf = sandbox.write("supervisord.conf", &example);
    let mut daemon: ChildGuard = start_supervisord(bin.join("supervisord"), &sandbox, &conf);
    let status = wait_for("the example's programs RUNNING", DEADLINE, || {
        let status = ctl(&bin, &conf, &["status"]);
        (status.lines().count() == 3 && status.lines().all(|l| l.contains(" RUNNING ")))
            .then_some(status)
    });
    assert!(status.contains("clock"), "{status}");
    ctl(&bin, &conf, &["shutdown"]);
    assert!(daemon.wait_timeout(DEADLINE).success());
}
