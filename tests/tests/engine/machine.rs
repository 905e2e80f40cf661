//! The state machine driven against real processes: stop escalation,
//! backoff to FATAL, spawn errors, autorestart.

use super::*;

#[test]
fn a_process_ignoring_sigterm_is_killed_after_stopwaitsecs() {
    engine().run(async {
        let policy = Policy {
            startsecs: 0,
            stopwaitsecs: 1,
            ..Policy::with_defaults("stubborn")
        };
        let mut driver = Driver::new(policy, spec("stubborn", STUBBORN));
        driver.feed(Input::Start).await;
        assert_eq!(driver.record.state, S::Running);
        let pid = driver.record.pid.unwrap();
        let ready = read_line(driver.stdout.as_mut().unwrap()).await;
        assert_eq!(ready, "ready\n", "SIGTERM is ignored from here on");

        let asked = Instant::now();
        driver.feed(Input::Stop).await;
        assert_eq!(driver.record.state, S::Stopping);
        driver.until(S::Stopped).await;
        assert!(asked.elapsed() >= Duration::from_secs(1));
        assert!(driver.logged(&format!("killing stubborn (pid {pid}) with signal SIGTERM")));
        assert!(driver.logged(&format!("killing 'stubborn' ({pid}) with SIGKILL")));
        assert!(driver.logged("stopped: stubborn (terminated by SIGKILL)"));
        assert_eq!(
            driver.path(),
            [S::Starting, S::Running, S::Stopping, S::Stopped]
        );
        assert!(is_gone(pid));
    });
}

#[test]
fn a_command_that_keeps_failing_backs_off_then_goes_fatal() {
    engine().run(async {
        let policy = Policy {
            startsecs: 1,
            startretries: 1,
            ..Policy::with_defaults("flaky")
        };
        let mut driver = Driver::new(policy, spec("flaky", &format!("{EXIT} 1")));
        driver.feed(Input::Autostart).await;
        driver.until(S::Fatal).await;
        assert_eq!(driver.spawned, 2, "startretries=1 means two attempts");
        assert_eq!(
            driver.path(),
            [S::Starting, S::Backoff, S::Starting, S::Backoff, S::Fatal]
        );
        let warnings: Vec<&String> = driver
            .logs
            .iter()
            .filter(|(level, _)| *level == LogLevel::Warn)
            .map(|(_, text)| text)
            .collect();
        assert_eq!(
            warnings,
            [
                "exited: flaky (exit status 1; not expected)",
                "exited: flaky (exit status 1; not expected)"
            ]
        );
        assert!(
            driver.logged("gave up: flaky entered FATAL state, too many start retries too quickly")
        );
        assert_eq!(
            driver.record.spawnerr.as_deref(),
            Some("Exited too quickly (process log may have details)")
        );
    });
}

#[test]
fn a_missing_command_goes_fatal_through_spawn_errors() {
    engine().run(async {
        let policy = Policy {
            startretries: 0,
            ..Policy::with_defaults("ghost")
        };
        let mut driver = Driver::new(policy, spec("ghost", "/nonexistent/bin/ghost"));
        driver.feed(Input::Start).await;
        assert_eq!(driver.record.state, S::Fatal);
        assert_eq!(driver.spawned, 0);
        assert!(driver.logged("spawnerr: can't find command '/nonexistent/bin/ghost'"));
    });
}

#[test]
fn an_unexpected_exit_is_restarted_at_once_and_an_expected_one_is_not() {
    engine().run(async {
        let policy = Policy {
            startsecs: 0,
            autorestart: AutoRestart::Unexpected,
            exitcodes: vec![0].into(),
            ..Policy::with_defaults("crasher")
        };
        let mut driver = Driver::new(policy.clone(), spec("crasher", &format!("{EXIT} 2 30")));
        driver.feed(Input::Start).await;
        within(async {
            while driver.spawned < 3 {
                driver.step().await;
            }
        })
        .await;
        assert!(driver.logged("exited: crasher (exit status 2; not expected)"));
        driver.feed(Input::Stop).await;
        driver.until(S::Stopped).await;

        let policy = Policy {
            name: "clean".into(),
            ..policy
        };
        let mut driver = Driver::new(policy, spec("clean", &format!("{EXIT} 0 30")));
        driver.feed(Input::Start).await;
        driver.until(S::Exited).await;
        assert_eq!(driver.spawned, 1);
        assert!(driver.logged("exited: clean (exit status 0; expected)"));
    });
}
