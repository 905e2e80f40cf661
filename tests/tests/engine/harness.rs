//! A miniature supervisor for the engine tests: one tokio runtime, the one
//! reaper, a `PidLedger` matching exits to spawns, and a `Driver` that runs
//! one process's state machine against the real OS (spawns, signals,
//! timers, exits). The test process is made a child subreaper, so orphaned
//! grandchildren come back here too.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use supervisor::process::reaper::{self, PidLedger, Resolved};
use supervisor::process::spawn::{ChildPipes, SpawnError, SpawnSpec, Spawner, StdinSource};
use supervisor::process::{
    Effect, Input, LogLevel, Moment, Mood, Policy, ProcessRecord, StateChange, TimerKind,
    kill::send_signal, transition,
};
use supervisor_sdk::state::ProcessState;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::unix::pipe;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long any single wait in these tests may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Who is waiting for which exit. Locked briefly by the reaper's consumer
/// and by `start`, so a spawn is counted as in flight before its fork can
/// possibly be reaped (a message would race the reaper's channel).
#[derive(Default)]
struct Book {
    ledger: PidLedger<u64>,
    waiters: HashMap<u64, oneshot::Sender<i32>>,
    next_id: u64,
    orphans: HashMap<i32, i32>,
    orphan_watchers: HashMap<i32, oneshot::Sender<i32>>,
}

impl Book {
    fn settle(&mut self, resolved: Resolved<u64>) {
        match resolved {
            Resolved::Known { owner, reaped } => {
                if let Some(waiter) = self.waiters.remove(&owner) {
                    let _ = waiter.send(reaped.status);
                }
            }
            Resolved::Unknown(reaped) => match self.orphan_watchers.remove(&reaped.pid) {
                Some(watcher) => {
                    let _ = watcher.send(reaped.status);
                }
                None => {
                    self.orphans.insert(reaped.pid, reaped.status);
                }
            },
        }
    }
}

pub struct Engine {
    runtime: Runtime,
    spawner: Spawner,
    book: Arc<Mutex<Book>>,
}

/// The shared engine; the first call makes the process a subreaper and
/// starts the runtime, the reaper and the task that sorts its exits.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        reaper::become_subreaper().expect("Linux lets any process become a subreaper");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime can be built");
        let mut reaped = {
            let _entered = runtime.enter();
            let (_task, reaped) = reaper::start_reaper().expect("SIGCHLD can be watched");
            reaped
        };
        let book = Arc::new(Mutex::new(Book::default()));
        let sorter = Arc::clone(&book);
        runtime.spawn(async move {
            while let Some(one) = reaped.recv().await {
                let mut book = sorter.lock().expect("no test panics holding the book");
                if let Some(resolved) = book.ledger.reaped(one) {
                    book.settle(resolved);
                }
            }
        });
        let spawner = Spawner::new(2).expect("spawner threads can be started");
        Engine {
            runtime,
            spawner,
            book,
        }
    })
}

/// A child's pipes; the engine tests never discard output, so stdout is
/// always there.
pub struct Pipes {
    pub stdin: Option<pipe::Sender>,
    pub stdout: pipe::Receiver,
    pub stderr: Option<pipe::Receiver>,
}

impl From<ChildPipes> for Pipes {
    fn from(pipes: ChildPipes) -> Pipes {
        Pipes {
            stdin: pipes.stdin,
            stdout: pipes.stdout.expect("engine specs keep stdout a pipe"),
            stderr: pipes.stderr,
        }
    }
}

/// A child spawned through the engine.
pub struct Started {
    pub pid: i32,
    pub pipes: Pipes,
    pub exit: oneshot::Receiver<i32>,
}

impl Engine {
    /// Run `test` on the engine's runtime.
    pub fn run<F: std::future::Future>(&self, test: F) -> F::Output {
        self.runtime.block_on(test)
    }

    /// Spawn as the supervisor task will: count the spawn as in flight,
    /// fork on a spawner thread, then record the pid.
    pub async fn start(&self, spec: SpawnSpec) -> Result<Started, SpawnError> {
        let ticket = self.book().ledger.spawn_started();
        match self.spawner.spawn(Arc::new(spec)).await {
            Ok(fds) => {
                let (waiter, exit) = oneshot::channel();
                {
                    let mut book = self.book();
                    book.next_id += 1;
                    let id = book.next_id;
                    book.waiters.insert(id, waiter);
                    for resolved in book.ledger.spawn_finished(ticket, Some((fds.pid, id))) {
                        book.settle(resolved);
                    }
                }
                let pid = fds.pid;
                let pipes = fds
                    .into_async()
                    .expect("fresh pipes register with tokio")
                    .into();
                Ok(Started { pid, pipes, exit })
            }
            Err(error) => {
                let mut book = self.book();
                for resolved in book.ledger.spawn_finished(ticket, None) {
                    book.settle(resolved);
                }
                Err(error)
            }
        }
    }

