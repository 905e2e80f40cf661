//! supervisord's command line and `--test-config`, run as real processes:
//! usage errors compared with the reference's (exit code and text, with
//! each program's own path masked), the config-file search order, the
//! summary of a valid file and the list of every error of a bad one.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use supervisor_tests::{
    Sandbox, our_bin, reference_bin, run_with_timeout, stderr_text, stdout_text,
};

fn run_in(program: &Path, args: &[&str], cwd: &Path) -> Output {
    run_with_timeout(
        Command::new(program).args(args).current_dir(cwd),
        Duration::from_secs(20),
    )
}

fn masked_stderr(out: &Output, program: &Path) -> String {
    stderr_text(out).replace(&program.display().to_string(), "<argv0>")
}

const GOOD: &str = "[supervisord]\nloglevel=info\n\
[program:web]\ncommand=/bin/sleep 100\nprocess_name=web_%(process_num)d\nnumprocs=2\n\
[eventlistener:ev]\ncommand=/bin/cat\nevents=TICK_5\n";

#[test]
fn usage_errors_match_the_reference() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", GOOD);
    let conf = conf.to_string_lossy().into_owned();
    let cases: Vec<Vec<&str>> = vec![
        vec!["-Z"],
        vec!["--bogus"],
        vec!["-n", "-n", "-c", &conf],
        vec!["-c", &conf, "extra", "args"],
        vec!["-e", "bogus", "-c", &conf],
        vec!["-m", "99", "-c", &conf],
        vec!["-a", "abc", "-c", &conf],
        vec!["-y", "10xb", "-c", &conf],
        vec!["--childlogdir", "/nonexistent_dir_xyz", "-c", &conf],
        vec!["--min=3", "-c", &conf],
        vec!["--config"],
        vec!["-c", "/nonexistent/supervisord.conf"],
        vec!["--help=x"],
    ];
    let ours = our_bin("supervisord");
    let theirs = reference_bin("supervisord");
    for args in cases {
        let a = run_in(&ours, &args, sandbox.path());
        let b = run_in(&theirs, &args, sandbox.path());
        assert_eq!(a.status.code(), Some(2), "{args:?}: {}", stderr_text(&a));
        assert_eq!(a.status.code(), b.status.code(), "{args:?}");
        assert_eq!(
            masked_stderr(&a, &ours),
            masked_stderr(&b, &theirs),
            "{args:?}"
        );
    }
}

#[test]
fn version_and_help_exit_zero() {
    let sandbox = Sandbox::new();
    let out = run_in(&our_bin("supervisord"), &["-v"], sandbox.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_text(&out), "4.3.0\n");
    let out = run_in(&our_bin("supervisord"), &["--version"], sandbox.path());
    assert_eq!(stdout_text(&out), "4.3.0\n");
    for flag in ["-h", "--help", "-?", "--he"] {
        let out = run_in(&our_bin("supervisord"), &[flag], sandbox.path());
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let help = stdout_text(&out);
        assert!(help.contains("--test-config"), "{flag}: {help}");
        assert!(help.contains("-c/--configuration"));
    }
}

#[test]
fn test_config_prints_the_summary_and_exits_zero() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", GOOD);
    let conf_arg = format!("--config={}", conf.display());
    for flag in ["--test-config", "--test", "--t"] {
        let out = run_in(&our_bin("supervisord"), &[&conf_arg, flag], sandbox.path());
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", stderr_text(&out));
        let text = stdout_text(&out);
        assert!(text.contains("2 group(s), 3 process(es)"), "{text}");
        assert!(text.contains("web:web_0: "), "{text}");
        assert!(text.contains("web:web_1: "), "{text}");
        assert!(
            text.contains("ev (eventlistener for TICK_5, priority -1)"),
            "{text}"
        );
        assert!(text.contains("The configuration is valid."));
    }
}

#[test]
fn test_config_lists_every_error_and_exits_two() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write(
        "bad.conf",
        "[supervisord]\nloglevel=warning\n[program:a]\ncommand=/bin/a\nstartsecs=soon\n\
         [program:b]\ncommand=/bin/b\nautorestart=sometimes\nuser=nosuchuser_xyz\n",
    );
    let out = run_in(
        &our_bin("supervisord"),
        &["-c", &conf.to_string_lossy(), "--test-config"],
        sandbox.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_text(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert!(
        lines[0].starts_with("Error: ")
            && lines[0].contains(":2: [supervisord] loglevel = 'warning'")
    );
    assert!(
        lines[1].contains(":5: [program:a] startsecs = 'soon'"),
        "{err}"
    );
    assert!(
        lines[2].contains(":8: [program:b] autorestart = 'sometimes'"),
        "{err}"
    );
    assert!(
        lines[3].contains(":9: [program:b] user = 'nosuchuser_xyz'"),
        "{err}"
    );
    assert!(lines[4].starts_with("For help, use ") && lines[4].ends_with(" -h"));
    assert!(stdout_text(&out).is_empty());
    // The reference refuses the same file.
    let theirs = run_in(
        &reference_bin("supervisord"),
        &["-c", &conf.to_string_lossy()],
        sandbox.path(),
    );
    assert_eq!(theirs.status.code(), Some(2));
}

#[test]
fn without_test_config_the_daemon_runs_and_prints_only_its_log() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", GOOD);
    let out_path = sandbox.path().join("stdout.txt");
    let out = std::fs::File::create(&out_path).expect("a file for stdout");
    let mut daemon = supervisor_tests::ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .args(["-c", &conf.to_string_lossy(), "-n"])
            .current_dir(sandbox.path())
            .stdin(std::process::Stdio::null())
            .stdout(out),
    );
    let text = supervisor_tests::wait_for("the daemon to start", Duration::from_secs(15), || {
        std::fs::read_to_string(&out_path)
            .ok()
            .filter(|t| t.contains("supervisord started with pid"))
    });
    // The summary is --test-config's; a running daemon's stdout carries
    // only its main log, as the reference's does.
    assert!(!text.contains("group(s)"), "{text}");
    assert!(
        text.lines().all(|l| l.starts_with("20") && l.contains(',')),
        "{text}"
    );
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(daemon.wait_timeout(Duration::from_secs(15)).success());
}

