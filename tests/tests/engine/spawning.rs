//! Spawning: what fails before the fork and with which text, what fails
//! in the child and what it writes, and what a child inherits.

use super::*;

#[test]
fn commands_that_cannot_run_fail_before_any_fork_with_the_reference_text() {
    let sandbox = Sandbox::new();
    let plain = sandbox.write("plain", "not a program\n");
    let plain = plain.to_str().unwrap();
    let dir = sandbox.path().to_str().unwrap();
    engine().run(async {
        let error = |command: String| async move {
            match engine().start(spec("bad", &command)).await {
                Ok(started) => panic!("{command} spawned pid {}", started.pid),
                Err(error) => error.to_string(),
            }
        };
        assert_eq!(
            error("no_such_program_anywhere --flag".into()).await,
            "can't find command 'no_such_program_anywhere'"
        );
        assert_eq!(
            error(plain.to_string()).await,
            format!("command at '{plain}' is not executable")
        );
        assert_eq!(
            error(dir.to_string()).await,
            format!("command at '{dir}' is a directory")
        );
        assert_eq!(error("   ".into()).await, "command is empty");
        assert_eq!(
            error("sh -c 'unterminated".into()).await,
            "can't parse command \"sh -c 'unterminated\": No closing quotation"
        );
        // The program's own PATH is the one searched.
        let mut own_path = spec("sh", "sh -c true");
        own_path.environment = Arc::from([("PATH".into(), "/nonexistent".into())]);
        let error = engine().start(own_path).await.err().unwrap();
        assert_eq!(error.to_string(), "can't find command 'sh'");
    });
}

#[test]
fn a_bad_directory_and_an_exec_failure_are_reported_on_the_childs_stderr() {
    let sandbox = Sandbox::new();
    let script = sandbox.write("noformat", "no interpreter line here\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    engine().run(async {
        let mut bad_dir = spec("baddir", &format!("{EXIT} 0"));
        bad_dir.directory = Some("/nonexistent/dir".into());
        let mut started = engine().start(bad_dir).await.unwrap();
        let stderr = read_all(started.pipes.stderr.as_mut().unwrap()).await;
        assert_eq!(
            stderr,
            "supervisor: couldn't chdir to /nonexistent/dir: ENOENT\n\
             supervisor: child process was not spawned\n"
        );
        assert_eq!(
            exit_text(within(started.exit).await.unwrap()),
            "exit status 127"
        );

        // With redirect_stderr the same lines arrive on stdout; argv[0] is
        // named as configured.
        let command = script.to_str().unwrap().to_string();
        let mut no_exec = spec("noexec", &command);
        no_exec.redirect_stderr = true;
        let mut started = engine().start(no_exec).await.unwrap();
        assert!(started.pipes.stderr.is_none());
        let stdout = read_all(&mut started.pipes.stdout).await;
        assert_eq!(
            stdout,
            format!(
                "supervisor: couldn't exec {command}: ENOEXEC\n\
                 supervisor: child process was not spawned\n"
            )
        );
        assert_eq!(
            exit_text(within(started.exit).await.unwrap()),
            "exit status 127"
        );
    });
}

