//! The supervisor task: the one owner of every process group, process
//! record and process timer. Its inputs are messages ([`Request`]s from
//! [`Handle`]s, spawn reports from its own spawn tasks), reaped exits from
//! the reaper, timer expiries (process timers, TICKs, the shutdown report)
//! and unix signals, all taken in one `select!`. For each it feeds
//! [`transition`] and carries out the effects (spawn, kill, timers,
//! main-log lines, events), then, once per batch of messages, publishes a
//! fresh [`Snapshot`] that readers use without a round trip, and settles
//! the tickets of commands that completed. The event bus lives in the
//! event hub (`super::listeners`) it shares with the output tasks: it
//! tells the hub when listeners spawn, run and die; listener output and
//! capture blocks reach the pools (and envelopes the listeners) from the
//! output tasks directly.
//!
//! It never blocks: forks run on the [`Spawner`] threads, child output is
//! read by the output tasks ([`super::output`]), stdin is written by a task
//! per process, configuration files are read on the blocking pool. Timers
//! exist only while something is due, so an idle daemon sleeps. Nothing
//! else may change a process's state.
//!
//! Shutdown and restart stop groups one at a time in reverse priority and
//! move to the next group the moment the last exit of the current one is
//! reaped; an fcgi group's socket is leased per child and closed with the
//! last one.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use abi_stable::std_types::{RArc, RString, RVec};
use arc_swap::ArcSwap;
use supervisor_sdk::fault::{
    ALREADY_ADDED, ALREADY_STARTED, BAD_NAME, FAILED, Fault, NO_FILE, NOT_RUNNING, SHUTDOWN_STATE,
    STILL_RUNNING,
};
use supervisor_sdk::host::{ChannelConfig, ConfigInfo, Outcome, ProcessInfo, Setting, Ticket};
use supervisor_sdk::state::{ProcessState, SupervisorState};
use supervisor_sdk::value::Value;
use tokio::net::unix::pipe;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::build;
use super::listeners::EventHub;
use super::output::{self, Channel, Destination, OutputHook, SharedLog};
use crate::config::{self, Config, GroupConfig, GroupKind, LoadOptions, LogFile};
use crate::events::{
    Event, EventBus, EventTypeSet, ListenerPool, ProcessStateChange, Publisher,
    SupervisorStateChange,
};
use crate::logs::Route;
use crate::logs::{ChildLog, ChildLogSpec, LogLevel as MainLevel, MainLog};
use crate::plugins::PluginLoader;
use crate::plugins::handler::result_handler_for;
use crate::process::fcgi_socket::{SocketLease, SocketManager};
use crate::process::reaper::{self, PidLedger, Reaped, Resolved, SpawnTicket};
use crate::process::spawn::{SpawnError, SpawnSpec, SpawnedFds, Spawner, StdinSource};
use crate::process::{
    Effect, Input, LogLevel, Moment, Mood, Policy, ProcessRecord, TimerKind, kill, transition,
};
use crate::rpc::ticket::TicketHub;

/// How often, at most, shutdown reports the processes it still waits for
/// (the reference's throttle).
const SHUTDOWN_REPORT_EVERY: Duration = Duration::from_secs(3);

/// How often, at most, a burst of state changes nobody waits on is
/// published: rebuilding the snapshot of a thousand processes after each
/// of a thousand starts would cost more than the starts. A change that
/// settles a command is published at once.
const PUBLISH_EVERY: Duration = Duration::from_millis(10);

/// A burst of at least this many concurrent spawns leaves enough freed
/// memory behind to hand back to the system once it is over.
const BURST_TRIM_THRESHOLD: usize = 32;

/// Give the allocator's free memory back to the system (after a burst of
/// starts the daemon goes back to a small steady state; the heap would
/// otherwise keep its peak).
fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages; it has no
    // preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How long a stopping daemon waits for its children's pipes to drain.
const PIPE_DRAIN: Duration = Duration::from_secs(2);

/// Names a process for as long as the supervisor task knows it; never
/// reused, so a late report about a removed process cannot hit another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcId(u64);

/// What the read side sees: published after every change.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The daemon's state.
    pub state: SupervisorState,
    /// Every process of every active group, groups in priority order.
    pub processes: RArc<RVec<ProcessInfo>>,
    /// The spawn spec of each process in `processes`, in the same order
    /// (for command checks).
    pub specs: Arc<[Arc<SpawnSpec>]>,
    /// The configuration read last; [`Snapshot::config_infos`] describes
    /// it. Kept as is rather than as infos: most daemons are never asked.
    pub pending: Arc<Config>,
}

impl Snapshot {
    /// The spawn spec of `process` of `group`, if it is active.
    pub fn spec(&self, group: &str, process: &str) -> Option<&Arc<SpawnSpec>> {
        let index = self
            .processes
            .iter()
            .position(|p| p.group.as_str() == group && p.name.as_str() == process)?;
        self.specs.get(index)
    }

    /// Every process of the pending configuration, as `getAllConfigInfo`
    /// reports it.
    pub fn config_infos(&self) -> RVec<ConfigInfo> {
        // The reference reports an AUTO log of an active group by the path
        // it created when the group was added (its config object is updated
        // in place); only a group not added yet still says "auto".
        let created: HashMap<(&str, &str), [Option<&Path>; 2]> = self
            .processes
            .iter()
            .map(|p| {
                fn path(s: &RString) -> Option<&Path> {
                    (!s.is_empty()).then(|| Path::new(s.as_str()))
                }
                (
                    (p.group.as_str(), p.name.as_str()),
                    [path(&p.stdout_logfile), path(&p.stderr_logfile)],
                )
            })
            .collect();
        let active: std::collections::HashSet<&str> =
            self.processes.iter().map(|p| p.group.as_str()).collect();
        self.pending
            .groups
            .iter()
            .flat_map(|g| {
                let inuse = active.contains(g.name.as_str());
                let created = &created;
                g.processes.iter().map(move |p| {
                    let paths = created
                        .get(&(g.name.as_str(), p.name.as_str()))
                        .filter(|_| inuse)
                        .copied()
                        .unwrap_or([None, None]);
                    config_info(g, p, inuse, paths)
                })
            })
            .collect()
    }
}

/// What the read side shares with the task.
#[derive(Debug)]
pub struct Shared {
    /// The latest snapshot.
    pub snapshot: ArcSwap<Snapshot>,
    /// Where command outcomes go.
    pub hub: Arc<TicketHub>,
    /// The main log.
    pub main_log: Arc<MainLog>,
    /// `identifier`.
    pub identifier: ArcSwap<String>,
    /// Publishes events to the supervisor task's bus from any task.
    pub publisher: Publisher,
}

/// A command for the supervisor task. Each carries the ticket its outcome
/// settles.
#[derive(Debug)]
pub enum Request {
    /// Start a process; with `wait`, settle once it left STARTING.
    Start {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// Wait for RUNNING (or failure).
        wait: bool,
        /// Settled when done.
        ticket: Ticket,
    },
    /// Stop a process; with `wait`, settle once it is stopped.
    Stop {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// Wait for a stopped state.
        wait: bool,
        /// Settled when done.
        ticket: Ticket,
    },
    /// Send a signal to a process.
    Signal {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// The signal number.
        signal: i32,
        /// Settled when sent.
        ticket: Ticket,
    },
    /// Queue bytes for a process's stdin.
    Stdin {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// What to write.
        data: Vec<u8>,
        /// Settled when queued.
        ticket: Ticket,
    },
    /// Truncate and reopen both logs of a process.
    ClearLogs {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// Settled when done.
        ticket: Ticket,
    },
    /// Read the configuration file again (not applied).
    Reread {
        /// Settled with `[[added, changed, removed]]`.
        ticket: Ticket,
    },
    /// Activate a group of the pending configuration.
    AddGroup {
        /// The group.
        name: String,
        /// Settled when added.
        ticket: Ticket,
    },
    /// Deactivate a stopped group.
    RemoveGroup {
        /// The group.
        name: String,
        /// Settled when removed.
        ticket: Ticket,
    },
    /// Stop everything and exit.
    Shutdown {
        /// Settled once shutdown began.
        ticket: Option<Ticket>,
    },
    /// Stop everything, read the configuration again and start again.
    Restart {
        /// Settled once the restart began.
        ticket: Option<Ticket>,
    },
    /// Reopen the main log and every child log (SIGUSR2).
    ReopenLogs,
}

