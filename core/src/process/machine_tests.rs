//! The state machine as a table (every state against every input) plus
//! scenario tests that follow one process through time with explicit
//! moments.

use super::*;
use ProcessState as S;
use std::time::SystemTime;

const PID: i32 = 4242;

fn policy() -> Policy {
    Policy::with_defaults("p")
}

fn t0() -> Moment {
    Moment {
        instant: Instant::now(),
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    }
}

/// A record in `state`, as the machine itself would have left it, with
/// the process started at `start`.
fn record_in(label: &str, start: Moment) -> ProcessRecord {
    let started = ProcessRecord {
        laststart: Some(start.instant),
        laststart_wall: Some(start.wall),
        ..ProcessRecord::default()
    };
    match label {
        "STOPPED(new)" => ProcessRecord::default(),
        "STOPPED" => ProcessRecord {
            exitstatus: Some(-1),
            ..started
        },
        "STARTING(forking)" => ProcessRecord {
            state: S::Starting,
            spawning: true,
            ..started
        },
        "STARTING" => ProcessRecord {
            state: S::Starting,
            pid: Some(PID),
            deadline: Some(start.instant + Duration::from_secs(1)),
            ..started
        },
        "RUNNING" => ProcessRecord {
            state: S::Running,
            pid: Some(PID),
            ..started
        },
        "BACKOFF" => ProcessRecord {
            state: S::Backoff,
            backoff: 1,
            deadline: Some(start.instant + Duration::from_secs(1)),
            spawnerr: Some("Exited too quickly (process log may have details)".into()),
            ..started
        },
        "STOPPING" => ProcessRecord {
            state: S::Stopping,
            pid: Some(PID),
            deadline: Some(start.instant + Duration::from_secs(10)),
            ..started
        },
        "EXITED" => ProcessRecord {
            state: S::Exited,
            exitstatus: Some(0),
            ..started
        },
        "FATAL" => ProcessRecord {
            state: S::Fatal,
            spawnerr: Some("can't find command 'x'".into()),
            ..started
        },
        "UNKNOWN" => ProcessRecord {
            state: S::Unknown,
            pid: Some(PID),
            ..started
        },
        other => panic!("no such state label {other}"),
    }
}

fn input(label: &str) -> Input {
    match label {
        "Autostart" => Input::Autostart,
        "Start" => Input::Start,
        "Stop" => Input::Stop,
        "GiveUp" => Input::GiveUp,
        "Signal(HUP)" => Input::Signal(libc::SIGHUP),
        "SpawnSucceeded" => Input::SpawnSucceeded { pid: PID },
        "SpawnFailed" => Input::SpawnFailed {
            message: "can't find command 'x'".into(),
        },
        "Exited(0)" => Input::Exited {
            pid: PID,
            status: 0,
        },
        "Exited(TERM)" => Input::Exited {
            pid: PID,
            status: libc::SIGTERM,
        },
        "Exited(other pid)" => Input::Exited { pid: 7, status: 0 },
        "Timer(Startsecs)" => Input::Timer(TimerKind::Startsecs),
        "Timer(Backoff)" => Input::Timer(TimerKind::Backoff),
        "Timer(Stopwait)" => Input::Timer(TimerKind::Stopwait),
        "KillFailed(ESRCH)" => Input::KillFailed {
            pid: PID,
            errno: libc::ESRCH,
            purpose: KillPurpose::Stop,
        },
        "KillFailed(EPERM)" => Input::KillFailed {
            pid: PID,
            errno: libc::EPERM,
            purpose: KillPurpose::Stop,
        },
        "Waiting" => Input::Waiting(Some("waiting for db".into())),
        "Ready" => Input::Ready { pid: PID },
        "Timer(ReadyTimeout)" => Input::Timer(TimerKind::ReadyTimeout),
        "DependencyFailed" => Input::DependencyFailed("dependency db is FATAL".into()),
        other => panic!("no such input label {other}"),
    }
}

/// One line per effect kind, short enough for a table: events as
/// `FROM>TO`, logs as level and first word.
fn summary(state: ProcessState, effects: &[Effect]) -> String {
    let mut out = vec![state.name().to_string(), "|".to_string()];
    for effect in effects {
        out.push(match effect {
            Effect::Spawn => "spawn".into(),
            Effect::Kill {
                signal,
                group,
                purpose,
                ..
            } => format!(
                "kill{signal}{}{}",
                if *group { "g" } else { "" },
                if *purpose == KillPurpose::Signal {
                    "s"
                } else {
                    ""
                }
            ),
            Effect::ArmTimer { kind, .. } => format!("arm:{kind:?}"),
            Effect::CancelTimer => "cancel".into(),
            Effect::StateChanged(c) => format!("{}>{}", c.from.name(), c.to.name()),
            Effect::Log { level, text } => {
                let first = text.split(' ').next().unwrap_or_default();
                format!("{}:{first}", &format!("{level:?}")[..1])
            }
            Effect::CommandFailed(_) => "failed".into(),
            Effect::EndDaemon(status) => format!("end:{status}"),
        });
    }
    out.join(" ")
}

const STATES: [&str; 10] = [
    "STOPPED(new)",
    "STOPPED",
    "STARTING(forking)",
    "STARTING",
    "RUNNING",
    "BACKOFF",
    "STOPPING",
    "EXITED",
    "FATAL",
    "UNKNOWN",
];

const INPUTS: [&str; 19] = [
    "Autostart",
    "Start",
    "Stop",
    "GiveUp",
    "Signal(HUP)",
    "SpawnSucceeded",
    "SpawnFailed",
    "Exited(0)",
    "Exited(TERM)",
    "Exited(other pid)",
    "Timer(Startsecs)",
    "Timer(Backoff)",
    "Timer(Stopwait)",
    "KillFailed(ESRCH)",
    "KillFailed(EPERM)",
    "Waiting",
    "DependencyFailed",
    "Ready",
    "Timer(ReadyTimeout)",
];