#[test]
fn the_child_gets_its_environment_directory_umask_group_and_only_fds_0_to_2() {
    let sandbox = Sandbox::new();
    let directory = sandbox.path().canonicalize().unwrap();
    // A descriptor without close-on-exec, as a careless library might
    // leave one: the child must not inherit it.
    let leaked = nix::fcntl::open(
        &directory.join("leak"),
        nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    engine().run(async {
        let mut probe = spec("probe", &format!("{PROBE} one 'two three' \"four\\\"\""));
        probe.group_name = "grp".into();
        probe.directory = Some(directory.to_str().unwrap().into());
        probe.umask = Some(0o027);
        probe.server_url = Some("unix:///tmp/x.sock".into());
        probe.environment = Arc::from([
            ("FROM_CONFIG".into(), "yes".into()),
            ("SUPERVISOR_GROUP_NAME".into(), "overridden".into()),
        ]);
        let mut started = engine().start(probe).await.unwrap();
        let stdout = read_all(&mut started.pipes.stdout).await;
        let stderr = read_all(started.pipes.stderr.as_mut().unwrap()).await;
        assert_eq!(
            exit_text(within(started.exit).await.unwrap()),
            "exit status 0"
        );
        let seen = probe_lines(&stdout);
        assert_eq!(
            seen["argv"],
            [PROBE, "one", "two three", "four\""].join("\u{1f}")
        );
        assert_eq!(seen["cwd"], directory.to_str().unwrap());
        assert_eq!(seen["umask"], "0027");
        assert_eq!(seen["fds"], "0,1,2", "every other descriptor is closed");
        assert_eq!(seen["pgid"], seen["pid"], "the child leads its own group");
        assert_eq!(seen["pid"], started.pid.to_string());
        assert_eq!(seen["env:SUPERVISOR_ENABLED"], "1");
        assert_eq!(seen["env:SUPERVISOR_PROCESS_NAME"], "probe");
        assert_eq!(seen["env:SUPERVISOR_GROUP_NAME"], "overridden");
        assert_eq!(seen["env:SUPERVISOR_SERVER_URL"], "unix:///tmp/x.sock");
        assert_eq!(seen["env:FROM_CONFIG"], "yes");
        assert_eq!(
            seen["env:PATH"],
            std::env::var("PATH").unwrap(),
            "supervisord's own environment is passed on"
        );
        let ignored = u64::from_str_radix(&seen["sigign"], 16).unwrap();
        let bit = |signal: i32| 1u64 << (signal - 1);
        assert_eq!(
            ignored & (bit(libc::SIGPIPE) | bit(libc::SIGXFSZ)),
            bit(libc::SIGPIPE) | bit(libc::SIGXFSZ),
            "SIGPIPE and SIGXFSZ are ignored, as under the reference"
        );
        assert_eq!(stderr, "to-stderr\n");
    });
    drop(leaked);
}

#[test]
fn an_fcgi_socket_is_the_childs_fd_0() {
    let sandbox = Sandbox::new();
    let listener =
        std::os::unix::net::UnixListener::bind(sandbox.path().join("fcgi.sock")).unwrap();
    let socket = Arc::new(OwnedFd::from(listener));
    engine().run(async {
        let mut probe = spec("fcgi", PROBE);
        probe.stdin = StdinSource::Socket(socket);
        let mut started = engine().start(probe).await.unwrap();
        assert!(
            started.pipes.stdin.is_none(),
            "no stdin pipe beside a socket"
        );
        let seen = probe_lines(&read_all(&mut started.pipes.stdout).await);
        assert!(
            seen["fd0"].starts_with("socket:["),
            "fd 0 is {}",
            seen["fd0"]
        );
        within(started.exit).await.unwrap();
    });
}

#[test]
fn user_switching_sets_uid_gid_and_groups_before_the_directory_change() {
    if !is_root() {
        println!("skipped: user switching needs root");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // The probe must be reachable by nobody: copy it somewhere open.
    let open = Sandbox::new();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = open.path().join("probe");
    std::fs::copy(PROBE, &probe).unwrap();
    let closed = Sandbox::new();
    std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    engine().run(async {
        let mut as_nobody = spec("nobody", probe.to_str().unwrap());
        as_nobody.uid = Some(nobody.uid.as_raw());
        let mut started = engine().start(as_nobody.clone()).await.unwrap();
        let seen = probe_lines(&read_all(&mut started.pipes.stdout).await);
        within(started.exit).await.unwrap();
        let uid = nobody.uid.as_raw().to_string();
        let gid = nobody.gid.as_raw().to_string();
        assert_eq!(seen["uid"], [uid.as_str(); 4].join("\t"));
        assert_eq!(seen["gid"], [gid.as_str(); 4].join("\t"));
        let name = std::ffi::CString::new(nobody.name.clone()).unwrap();
        let mut want: Vec<u32> = nix::unistd::getgrouplist(&name, nobody.gid)
            .unwrap()
            .iter()
            .map(|g| g.as_raw())
            .collect();
        want.sort();
        want.dedup();
        let mut got: Vec<u32> = seen["groups"]
            .split_whitespace()
            .map(|g| g.parse().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, want, "root's groups are gone");

        // The reference drops privileges before chdir, so a directory only
        // root may enter fails as the user.
        let dir = closed.path().to_str().unwrap().to_string();
        as_nobody.directory = Some(dir.clone());
        let mut started = engine().start(as_nobody).await.unwrap();
        let stderr = read_all(started.pipes.stderr.as_mut().unwrap()).await;
        assert_eq!(
            stderr,
            format!(
                "supervisor: couldn't chdir to {dir}: EACCES\n\
                 supervisor: child process was not spawned\n"
            )
        );
        assert_eq!(
            exit_text(within(started.exit).await.unwrap()),
            "exit status 127"
        );
    });
}
