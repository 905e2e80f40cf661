//! The reaper and the ledger: every exit reaches the process that owns it,
//! orphans come back through the subreaper, group signals reach descendants.

use super::*;

#[test]
fn exit_codes_and_signal_deaths_come_back_through_the_reaper() {
    engine().run(async {
        let started = engine()
            .start(spec("exit3", &format!("{EXIT} 3 20")))
            .await
            .unwrap();
        let status = within(started.exit).await.unwrap();
        assert_eq!(exit_text(status), "exit status 3");
        assert!(is_gone(started.pid), "no zombie after the reap");

        let mut stubborn = engine().start(spec("stubborn", STUBBORN)).await.unwrap();
        assert_eq!(read_line(&mut stubborn.pipes.stdout).await, "ready\n");
        send_signal(stubborn.pid, libc::SIGKILL, false).unwrap();
        let status = within(stubborn.exit).await.unwrap();
        assert_eq!(exit_text(status), "terminated by SIGKILL");
        assert!(is_gone(stubborn.pid));
    });
}

#[test]
fn a_fast_exit_reaped_before_the_spawn_report_still_reaches_its_process() {
    // `true`-like children exit within microseconds of the fork, often
    // before the spawner's report: the ledger must hold those exits.
    engine().run(async {
        for _ in 0..20 {
            let started = engine()
                .start(spec("instant", &format!("{EXIT} 4")))
                .await
                .unwrap();
            assert_eq!(
                exit_text(within(started.exit).await.unwrap()),
                "exit status 4"
            );
        }
    });
}

#[test]
fn concurrent_spawns_each_get_their_own_exit() {
    // Each child exits with its own code, so a mixed-up pid-to-owner
    // match in the ledger would show as a wrong code.
    engine().run(async {
        let starts: Vec<_> = (0..60)
            .map(|i| tokio::spawn(engine().start(spec(&format!("c{i}"), &format!("{EXIT} {i}")))))
            .collect();
        let mut exits = Vec::new();
        for (i, start) in starts.into_iter().enumerate() {
            let started = start.await.unwrap().unwrap();
            exits.push((i, started.pid, started.exit));
        }
        for (i, pid, exit) in exits {
            let status = within(exit).await.unwrap();
            assert_eq!(
                exit_text(status),
                format!("exit status {i}"),
                "child {i} (pid {pid})"
            );
            assert!(is_gone(pid));
        }
    });
}

#[test]
fn an_orphaned_grandchild_is_reaped_through_the_subreaper() {
    engine().run(async {
        let mut forker = engine()
            .start(spec("forker", &format!("{FORKER} orphan 300")))
            .await
            .unwrap();
        let line = read_line(&mut forker.pipes.stdout).await;
        let grandchild: i32 = line
            .trim()
            .strip_prefix("grandchild=")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            exit_text(within(forker.exit).await.unwrap()),
            "exit status 0"
        );
        let status = engine().orphan_exit(grandchild).await;
        assert_eq!(exit_text(status), "exit status 0");
        assert!(is_gone(grandchild), "the orphan left no zombie");
    });
}

#[test]
fn a_group_signal_reaches_the_childs_descendants() {
    engine().run(async {
        let mut forker = engine()
            .start(spec("family", &format!("{FORKER} stay 60000")))
            .await
            .unwrap();
        let line = read_line(&mut forker.pipes.stdout).await;
        let grandchild: i32 = line
            .trim()
            .strip_prefix("grandchild=")
            .unwrap()
            .parse()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let pgrp: i32 = after_name.split(' ').nth(2).unwrap().parse().unwrap();
        assert_eq!(pgrp, forker.pid, "the grandchild is in the child's group");

        send_signal(forker.pid, libc::SIGTERM, true).unwrap();
        assert_eq!(
            exit_text(within(forker.exit).await.unwrap()),
            "terminated by SIGTERM"
        );
        let status = engine().orphan_exit(grandchild).await;
        assert_eq!(exit_text(status), "terminated by SIGTERM");
    });
}