/// Every (state, input) cell, applied 30 s after the start, when every
/// deadline of the record has passed (so timers are due and no exit is
/// "too quick"). Expected: the new state, then the effects in order.
const TABLE: &[(&str, &str, &str)] = &[
    (
        "STOPPED(new)",
        "Autostart",
        "STARTING | STOPPED>STARTING spawn",
    ),
    ("STOPPED(new)", "Start", "STARTING | STOPPED>STARTING spawn"),
    ("STOPPED(new)", "Stop", "STOPPED | D:attempted failed"),
    ("STOPPED(new)", "GiveUp", "STOPPED |"),
    (
        "STOPPED(new)",
        "Signal(HUP)",
        "STOPPED | D:attempted failed",
    ),
    ("STOPPED(new)", "SpawnSucceeded", "STOPPED |"),
    ("STOPPED(new)", "SpawnFailed", "STOPPED |"),
    ("STOPPED(new)", "Exited(0)", "STOPPED |"),
    ("STOPPED(new)", "Exited(TERM)", "STOPPED |"),
    ("STOPPED(new)", "Exited(other pid)", "STOPPED |"),
    ("STOPPED(new)", "Timer(Startsecs)", "STOPPED |"),
    ("STOPPED(new)", "Timer(Backoff)", "STOPPED |"),
    ("STOPPED(new)", "Timer(Stopwait)", "STOPPED |"),
    ("STOPPED(new)", "KillFailed(ESRCH)", "STOPPED |"),
    ("STOPPED(new)", "KillFailed(EPERM)", "STOPPED |"),
    ("STOPPED", "Autostart", "STOPPED |"),
    ("STOPPED", "Start", "STARTING | STOPPED>STARTING spawn"),
    ("STOPPED", "Stop", "STOPPED | D:attempted failed"),
    ("STOPPED", "GiveUp", "STOPPED |"),
    ("STOPPED", "Signal(HUP)", "STOPPED | D:attempted failed"),
    ("STOPPED", "SpawnSucceeded", "STOPPED |"),
    ("STOPPED", "SpawnFailed", "STOPPED |"),
    ("STOPPED", "Exited(0)", "STOPPED |"),
    ("STOPPED", "Exited(TERM)", "STOPPED |"),
    ("STOPPED", "Exited(other pid)", "STOPPED |"),
    ("STOPPED", "Timer(Startsecs)", "STOPPED |"),
    ("STOPPED", "Timer(Backoff)", "STOPPED |"),
    ("STOPPED", "Timer(Stopwait)", "STOPPED |"),
    ("STOPPED", "KillFailed(ESRCH)", "STOPPED |"),
    ("STOPPED", "KillFailed(EPERM)", "STOPPED |"),
    ("STARTING(forking)", "Autostart", "STARTING |"),
    ("STARTING(forking)", "Start", "STARTING | W:process"),
    (
        "STARTING(forking)",
        "Stop",
        "STOPPING | cancel STARTING>STOPPING",
    ),
    ("STARTING(forking)", "GiveUp", "STARTING |"),
    (
        "STARTING(forking)",
        "Signal(HUP)",
        "STARTING | D:attempted failed",
    ),
    (
        "STARTING(forking)",
        "SpawnSucceeded",
        "RUNNING | I:spawned: STARTING>RUNNING I:success:",
    ),
    (
        "STARTING(forking)",
        "SpawnFailed",
        "BACKOFF | I:spawnerr: STARTING>BACKOFF arm:Backoff",
    ),
    ("STARTING(forking)", "Exited(0)", "STARTING |"),
    ("STARTING(forking)", "Exited(TERM)", "STARTING |"),
    ("STARTING(forking)", "Exited(other pid)", "STARTING |"),
    ("STARTING(forking)", "Timer(Startsecs)", "STARTING |"),
    ("STARTING(forking)", "Timer(Backoff)", "STARTING |"),
    ("STARTING(forking)", "Timer(Stopwait)", "STARTING |"),
    ("STARTING(forking)", "KillFailed(ESRCH)", "STARTING |"),
    ("STARTING(forking)", "KillFailed(EPERM)", "STARTING |"),
    ("STARTING", "Autostart", "STARTING |"),
    ("STARTING", "Start", "STARTING | W:process"),
    (
        "STARTING",
        "Stop",
        "STOPPING | D:killing STARTING>STOPPING arm:Stopwait kill15",
    ),
    ("STARTING", "GiveUp", "STARTING |"),
    ("STARTING", "Signal(HUP)", "STARTING | D:sending kill1s"),
    ("STARTING", "SpawnSucceeded", "STARTING |"),
    ("STARTING", "SpawnFailed", "STARTING |"),
    (
        "STARTING",
        "Exited(0)",
        "EXITED | cancel STARTING>RUNNING RUNNING>EXITED I:exited:",
    ),
    (
        "STARTING",
        "Exited(TERM)",
        "STARTING | cancel STARTING>RUNNING RUNNING>EXITED W:exited: EXITED>STARTING spawn",
    ),
    ("STARTING", "Exited(other pid)", "STARTING |"),
    (
        "STARTING",
        "Timer(Startsecs)",
        "RUNNING | STARTING>RUNNING I:success:",
    ),
    ("STARTING", "Timer(Backoff)", "STARTING |"),
    ("STARTING", "Timer(Stopwait)", "STARTING |"),
    ("STARTING", "KillFailed(ESRCH)", "STARTING | D:unable"),
    (
        "STARTING",
        "KillFailed(EPERM)",
        "UNKNOWN | C:unknown STARTING>UNKNOWN cancel failed",
    ),
    ("RUNNING", "Autostart", "RUNNING |"),
    ("RUNNING", "Start", "RUNNING | W:process"),
    (
        "RUNNING",
        "Stop",
        "STOPPING | D:killing RUNNING>STOPPING arm:Stopwait kill15",
    ),
    ("RUNNING", "GiveUp", "RUNNING |"),
    ("RUNNING", "Signal(HUP)", "RUNNING | D:sending kill1s"),
    ("RUNNING", "SpawnSucceeded", "RUNNING |"),
    ("RUNNING", "SpawnFailed", "RUNNING |"),
    (
        "RUNNING",
        "Exited(0)",
        "EXITED | cancel RUNNING>EXITED I:exited:",
    ),
    (
        "RUNNING",
        "Exited(TERM)",
        "STARTING | cancel RUNNING>EXITED W:exited: EXITED>STARTING spawn",
    ),
    ("RUNNING", "Exited(other pid)", "RUNNING |"),
    ("RUNNING", "Timer(Startsecs)", "RUNNING |"),
    ("RUNNING", "Timer(Backoff)", "RUNNING |"),
    ("RUNNING", "Timer(Stopwait)", "RUNNING |"),
    ("RUNNING", "KillFailed(ESRCH)", "RUNNING | D:unable"),
    (
        "RUNNING",
        "KillFailed(EPERM)",
        "UNKNOWN | C:unknown RUNNING>UNKNOWN cancel failed",
    ),
    ("BACKOFF", "Autostart", "BACKOFF |"),
    (
        "BACKOFF",
        "Start",
        "STARTING | cancel BACKOFF>STARTING spawn",
    ),
    (
        "BACKOFF",
        "Stop",
        "STOPPED | D:Attempted cancel BACKOFF>STOPPED",
    ),
    ("BACKOFF", "GiveUp", "FATAL | cancel BACKOFF>FATAL"),
    ("BACKOFF", "Signal(HUP)", "BACKOFF | D:attempted failed"),
    ("BACKOFF", "SpawnSucceeded", "BACKOFF |"),
    ("BACKOFF", "SpawnFailed", "BACKOFF |"),
    ("BACKOFF", "Exited(0)", "BACKOFF |"),
    ("BACKOFF", "Exited(TERM)", "BACKOFF |"),
    ("BACKOFF", "Exited(other pid)", "BACKOFF |"),
    ("BACKOFF", "Timer(Startsecs)", "BACKOFF |"),
    (
        "BACKOFF",
        "Timer(Backoff)",
        "STARTING | cancel BACKOFF>STARTING spawn",
    ),
    ("BACKOFF", "Timer(Stopwait)", "BACKOFF |"),
    ("BACKOFF", "KillFailed(ESRCH)", "BACKOFF |"),
    ("BACKOFF", "KillFailed(EPERM)", "BACKOFF |"),
    ("STOPPING", "Autostart", "STOPPING |"),
    ("STOPPING", "Start", "STOPPING | W:process"),
    (
        "STOPPING",
        "Stop",
        "STOPPING | D:killing arm:Stopwait kill15",
    ),
    ("STOPPING", "GiveUp", "STOPPING |"),
    ("STOPPING", "Signal(HUP)", "STOPPING | D:sending kill1s"),
    ("STOPPING", "SpawnSucceeded", "STOPPING |"),
    ("STOPPING", "SpawnFailed", "STOPPING |"),
    (
        "STOPPING",
        "Exited(0)",
        "STOPPED | cancel STOPPING>STOPPED I:stopped:",
    ),
    (
        "STOPPING",
        "Exited(TERM)",
        "STOPPED | cancel STOPPING>STOPPED W:stopped:",
    ),
    ("STOPPING", "Exited(other pid)", "STOPPING |"),
    ("STOPPING", "Timer(Startsecs)", "STOPPING |"),
    ("STOPPING", "Timer(Backoff)", "STOPPING |"),
    (
        "STOPPING",
        "Timer(Stopwait)",
        "STOPPING | W:killing D:killing arm:Stopwait kill9",
    ),
    ("STOPPING", "KillFailed(ESRCH)", "STOPPING | D:unable"),
    (
        "STOPPING",
        "KillFailed(EPERM)",
        "UNKNOWN | C:unknown STOPPING>UNKNOWN cancel failed",
    ),
    ("EXITED", "Autostart", "EXITED |"),
    ("EXITED", "Start", "STARTING | EXITED>STARTING spawn"),
    ("EXITED", "Stop", "EXITED | D:attempted failed"),
    ("EXITED", "GiveUp", "EXITED |"),
    ("EXITED", "Signal(HUP)", "EXITED | D:attempted failed"),
    ("EXITED", "SpawnSucceeded", "EXITED |"),
    ("EXITED", "SpawnFailed", "EXITED |"),
    ("EXITED", "Exited(0)", "EXITED |"),
    ("EXITED", "Exited(TERM)", "EXITED |"),
    ("EXITED", "Exited(other pid)", "EXITED |"),
    ("EXITED", "Timer(Startsecs)", "EXITED |"),
    ("EXITED", "Timer(Backoff)", "EXITED |"),
    ("EXITED", "Timer(Stopwait)", "EXITED |"),
    ("EXITED", "KillFailed(ESRCH)", "EXITED |"),
    ("EXITED", "KillFailed(EPERM)", "EXITED |"),
    ("FATAL", "Autostart", "FATAL |"),
    ("FATAL", "Start", "STARTING | FATAL>STARTING spawn"),
    ("FATAL", "Stop", "FATAL | D:attempted failed"),
    ("FATAL", "GiveUp", "FATAL |"),
    ("FATAL", "Signal(HUP)", "FATAL | D:attempted failed"),
    ("FATAL", "SpawnSucceeded", "FATAL |"),
    ("FATAL", "SpawnFailed", "FATAL |"),
    ("FATAL", "Exited(0)", "FATAL |"),
    ("FATAL", "Exited(TERM)", "FATAL |"),
    ("FATAL", "Exited(other pid)", "FATAL |"),
    ("FATAL", "Timer(Startsecs)", "FATAL |"),
    ("FATAL", "Timer(Backoff)", "FATAL |"),
    ("FATAL", "Timer(Stopwait)", "FATAL |"),
    ("FATAL", "KillFailed(ESRCH)", "FATAL |"),
    ("FATAL", "KillFailed(EPERM)", "FATAL |"),
    ("UNKNOWN", "Autostart", "UNKNOWN |"),
    ("UNKNOWN", "Start", "UNKNOWN | W:process"),
    (
        "UNKNOWN",
        "Stop",
        "STOPPING | D:killing UNKNOWN>STOPPING arm:Stopwait kill15",
    ),
    ("UNKNOWN", "GiveUp", "UNKNOWN |"),
    ("UNKNOWN", "Signal(HUP)", "UNKNOWN | D:sending kill1s"),
    ("UNKNOWN", "SpawnSucceeded", "UNKNOWN |"),
    ("UNKNOWN", "SpawnFailed", "UNKNOWN |"),
    (
        "UNKNOWN",
        "Exited(0)",
        "EXITED | cancel UNKNOWN>EXITED I:exited:",
    ),
    (
        "UNKNOWN",
        "Exited(TERM)",
        "STARTING | cancel UNKNOWN>EXITED W:exited: EXITED>STARTING spawn",
    ),
    ("UNKNOWN", "Exited(other pid)", "UNKNOWN |"),
    ("UNKNOWN", "Timer(Startsecs)", "UNKNOWN |"),
    ("UNKNOWN", "Timer(Backoff)", "UNKNOWN |"),
    ("UNKNOWN", "Timer(Stopwait)", "UNKNOWN |"),
    ("UNKNOWN", "KillFailed(ESRCH)", "UNKNOWN | D:unable"),
    (
        "UNKNOWN",
        "KillFailed(EPERM)",
        "UNKNOWN | C:unknown cancel failed",
    ),
    ("STOPPED(new)", "Waiting", "STOPPED |"),
    (
        "STOPPED(new)",
        "DependencyFailed",
        "FATAL | STOPPED>FATAL I:gave",
    ),
    ("STOPPED", "Waiting", "STOPPED |"),
    (
        "STOPPED",
        "DependencyFailed",
        "FATAL | STOPPED>FATAL I:gave",
    ),
    ("STARTING(forking)", "Waiting", "STARTING |"),
    ("STARTING(forking)", "DependencyFailed", "STARTING |"),
    ("STARTING", "Waiting", "STARTING |"),
    ("STARTING", "DependencyFailed", "STARTING |"),
    ("RUNNING", "Waiting", "RUNNING |"),
    ("RUNNING", "DependencyFailed", "RUNNING |"),
    ("BACKOFF", "Waiting", "BACKOFF |"),
    ("BACKOFF", "DependencyFailed", "BACKOFF |"),
    ("STOPPING", "Waiting", "STOPPING |"),
    ("STOPPING", "DependencyFailed", "STOPPING |"),
    ("EXITED", "Waiting", "EXITED |"),
    ("EXITED", "DependencyFailed", "FATAL | EXITED>FATAL I:gave"),
    ("FATAL", "Waiting", "FATAL |"),
    ("FATAL", "DependencyFailed", "FATAL | I:gave"),
    ("UNKNOWN", "Waiting", "UNKNOWN |"),
    ("UNKNOWN", "DependencyFailed", "UNKNOWN |"),
    ("STOPPED(new)", "Ready", "STOPPED |"),
    ("STOPPED(new)", "Timer(ReadyTimeout)", "STOPPED |"),
    ("STOPPED", "Ready", "STOPPED |"),
    ("STOPPED", "Timer(ReadyTimeout)", "STOPPED |"),
    ("STARTING(forking)", "Ready", "STARTING |"),
    ("STARTING(forking)", "Timer(ReadyTimeout)", "STARTING |"),
    ("STARTING", "Ready", "STARTING |"),
    ("STARTING", "Timer(ReadyTimeout)", "STARTING |"),
    ("RUNNING", "Ready", "RUNNING |"),
    ("RUNNING", "Timer(ReadyTimeout)", "RUNNING |"),
    ("BACKOFF", "Ready", "BACKOFF |"),
    ("BACKOFF", "Timer(ReadyTimeout)", "BACKOFF |"),
    ("STOPPING", "Ready", "STOPPING |"),
    ("STOPPING", "Timer(ReadyTimeout)", "STOPPING |"),
    ("EXITED", "Ready", "EXITED |"),
    ("EXITED", "Timer(ReadyTimeout)", "EXITED |"),
    ("FATAL", "Ready", "FATAL |"),
    ("FATAL", "Timer(ReadyTimeout)", "FATAL |"),
    ("UNKNOWN", "Ready", "UNKNOWN |"),
    ("UNKNOWN", "Timer(ReadyTimeout)", "UNKNOWN |"),
];