#[test]
fn command_line_values_override_the_file() {
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", "[supervisord]\nloglevel=info\nidentifier=file\n");
    let out = run_in(
        &our_bin("supervisord"),
        &[
            "-c",
            &conf.to_string_lossy(),
            "-e",
            "debug",
            "-i",
            "cli",
            "--test-config",
        ],
        sandbox.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let text = stdout_text(&out);
    assert!(text.contains("loglevel=debug"), "{text}");
    assert!(text.contains("identifier=cli"), "{text}");
    let out = run_in(
        &our_bin("supervisord"),
        &[
            "-c",
            &conf.to_string_lossy(),
            "-u",
            "nosuchuser_xyz",
            "--test-config",
        ],
        sandbox.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out).contains("nosuchuser_xyz"));
}

#[test]
fn config_search_order_is_the_references() {
    let sandbox = Sandbox::new();
    // A private "installation": <prefix>/bin/supervisord finds
    // <prefix>/etc/supervisord.conf before anything in the cwd.
    let prefix = sandbox.path().join("prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    let exe = prefix.join("bin/supervisord");
    std::os::unix::fs::symlink(our_bin("supervisord"), &exe).unwrap();
    let cwd = sandbox.path().join("cwd");
    std::fs::create_dir_all(cwd.join("etc")).unwrap();
    let with = |name: &str| format!("[supervisord]\nidentifier={name}\n");

    sandbox.write("cwd/etc/supervisord.conf", &with("cwd_etc"));
    let found = |expect: &str| {
        let out = run_in(&exe, &["--test-config"], &cwd);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
        assert!(
            stdout_text(&out).contains(&format!("identifier={expect}")),
            "expected {expect}: {}",
            stdout_text(&out)
        );
    };
    found("cwd_etc");
    sandbox.write("cwd/supervisord.conf", &with("cwd"));
    found("cwd");
    sandbox.write("prefix/supervisord.conf", &with("prefix"));
    found("prefix");
    sandbox.write("prefix/etc/supervisord.conf", &with("prefix_etc"));
    found("prefix_etc");
}

#[test]
fn no_config_found_names_every_path_searched() {
    if Path::new("/etc/supervisord.conf").exists()
        || Path::new("/etc/supervisor/supervisord.conf").exists()
    {
        eprintln!("skipped: this machine has a system-wide supervisord.conf");
        return;
    }
    let sandbox = Sandbox::new();
    let out = run_in(&our_bin("supervisord"), &[], sandbox.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_text(&out);
    assert!(
        err.contains("Error: No config file found at default paths ("),
        "{err}"
    );
    assert!(
        err.contains(
            "supervisord.conf, supervisord.conf, etc/supervisord.conf, /etc/supervisord.conf, \
             /etc/supervisor/supervisord.conf); use the -c option to specify a config file at a \
             different path"
        ),
        "{err}"
    );
}

#[test]
fn unreadable_config_file_is_reported() {
    if supervisor_tests::is_root() {
        eprintln!("skipped: root can read any file");
        return;
    }
    let sandbox = Sandbox::new();
    let conf = sandbox.write("s.conf", GOOD);
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let out = run_in(
        &our_bin("supervisord"),
        &["-c", &conf.to_string_lossy(), "--test-config"],
        sandbox.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out).contains(&format!("could not read config file {}", conf.display())));
}

#[test]
fn a_bare_program_name_is_found_on_path_for_the_search() {
    // Run as `supervisord` through PATH, the prefix is still the
    // installation's, as for the reference (a script gets its full path).
    let sandbox = Sandbox::new();
    let prefix = sandbox.path().join("prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::os::unix::fs::symlink(our_bin("supervisord"), prefix.join("bin/supervisord")).unwrap();
    sandbox.write(
        "prefix/etc/supervisord.conf",
        "[supervisord]\nidentifier=on_path\n",
    );
    let cwd = sandbox.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = run_with_timeout(
        Command::new("supervisord")
            .arg("--test-config")
            .current_dir(&cwd)
            .env("PATH", prefix.join("bin")),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    assert!(stdout_text(&out).contains("identifier=on_path"));
}
