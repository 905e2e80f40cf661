//! Child output through the real daemon: a channel that only logs is
//! spliced from the pipe into its log, one with capture mode is copied, and
//! either way every byte the child wrote is in the log and its backups, in
//! order, across 1 MB rotations.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::{ChildGuard, Sandbox, fill_spew, our_bin, wait_for};

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
         stdout_logfile={dir}/spliced.log\nstdout_logfile_maxbytes=1MB\n\
         stdout_logfile_backups=10\n\
         [program:copied]\ncommand={spew} {TOTAL} 65543\nstartsecs=0\nautorestart=false\n\
         stdout_logfile={dir}/copied.log\nstdout_logfile_maxbytes=1MB\n\
         stdout_logfile_backups=10\nstdout_capture_maxbytes=1MB\n"
    );
    let conf_path = sandbox.write("supervisord.conf", &conf);
    let mut daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&conf_path)
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let main_log = sandbox.path().join("main.log");
    wait_for("both spewers to exit", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&main_log).unwrap_or_default();
        (text.contains("exited: spliced (exit status 0; expected)")
            && text.contains("exited: copied (exit status 0; expected)"))
        .then_some(())
    });
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(daemon.wait_timeout(Duration::from_secs(15)).success());

    let mut expected = vec![0; TOTAL];
    fill_spew(0, &mut expected);
    for name in ["spliced.log", "copied.log"] {
        let got = logged(&sandbox.path().join(name), 10);
        assert_eq!(got.len(), TOTAL, "{name}");
        assert!(got == expected, "{name} does not hold the exact stream");
        let first =
            std::fs::metadata(sandbox.path().join(format!("{name}.1"))).map_or(0, |m| m.len());
        assert!(first >= 1024 * 1024, "{name}.1 holds {first} bytes");
    }
}