#[test]
fn every_state_against_every_input() {
    let start = t0();
    let at = start.after(Duration::from_secs(30));
    let mut failures = Vec::new();
    let mut printed = Vec::new();
    for state in &STATES {
        for inp in INPUTS {
            let record = record_in(state, start);
            let (next, effects) = transition(&record, input(inp), at, &policy(), Mood::Running);
            let got = summary(next.state, &effects);
            printed.push(format!("    (\"{state}\", \"{inp}\", \"{got}\"),"));
            match TABLE.iter().find(|(s, i, _)| s == state && *i == inp) {
                Some((_, _, want)) if *want == got => {}
                Some((_, _, want)) => {
                    failures.push(format!("{state} + {inp}: want {want}, got {got}"))
                }
                None => failures.push(format!(
                    "{state} + {inp}: missing from the table (got {got})"
                )),
            }
        }
    }
    if !failures.is_empty() {
        println!("{}", printed.join("\n"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One process followed through time.
struct Sim {
    rec: ProcessRecord,
    policy: Policy,
    now: Moment,
    mood: Mood,
}

impl Sim {
    fn new(policy: Policy) -> Sim {
        Sim {
            rec: ProcessRecord::default(),
            policy,
            now: t0(),
            mood: Mood::Running,
        }
    }

    fn feed(&mut self, input: Input) -> Vec<Effect> {
        let (rec, effects) = transition(&self.rec, input, self.now, &self.policy, self.mood);
        self.rec = rec;
        effects
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now.after(by);
    }

    fn advance_to(&mut self, at: Instant) {
        let by = at.saturating_duration_since(self.now.instant);
        self.advance(by);
    }
}

fn logs(effects: &[Effect]) -> Vec<(LogLevel, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log { level, text } => Some((*level, text.clone())),
            _ => None,
        })
        .collect()
}

fn changes(effects: &[Effect]) -> Vec<StateChange> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::StateChanged(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn timer(effects: &[Effect]) -> Option<(TimerKind, Instant)> {
    effects.iter().rev().find_map(|e| match e {
        Effect::ArmTimer { kind, at } => Some((*kind, *at)),
        _ => None,
    })
}

fn exit_code(code: i32) -> i32 {
    code << 8
}

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_start_logs_spawned_then_success_after_startsecs() {
    let mut sim = Sim::new(Policy {
        startsecs: 2,
        ..policy()
    });
    let start = sim.now.instant;
    let fx = sim.feed(Input::Start);
    assert_eq!(
        changes(&fx),
        [StateChange {
            from: S::Stopped,
            to: S::Starting,
            expected: true,
            tries: 0,
            pid: None
        }]
    );
    sim.advance(MS);
    let fx = sim.feed(Input::SpawnSucceeded { pid: 77 });
    assert_eq!(
        logs(&fx),
        [(LogLevel::Info, "spawned: 'p' with pid 77".to_string())]
    );
    let (kind, due) = timer(&fx).unwrap();
    assert_eq!(kind, TimerKind::Startsecs);
    assert_eq!(due, start + 2 * SEC);
    // A timer that fires early re-arms instead of promoting.
    sim.advance(SEC);
    let fx = sim.feed(Input::Timer(TimerKind::Startsecs));
    assert_eq!(sim.rec.state, S::Starting);
    assert_eq!(timer(&fx), Some((TimerKind::Startsecs, due)));
    sim.advance_to(due);
    let fx = sim.feed(Input::Timer(TimerKind::Startsecs));
    assert_eq!(sim.rec.state, S::Running);
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Info,
            "success: p entered RUNNING state, process has stayed up for > than 2 seconds (startsecs)"
                .to_string()
        )]
    );
    assert_eq!(changes(&fx)[0].pid, Some(77));
}