/// Internal messages: requests plus what the task's own helpers report.
enum Message {
    Request(Request),
    /// A spawn failed before reaching the spawner (an fcgi socket).
    SpawnRefused {
        id: ProcId,
        message: String,
    },
    Spawned {
        id: ProcId,
        ticket: SpawnTicket,
        result: Result<SpawnedFds, SpawnError>,
    },
    Reread {
        ticket: Ticket,
        result: Result<Box<Config>, String>,
    },
}

/// A cloneable way to talk to the supervisor task and read its snapshot.
#[derive(Clone, Debug)]
pub struct Handle {
    sender: mpsc::UnboundedSender<Message>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Request(r) => r.fmt(f),
            Message::SpawnRefused { id, message } => write!(f, "SpawnRefused({id:?}, {message})"),
            Message::Spawned { id, .. } => write!(f, "Spawned({id:?})"),
            Message::Reread { ticket, .. } => write!(f, "Reread({ticket:?})"),
        }
    }
}

impl Handle {
    /// The shared read side.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// Issue a ticket and send the request `make` builds with it. When the
    /// task is gone the ticket settles at once with a fault.
    pub fn request(&self, make: impl FnOnce(Ticket) -> Request) -> Ticket {
        let ticket = self.shared.hub.issue();
        self.send(make(ticket), ticket);
        ticket
    }

    /// Send a request that needs no ticket (signals).
    pub fn notify(&self, request: Request) {
        let _ = self.sender.send(Message::Request(request));
    }

    fn send(&self, request: Request, ticket: Ticket) {
        if self.sender.send(Message::Request(request)).is_err() {
            self.shared.hub.complete(
                ticket,
                Outcome::failed(Fault::bare(SHUTDOWN_STATE)).immediate(),
            );
        }
    }

    /// Wait for the outcome of `ticket`.
    pub async fn outcome(&self, ticket: Ticket) -> Option<Outcome> {
        use crate::rpc::ticket::TicketWatcher as _;
        let mut watcher = self.shared.hub.watcher();
        watcher.watch(&[ticket]);
        watcher.next().await.map(|(_, outcome)| outcome)
    }
}

/// How a run of the supervisor task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Shut down: exit.
    Shutdown,
    /// Restart: read the configuration again and run again.
    Restart,
}

/// What waits on a process for a command to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitFor {
    /// The spawn attempt was reported.
    Spawned,
    /// STARTING is over.
    Started,
    /// A stopped state.
    Stopped,
}

#[derive(Debug)]
struct Waiter {
    ticket: Ticket,
    until: WaitFor,
}

/// One process as the task holds it.
struct Proc {
    group: Arc<str>,
    name: Arc<str>,
    group_priority: i64,
    priority: i64,
    policy: Policy,
    spec: Arc<SpawnSpec>,
    record: ProcessRecord,
    /// The armed timer: when, and which.
    timer: Option<(Instant, TimerKind)>,
    log_specs: [Option<Box<ChildLogSpec>>; 2],
    /// Opened at the first spawn, kept across spawns.
    logs: [Option<SharedLog>; 2],
    /// The child's stdin pipe, registered with the runtime only when
    /// something is first written to it (most programs never get input).
    stdin: Option<OwnedFd>,
    stdin_queue: Option<mpsc::UnboundedSender<Vec<u8>>>,
    waiters: Vec<Waiter>,
    /// Whether the snapshot's copy is stale.
    dirty: bool,
    /// For an eventlistener process: its pool's name (the group's).
    pool: Option<Arc<str>>,
    /// Where each channel's output goes.
    routes: [Route; 2],
    /// The socket of an fcgi group, shared by its processes.
    fcgi: Option<Arc<SocketManager>>,
    /// This process's hold on that socket while it has a child.
    lease: Option<SocketLease>,
}

impl Proc {
    fn info(&self) -> ProcessInfo {
        fn unix(at: Option<SystemTime>) -> i64 {
            at.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        }
        fn path_of(spec: &Option<Box<ChildLogSpec>>) -> RString {
            spec.as_ref()
                .and_then(|s| s.path.as_ref())
                .map(|p| p.to_string_lossy().into_owned().into())
                .unwrap_or_default()
        }
        let r = &self.record;
        ProcessInfo {
            group: RString::from(&*self.group),
            name: RString::from(&*self.name),
            group_priority: self.group_priority,
            priority: self.priority,
            state: r.state,
            pid: r.pid.map_or(0, |p| u32::try_from(p).unwrap_or(0)),
            start: unix(r.laststart_wall),
            stop: unix(r.laststop_wall),
            spawnerr: r.spawnerr.clone().unwrap_or_default().into(),
            exitstatus: r.exitstatus.unwrap_or(0),
            stdout_logfile: path_of(&self.log_specs[0]),
            stderr_logfile: path_of(&self.log_specs[1]),
        }
    }
}

/// A process's `(group, name)` as the key of the lookup table, sharing
/// the record's names; found by a pair of `&str` without allocating (the
/// table is keyed by the [`NamePair`] both implement).
#[derive(Debug, Clone)]
struct NameKey {
    group: Arc<str>,
    name: Arc<str>,
}

/// A `(group, name)` pair however it is held.
trait NamePair {
    fn pair(&self) -> (&str, &str);
}

impl NamePair for NameKey {
    fn pair(&self) -> (&str, &str) {
        (&self.group, &self.name)
    }
}

impl NamePair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        *self
    }
}

impl<'a> std::borrow::Borrow<dyn NamePair + 'a> for NameKey {
    fn borrow(&self) -> &(dyn NamePair + 'a) {
        self
    }
}

// Key and borrowed form hash and compare the same way, as `Borrow` needs.
impl std::hash::Hash for NameKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for NameKey {}

impl std::hash::Hash for dyn NamePair + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl PartialEq for dyn NamePair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn NamePair + '_ {}

struct Group {
    name: String,
    /// The configuration the group was added from, shared rather than
    /// copied (a thousand programs' options are most of a config); it
    /// keeps that configuration alive while the group is active.
    source: Arc<Config>,
    /// The group's index in `source.groups`.
    index: usize,
    /// In the group's own order (process priority, then name).
    procs: Vec<ProcId>,
}

impl Group {
    fn config(&self) -> &GroupConfig {
        &self.source.groups[self.index]
    }
}

/// Everything the supervisor task needs from outside when it starts.
pub struct Setup {
    /// The configuration to run.
    pub config: Config,
    /// How to read the configuration again (reread, restart).
    pub load_options: LoadOptions,
    /// The main log.
    pub main_log: Arc<MainLog>,
    /// Where child output chunks are offered, if anywhere.
    pub output_hook: Option<OutputHook>,
}