    /// The raw status of `pid`, a process we did not spawn (an orphan that
    /// re-parented to us), once the reaper collects it.
    pub async fn orphan_exit(&self, pid: i32) -> i32 {
        let (reply, status) = oneshot::channel();
        {
            let mut book = self.book();
            match book.orphans.remove(&pid) {
                Some(raw) => {
                    let _ = reply.send(raw);
                }
                None => {
                    book.orphan_watchers.insert(pid, reply);
                }
            }
        }
        within(status).await.expect("the sorter keeps running")
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().expect("no test panics holding the book")
    }
}

/// Await `future`, failing the test after [`PATIENCE`].
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("timed out waiting in an engine test")
}

/// A spawn spec for `command` with everything else at its default.
pub fn spec(name: &str, command: &str) -> SpawnSpec {
    SpawnSpec {
        process_name: name.into(),
        group_name: name.into(),
        command: command.to_string(),
        directory: None,
        umask: None,
        uid: None,
        environment: Arc::from([]),
        server_url: None,
        stdin: StdinSource::Pipe,
        redirect_stderr: false,
        discard_stdout: false,
        discard_stderr: false,
    }
}

/// Read a pipe to its end.
pub async fn read_all(receiver: &mut pipe::Receiver) -> String {
    let mut bytes = Vec::new();
    within(receiver.read_to_end(&mut bytes))
        .await
        .expect("reading a child's pipe works");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Read one line from a pipe.
pub async fn read_line(receiver: &mut pipe::Receiver) -> String {
    let mut reader = BufReader::new(receiver);
    let mut line = String::new();
    within(reader.read_line(&mut line))
        .await
        .expect("reading a child's pipe works");
    line
}

/// True once the kernel has forgotten `pid` (reaped, no zombie left).
pub fn is_gone(pid: i32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// One process run through the real state machine: effects are carried
/// out against the OS, and what it logged and published is kept.
pub struct Driver {
    pub record: ProcessRecord,
    pub policy: Policy,
    pub spec: SpawnSpec,
    pub logs: Vec<(LogLevel, String)>,
    pub changes: Vec<StateChange>,
    pub failures: Vec<String>,
    pub spawned: usize,
    pub stdout: Option<pipe::Receiver>,
    child: Option<(i32, oneshot::Receiver<i32>)>,
    timer: Option<(TimerKind, Instant)>,
}

impl Driver {
    pub fn new(policy: Policy, spec: SpawnSpec) -> Driver {
        Driver {
            record: ProcessRecord::default(),
            policy,
            spec,
            logs: Vec::new(),
            changes: Vec::new(),
            failures: Vec::new(),
            spawned: 0,
            stdout: None,
            child: None,
            timer: None,
        }
    }

    /// Feed `input` and everything its effects report back.
    pub async fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let (record, effects) = transition(
                &self.record,
                input,
                Moment::now(),
                &self.policy,
                Mood::Running,
            );
            self.record = record;
            for effect in effects {
                match effect {
                    Effect::Spawn => match engine().start(self.spec.clone()).await {
                        Ok(started) => {
                            self.spawned += 1;
                            self.stdout = Some(started.pipes.stdout);
                            self.child = Some((started.pid, started.exit));
                            queue.push_back(Input::SpawnSucceeded { pid: started.pid });
                        }
                        Err(error) => queue.push_back(Input::SpawnFailed {
                            message: error.to_string(),
                        }),
                    },
                    Effect::Kill {
                        pid,
                        signal,
                        group,
                        purpose,
                    } => {
                        if let Err(errno) = send_signal(pid, signal, group) {
                            queue.push_back(Input::KillFailed {
                                pid,
                                errno,
                                purpose,
                            });
                        }
                    }
                    Effect::ArmTimer { kind, at } => self.timer = Some((kind, at)),
                    Effect::CancelTimer => self.timer = None,
                    Effect::StateChanged(change) => self.changes.push(change),
                    Effect::Log { level, text } => self.logs.push((level, text)),
                    Effect::CommandFailed(text) => self.failures.push(text),
                    // No daemon here to end; the harness's policies never set
                    // shutdown_on.
                    Effect::EndDaemon(_) => {}
                }
            }
        }
    }

    /// Wait for the next exit or timer and feed it.
    pub async fn step(&mut self) {
        let timer = self.timer;
        let sleep = async {
            match timer {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let exit = async {
            match self.child.as_mut() {
                Some((pid, exit)) => (*pid, exit.await.ok()),
                None => std::future::pending().await,
            }
        };
        let input = tokio::select! {
            (pid, status) = exit => {
                self.child = None;
                Input::Exited { pid, status: status.expect("every child's exit is reported") }
            }
            () = sleep => {
                let (kind, _) = timer.expect("the sleep only ends when a timer is armed");
                self.timer = None;
                Input::Timer(kind)
            }
        };
        self.feed(input).await;
    }

    /// Step until the process is in `state`.
    pub async fn until(&mut self, state: ProcessState) {
        within(async {
            while self.record.state != state {
                self.step().await;
            }
        })
        .await;
    }

    pub fn logged(&self, text: &str) -> bool {
        self.logs.iter().any(|(_, line)| line == text)
    }

    pub fn path(&self) -> Vec<ProcessState> {
        self.changes.iter().map(|c| c.to).collect()
    }
}