#[test]
fn startsecs_zero_promotes_as_soon_as_the_fork_is_reported() {
    let mut sim = Sim::new(Policy {
        startsecs: 0,
        ..policy()
    });
    sim.feed(Input::Autostart);
    let fx = sim.feed(Input::SpawnSucceeded { pid: 5 });
    assert_eq!(sim.rec.state, S::Running);
    assert_eq!(timer(&fx), None);
}

#[test]
fn autostart_only_starts_a_never_started_autostart_process_while_running() {
    let mut sim = Sim::new(Policy {
        autostart: false,
        ..policy()
    });
    assert!(sim.feed(Input::Autostart).is_empty());
    let mut sim = Sim::new(policy());
    sim.mood = Mood::WindingDown;
    assert!(sim.feed(Input::Autostart).is_empty());
    // An explicit start still works while winding down.
    sim.feed(Input::Start);
    assert_eq!(sim.rec.state, S::Starting);
}

#[test]
fn a_too_quick_exit_backs_off_one_second_more_per_failure_then_gives_up() {
    let mut sim = Sim::new(Policy {
        startretries: 2,
        ..policy()
    });
    let mut spawns = 0;
    let mut fx = sim.feed(Input::Autostart);
    for attempt in 1..=3u32 {
        assert!(fx.contains(&Effect::Spawn), "attempt {attempt} spawns");
        spawns += 1;
        let fx_spawned = sim.feed(Input::SpawnSucceeded {
            pid: 100 + attempt as i32,
        });
        assert_eq!(timer(&fx_spawned).map(|t| t.0), Some(TimerKind::Startsecs));
        sim.advance(100 * MS);
        fx = sim.feed(Input::Exited {
            pid: 100 + attempt as i32,
            status: exit_code(3),
        });
        let entered = changes(&fx);
        assert_eq!(entered[0].to, S::Backoff);
        assert_eq!(entered[0].tries, attempt);
        assert_eq!(
            logs(&fx)[0],
            (
                LogLevel::Warn,
                "exited: p (exit status 3; not expected)".to_string()
            )
        );
        assert_eq!(sim.rec.exitstatus, None);
        if attempt < 3 {
            assert_eq!(
                sim.rec.spawnerr.as_deref(),
                Some("Exited too quickly (process log may have details)")
            );
            let (kind, due) = timer(&fx).unwrap();
            assert_eq!(kind, TimerKind::Backoff);
            assert_eq!(due, sim.now.instant + Duration::from_secs(attempt.into()));
            sim.advance_to(due);
            fx = sim.feed(Input::Timer(TimerKind::Backoff));
            assert_eq!(changes(&fx)[0].from, S::Backoff);
            assert_eq!(changes(&fx)[0].tries, attempt);
        }
    }
    assert_eq!(spawns, 3, "startretries=2 means three attempts");
    assert_eq!(sim.rec.state, S::Fatal);
    assert_eq!(sim.rec.backoff, 0);
    assert_eq!(
        logs(&fx)[1],
        (
            LogLevel::Info,
            "gave up: p entered FATAL state, too many start retries too quickly".to_string()
        )
    );
    assert_eq!(changes(&fx).last().unwrap().from, S::Backoff);
}