/// The supervisor task's state.
pub struct Supervisor {
    shared: Arc<Shared>,
    inbox: mpsc::UnboundedReceiver<Message>,
    sender: mpsc::UnboundedSender<Message>,
    config: Arc<Config>,
    /// The configuration read last (by start-up, restart or reread).
    pending: Arc<Config>,
    load_options: LoadOptions,
    main_log: Arc<MainLog>,
    output_hook: Option<OutputHook>,
    spawner: Option<Spawner>,
    ledger: PidLedger<ProcId>,
    /// Boxed: a table sized for a thousand processes has twice as many
    /// buckets, which would each hold a whole (half-kilobyte) record.
    procs: HashMap<ProcId, Box<Proc>>,
    by_name: HashMap<NameKey, ProcId>,
    groups: Vec<Group>,
    next_id: u64,
    timers: BTreeSet<(Instant, ProcId)>,
    state: SupervisorState,
    /// Shutdown's queue of groups still to stop, lowest priority first.
    stop_groups: Option<Vec<String>>,
    last_report: Option<Instant>,
    /// The snapshot is stale.
    snapshot_dirty: bool,
    /// Groups or the pending configuration changed: the snapshot's config
    /// infos and spawn specs must be rebuilt too (otherwise they are
    /// shared with the previous snapshot, so a burst of state changes
    /// does not rebuild them once per change).
    layout_dirty: bool,
    /// When the snapshot was last published, and when a deferred publish
    /// is due.
    last_publish: Option<Instant>,
    publish_due: Option<Instant>,
    /// Outcomes to deliver after the current batch (see `complete`).
    settled: std::cell::RefCell<Vec<(Ticket, Outcome)>>,
    /// Events: listener pools, serials, TICKs, listeners' stdin.
    events: Arc<EventHub>,
    bus_inbox: mpsc::UnboundedReceiver<Vec<Event>>,
    /// Spawns handed to the spawner and not reported yet, and the most
    /// there were since the last burst ended.
    spawns_in_flight: usize,
    burst: usize,
    /// The environment of the process added last, shared with the next
    /// one when equal: the processes of a numprocs program, and programs
    /// that only have `[supervisord] environment`, keep one copy.
    last_environment: Option<Arc<[(String, String)]>>,
    /// Loads result handlers of listener pools (each library once).
    loader: PluginLoader,
    /// The output pumps, so that shutdown can let them drain the pipes.
    pumps: tokio::task::JoinSet<()>,
}

