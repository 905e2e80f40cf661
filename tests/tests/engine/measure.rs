//! Measurements run by hand (`--ignored --nocapture`), not benchmarks:
//! they print figures and assert only that everything was reaped.

use super::*;

/// Spawns N short-lived children through the engine, all at once, then one
/// after another, and compares with std's plain spawn of the same program
/// (no pipes, no pre_exec), whose exits our reaper collects too.
#[test]
#[ignore = "a measurement, run by hand"]
#[expect(
    clippy::zombie_processes,
    reason = "the engine's reaper collects std's children too"
)]
fn spawn_rate() {
    const N: usize = 500;
    engine().run(async {
        let began = Instant::now();
        let mut exits = Vec::with_capacity(N);
        let starts: Vec<_> = (0..N)
            .map(|i| tokio::spawn(engine().start(spec(&format!("p{i}"), "/bin/true"))))
            .collect();
        for start in starts {
            exits.push(start.await.unwrap().unwrap().exit);
        }
        let spawned = began.elapsed();
        for exit in exits {
            within(exit).await.unwrap();
        }
        let ours = began.elapsed();

        let began = Instant::now();
        let mut exits = Vec::with_capacity(N);
        for i in 0..N {
            let started = engine().start(spec(&format!("s{i}"), "/bin/true")).await.unwrap();
            exits.push(started.exit);
        }
        let sequential = began.elapsed();
        for exit in exits {
            within(exit).await.unwrap();
        }
        println!("{N} spawns one after another: {sequential:?}");

        let began = Instant::now();
        for _ in 0..N {
            std::process::Command::new("/bin/true").spawn().unwrap();
        }
        let plain = began.elapsed();
        println!(
            "{N} spawns: ours {spawned:?} (all reaped after {ours:?}), std plain spawn {plain:?}, ratio {:.2}",
            spawned.as_secs_f64() / plain.as_secs_f64()
        );
    });
}

/// Not run by default: how long from SIGKILL to the replacement's fork
/// being reported, through reaper, ledger, machine and spawner.
#[test]
#[ignore = "a measurement, run by hand"]
fn restart_latency() {
    engine().run(async {
        let policy = Policy {
            startsecs: 0,
            autorestart: AutoRestart::Always,
            ..Policy::with_defaults("victim")
        };
        let mut driver = Driver::new(policy, spec("victim", STUBBORN));
        driver.feed(Input::Start).await;
        let mut samples = Vec::new();
        for _ in 0..20 {
            let spawned = driver.spawned;
            let pid = driver.record.pid.unwrap();
            let killed = Instant::now();
            send_signal(pid, libc::SIGKILL, false).unwrap();
            within(async {
                while driver.spawned == spawned {
                    driver.step().await;
                }
            })
            .await;
            samples.push(killed.elapsed());
        }
        samples.sort();
        println!(
            "kill to respawn: median {:?}, worst {:?}",
            samples[samples.len() / 2],
            samples[samples.len() - 1]
        );
        driver.feed(Input::Stop).await;
        driver.until(S::Stopped).await;
    });
}