#[test]
fn startretries_zero_means_one_attempt() {
    let mut sim = Sim::new(Policy {
        startretries: 0,
        ..policy()
    });
    sim.feed(Input::Start);
    let fx = sim.feed(Input::SpawnFailed {
        message: "can't find command 'nope'".into(),
    });
    assert_eq!(
        logs(&fx),
        [
            (
                LogLevel::Info,
                "spawnerr: can't find command 'nope'".to_string()
            ),
            (
                LogLevel::Info,
                "gave up: p entered FATAL state, too many start retries too quickly".to_string()
            )
        ]
    );
    assert_eq!(sim.rec.state, S::Fatal);
    assert_eq!(
        sim.rec.spawnerr.as_deref(),
        Some("can't find command 'nope'")
    );
}

/// Start, reach RUNNING, then exit with `status` under `policy`.
fn run_then_exit(policy: Policy, mood: Mood, status: i32) -> (Sim, Vec<Effect>) {
    let mut sim = Sim::new(policy);
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 9 });
    sim.advance(5 * SEC);
    sim.feed(Input::Timer(TimerKind::Startsecs));
    assert_eq!(sim.rec.state, S::Running);
    sim.mood = mood;
    sim.advance(SEC);
    let fx = sim.feed(Input::Exited { pid: 9, status });
    (sim, fx)
}

#[test]
fn autorestart_modes_decide_what_follows_exited() {
    let cases = [
        (AutoRestart::Never, exit_code(2), false),
        (AutoRestart::Unexpected, exit_code(0), false),
        (AutoRestart::Unexpected, exit_code(2), true),
        (AutoRestart::Unexpected, libc::SIGKILL, true),
        (AutoRestart::Always, exit_code(0), true),
    ];
    for (mode, status, restarts) in cases {
        let (sim, fx) = run_then_exit(
            Policy {
                autorestart: mode,
                ..policy()
            },
            Mood::Running,
            status,
        );
        assert_eq!(fx.contains(&Effect::Spawn), restarts, "{mode:?} {status}");
        let want = if restarts { S::Starting } else { S::Exited };
        assert_eq!(sim.rec.state, want, "{mode:?} {status}");
    }
    let (sim, fx) = run_then_exit(
        Policy {
            autorestart: AutoRestart::Always,
            ..policy()
        },
        Mood::WindingDown,
        exit_code(0),
    );
    assert!(!fx.contains(&Effect::Spawn));
    assert_eq!(sim.rec.state, S::Exited);
}