impl Supervisor {
    /// Create the task's state and a handle to it. Nothing runs yet: call
    /// [`Supervisor::run`] inside a tokio runtime. Handles may be cloned
    /// and used before that (requests wait in the queue).
    pub fn new(setup: Setup) -> (Supervisor, Handle) {
        let (sender, inbox) = mpsc::unbounded_channel();
        let mut config = setup.config;
        build::compact(&mut config);
        let config = Arc::new(config);
        let mut bus = EventBus::new(config.supervisord.identifier.as_str());
        let bus_inbox = bus.take_inbox().expect("a new bus still holds its inbox");
        let events = EventHub::new(bus);
        let shared = Arc::new(Shared {
            publisher: events.publisher(),
            snapshot: ArcSwap::from_pointee(Snapshot {
                state: SupervisorState::Running,
                processes: RArc::new(RVec::new()),
                specs: Arc::from([]),
                pending: Arc::clone(&config),
            }),
            hub: Arc::new(TicketHub::new()),
            main_log: Arc::clone(&setup.main_log),
            identifier: ArcSwap::from_pointee(config.supervisord.identifier.clone()),
        });
        let handle = Handle {
            sender: sender.clone(),
            shared: Arc::clone(&shared),
        };
        let supervisor = Supervisor {
            shared,
            inbox,
            sender,
            pending: Arc::clone(&config),
            config: Arc::clone(&config),
            load_options: setup.load_options,
            main_log: setup.main_log,
            output_hook: setup.output_hook,
            spawner: None,
            ledger: PidLedger::new(),
            procs: HashMap::new(),
            by_name: HashMap::new(),
            groups: Vec::new(),
            next_id: 0,
            timers: BTreeSet::new(),
            state: SupervisorState::Running,
            stop_groups: None,
            last_report: None,
            snapshot_dirty: true,
            layout_dirty: true,
            settled: std::cell::RefCell::new(Vec::new()),
            last_publish: None,
            publish_due: None,
            events,
            bus_inbox,
            loader: PluginLoader::from_environment(),
            last_environment: None,
            spawns_in_flight: 0,
            burst: 0,
            pumps: tokio::task::JoinSet::new(),
        };
        (supervisor, handle)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether any child of ours is still alive (after a run: none should).
    pub fn live_children(&self) -> usize {
        self.ledger.live_children()
    }

    fn log(&self, level: MainLevel, text: &str) {
        self.main_log.log(level, text);
    }

    /// Create every group, start the autostart processes in priority
    /// order and serve messages until shutdown or restart. The reaper
    /// must be running: its exits arrive through `reaped`.
    pub async fn run(
        &mut self,
        reaped: &mut mpsc::UnboundedReceiver<Reaped>,
        signals: &mut Signals,
    ) -> RunEnd {
        if self.spawner.is_none() {
            match Spawner::new(2) {
                Ok(spawner) => self.spawner = Some(spawner),
                Err(error) => {
                    self.log(
                        MainLevel::Critical,
                        &format!("unable to start the spawner threads: {error}"),
                    );
                    return RunEnd::Shutdown;
                }
            }
        }
        self.state = SupervisorState::Running;
        self.stop_groups = None;
        self.last_report = None;
        // A restart starts from scratch: the old table's pools go, and a
        // command still waiting on an old process gets its answer.
        for group in std::mem::take(&mut self.groups) {
            self.events.pool_removed(&group.name);
        }
        for (_, proc) in std::mem::take(&mut self.procs) {
            for waiter in proc.waiters {
                self.complete(waiter.ticket, Outcome::failed(Fault::bare(SHUTDOWN_STATE)));
            }
        }
        self.by_name.clear();
        self.timers.clear();
        let config = Arc::clone(&self.config);
        self.procs
            .reserve(config.groups.iter().map(|g| g.processes.len()).sum());
        self.by_name.reserve(self.procs.capacity());
        self.groups.reserve(config.groups.len());
        for index in 0..config.groups.len() {
            self.add_group(&config, index);
        }
        self.snapshot_dirty = true;
        self.layout_dirty = true;
        self.publish();
        self.events
            .bus()
            .publish(Event::SupervisorStateChange(SupervisorStateChange::Running));
        self.autostart_all();
        self.publish();
        loop {
            if self.state != SupervisorState::Running && self.wind_down() {
                self.publish();
                self.drain_output().await;
                return if self.state == SupervisorState::Restarting {
                    RunEnd::Restart
                } else {
                    RunEnd::Shutdown
                };
            }
            self.publish();
            let next_timer = self.next_deadline();
            tokio::select! {
                // The task holds a sender itself, so the inbox never closes.
                Some(message) = self.inbox.recv() => self.handle(message),
                Some(events) = self.bus_inbox.recv() => {
                    // Publishers go through the hub's lock in their own
                    // task; only a publish from inside the lock (a result
                    // handler's) comes this way.
                    let mut bus = self.events.bus();
                    bus.publish_all(events);
                    while let Ok(events) = self.bus_inbox.try_recv() {
                        bus.publish_all(events);
                    }
                }
                Some(exit) = reaped.recv() => {
                    self.reaped(exit);
                    while let Ok(exit) = reaped.try_recv() {
                        self.reaped(exit);
                    }
                    // The reference notes each SIGCHLD after its reap pass.
                    self.log(MainLevel::Debug, "received SIGCHLD indicating a child quit");
                }
                () = sleep_until(next_timer) => self.fire_timers(),
                Some(sig) = signals.next() => self.signal_received(sig),
            }
            // Take whatever else is queued before publishing once: a burst
            // of exits or starts costs one snapshot, not one each.
            for _ in 0..256 {
                if let Ok(exit) = reaped.try_recv() {
                    self.reaped(exit);
                } else if let Ok(message) = self.inbox.try_recv() {
                    self.handle(message);
                } else {
                    break;
                }
            }
        }
    }

    // ---- groups -------------------------------------------------------

    /// Activate group `index` of `source` (the configuration in force or
    /// the pending one).
    fn add_group(&mut self, source: &Arc<Config>, index: usize) {
        let config = &source.groups[index];
        let sockets = SocketManager::for_group(config).map(Arc::new);
        let pool = self.add_pool(config);
        let around = build::Surroundings::of(
            config,
            pool.is_some(),
            self.output_hook.is_some(),
            &self.main_log,
        );
        let group_name: Arc<str> = Arc::from(config.name.as_str());
        let mut ids = Vec::with_capacity(config.processes.len());
        for process in &config.processes {
            let (outputs, errors) = build::channel_outputs(&self.config, process, around);
            for error in errors {
                self.log(MainLevel::Error, &error);
            }
            self.next_id += 1;
            let id = ProcId(self.next_id);
            let names = build::Names {
                group: Arc::clone(&group_name),
                process: Arc::from(process.name.as_str()),
            };
            let mut spec = build::spawn_spec(
                &self.config,
                &names,
                process,
                self.last_environment.as_ref(),
            );
            self.last_environment = Some(Arc::clone(&spec.environment));
            spec.discard_stdout = !outputs.routes[0].piped;
            spec.discard_stderr = !outputs.routes[1].piped;
            let key = NameKey {
                group: Arc::clone(&names.group),
                name: Arc::clone(&names.process),
            };
            let proc = Proc {
                group: names.group,
                name: Arc::clone(&names.process),
                group_priority: config.priority,
                priority: process.priority,
                policy: build::policy(process, names.process),
                spec: Arc::new(spec),
                record: ProcessRecord::default(),
                timer: None,
                log_specs: outputs.logs,
                logs: [None, None],
                stdin: None,
                stdin_queue: None,
                waiters: Vec::new(),
                dirty: true,
                pool: pool.clone(),
                fcgi: sockets.clone(),
                lease: None,
                routes: outputs.routes,
            };
            self.by_name.insert(key, id);
            self.procs.insert(id, Box::new(proc));
            ids.push(id);
        }
        let position = self
            .groups
            .iter()
            .position(|g| (g.config().priority, &g.name) > (config.priority, &config.name))
            .unwrap_or(self.groups.len());
        self.groups.insert(
            position,
            Group {
                name: config.name.clone(),
                source: Arc::clone(source),
                index,
                procs: ids,
            },
        );
        self.snapshot_dirty = true;
        self.layout_dirty = true;
        let group = self.groups[position].name.clone();
        self.events
            .bus()
            .publish(Event::ProcessGroupAdded { group });
    }

    /// The listener pool of an `[eventlistener:x]` group; its name.
    fn add_pool(&mut self, config: &GroupConfig) -> Option<Arc<str>> {
        if !matches!(config.kind, GroupKind::EventListener { .. }) {
            return None;
        }
        let handler = match result_handler_for(config, &mut self.loader) {
            Ok(Some(handler)) => handler,
            Ok(None) => return None,
            Err(error) => {
                self.log(
                    MainLevel::Error,
                    &format!("eventlistener {} not started: {error}", config.name),
                );
                return None;
            }
        };
        let server = self.events.bus().server();
        match ListenerPool::from_config(config, server, handler) {
            Ok(Some(pool)) => {
                self.events.bus().add_pool(pool);
                Some(Arc::from(config.name.as_str()))
            }
            Ok(None) => None,
            Err(error) => {
                self.log(
                    MainLevel::Error,
                    &format!("eventlistener {}: {error}", config.name),
                );
                None
            }
        }
    }

    fn autostart_all(&mut self) {
        let ids: Vec<ProcId> = self.groups.iter().flat_map(|g| g.procs.clone()).collect();
        for id in ids {
            self.feed(id, Input::Autostart);
        }
    }

    fn group_unstopped(&self, group: &Group) -> bool {
        group.procs.iter().any(|id| {
            self.procs
                .get(id)
                .is_some_and(|p| !p.record.state.is_stopped())
        })
    }

    // ---- messages -----------------------------------------------------

    fn handle(&mut self, message: Message) {
        match message {
            Message::Request(request) => self.request(request),
            Message::SpawnRefused { id, message } => {
                self.feed(id, Input::SpawnFailed { message });
                self.settle_waiters(id, true);
            }
            Message::Spawned { id, ticket, result } => self.spawned(id, ticket, result),
            Message::Reread { ticket, result } => self.reread_done(ticket, result),
        }
    }

    fn lookup(&self, group: &str, name: &str) -> Option<ProcId> {
        self.by_name.get(&(group, name) as &dyn NamePair).copied()
    }

    fn bad_name(&self, ticket: Ticket, group: &str, name: &str) {
        self.complete(
            ticket,
            Outcome::failed(Fault::with(BAD_NAME, format!("{group}:{name}"))).immediate(),
        );
    }

    /// Settle `ticket` once the current batch of messages is handled and
    /// its snapshot published, so a waiter reads a snapshot at least as
    /// fresh as the outcome, and commands settled by the same batch (a
    /// group stop whose processes were reaped together) complete in the
    /// order they were issued, as the reference reports them.
    fn complete(&self, ticket: Ticket, outcome: Outcome) {
        self.settled.borrow_mut().push((ticket, outcome));
    }

    fn flush_settled(&mut self) {
        let mut settled = std::mem::take(self.settled.get_mut());
        settled.sort_by_key(|(ticket, _)| *ticket);
        for (ticket, outcome) in settled {
            self.shared.hub.complete(ticket, outcome);
        }
    }

    fn request(&mut self, request: Request) {
        match request {
            Request::Start {
                group,
                name,
                wait,
                ticket,
            } => {
                let Some(id) = self.lookup(&group, &name) else {
                    return self.bad_name(ticket, &group, &name);
                };
                if self.state != SupervisorState::Running {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::bare(SHUTDOWN_STATE)).immediate(),
                    );
                }
                let state = self.procs[&id].record.state;
                if state.is_running() {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(ALREADY_STARTED, format!("{group}:{name}")))
                            .immediate(),
                    );
                }
                if let Some(proc) = self.procs.get_mut(&id) {
                    proc.waiters.push(Waiter {
                        ticket,
                        until: if wait {
                            WaitFor::Started
                        } else {
                            WaitFor::Spawned
                        },
                    });
                }
                self.feed(id, Input::Start);
                self.settle_waiters(id, false);
            }
            Request::Stop {
                group,
                name,
                wait,
                ticket,
            } => {
                let Some(id) = self.lookup(&group, &name) else {
                    return self.bad_name(ticket, &group, &name);
                };
                let state = self.procs[&id].record.state;
                // As the reference: STOPPING is not a running state.
                if !state.is_running() {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(NOT_RUNNING, format!("{group}:{name}")))
                            .immediate(),
                    );
                }
                if let Some(failure) = self.feed(id, Input::Stop) {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(FAILED, failure)).immediate(),
                    );
                }
                let proc = &self.procs[&id];
                if !wait || proc.record.state.is_stopped() {
                    self.complete(ticket, Outcome::process(proc.info()).immediate());
                } else if let Some(proc) = self.procs.get_mut(&id) {
                    proc.waiters.push(Waiter {
                        ticket,
                        until: WaitFor::Stopped,
                    });
                }
            }
            Request::Signal {
                group,
                name,
                signal,
                ticket,
            } => {
                let Some(id) = self.lookup(&group, &name) else {
                    return self.bad_name(ticket, &group, &name);
                };
                if self.procs[&id].record.pid.is_none() {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(NOT_RUNNING, format!("{group}:{name}")))
                            .immediate(),
                    );
                }
                let outcome = match self.feed(id, Input::Signal(signal)) {
                    Some(failure) => Outcome::failed(Fault::with(FAILED, failure)),
                    None => Outcome::process(self.procs[&id].info()),
                };
                self.complete(ticket, outcome.immediate());
            }
            Request::Stdin {
                group,
                name,
                data,
                ticket,
            } => {
                let Some(id) = self.lookup(&group, &name) else {
                    return self.bad_name(ticket, &group, &name);
                };
                let outcome = self.send_stdin(id, data, &group, &name);
                self.complete(ticket, outcome.immediate());
            }
            Request::ClearLogs {
                group,
                name,
                ticket,
            } => {
                let Some(id) = self.lookup(&group, &name) else {
                    return self.bad_name(ticket, &group, &name);
                };
                let mut failure = None;
                for log in self.procs[&id].logs.iter().flatten() {
                    if let Err(error) = output::lock(log).clear() {
                        failure = Some(error.to_string());
                    }
                }
                let outcome = match failure {
                    Some(why) => Outcome::failed(Fault::with(FAILED, why)),
                    None => Outcome::process(self.procs[&id].info()),
                };
                self.complete(ticket, outcome.immediate());
            }
            Request::Reread { ticket } => self.start_reread(ticket),
            Request::AddGroup { name, ticket } => {
                if self.state != SupervisorState::Running {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::bare(SHUTDOWN_STATE)).immediate(),
                    );
                }
                let pending = Arc::clone(&self.pending);
                let Some(index) = pending.groups.iter().position(|g| g.name == name) else {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(BAD_NAME, &name)).immediate(),
                    );
                };
                if self.groups.iter().any(|g| g.name == name) {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(ALREADY_ADDED, &name)).immediate(),
                    );
                }
                self.add_group(&pending, index);
                let ids = self
                    .groups
                    .iter()
                    .find(|g| g.name == name)
                    .map(|g| g.procs.clone())
                    .unwrap_or_default();
                for id in ids {
                    self.feed(id, Input::Autostart);
                }
                self.complete(ticket, Outcome::done().immediate());
            }
            Request::RemoveGroup { name, ticket } => {
                let Some(index) = self.groups.iter().position(|g| g.name == name) else {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(BAD_NAME, &name)).immediate(),
                    );
                };
                if self.group_unstopped(&self.groups[index]) {
                    return self.complete(
                        ticket,
                        Outcome::failed(Fault::with(STILL_RUNNING, &name)).immediate(),
                    );
                }
                let group = self.groups.remove(index);
                self.events.pool_removed(&group.name);
                self.events.bus().publish(Event::ProcessGroupRemoved {
                    group: group.name.clone(),
                });
                for id in group.procs {
                    if let Some(proc) = self.procs.remove(&id) {
                        self.by_name
                            .remove(&(&*proc.group, &*proc.name) as &dyn NamePair);
                        if let Some((at, _)) = proc.timer {
                            self.timers.remove(&(at, id));
                        }
                        for waiter in proc.waiters {
                            self.complete(
                                waiter.ticket,
                                Outcome::failed(Fault::with(BAD_NAME, &name)),
                            );
                        }
                    }
                }
                self.snapshot_dirty = true;
                self.layout_dirty = true;
                self.complete(ticket, Outcome::done().immediate());
            }
            Request::Shutdown { ticket } => {
                if self.state == SupervisorState::Running {
                    self.state = SupervisorState::Shutdown;
                    self.snapshot_dirty = true;
                }
                if let Some(ticket) = ticket {
                    self.complete(ticket, Outcome::done().immediate());
                }
            }
            Request::Restart { ticket } => {
                if self.state == SupervisorState::Running {
                    self.state = SupervisorState::Restarting;
                    self.snapshot_dirty = true;
                }
                if let Some(ticket) = ticket {
                    self.complete(ticket, Outcome::done().immediate());
                }
            }
            Request::ReopenLogs => self.reopen_logs(),
        }
    }

    fn send_stdin(&mut self, id: ProcId, data: Vec<u8>, group: &str, name: &str) -> Outcome {
        let Some(proc) = self.procs.get(&id) else {
            return Outcome::failed(Fault::with(BAD_NAME, format!("{group}:{name}")));
        };
        if proc.record.pid.is_none() || proc.record.state.is_stopped() {
            return Outcome::failed(Fault::with(NOT_RUNNING, format!("{group}:{name}")));
        }
        if self.queue_stdin(id, data) {
            Outcome::process(self.procs[&id].info())
        } else {
            Outcome::failed(Fault::with(NO_FILE, "Process has no stdin channel"))
        }
    }

    /// Queue `data` for the process's stdin, in order, written by a task
    /// of its own so a child that does not read never blocks us. False
    /// when the process has no stdin any more.
    fn queue_stdin(&mut self, id: ProcId, data: Vec<u8>) -> bool {
        let Some(proc) = self.procs.get_mut(&id) else {
            return false;
        };
        if let Some(pool) = &proc.pool {
            // A listener's stdin belongs to its pool's writer.
            return self.events.write_stdin(pool, &proc.name, data);
        }
        if proc.stdin_queue.is_none() {
            let Some(fd) = proc.stdin.take() else {
                return false;
            };
            let Ok(pipe) = pipe::Sender::from_owned_fd(fd) else {
                return false;
            };
            proc.stdin_queue = Some(output::spawn_pipe_writer(pipe));
        }
        proc.stdin_queue
            .as_ref()
            .is_some_and(|q| q.send(data).is_ok())
    }

    fn reopen_logs(&mut self) {
        self.log(
            MainLevel::Info,
            "received SIGUSR2 indicating log reopen request",
        );
        if let Err(error) = self.main_log.reopen() {
            eprintln!("supervisord: {error}");
        }
        self.log(MainLevel::Info, "supervisord logreopen");
        for proc in self.procs.values() {
            for log in proc.logs.iter().flatten() {
                if let Err(error) = output::lock(log).reopen() {
                    self.main_log.error(&error.to_string());
                }
            }
        }
    }

    fn start_reread(&mut self, ticket: Ticket) {
        let path = self.config.source.clone();
        let options = self.load_options.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let loaded =
                tokio::task::spawn_blocking(move || config::load_config_with(&path, &options))
                    .await;
            let result = match loaded {
                Ok(Ok(config)) => Ok(Box::new(config)),
                Ok(Err(errors)) => Err(errors
                    .0
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")),
                Err(error) => Err(error.to_string()),
            };
            let _ = sender.send(Message::Reread { ticket, result });
        });
    }

    fn reread_done(&mut self, ticket: Ticket, result: Result<Box<Config>, String>) {
        let mut new = match result {
            Ok(config) => *config,
            Err(why) => {
                return self.complete(
                    ticket,
                    Outcome::failed(Fault::with(supervisor_sdk::fault::CANT_REREAD, why)),
                );
            }
        };
        // A transient copy: the diff compares owned slices.
        let active: Vec<GroupConfig> = self.groups.iter().map(|g| g.config().clone()).collect();
        let value = {
            let diff = config::diff(&active, &new.groups);
            let names = |groups: &[&GroupConfig]| {
                Value::array(groups.iter().map(|g| Value::string(g.name.as_str())))
            };
            Value::array([Value::array([
                names(&diff.added),
                names(&diff.changed),
                names(&diff.removed),
            ])])
        };
        build::compact(&mut new);
        self.pending = Arc::new(new);
        self.snapshot_dirty = true;
        self.layout_dirty = true;
        self.complete(
            ticket,
            Outcome {
                value,
                ..Outcome::done()
            },
        );
    }

    fn signal_received(&mut self, sig: i32) {
        use supervisor_sdk::signal::signame;
        match sig {
            libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => {
                self.log(
                    MainLevel::Warn,
                    &format!("received {} indicating exit request", signame(sig)),
                );
                self.state = SupervisorState::Shutdown;
                self.snapshot_dirty = true;
            }
            libc::SIGHUP => {
                if self.state == SupervisorState::Shutdown {
                    self.log(
                        MainLevel::Warn,
                        &format!(
                            "ignored {} indicating restart request (shutdown in progress)",
                            signame(sig)
                        ),
                    );
                } else {
                    self.log(
                        MainLevel::Warn,
                        &format!("received {} indicating restart request", signame(sig)),
                    );
                    self.state = SupervisorState::Restarting;
                    self.snapshot_dirty = true;
                }
            }
            libc::SIGUSR2 => self.reopen_logs(),
            _ => self.log(
                MainLevel::Blather,
                &format!("received {} indicating nothing", signame(sig)),
            ),
        }
    }

    // ---- the state machine ----------------------------------------------

    fn mood(&self) -> Mood {
        if self.state == SupervisorState::Running {
            Mood::Running
        } else {
            Mood::WindingDown
        }
    }

    /// Feed `input` to a process and carry out every effect, feeding back
    /// kill failures at once. Returns the text of a command failure.
    fn feed(&mut self, id: ProcId, input: Input) -> Option<String> {
        let mut inputs = VecDeque::from([input]);
        let mut failure = None;
        let mood = self.mood();
        while let Some(input) = inputs.pop_front() {
            let Some(proc) = self.procs.get_mut(&id) else {
                return failure;
            };
            let (record, effects) =
                transition(&proc.record, input, Moment::now(), &proc.policy, mood);
            proc.record = record;
            proc.dirty = true;
            for effect in effects {
                match effect {
                    Effect::Spawn => self.spawn(id),
                    Effect::Kill {
                        pid,
                        signal,
                        group,
                        purpose,
                    } => {
                        if let Err(errno) = kill::send_signal(pid, signal, group) {
                            inputs.push_back(Input::KillFailed {
                                pid,
                                errno,
                                purpose,
                            });
                        }
                    }
                    Effect::ArmTimer { kind, at } => self.arm(id, Some((at, kind))),
                    Effect::CancelTimer => self.arm(id, None),
                    Effect::StateChanged(change) => self.state_changed(id, change),
                    Effect::Log { level, text } => self.log(main_level(level), &text),
                    Effect::CommandFailed(text) => failure = Some(text),
                }
            }
        }
        self.snapshot_dirty = true;
        self.settle_waiters(id, false);
        failure
    }

    /// Publish a process's state change and keep its pool informed.
    fn state_changed(&mut self, id: ProcId, change: crate::process::StateChange) {
        let Some(proc) = self.procs.get_mut(&id) else {
            return;
        };
        if proc.record.pid.is_none() && !proc.record.spawning {
            // The child is gone: its stdin goes with it.
            proc.stdin = None;
            proc.stdin_queue = None;
        }
        let (group, name, pool) = (
            Arc::clone(&proc.group),
            Arc::clone(&proc.name),
            proc.pool.clone(),
        );
        if let Some(pool) = pool {
            self.events.with_listener(&pool, &name, |pool, index| {
                if change.to == ProcessState::Running {
                    pool.listener_running(index, true);
                } else if change.from == ProcessState::Running {
                    pool.listener_running(index, false);
                }
            });
        }
        let mut bus = self.events.bus();
        if bus.subscribed() != EventTypeSet::EMPTY {
            bus.publish(Event::ProcessState(ProcessStateChange {
                process: name.to_string(),
                group: group.to_string(),
                from: change.from,
                to: change.to,
                tries: change.tries,
                pid: change.pid,
                expected: change.expected,
            }));
        }
    }

    fn arm(&mut self, id: ProcId, timer: Option<(Instant, TimerKind)>) {
        let Some(proc) = self.procs.get_mut(&id) else {
            return;
        };
        if let Some((at, _)) = proc.timer.take() {
            self.timers.remove(&(at, id));
        }
        if let Some((at, kind)) = timer {
            proc.timer = Some((at, kind));
            self.timers.insert((at, id));
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let tick = self
            .events
            .bus()
            .tick_sleep(SystemTime::now())
            .map(|wait| Instant::now() + wait);
        let timer = match (self.timers.first().map(|(at, _)| *at), tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let report = match (&self.stop_groups, self.last_report) {
            (Some(_), Some(last)) => Some(last + SHUTDOWN_REPORT_EVERY),
            _ => None,
        };
        let report = match (report, self.publish_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (timer, report) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn fire_timers(&mut self) {
        self.events.bus().tick(SystemTime::now());
        let now = Instant::now();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let kind = match self.procs.get_mut(&id) {
                Some(proc) => match proc.timer.take() {
                    Some((_, kind)) => kind,
                    None => continue,
                },
                None => continue,
            };
            self.feed(id, Input::Timer(kind));
        }
    }

    /// Complete the commands waiting on `id` that its state now satisfies.
    /// `spawn_step` is true while handling the spawn report.
    fn settle_waiters(&mut self, id: ProcId, spawn_step: bool) {
        let Some(proc) = self.procs.get_mut(&id) else {
            return;
        };
        if proc.waiters.is_empty() {
            return;
        }
        let state = proc.record.state;
        let spawning = proc.record.spawning;
        let immediate_start = spawn_step && proc.policy.startsecs == 0;
        let mut done = Vec::new();
        proc.waiters.retain(|w| {
            let ready = match w.until {
                WaitFor::Spawned => !spawning,
                WaitFor::Started => !spawning && state != ProcessState::Starting,
                WaitFor::Stopped => state.is_stopped(),
            };
            if ready {
                let immediate = match w.until {
                    WaitFor::Spawned => true,
                    WaitFor::Started => {
                        immediate_start || (spawn_step && state != ProcessState::Running)
                    }
                    WaitFor::Stopped => false,
                };
                done.push((w.ticket, immediate));
            }
            !ready
        });
        if done.is_empty() {
            return;
        }
        let info = proc.info();
        for (ticket, immediate) in done {
            let mut outcome = Outcome::process(info.clone());
            outcome.immediate = immediate;
            self.complete(ticket, outcome);
        }
    }

    // ---- spawning and reaping ------------------------------------------

    fn spawn(&mut self, id: ProcId) {
        let Some(proc) = self.procs.get_mut(&id) else {
            return;
        };
        let Some(spawner) = self.spawner.clone() else {
            return;
        };
        let mut spec = Arc::clone(&proc.spec);
        if let Some(sockets) = &proc.fcgi {
            // The group's socket is created by the first process that needs
            // it and becomes this child's fd 0.
            match sockets.acquire() {
                Ok(lease) => {
                    let mut with_socket = (*spec).clone();
                    with_socket.stdin = StdinSource::Socket(lease.shared_fd());
                    spec = Arc::new(with_socket);
                    proc.lease = Some(lease);
                }
                Err(error) => {
                    // Reported as a spawn failure in the next step, as the
                    // reference makes it the process's spawnerr.
                    let _ = self.sender.send(Message::SpawnRefused {
                        id,
                        message: error.to_string(),
                    });
                    return;
                }
            }
        }
        let ticket = self.ledger.spawn_started();
        self.spawns_in_flight += 1;
        self.burst = self.burst.max(self.spawns_in_flight);
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let result = spawner.spawn(spec).await;
            if let Err(lost) = sender.send(Message::Spawned { id, ticket, result }) {
                // The task is gone (the daemon is exiting): a child forked
                // now must not outlive it.
                if let Message::Spawned {
                    result: Ok(fds), ..
                } = lost.0
                {
                    let _ = kill::send_signal(fds.pid, libc::SIGKILL, false);
                }
            }
        });
    }

    fn spawned(&mut self, id: ProcId, ticket: SpawnTicket, result: Result<SpawnedFds, SpawnError>) {
        self.spawns_in_flight = self.spawns_in_flight.saturating_sub(1);
        if self.spawns_in_flight == 0 && self.burst >= BURST_TRIM_THRESHOLD {
            self.burst = 0;
            release_free_memory();
        }
        let fds = match result {
            Ok(fds) => fds,
            Err(error) => {
                for settled in self.ledger.spawn_finished(ticket, None) {
                    self.resolved(settled);
                }
                if let Some(proc) = self.procs.get_mut(&id) {
                    proc.lease = None;
                }
                self.feed(
                    id,
                    Input::SpawnFailed {
                        message: error.to_string(),
                    },
                );
                self.settle_waiters(id, true);
                return;
            }
        };
        let pid = fds.pid;
        if !self.procs.contains_key(&id) {
            // Its group was removed while the fork was under way.
            let _ = kill::send_signal(pid, libc::SIGKILL, false);
            for settled in self.ledger.spawn_finished(ticket, None) {
                self.resolved(settled);
            }
            return;
        }
        let settled = self.ledger.spawn_finished(ticket, Some((pid, id)));
        self.attach_output(id, fds);
        self.feed(id, Input::SpawnSucceeded { pid });
        for exit in settled {
            self.resolved(exit);
        }
        self.settle_waiters(id, true);
    }

    /// Keep the new child's stdin and start a pump for each output pipe it
    /// has (a discarded channel has none).
    fn attach_output(&mut self, id: ProcId, fds: SpawnedFds) {
        let pid = fds.pid;
        let main_log = Arc::clone(&self.main_log);
        let publisher = self.shared.publisher.clone();
        let mut hook = self.output_hook.clone();
        let Some(proc) = self.procs.get_mut(&id) else {
            return;
        };
        let mut stdin = fds.stdin;
        if let Some(pool) = &proc.pool {
            let sender = stdin.take().and_then(|fd| {
                pipe::Sender::from_owned_fd(fd)
                    .map_err(|error| {
                        main_log.error(&format!(
                            "unable to watch the stdin pipe of pid {pid}: {error}"
                        ));
                    })
                    .ok()
            });
            // A listener's stdout speaks the event protocol: its output
            // task runs it through the hub (after it is logged as any
            // output), and envelopes go to its stdin from whichever task
            // dispatches them. The pool learns of the spawn before that
            // task can read a READY.
            self.events.listener_spawned(pool, &proc.name, sender);
            let events = Arc::clone(&self.events);
            let (pool, name) = (Arc::clone(pool), Arc::clone(&proc.name));
            let inner = hook.take();
            hook = Some(Arc::new(move |chunk: &output::OutputChunk<'_>| {
                if let Some(inner) = &inner {
                    inner(chunk);
                }
                if chunk.channel == Channel::Stdout {
                    events.listener_output(&pool, &name, chunk.data);
                }
            }));
        }
        for (index, spec) in proc.log_specs.iter().enumerate() {
            if proc.logs[index].is_none()
                && let Some(spec) = spec
            {
                match ChildLog::open(ChildLogSpec::clone(spec), Some(Arc::clone(&main_log))) {
                    Ok(log) => proc.logs[index] = Some(Arc::new(Mutex::new(log))),
                    Err(error) => main_log.error(&error.to_string()),
                }
            }
        }
        proc.stdin = stdin;
        proc.stdin_queue = None;
        let channels = [
            (fds.stdout, Channel::Stdout, 0),
            (fds.stderr, Channel::Stderr, 1),
        ];
        let mut pumps = Vec::with_capacity(2);
        for (fd, channel, index) in channels {
            let Some(fd) = fd else { continue };
            let pipe = match pipe::Receiver::from_owned_fd(fd) {
                Ok(pipe) => pipe,
                Err(error) => {
                    main_log.error(&format!(
                        "unable to watch the {} pipe of pid {pid}: {error}",
                        channel.name()
                    ));
                    continue;
                }
            };
            let to = Destination {
                group: Arc::clone(&proc.group),
                process: Arc::clone(&proc.name),
                pid,
                channel,
                log: proc.logs[index].clone(),
                hook: hook.clone(),
                main_log: Arc::clone(&main_log),
                route: proc.routes[index],
                publisher: publisher.clone(),
            };
            pumps.push(output::pump(pipe, to));
        }
        // Forget the pumps that finished, so the set stays small.
        while self.pumps.try_join_next().is_some() {}
        for pump in pumps {
            self.pumps.spawn(pump);
        }
    }

    /// Listener process `id` (if it is one) was spawned with `stdin`: its
    /// pool expects a READY from it and writes its envelopes there.
    fn reaped(&mut self, exit: Reaped) {
        if let Some(resolved) = self.ledger.reaped(exit) {
            self.resolved(resolved);
        }
    }

    fn resolved(&mut self, resolved: Resolved<ProcId>) {
        match resolved {
            Resolved::Known { owner, reaped } => {
                self.feed(
                    owner,
                    Input::Exited {
                        pid: reaped.pid,
                        status: reaped.status,
                    },
                );
                if let Some(proc) = self.procs.get(&owner)
                    && let Some(pool) = &proc.pool
                {
                    self.events.listener_exited(pool, &proc.name);
                }
                if let Some(proc) = self.procs.get_mut(&owner)
                    && proc.record.pid.is_none()
                {
                    // The last lease going closes the group's socket.
                    proc.lease = None;
                }
            }
            Resolved::Unknown(reaped) => self.log(MainLevel::Info, &reaped.unknown_pid_line()),
        }
    }

    // ---- shutdown ---------------------------------------------------------

    /// One shutdown step: stop the highest-priority group still running,
    /// move to the next the moment it is fully stopped, report who we wait
    /// for. True when nothing is left running.
    fn wind_down(&mut self) -> bool {
        if self.stop_groups.is_none() {
            self.stop_groups = Some(self.groups.iter().map(|g| g.name.clone()).collect());
            self.events.bus().publish(Event::SupervisorStateChange(
                SupervisorStateChange::Stopping,
            ));
        }
        while let Some(name) = self.stop_groups.as_ref().and_then(|g| g.last().cloned()) {
            let Some(group) = self.groups.iter().find(|g| g.name == name) else {
                if let Some(queue) = self.stop_groups.as_mut() {
                    queue.pop();
                }
                continue;
            };
            let mut ids = group.procs.clone();
            ids.reverse();
            for id in ids {
                let state = self.procs.get(&id).map(|p| p.record.state);
                match state {
                    Some(ProcessState::Running | ProcessState::Starting) => {
                        self.feed(id, Input::Stop);
                    }
                    Some(ProcessState::Backoff) => {
                        self.feed(id, Input::GiveUp);
                    }
                    _ => {}
                }
            }
            let group_done = self
                .groups
                .iter()
                .find(|g| g.name == name)
                .is_none_or(|g| !self.group_unstopped(g));
            if !group_done {
                break;
            }
            if let Some(queue) = self.stop_groups.as_mut() {
                queue.pop();
            }
        }
        let unstopped: Vec<ProcId> = self
            .groups
            .iter()
            .flat_map(|g| g.procs.iter().copied())
            .filter(|id| {
                self.procs
                    .get(id)
                    .is_some_and(|p| !p.record.state.is_stopped())
            })
            .collect();
        if unstopped.is_empty() {
            return true;
        }
        let now = Instant::now();
        if self
            .last_report
            .is_none_or(|last| now >= last + SHUTDOWN_REPORT_EVERY)
        {
            self.last_report = Some(now);
            let names: Vec<&str> = unstopped.iter().map(|id| &*self.procs[id].name).collect();
            self.log(
                MainLevel::Info,
                &format!("waiting for {} to die", names.join(", ")),
            );
            for id in &unstopped {
                let proc = &self.procs[id];
                self.log(
                    MainLevel::Blather,
                    &format!("{} state: {}", proc.name, proc.record.state.name()),
                );
            }
        }
        false
    }

    /// Let the output pumps read what the children wrote before they
    /// died. A pipe that a surviving grandchild still holds never ends, so
    /// the wait is bounded.
    async fn drain_output(&mut self) {
        let drained = tokio::time::timeout(PIPE_DRAIN, async {
            while self.pumps.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.pumps.abort_all();
        }
    }

    // ---- the snapshot -----------------------------------------------------

    fn publish(&mut self) {
        let now = Instant::now();
        let urgent = !self.settled.get_mut().is_empty() || self.state != SupervisorState::Running;
        let recent = self
            .last_publish
            .is_some_and(|last| now < last + PUBLISH_EVERY);
        if self.snapshot_dirty && recent && !urgent {
            self.publish_due = self.last_publish.map(|last| last + PUBLISH_EVERY);
        } else {
            if self.snapshot_dirty {
                self.last_publish = Some(now);
            }
            self.publish_due = None;
            self.publish_snapshot();
        }
        self.flush_settled();
    }

    fn publish_snapshot(&mut self) {
        if !self.snapshot_dirty {
            return;
        }
        self.snapshot_dirty = false;
        let mut infos = RVec::with_capacity(self.procs.len());
        for group in &self.groups {
            for id in &group.procs {
                if let Some(proc) = self.procs.get_mut(id) {
                    proc.dirty = false;
                    infos.push(proc.info());
                }
            }
        }
        let previous = self.shared.snapshot.load();
        let specs = if self.layout_dirty {
            self.layout_dirty = false;
            self.spawn_specs()
        } else {
            Arc::clone(&previous.specs)
        };
        self.shared.snapshot.store(Arc::new(Snapshot {
            state: self.state,
            processes: RArc::new(infos),
            specs,
            pending: Arc::clone(&self.pending),
        }));
    }

    /// The spawn specs in the snapshot's process order.
    fn spawn_specs(&self) -> Arc<[Arc<SpawnSpec>]> {
        self.groups
            .iter()
            .flat_map(|g| &g.procs)
            .filter_map(|id| self.procs.get(id).map(|p| Arc::clone(&p.spec)))
            .collect()
    }
}

