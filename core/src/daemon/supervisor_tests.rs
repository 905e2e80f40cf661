//! The supervisor task built in-process, with real children (`/bin/sleep`)
//! forked by the real spawner: each request's effect on the process table
//! is checked through the published snapshot and the ticket outcomes,
//! without the binary. The test reaps its own children by pid (a reaper
//! on `waitpid(-1)` would steal the children of other tests in this
//! binary) and hands their exits to the task as the reaper would; it
//! sends "signals" through `Signals::fake`, so the test process's own
//! signal handling is left alone.

use std::time::Duration;

use supervisor_sdk::host::ProcessInfo;
use supervisor_sdk::state::SupervisorState;
use supervisor_sdk::value::Value;
use tokio::task::JoinHandle;

use super::*;
use crate::logs::{MainLogConfig, MainLogTarget};

/// How long any single wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A running supervisor task and what drives it.
struct Task {
    handle: Handle,
    /// Delivers "unix signals" to the task.
    signals: mpsc::UnboundedSender<i32>,
    run: JoinHandle<(RunEnd, Supervisor)>,
    reaper: JoinHandle<()>,
    dir: tempfile::TempDir,
}

/// Start the task on `body` (sections after `[supervisord]`).
fn start(body: &str) -> Task {
    let (dir, config) = super::super::test_config(body);
    let main_log = MainLog::open(MainLogConfig {
        level: MainLevel::Info,
        target: MainLogTarget::Nowhere,
        echo_to_stdout: false,
    })
    .expect("a main log that goes nowhere");
    let (mut supervisor, handle) = Supervisor::new(Setup {
        config,
        load_options: LoadOptions::default(),
        main_log: Arc::new(main_log),
        output_hook: None,
    });
    let (exits, mut reaped) = mpsc::unbounded_channel();
    let (mut signals, signal_sender) = Signals::fake();
    let run = tokio::spawn(async move {
        let end = supervisor.run(&mut reaped, &mut signals).await;
        (end, supervisor)
    });
    let reaper = tokio::spawn(reap_children(handle.clone(), exits));
    Task {
        handle,
        signals: signal_sender,
        run,
        reaper,
        dir,
    }
}