#[test]
fn exits_after_running_are_expected_only_for_listed_codes() {
    let (sim, fx) = run_then_exit(policy(), Mood::Running, exit_code(0));
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Info,
            "exited: p (exit status 0; expected)".to_string()
        )]
    );
    let exited = changes(&fx)[0];
    assert_eq!(
        (exited.to, exited.expected, exited.pid),
        (S::Exited, true, Some(9))
    );
    assert_eq!(sim.rec.pid, None);
    assert_eq!(sim.rec.exitstatus, Some(0));

    let (sim, fx) = run_then_exit(
        Policy {
            autorestart: AutoRestart::Never,
            exitcodes: std::sync::Arc::from([0, 2]),
            ..policy()
        },
        Mood::Running,
        libc::SIGHUP,
    );
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Warn,
            "exited: p (terminated by SIGHUP; not expected)".to_string()
        )]
    );
    assert!(!changes(&fx)[0].expected);
    assert_eq!(sim.rec.spawnerr.as_deref(), Some("Bad exit code -1"));
    assert_eq!(sim.rec.exitstatus, Some(-1));
}

#[test]
fn a_quick_exit_is_never_expected_even_with_a_listed_code() {
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 9 });
    sim.advance(10 * MS);
    let fx = sim.feed(Input::Exited { pid: 9, status: 0 });
    assert_eq!(sim.rec.state, S::Backoff);
    assert_eq!(
        logs(&fx)[0].1,
        "exited: p (exit status 0; not expected)".to_string()
    );
}

#[test]
fn stop_signals_then_escalates_to_sigkill_every_stopwaitsecs() {
    let mut sim = Sim::new(Policy {
        stopsignal: libc::SIGINT,
        stopwaitsecs: 3,
        stopasgroup: true,
        killasgroup: true,
        ..policy()
    });
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 50 });
    let fx = sim.feed(Input::Stop);
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Debug,
            "killing p (pid 50) process group with signal SIGINT".to_string()
        )]
    );
    assert!(fx.contains(&Effect::Kill {
        pid: 50,
        signal: libc::SIGINT,
        group: true,
        purpose: KillPurpose::Stop
    }));
    let (kind, due) = timer(&fx).unwrap();
    assert_eq!(
        (kind, due),
        (TimerKind::Stopwait, sim.now.instant + 3 * SEC)
    );
    for _ in 0..2 {
        sim.advance(3 * SEC);
        let fx = sim.feed(Input::Timer(TimerKind::Stopwait));
        assert_eq!(
            logs(&fx),
            [
                (LogLevel::Warn, "killing 'p' (50) with SIGKILL".to_string()),
                (
                    LogLevel::Debug,
                    "killing p (pid 50) process group with signal SIGKILL".to_string()
                )
            ]
        );
        assert!(changes(&fx).is_empty(), "STOPPING stays STOPPING");
        assert_eq!(
            timer(&fx),
            Some((TimerKind::Stopwait, sim.now.instant + 3 * SEC))
        );
    }
    sim.advance(MS);
    let fx = sim.feed(Input::Exited {
        pid: 50,
        status: libc::SIGKILL,
    });
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Warn,
            "stopped: p (terminated by SIGKILL)".to_string()
        )]
    );
    let stopped = changes(&fx)[0];
    assert_eq!((stopped.to, stopped.pid), (S::Stopped, Some(50)));
}

#[test]
fn a_stop_whose_exit_code_is_listed_logs_at_info() {
    let mut sim = Sim::new(Policy {
        exitcodes: std::sync::Arc::from([7]),
        ..policy()
    });
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 8 });
    sim.feed(Input::Stop);
    let fx = sim.feed(Input::Exited {
        pid: 8,
        status: exit_code(7),
    });
    assert_eq!(
        logs(&fx),
        [(LogLevel::Info, "stopped: p (exit status 7)".to_string())]
    );
    assert_eq!(sim.rec.exitstatus, Some(7));
}

#[test]
fn a_stop_during_the_fork_is_delivered_once_the_pid_is_known() {
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    let fx = sim.feed(Input::Stop);
    assert_eq!(sim.rec.state, S::Stopping);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Kill { .. })));
    let fx = sim.feed(Input::SpawnSucceeded { pid: 31 });
    assert!(fx.contains(&Effect::Kill {
        pid: 31,
        signal: libc::SIGTERM,
        group: false,
        purpose: KillPurpose::Stop
    }));
    // And if the fork fails instead, the process simply ends up STOPPED.
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    sim.feed(Input::Stop);
    sim.feed(Input::SpawnFailed {
        message: "can't find command 'x'".into(),
    });
    assert_eq!(sim.rec.state, S::Stopped);
}

#[test]
fn stopping_a_backoff_process_stops_it_without_a_signal() {
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnFailed {
        message: "can't find command 'x'".into(),
    });
    let fx = sim.feed(Input::Stop);
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Debug,
            "Attempted to kill p, which is in BACKOFF state.".to_string()
        )]
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Kill { .. })));
    assert_eq!(sim.rec.state, S::Stopped);
    // The stale backoff timer does nothing now.
    assert!(sim.feed(Input::Timer(TimerKind::Backoff)).is_empty());
}

#[test]
fn winding_down_leaves_backoff_alone_until_given_up() {
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnFailed {
        message: "x".into(),
    });
    sim.mood = Mood::WindingDown;
    sim.advance(5 * SEC);
    assert!(sim.feed(Input::Timer(TimerKind::Backoff)).is_empty());
    assert_eq!(sim.rec.state, S::Backoff);
    let fx = sim.feed(Input::GiveUp);
    assert_eq!(sim.rec.state, S::Fatal);
    assert!(logs(&fx).is_empty(), "give_up itself logs nothing");
}

#[test]
fn kill_failures_are_ignored_for_esrch_and_make_unknown_otherwise() {
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 12 });
    sim.feed(Input::Stop);
    let fx = sim.feed(Input::KillFailed {
        pid: 12,
        errno: libc::ESRCH,
        purpose: KillPurpose::Stop,
    });
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Debug,
            "unable to signal p (pid 12), it probably just exited on its own: [Errno 3] No such process"
                .to_string()
        )]
    );
    assert_eq!(sim.rec.state, S::Stopping);
    let fx = sim.feed(Input::KillFailed {
        pid: 12,
        errno: libc::EPERM,
        purpose: KillPurpose::Stop,
    });
    let text = "unknown problem killing p (12):[Errno 1] Operation not permitted".to_string();
    assert_eq!(logs(&fx), [(LogLevel::Critical, text.clone())]);
    assert!(fx.contains(&Effect::CommandFailed(text)));
    assert_eq!(sim.rec.state, S::Unknown);
    assert_eq!(sim.rec.deadline, None);
}