fn config_info(
    group: &GroupConfig,
    p: &config::ProcessConfig,
    inuse: bool,
    created: [Option<&Path>; 2],
) -> ConfigInfo {
    fn setting(logfile: &LogFile, created: Option<&Path>) -> Setting {
        let text = |path: &Path| Setting::Text(path.to_string_lossy().into_owned().into());
        match (logfile, created) {
            (LogFile::None, _) => Setting::Unset,
            (LogFile::Auto, Some(path)) => text(path),
            (LogFile::Auto, None) => Setting::Auto,
            (LogFile::Path(path), _) => text(path),
        }
    }
    fn channel(log: &config::ChannelLog, created: Option<&Path>) -> ChannelConfig {
        ChannelConfig {
            logfile: setting(&log.logfile, created),
            logfile_backups: log.backups,
            logfile_maxbytes: i64::try_from(log.maxbytes).unwrap_or(i64::MAX),
            capture_maxbytes: i64::try_from(log.capture_maxbytes).unwrap_or(i64::MAX),
            events_enabled: log.events_enabled,
            syslog: log.syslog,
        }
    }
    ConfigInfo {
        name: p.name.as_str().into(),
        group: group.name.as_str().into(),
        inuse,
        autostart: p.autostart,
        directory: p.directory.clone().map(RString::from).into(),
        uid: p.user.as_ref().map(|u| u.uid).into(),
        command: p.command.as_str().into(),
        exitcodes: p.exitcodes.iter().copied().collect(),
        group_prio: group.priority,
        process_prio: p.priority,
        killasgroup: p.killasgroup,
        redirect_stderr: p.redirect_stderr,
        startretries: p.startretries,
        startsecs: p.startsecs,
        stopsignal: p.stopsignal,
        stopwaitsecs: p.stopwaitsecs,
        // `serverurl=AUTO` and no serverurl are both None in the reference.
        serverurl: match &p.serverurl {
            Some(url) => Setting::Text(url.as_str().into()),
            None => Setting::Unset,
        },
        stdout: channel(&p.stdout, created[0]),
        stderr: channel(&p.stderr, created[1]),
    }
}

