//! Differential tests: the same programs under the reference supervisord
//! and under our engine give the same inherited state and log lines.

use super::*;

#[test]
fn children_inherit_the_same_things_as_under_the_reference() {
    let sandbox = Sandbox::new();
    std::fs::set_permissions(sandbox.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = sandbox.path().to_str().unwrap().to_string();
    let probe = sandbox.path().join("probe");
    std::fs::copy(PROBE, &probe).unwrap();
    let noformat = sandbox.write("noformat", "no interpreter line\n");
    std::fs::set_permissions(&noformat, std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = probe.to_str().unwrap().to_string();
    let noformat = noformat.to_str().unwrap().to_string();
    let command = format!("{probe} one 'two three' \"four\\\"\"");
    let socket = format!("{dir}/supervisor.sock");
    // As root, a program switching to nobody joins the comparison.
    let nobody = is_root().then(|| nix::unistd::User::from_name("nobody").unwrap().unwrap());
    let as_nobody = match &nobody {
        Some(_) => format!(
            "[program:asnobody]\ncommand={probe}\nuser=nobody\nstartsecs=0\n\
             autorestart=false\nstdout_logfile={dir}/nobody.out\n"
        ),
        None => {
            println!("not root: the user switch is left out of the comparison");
            String::new()
        }
    };
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nnodaemon=true\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\n\
             childlogdir={dir}\n\
             [unix_http_server]\nfile={socket}\n\
             [program:probe]\ncommand={command}\nstartsecs=0\nautorestart=false\n\
             umask=027\ndirectory={dir}\nenvironment=FOO=\"bar\"\n\
             stdout_logfile={dir}/probe.out\nstderr_logfile={dir}/probe.err\n\
             [program:noexec]\ncommand={noformat}\nstartretries=0\nautorestart=false\n\
             stderr_logfile={dir}/noexec.err\n\
             [program:baddir]\ncommand={probe}\ndirectory=/nonexistent/dir\nstartretries=0\n\
             autorestart=false\nstderr_logfile={dir}/baddir.err\n\
             {as_nobody}"
        ),
    );
    let supervisord = supervisor_tests::reference_bin("supervisord");
    engine().run(async {
        // The reference runs as our child too, so our reaper collects it.
        let reference = engine()
            .start(spec(
                "reference",
                &format!("{} -c {}", supervisord.display(), conf.display()),
            ))
            .await
            .unwrap();
        let read =
            |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_default();
        let main_log = poll("the reference to run its three programs", || {
            let log = read("main.log");
            (log.contains("exited: probe")
                && log.contains("exited: noexec")
                && log.contains("exited: baddir")
                && (nobody.is_none() || log.contains("exited: asnobody")))
            .then_some(log)
        })
        .await;
        send_signal(reference.pid, libc::SIGTERM, false).unwrap();
        within(reference.exit).await.unwrap();
        let theirs = probe_lines(&read("probe.out"));
        assert!(main_log.contains("exited: probe (exit status 0; expected)"));

        let mut ours = spec("probe", &command);
        ours.umask = Some(0o027);
        ours.directory = Some(dir.clone());
        ours.environment = Arc::from([("FOO".into(), "bar".into())]);
        ours.server_url = Some(format!("unix://{socket}").into());
        let mut started = engine().start(ours).await.unwrap();
        let mine = probe_lines(&read_all(&mut started.pipes.stdout).await);
        within(started.exit).await.unwrap();
        for key in [
            "argv", "cwd", "umask", "uid", "gid", "groups", "sigign", "fds",
        ] {
            assert_eq!(mine[key], theirs[key], "{key} differs from the reference");
        }
        // The reference's env was ours plus what its own spawner set, and it
        // overrides all of that for the child, so the maps must be equal.
        let env = |lines: &HashMap<String, String>| {
            let mut env: Vec<(String, String)> = lines
                .iter()
                .filter(|(k, _)| k.starts_with("env:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            env.sort();
            env
        };
        assert_eq!(env(&mine), env(&theirs));

        let mut noexec = engine().start(spec("noexec", &noformat)).await.unwrap();
        let said = read_all(noexec.pipes.stderr.as_mut().unwrap()).await;
        within(noexec.exit).await.unwrap();
        assert_eq!(said, read("noexec.err"));
        let mut baddir = spec("baddir", &probe);
        baddir.directory = Some("/nonexistent/dir".into());
        let mut baddir = engine().start(baddir).await.unwrap();
        let said = read_all(baddir.pipes.stderr.as_mut().unwrap()).await;
        within(baddir.exit).await.unwrap();
        assert_eq!(said, read("baddir.err"));

        if let Some(nobody) = &nobody {
            let theirs = probe_lines(&read("nobody.out"));
            let mut as_nobody = spec("asnobody", &probe);
            as_nobody.uid = Some(nobody.uid.as_raw());
            as_nobody.server_url = Some(format!("unix://{socket}").into());
            let mut started = engine().start(as_nobody).await.unwrap();
            let mine = probe_lines(&read_all(&mut started.pipes.stdout).await);
            within(started.exit).await.unwrap();
            for key in ["uid", "gid", "groups", "cwd", "fds", "sigign"] {
                assert_eq!(mine[key], theirs[key], "as nobody, {key} differs");
            }
            assert_eq!(
                env(&mine),
                env(&theirs),
                "as nobody, the environment differs"
            );
        }
    });
}

#[test]
fn lifecycle_lines_match_the_references_for_the_same_programs() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().to_str().unwrap().to_string();
    let flaky = format!("{EXIT} 1");
    // The reference evaluates startsecs on a loop that may sleep up to a
    // second, so give it room: flaky fails well inside startsecs, clean
    // outlives it by two loop periods.
    let clean = format!("{EXIT} 0 3000");
    let ghost = "/nonexistent/ghost".to_string();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nnodaemon=true\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\n\
             childlogdir={dir}\n\
             [program:flaky]\ncommand={flaky}\nstartsecs=3\nstartretries=1\n\
             [program:clean]\ncommand={clean}\nstartsecs=1\n\
             [program:ghost]\ncommand={ghost}\nstartretries=1\n"
        ),
    );
    let supervisord = supervisor_tests::reference_bin("supervisord");
    engine().run(async {
        let reference = engine()
            .start(spec(
                "reference",
                &format!("{} -c {}", supervisord.display(), conf.display()),
            ))
            .await
            .unwrap();
        let log_path = format!("{dir}/main.log");
        let reference_log = async {
            let log = poll("the reference to finish with its programs", || {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                (log.contains("gave up: flaky")
                    && log.contains("gave up: ghost")
                    && log.contains("exited: clean"))
                .then_some(log)
            })
            .await;
            send_signal(reference.pid, libc::SIGTERM, false).unwrap();
            within(reference.exit).await.unwrap();
            log
        };
        // Ours run at the same time, each program on its own driver.
        let ours = |name: &'static str, command: String, startsecs, startretries, last| async move {
            let policy = Policy {
                startsecs,
                startretries,
                ..Policy::with_defaults(name)
            };
            let mut driver = Driver::new(policy, spec(name, &command));
            driver.feed(Input::Autostart).await;
            driver.until(last).await;
            driver
                .logs
                .iter()
                .filter(|(level, _)| *level >= LogLevel::Info)
                .map(|(level, text)| format!("{} {}", level.tag(), without_pid(text)))
                .collect::<Vec<String>>()
        };
        let (log, ours_flaky, ours_clean, ours_ghost) = tokio::join!(
            reference_log,
            ours("flaky", flaky.clone(), 3, 1, S::Fatal),
            ours("clean", clean.clone(), 1, 3, S::Exited),
            ours("ghost", ghost.clone(), 1, 1, S::Fatal),
        );
        for (name, ours) in [
            ("flaky", ours_flaky),
            ("clean", ours_clean),
            ("ghost", ours_ghost),
        ] {
            let theirs: Vec<String> = log
                .lines()
                .filter_map(|line| {
                    let mut parts = line.splitn(4, ' ');
                    let (_, _, level, text) =
                        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                    let about_it = text.contains(&format!(" {name} "))
                        || text.contains(&format!("'{name}'"))
                        || text.starts_with("spawnerr: ") && name == "ghost";
                    about_it.then(|| format!("{level} {}", without_pid(text)))
                })
                .collect();
            assert_eq!(ours, theirs, "the main-log lines about {name}");
        }
    });
}