#[test]
fn signalling_logs_and_reports_a_missing_process() {
    let mut sim = Sim::new(policy());
    let fx = sim.feed(Input::Signal(libc::SIGUSR1));
    let text = "attempted to send p sig SIGUSR1 but it wasn't running".to_string();
    assert!(fx.contains(&Effect::CommandFailed(text)));
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 3 });
    let fx = sim.feed(Input::Signal(libc::SIGUSR1));
    assert_eq!(
        logs(&fx),
        [(LogLevel::Debug, "sending p (pid 3) sig SIGUSR1".to_string())]
    );
    let fx = sim.feed(Input::KillFailed {
        pid: 3,
        errno: libc::ESRCH,
        purpose: KillPurpose::Signal,
    });
    assert!(
        logs(&fx)[0]
            .1
            .contains("it probably just now exited on its own")
    );
}

#[test]
fn a_second_start_while_running_only_warns() {
    let mut sim = Sim::new(policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 3 });
    let fx = sim.feed(Input::Start);
    assert_eq!(
        fx,
        [Effect::Log {
            level: LogLevel::Warn,
            text: "process 'p' already running".into()
        }]
    );
}

/// A small deterministic generator (64-bit LCG), so the walk below needs
/// no extra crate and fails the same way every time.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn a_long_random_walk_keeps_the_records_invariants() {
    let mut rng = Lcg(0x5eed);
    for policy in [
        policy(),
        Policy {
            startsecs: 0,
            startretries: 0,
            autorestart: AutoRestart::Always,
            stopasgroup: true,
            killasgroup: true,
            ..policy()
        },
    ] {
        let mut sim = Sim::new(policy);
        let mut next_pid = 100;
        let mut visited = std::collections::HashSet::new();
        for step in 0..20_000 {
            sim.advance(Duration::from_millis(rng.next(3_000)));
            sim.mood = if rng.next(10) == 0 {
                Mood::WindingDown
            } else {
                Mood::Running
            };
            // Mostly inputs that make sense now, sometimes stale ones.
            let live = sim.rec.pid.unwrap_or(next_pid);
            let input = match rng.next(12) {
                0 => Input::Autostart,
                1 => Input::Start,
                2 => Input::Stop,
                3 => Input::GiveUp,
                4 => Input::Signal(libc::SIGHUP),
                5 if sim.rec.spawning => {
                    next_pid += 1;
                    Input::SpawnSucceeded { pid: next_pid }
                }
                5 | 6 => Input::SpawnFailed {
                    message: "x".into(),
                },
                7 => Input::Exited {
                    pid: live,
                    status: [0, 2 << 8, libc::SIGKILL][rng.next(3) as usize],
                },
                8 => Input::Timer(TimerKind::Startsecs),
                9 => Input::Timer(TimerKind::Backoff),
                10 => Input::Timer(TimerKind::Stopwait),
                _ => Input::KillFailed {
                    pid: live,
                    errno: [libc::ESRCH, libc::EPERM][rng.next(2) as usize],
                    purpose: KillPurpose::Stop,
                },
            };
            let shown = format!("{input:?}");
            let before = sim.rec.state;
            let fx = sim.feed(input);
            let rec = &sim.rec;
            let context = format!("step {step}: {before:?} + {shown} -> {rec:?}");
            match rec.state {
                S::Stopped | S::Exited | S::Fatal | S::Backoff => {
                    assert!(rec.pid.is_none() && !rec.spawning, "{context}");
                }
                S::Running => assert!(rec.pid.is_some() && !rec.spawning, "{context}"),
                S::Starting => assert!(rec.pid.is_some() != rec.spawning, "{context}"),
                S::Stopping => assert!(rec.pid.is_some() != rec.spawning, "{context}"),
                S::Unknown => assert!(rec.pid.is_some(), "{context}"),
            }
            let spawns = fx.iter().filter(|e| **e == Effect::Spawn).count();
            assert!(spawns <= 1, "{context}");
            if spawns == 1 {
                assert!(rec.spawning && rec.state == S::Starting, "{context}");
            }
            for change in changes(&fx) {
                assert_ne!(change.from, change.to, "{context}");
            }
            if rec.state == S::Backoff {
                assert!(rec.backoff <= sim.policy.startretries, "{context}");
            }
            visited.insert(rec.state);
        }
        // With startretries=0 BACKOFF is only passed through on the way to
        // FATAL, never rested in.
        let reachable = if sim.policy.startretries == 0 {
            S::ALL.len() - 1
        } else {
            S::ALL.len()
        };
        assert_eq!(visited.len(), reachable, "the walk reached {visited:?}");
    }
}

#[test]
fn a_start_waiting_for_a_dependency_shows_it_then_fails_with_it() {
    let mut sim = Sim::new(policy());
    assert!(
        sim.feed(Input::Waiting(Some("waiting for db".into())))
            .is_empty()
    );
    assert_eq!(sim.rec.state, ProcessState::Stopped);
    assert_eq!(sim.rec.spawnerr.as_deref(), Some("waiting for db"));
    let fx = sim.feed(Input::DependencyFailed(
        "dependency db entered FATAL state".into(),
    ));
    assert_eq!(sim.rec.state, ProcessState::Fatal);
    assert_eq!(
        sim.rec.spawnerr.as_deref(),
        Some("dependency db entered FATAL state")
    );
    assert_eq!(changes(&fx).len(), 1);
    assert_eq!(
        logs(&fx),
        [(
            LogLevel::Info,
            "gave up: p entered FATAL state, dependency db entered FATAL state".to_string()
        )]
    );
    // A start clears the spawn error again.
    sim.feed(Input::Start);
    assert_eq!(sim.rec.spawnerr, None);
}

#[test]
fn backoff_delays_follow_the_policy_and_its_cap() {
    use super::{BackoffKind, BackoffPolicy, backoff_delay};
    let mut p = policy();
    let delays =
        |p: &Policy| -> Vec<u64> { (1..=8).map(|n| backoff_delay(p, n).as_secs()).collect() };
    assert_eq!(delays(&p), [1, 2, 3, 4, 5, 6, 7, 8]);
    p.backoff = BackoffPolicy {
        kind: BackoffKind::Exponential,
        max: Some(20),
        ..BackoffPolicy::default()
    };
    assert_eq!(delays(&p), [1, 2, 4, 8, 16, 20, 20, 20]);
    assert_eq!(backoff_delay(&p, u32::MAX).as_secs(), 20);
    p.backoff.jitter_permille = 500;
    for n in 1..=8 {
        let plain = [1, 2, 4, 8, 16, 20, 20, 20][n as usize - 1] as f64;
        let got = backoff_delay(&p, n).as_secs_f64();
        assert!(got >= plain * 0.5 && got <= plain * 1.5, "{n}: {got}");
    }
    // Two programs failing together retry apart.
    let mut q = p.clone();
    q.name = "other".into();
    assert_ne!(backoff_delay(&p, 3), backoff_delay(&q, 3));
}