/// Reap, by pid, the children the snapshot shows, and report them.
async fn reap_children(handle: Handle, exits: mpsc::UnboundedSender<Reaped>) {
    loop {
        for info in handle.snapshot().processes.iter().filter(|p| p.pid != 0) {
            let pid = i32::try_from(info.pid).unwrap_or(0);
            let mut status = 0;
            // SAFETY: waitpid on one pid of our own with WNOHANG only
            // collects that child; `status` is a valid out-pointer.
            let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if reaped == pid
                && exits
                    .send(Reaped {
                        pid,
                        status,
                        adopted: false,
                    })
                    .is_err()
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Task {
    /// Send a request and wait for its outcome.
    async fn call(&self, make: impl FnOnce(Ticket) -> Request) -> Outcome {
        let ticket = self.handle.request(make);
        tokio::time::timeout(PATIENCE, self.handle.outcome(ticket))
            .await
            .expect("the request is answered in time")
            .expect("the hub answers every ticket")
    }

    /// Poll the snapshot until `probe` holds.
    async fn until(&self, what: &str, probe: impl Fn(&Snapshot) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !probe(&self.handle.snapshot()) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn state_of(&self, group: &str, name: &str) -> Option<ProcessState> {
        find(&self.handle.snapshot(), group, name).map(|p| p.state)
    }

    /// Wait for the run to end; how it ended and whether children remain.
    async fn end(self) -> (RunEnd, usize, Arc<Snapshot>) {
        let (end, supervisor) = tokio::time::timeout(PATIENCE, self.run)
            .await
            .expect("the run ends in time")
            .expect("the run does not panic");
        self.reaper.abort();
        (end, supervisor.live_children(), self.handle.snapshot())
    }
}

fn find(snapshot: &Snapshot, group: &str, name: &str) -> Option<ProcessInfo> {
    snapshot
        .processes
        .iter()
        .find(|p| p.group.as_str() == group && p.name.as_str() == name)
        .cloned()
}

/// The fault string of a failed outcome, the state of the process it
/// reports, or `done`.
fn answer(outcome: &Outcome) -> String {
    match (&outcome.fault, &outcome.process) {
        (abi_stable::std_types::ROption::RSome(fault), _) => fault.string.to_string(),
        (_, abi_stable::std_types::ROption::RSome(info)) => info.state.name().to_string(),
        _ => "done".to_string(),
    }
}

fn start_request(group: &str, name: &str) -> impl FnOnce(Ticket) -> Request {
    let (group, name) = (group.to_string(), name.to_string());
    move |ticket| Request::Start {
        group,
        name,
        wait: true,
        ticket,
    }
}

fn stop_request(group: &str, name: &str) -> impl FnOnce(Ticket) -> Request {
    let (group, name) = (group.to_string(), name.to_string());
    move |ticket| Request::Stop {
        group,
        name,
        wait: true,
        ticket,
    }
}

const SLEEPERS: &str = "[program:a]\ncommand=/bin/sleep 30\nstartsecs=0\n\
                        [program:b]\ncommand=/bin/sleep 30\nstartsecs=0\nautostart=false\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_requests_change_the_table_or_answer_the_reference_fault() {
    let task = start(SLEEPERS);
    task.until("a to autostart", |s| {
        find(s, "a", "a").is_some_and(|p| p.state == ProcessState::Running)
    })
    .await;
    assert_eq!(task.state_of("b", "b"), Some(ProcessState::Stopped));

    assert_eq!(answer(&task.call(start_request("b", "b")).await), "RUNNING");
    assert_eq!(
        answer(&task.call(start_request("b", "b")).await),
        "ALREADY_STARTED: b:b"
    );
    assert_eq!(
        answer(&task.call(start_request("b", "nope")).await),
        "BAD_NAME: b:nope"
    );
    assert_eq!(answer(&task.call(stop_request("a", "a")).await), "STOPPED");
    assert_eq!(task.state_of("a", "a"), Some(ProcessState::Stopped));
    assert_eq!(
        answer(&task.call(stop_request("a", "a")).await),
        "NOT_RUNNING: a:a"
    );
    let signal = |ticket| Request::Signal {
        group: "a".into(),
        name: "a".into(),
        signal: libc::SIGHUP,
        ticket,
    };
    assert_eq!(answer(&task.call(signal).await), "NOT_RUNNING: a:a");
    let stdin = |ticket| Request::Stdin {
        group: "x".into(),
        name: "y".into(),
        data: b"hi".to_vec(),
        ticket,
    };
    assert_eq!(answer(&task.call(stdin).await), "BAD_NAME: x:y");
    let clear = |ticket| Request::ClearLogs {
        group: "a".into(),
        name: "a".into(),
        ticket,
    };
    assert_eq!(answer(&task.call(clear).await), "STOPPED");

    let shutdown = |ticket| Request::Shutdown {
        ticket: Some(ticket),
    };
    assert_eq!(answer(&task.call(shutdown).await), "done");
    let (end, live, snapshot) = task.end().await;
    assert_eq!(end, RunEnd::Shutdown);
    assert_eq!(live, 0, "shutdown leaves no child behind");
    assert_eq!(snapshot.state, SupervisorState::Shutdown);
    assert!(
        snapshot.processes.iter().all(|p| p.state.is_stopped()),
        "{:?}",
        snapshot.processes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_added_from_a_reread_and_removed_only_when_stopped() {
    let task = start(SLEEPERS);
    task.until("a to autostart", |s| {
        find(s, "a", "a").is_some_and(|p| p.state == ProcessState::Running)
    })
    .await;
    let remove = |name: &str| {
        let name = name.to_string();
        move |ticket| Request::RemoveGroup { name, ticket }
    };
    let add = |name: &str| {
        let name = name.to_string();
        move |ticket| Request::AddGroup { name, ticket }
    };
    assert_eq!(answer(&task.call(remove("a")).await), "STILL_RUNNING: a");
    assert_eq!(answer(&task.call(remove("b")).await), "done");
    assert!(find(&task.handle.snapshot(), "b", "b").is_none());
    assert_eq!(
        answer(&task.call(start_request("b", "b")).await),
        "BAD_NAME: b:b"
    );
    assert_eq!(answer(&task.call(add("c")).await), "BAD_NAME: c");

    super::super::write_test_config(
        &task.dir,
        &format!("{SLEEPERS}[program:c]\ncommand=/bin/sleep 30\nstartsecs=0\n"),
    );
    let reread = task.call(|ticket| Request::Reread { ticket }).await;
    let added = Value::array([Value::string("b"), Value::string("c")]);
    let none = || Value::array(Vec::new());
    assert_eq!(
        reread.value,
        Value::array([Value::array([added, none(), none()])])
    );
    assert_eq!(answer(&task.call(add("c")).await), "done");
    assert_eq!(answer(&task.call(add("c")).await), "ALREADY_ADDED: c");
    task.until("c to autostart", |s| {
        find(s, "c", "c").is_some_and(|p| p.state == ProcessState::Running)
    })
    .await;
    let order: Vec<String> = task
        .handle
        .snapshot()
        .processes
        .iter()
        .map(|p| p.group.to_string())
        .collect();
    assert_eq!(order, ["a", "c"]);

    // Both in one batch, so the start is handled before the run can end.
    let restart = task.handle.request(|ticket| Request::Restart {
        ticket: Some(ticket),
    });
    let late_start = task.handle.request(start_request("a", "a"));
    for (ticket, want) in [(restart, "done"), (late_start, "SHUTDOWN_STATE")] {
        let outcome = tokio::time::timeout(PATIENCE, task.handle.outcome(ticket))
            .await
            .expect("the request is answered in time")
            .expect("the hub answers every ticket");
        assert_eq!(answer(&outcome), want, "nothing starts once winding down");
    }
    let (end, live, snapshot) = task.end().await;
    assert_eq!(end, RunEnd::Restart);
    assert_eq!(live, 0, "a restart stops every child first");
    assert_eq!(snapshot.state, SupervisorState::Restarting);
}

/// A program that ignores its stop signal, so the daemon stays winding
/// down until `stopwaitsecs` ends in SIGKILL.
const STUBBORN: &str = "[program:stubborn]\ncommand=/bin/sh -c \"trap '' TERM; sleep 5\"\n\
                        startsecs=0\nstopwaitsecs=1\nkillasgroup=true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signal_path_changes_the_mode_as_the_rpc_path_does() {
    // SIGHUP asks for a restart; SIGTERM during it wins; a SIGHUP once
    // shutting down is ignored; the run ends in shutdown.
    let task = start(STUBBORN);
    task.until("stubborn to start", |s| {
        find(s, "stubborn", "stubborn").is_some_and(|p| p.state == ProcessState::Running)
    })
    .await;
    let send = |sig| task.signals.send(sig).expect("the task takes signals");
    send(libc::SIGHUP);
    task.until("the restart to begin", |s| {
        s.state == SupervisorState::Restarting
    })
    .await;
    send(libc::SIGTERM);
    send(libc::SIGHUP);
    task.until("the shutdown to win", |s| {
        s.state == SupervisorState::Shutdown
    })
    .await;
    let (end, live, snapshot) = task.end().await;
    assert_eq!(end, RunEnd::Shutdown);
    assert_eq!(live, 0, "the stubborn child was killed");
    assert_eq!(snapshot.state, SupervisorState::Shutdown);
}