fn main_level(level: LogLevel) -> MainLevel {
    match level {
        LogLevel::Blather => MainLevel::Blather,
        LogLevel::Trace => MainLevel::Trace,
        LogLevel::Debug => MainLevel::Debug,
        LogLevel::Info => MainLevel::Info,
        LogLevel::Warn => MainLevel::Warn,
        LogLevel::Error => MainLevel::Error,
        LogLevel::Critical => MainLevel::Critical,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The unix signals supervisord acts on (SIGCHLD belongs to the reaper).
/// Install them before the pidfile says the daemon is up, so that a
/// signal sent at once is handled, not fatal.
#[derive(Debug)]
pub struct Signals {
    streams: Vec<(i32, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Install the handlers; needs the runtime (call inside it, or with
    /// its `enter` guard held).
    pub fn install() -> std::io::Result<Signals> {
        let mut streams = Vec::new();
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGHUP,
            libc::SIGUSR2,
        ] {
            streams.push((sig, signal(SignalKind::from_raw(sig))?));
        }
        Ok(Signals { streams })
    }

    /// The next signal received.
    async fn next(&mut self) -> Option<i32> {
        std::future::poll_fn(|cx| {
            for (sig, stream) in &mut self.streams {
                if let std::task::Poll::Ready(Some(())) = stream.poll_recv(cx) {
                    return std::task::Poll::Ready(Some(*sig));
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Start the reaper for the current runtime (see [`reaper::start_reaper`]).
pub fn start_reaper() -> std::io::Result<mpsc::UnboundedReceiver<Reaped>> {
    reaper::start_reaper().map(|(_, exits)| exits)
}

/// Where a snapshot's log file for `channel` of a process is.
pub fn log_path(info: &ProcessInfo, stderr: bool) -> Option<PathBuf> {
    let path = if stderr {
        &info.stderr_logfile
    } else {
        &info.stdout_logfile
    };
    (!path.is_empty()).then(|| PathBuf::from(path.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_found_by_borrowed_names() {
        let mut table: HashMap<NameKey, ProcId> = HashMap::new();
        for (group, name, id) in [("web", "web_0", 1), ("web", "web_1", 2), ("db", "web_0", 3)] {
            table.insert(
                NameKey {
                    group: Arc::from(group),
                    name: Arc::from(name),
                },
                ProcId(id),
            );
        }
        fn find(table: &HashMap<NameKey, ProcId>, group: &str, name: &str) -> Option<ProcId> {
            table.get(&(group, name) as &dyn NamePair).copied()
        }
        assert_eq!(find(&table, "web", "web_1"), Some(ProcId(2)));
        assert_eq!(find(&table, "db", "web_0"), Some(ProcId(3)));
        assert_eq!(find(&table, "db", "web_1"), None);
        // The pair is two names, not one joined string.
        assert_eq!(find(&table, "webw", "eb_0"), None);
        let gone = String::from("web");
        assert_eq!(
            table.remove(&(gone.as_str(), "web_0") as &dyn NamePair),
            Some(ProcId(1))
        );
        assert_eq!(find(&table, "web", "web_0"), None);
    }
}