#[test]
fn retry_forever_never_gives_up() {
    let mut p = policy();
    p.startretries = 0;
    p.backoff.forever = true;
    p.backoff.max = Some(2);
    let mut sim = Sim::new(p);
    for attempt in 1..=6u32 {
        if attempt == 1 {
            sim.feed(Input::Start);
        } else {
            let fx = sim.feed(Input::Timer(TimerKind::Backoff));
            assert!(fx.contains(&Effect::Spawn), "attempt {attempt}: {fx:?}");
        }
        let fx = sim.feed(Input::SpawnFailed {
            message: "can't find command 'x'".into(),
        });
        assert_eq!(sim.rec.state, ProcessState::Backoff, "attempt {attempt}");
        let (kind, at) = timer(&fx).expect("a retry is armed");
        assert_eq!(kind, TimerKind::Backoff);
        assert_eq!(
            at - sim.now.instant,
            Duration::from_secs(u64::from(attempt.min(2)))
        );
        sim.advance_to(at);
    }
}

#[test]
fn shutdown_on_fatal_and_exit_end_the_daemon_with_their_status() {
    let mut p = policy();
    p.startretries = 0;
    p.shutdown_on = Some(ShutdownOn::Fatal);
    let mut sim = Sim::new(p.clone());
    sim.feed(Input::Start);
    let fx = sim.feed(Input::SpawnFailed {
        message: "can't find command 'x'".into(),
    });
    assert_eq!(sim.rec.state, ProcessState::Fatal);
    assert!(fx.contains(&Effect::EndDaemon(1)), "{fx:?}");
    // A shutdown's give-up does not count.
    let mut sim = Sim::new(p.clone());
    sim.mood = Mood::WindingDown;
    sim.feed(Input::Start);
    let fx = sim.feed(Input::SpawnFailed {
        message: "can't find command 'x'".into(),
    });
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::EndDaemon(_))),
        "{fx:?}"
    );

    p.shutdown_on = Some(ShutdownOn::Exit);
    p.autorestart = AutoRestart::Never;
    let (_, fx) = run_then_exit(p.clone(), Mood::Running, exit_code(3));
    assert!(fx.contains(&Effect::EndDaemon(3)), "{fx:?}");
    let (_, fx) = run_then_exit(p.clone(), Mood::Running, libc::SIGKILL);
    assert!(fx.contains(&Effect::EndDaemon(128 + 9)), "{fx:?}");
    // Restarted: not the end.
    p.autorestart = AutoRestart::Unexpected;
    let (_, fx) = run_then_exit(p.clone(), Mood::Running, exit_code(3));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::EndDaemon(_))),
        "{fx:?}"
    );
    let (_, fx) = run_then_exit(p, Mood::Running, exit_code(0));
    assert!(fx.contains(&Effect::EndDaemon(0)), "{fx:?}");
}

fn ready_policy() -> Policy {
    let mut p = policy();
    p.ready_check = true;
    p.ready_timeout = 10;
    p.startsecs = 2;
    p
}

#[test]
fn a_ready_check_keeps_starting_until_it_passes_and_startsecs_passed() {
    let mut sim = Sim::new(ready_policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 4 });
    // Ready before startsecs: RUNNING when startsecs is over.
    sim.advance(SEC);
    assert!(changes(&sim.feed(Input::Ready { pid: 4 })).is_empty());
    sim.advance(SEC);
    let fx = sim.feed(Input::Timer(TimerKind::Startsecs));
    assert_eq!(sim.rec.state, ProcessState::Running);
    assert!(logs(&fx)[0].1.contains("its ready check passed"), "{fx:?}");

    // Not ready at startsecs: wait until ready_timeout, then RUNNING at once.
    let mut sim = Sim::new(ready_policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 4 });
    sim.advance(2 * SEC);
    let fx = sim.feed(Input::Timer(TimerKind::Startsecs));
    assert_eq!(sim.rec.state, ProcessState::Starting);
    let (kind, at) = timer(&fx).expect("the ready timeout is armed");
    assert_eq!(
        (kind, at - sim.rec.laststart.unwrap()),
        (TimerKind::ReadyTimeout, 10 * SEC)
    );
    sim.advance(3 * SEC);
    let fx = sim.feed(Input::Ready { pid: 4 });
    assert_eq!(sim.rec.state, ProcessState::Running);
    assert!(fx.contains(&Effect::CancelTimer), "{fx:?}");
    // A stale report about another child changes nothing.
    assert!(sim.feed(Input::Ready { pid: 99 }).is_empty());
}

#[test]
fn not_ready_in_time_stops_the_child_and_counts_as_a_failed_start() {
    let mut p = ready_policy();
    p.startretries = 0;
    let mut sim = Sim::new(p);
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 4 });
    sim.advance(2 * SEC);
    sim.feed(Input::Timer(TimerKind::Startsecs));
    sim.advance(8 * SEC);
    let fx = sim.feed(Input::Timer(TimerKind::ReadyTimeout));
    assert_eq!(sim.rec.state, ProcessState::Stopping);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Kill { signal, .. } if *signal == libc::SIGTERM))
    );
    assert!(
        logs(&fx)[0]
            .1
            .contains("was not ready within 10 seconds (ready_timeout)")
    );
    let fx = sim.feed(Input::Exited {
        pid: 4,
        status: libc::SIGTERM,
    });
    let states: Vec<_> = changes(&fx).iter().map(|c| c.to).collect();
    assert_eq!(states, [ProcessState::Backoff, ProcessState::Fatal]);
    assert_eq!(
        sim.rec.spawnerr.as_deref(),
        Some("not ready within 10 seconds (ready_timeout)")
    );
}

#[test]
fn an_exit_while_waiting_to_be_ready_is_a_failed_start() {
    let mut sim = Sim::new(ready_policy());
    sim.feed(Input::Start);
    sim.feed(Input::SpawnSucceeded { pid: 4 });
    sim.advance(2 * SEC);
    sim.feed(Input::Timer(TimerKind::Startsecs));
    sim.advance(SEC);
    sim.feed(Input::Exited { pid: 4, status: 0 });
    assert_eq!(sim.rec.state, ProcessState::Backoff);
}