#[test]
fn stop_escalation_lines_match_the_references() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().to_str().unwrap().to_string();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nnodaemon=true\nloglevel=debug\nlogfile={dir}/main.log\n\
             pidfile={dir}/sd.pid\nchildlogdir={dir}\n\
             [unix_http_server]\nfile={dir}/s.sock\n\
             [supervisorctl]\nserverurl=unix://{dir}/s.sock\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [program:stubborn]\ncommand={STUBBORN}\nstartsecs=1\nstopwaitsecs=1\n\
             stopasgroup=true\n"
        ),
    );
    let supervisord = supervisor_tests::reference_bin("supervisord");
    let supervisorctl = supervisor_tests::reference_bin("supervisorctl");
    engine().run(async {
        let reference = engine()
            .start(spec(
                "reference",
                &format!("{} -c {}", supervisord.display(), conf.display()),
            ))
            .await
            .unwrap();
        let log_path = format!("{dir}/main.log");
        let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        poll("stubborn to be RUNNING under the reference", || {
            read_log().contains("success: stubborn").then_some(())
        })
        .await;
        let ctl = engine()
            .start(spec(
                "ctl",
                &format!(
                    "{} -c {} stop stubborn",
                    supervisorctl.display(),
                    conf.display()
                ),
            ))
            .await
            .unwrap();
        within(ctl.exit).await.unwrap();
        let log = poll("the reference to stop stubborn", || {
            let log = read_log();
            log.contains("stopped: stubborn").then_some(log)
        })
        .await;
        send_signal(reference.pid, libc::SIGTERM, false).unwrap();
        within(reference.exit).await.unwrap();
        let theirs: Vec<String> = log
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(4, ' ');
                let (_, _, level, text) =
                    (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                // "waiting for stubborn to stop" comes from the RPC's wait;
                // output and "fd N closed" lines from the pipe readers.
                let about_it = (text.contains(" stubborn ") || text.contains("'stubborn'"))
                    && !text.starts_with("waiting for")
                    && !text.starts_with("fd ")
                    && !text.contains("output:");
                about_it.then(|| format!("{level} {}", without_pid(&mask_pids(text))))
            })
            .collect();

        let policy = Policy {
            startsecs: 1,
            stopwaitsecs: 1,
            stopasgroup: true,
            killasgroup: true,
            ..Policy::with_defaults("stubborn")
        };
        let mut driver = Driver::new(policy, spec("stubborn", STUBBORN));
        driver.feed(Input::Autostart).await;
        driver.until(S::Running).await;
        driver.feed(Input::Stop).await;
        driver.until(S::Stopped).await;
        let ours: Vec<String> = driver
            .logs
            .iter()
            .map(|(level, text)| format!("{} {}", level.tag(), without_pid(&mask_pids(text))))
            .collect();
        assert_eq!(ours, theirs);
    });
}
