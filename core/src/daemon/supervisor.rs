//! The supervisor task: the one owner of the process table, the process
//! timers, the waiting commands and the daemon's mode. Its inputs are
//! messages ([`Request`]s from [`Handle`]s, spawn reports from its own
//! spawn tasks), reaped exits from the reaper, timer expiries (process
//! timers, TICKs, the shutdown report) and unix signals, all taken in one
//! `select!`. For each it feeds [`transition`] (or, for the daemon as a
//! whole, [`mode::step`]) and carries out the effects (spawn, kill,
//! timers, main-log lines, events), then, once per batch of messages,
//! publishes a fresh snapshot that readers use without a round trip, and
//! settles the tickets of commands that completed.
//!
//! What it composes, each with its own state and tests: the
//! `ProcessTable` (records and the one name lookup), `Timers`, `Waiters`
//! (commands waiting on a state, and the batch of outcomes), the
//! [`SnapshotPublisher`], the `GroupBuilder`, the shutdown `StopQueue` and
//! the `Launcher` that forks children and accounts for them.
//! The event bus lives in the event hub (`super::listeners`) it shares
//! with the output tasks: it tells the hub when listeners spawn, run and
//! die; listener output and capture blocks reach the pools (and envelopes
//! the listeners) from the output tasks directly.
//!
//! It never blocks: forks run on the spawner threads, child output is
//! read by the output tasks ([`super::output`]), stdin is written by a task
//! per process, configuration files are read on the blocking pool. Timers
//! exist only while something is due, so an idle daemon sleeps. Nothing
//! else may change a process's state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use supervisor_sdk::fault::{
    ALREADY_ADDED, ALREADY_STARTED, BAD_NAME, CANT_REREAD, FAILED, Fault, NO_FILE, NOT_RUNNING,
    SHUTDOWN_STATE,
};
use supervisor_sdk::host::{Outcome, Ticket};
use supervisor_sdk::state::ProcessState;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::attach::{AttachContext, Pumps, attach_output, clear_logs, queue_stdin, reopen_logs};
use super::build;
use super::changes::Changes;
use super::deps::Deps;
use super::execs::Execs;
use super::groups::{GroupBuilder, GroupContext};
use super::handle::{Handle, Message, Request, Shared};
use super::listeners::EventHub;
use super::mode::{self, Mode, ModeEffect, ModeInput, RunEnd};
use super::output::OutputHook;
use super::probes::{Probes, ready_signal};
use super::reread;
use super::shutdown::StopQueue;
use super::signals::Signals;
use super::snapshot::{Snapshot, SnapshotPublisher};
use super::spawns::Launcher;
use super::table::{Proc, ProcId, ProcessTable};
use super::timers::{Timers, sleep_until};
use super::waiters::{Progress, WaitFor, Waiters};
use crate::config::{Config, LoadOptions};
use crate::events::{Event, EventBus, SupervisorStateChange};
use crate::logs::{LogLevel as MainLevel, MainLog};
use crate::plugins::PluginLoader;
use crate::process::reaper::{Reaped, Resolved, SpawnTicket};
use crate::process::spawn::{SpawnError, SpawnedFds};
use crate::process::{Effect, Input, Moment, kill, transition};
use crate::rpc::ticket::TicketHub;

/// What a request answers at once: an outcome, a fault, or nothing yet
/// (its ticket waits on a process).
type Answer = Result<Option<Outcome>, Fault>;

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
    launcher: Launcher,
    table: ProcessTable,
    timers: Timers,
    waiters: Waiters,
    publisher: SnapshotPublisher,
    mode: Mode,
    stopping: StopQueue,
    builder: GroupBuilder,
    /// Events: listener pools, serials, TICKs, listeners' stdin.
    events: Arc<EventHub>,
    bus_inbox: mpsc::UnboundedReceiver<Vec<Event>>,
    pumps: Pumps,
    deps: Deps,
    probes: Probes,
    /// The `exec:` checks' commands running.
    execs: Execs,
    /// The exit status a program's `shutdown_on` asked for.
    exit_status: Option<u8>,
    /// Processes whose state changed, for `deps` to look at.
    deps_changed: Vec<ProcId>,
    /// What `open` answered, when it ran for the coming `run`.
    opened: Option<bool>,
    /// Our scales and granular updates (`supervisor/changes.rs`).
    changes: Changes,
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
            publisher: Arc::new(events.publisher()),
            snapshot: ArcSwap::from_pointee(Snapshot::empty(Arc::clone(&config))),
            hub: Arc::new(TicketHub::new()),
            main_log: Arc::clone(&setup.main_log),
            identifier: ArcSwap::from_pointee(config.supervisord.identifier.clone()),
            published: tokio::sync::watch::Sender::new(()),
        });
        let handle = Handle::new(sender.clone(), Arc::clone(&shared));
        let supervisor = Supervisor {
            shared,
            inbox,
            launcher: Launcher::new(sender.clone()),
            sender,
            pending: Arc::clone(&config),
            config: Arc::clone(&config),
            load_options: setup.load_options,
            main_log: setup.main_log,
            output_hook: setup.output_hook,
            table: ProcessTable::default(),
            timers: Timers::default(),
            waiters: Waiters::default(),
            publisher: SnapshotPublisher::default(),
            mode: Mode::Running,
            stopping: StopQueue::default(),
            builder: GroupBuilder::new(PluginLoader::from_environment()),
            events,
            bus_inbox,
            pumps: Pumps::default(),
            deps: Deps::default(),
            exit_status: None,
            probes: Probes::default(),
            execs: Execs::default(),
            deps_changed: Vec::new(),
            opened: None,
            changes: Changes::default(),
        };
        (supervisor, handle)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether any child of ours is still alive (after a run: none should).
    pub fn live_children(&self) -> usize {
        self.launcher.live_children()
    }

    fn log(&self, level: MainLevel, text: &str) {
        self.main_log.log(level, text);
    }

    /// Start the autostart processes in dependency then priority order
    /// and serve messages until shutdown or restart (creating the groups
    /// first unless `open` did). The reaper must be running: its exits
    /// arrive through `reaped`.
    pub async fn run(
        &mut self,
        reaped: &mut mpsc::UnboundedReceiver<Reaped>,
        signals: &mut Signals,
    ) -> RunEnd {
        if self.opened.is_none() {
            self.open();
        }
        if self.opened.take() != Some(true) {
            return RunEnd::Shutdown;
        }
        self.events
            .bus()
            .publish(Event::SupervisorStateChange(SupervisorStateChange::Running));
        for id in self.table.ids() {
            self.autostart(id);
        }
        self.publish();
        loop {
            if self.mode != Mode::Running
                && self.wind_down()
                && let Some(end) = self.mode_input(ModeInput::AllStopped)
            {
                // The life's last snapshot shows every process stopped.
                self.publisher.urgent();
                self.publish();
                self.pumps.drain().await;
                return match (end, self.exit_status) {
                    (RunEnd::Shutdown, Some(status)) => RunEnd::Exit(status),
                    _ => end,
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
                Some(sig) = signals.next() => {
                    self.mode_input(ModeInput::Signal(sig));
                }
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

    /// Activate group `index` of `source` (the configuration in force or
    /// the pending one) and announce it.
    fn add_group(&mut self, source: &Arc<Config>, index: usize) {
        let cx = GroupContext {
            config: &self.config,
            main_log: &self.main_log,
            events: &self.events,
            hooked: self.output_hook.is_some(),
        };
        let group = self.builder.add(&cx, &mut self.table, source, index);
        self.publisher.layout_changed();
        self.events
            .bus()
            .publish(Event::ProcessGroupAdded { group });
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
            Message::ChangeLoaded { result } => self.change_loaded(result),
            Message::Ready { id, pid } => {
                self.feed(id, Input::Ready { pid });
            }
            Message::Check { id, pid, news } => self.check_news(id, pid, news),
            Message::Exec(message) => self.exec_message(message),
        }
    }

    /// The record of `id`, which a lookup just found.
    fn proc(&self, id: ProcId) -> &Proc {
        self.table
            .get(id)
            .expect("a process found by name stays in the table until its group is removed")
    }

    fn request(&mut self, request: Request) {
        let (ticket, answer) = match request {
            Request::Start {
                group,
                name,
                wait,
                ticket,
            } => (ticket, self.start(&group, &name, wait, ticket)),
            Request::Stop {
                group,
                name,
                wait,
                ticket,
            } => (ticket, self.stop(&group, &name, wait, ticket)),
            Request::Signal {
                group,
                name,
                signal,
                ticket,
            } => (ticket, self.signal(&group, &name, signal)),
            Request::Stdin {
                group,
                name,
                data,
                ticket,
            } => (ticket, self.stdin(&group, &name, data)),
            Request::ClearLogs {
                group,
                name,
                ticket,
            } => (ticket, self.clear_logs(&group, &name)),
            Request::Reread { ticket } => return self.start_reread(ticket),
            Request::AddGroup { name, ticket } => (ticket, self.add_group_request(&name)),
            Request::RemoveGroup { name, ticket } => (ticket, self.remove_group(&name)),
            Request::Shutdown { ticket } => return self.mode_call(ModeInput::ShutdownCall, ticket),
            Request::Restart { ticket } => return self.mode_call(ModeInput::RestartCall, ticket),
            Request::ReopenLogs => return reopen_logs(&self.main_log, self.table.procs()),
            Request::Scale {
                group,
                count,
                ticket,
            } => return self.scale(&group, count, ticket),
            Request::Twiddle { request, ticket } => return self.twiddle(request, ticket),
            Request::UpdateChanged { dry_run, ticket } => {
                return self.update_changed(dry_run, ticket);
            }
        };
        // Every answer given at once is immediate; a waiter's is decided
        // when it settles.
        match answer {
            Ok(Some(outcome)) => self.waiters.complete(ticket, outcome.immediate()),
            Ok(None) => {}
            Err(fault) => self
                .waiters
                .complete(ticket, Outcome::failed(fault).immediate()),
        }
    }

    fn start(&mut self, group: &str, name: &str, wait: bool, ticket: Ticket) -> Answer {
        let id = self.table.find(group, name)?;
        if self.mode != Mode::Running {
            return Err(Fault::bare(SHUTDOWN_STATE));
        }
        // A start a dependent's start began moments ago is joined.
        if self.proc(id).record.state.is_running() && !self.deps.take_pulled(id) {
            return Err(Fault::with(ALREADY_STARTED, self.proc(id).namespec()));
        }
        let until = if wait {
            WaitFor::Started
        } else {
            WaitFor::Spawned
        };
        self.waiters.wait(id, ticket, until);
        self.start_in_order(id);
        self.settle_waiters(id, false);
        Ok(None)
    }

    fn stop(&mut self, group: &str, name: &str, wait: bool, ticket: Ticket) -> Answer {
        let id = self.table.find(group, name)?;
        // Whatever the answer (a stop already under way is NOT_RUNNING, as
        // the reference says), the user wants it stopped: no health restart.
        self.probes.cancel_restart(id);
        let proc = self.proc(id);
        let joined = !self.deps.is_empty()
            && (proc.record.state == ProcessState::Stopping || self.deps.stop_deferred(id));
        // As the reference: STOPPING is not a running state (but a stop
        // already under way for a dependency's sake is joined).
        if !proc.record.state.is_running() && !joined {
            return Err(Fault::with(NOT_RUNNING, proc.namespec()));
        }
        if self.deps.is_empty() {
            if let Some(failure) = self.feed(id, Input::Stop) {
                return Err(Fault::with(FAILED, failure));
            }
        } else if !joined {
            self.stop_in_order(id);
        }
        let proc = self.proc(id);
        if !wait || proc.record.state.is_stopped() {
            return Ok(Some(Outcome::process(proc.info())));
        }
        self.waiters.wait(id, ticket, WaitFor::Stopped);
        Ok(None)
    }

    fn signal(&mut self, group: &str, name: &str, signal: i32) -> Answer {
        let id = self.table.find(group, name)?;
        let proc = self.proc(id);
        if proc.record.pid.is_none() {
            return Err(Fault::with(NOT_RUNNING, proc.namespec()));
        }
        match self.feed(id, Input::Signal(signal)) {
            Some(failure) => Err(Fault::with(FAILED, failure)),
            None => Ok(Some(Outcome::process(self.proc(id).info()))),
        }
    }

    fn stdin(&mut self, group: &str, name: &str, data: Vec<u8>) -> Answer {
        let id = self.table.find(group, name)?;
        let proc = self.proc(id);
        if proc.record.pid.is_none() || proc.record.state.is_stopped() {
            return Err(Fault::with(NOT_RUNNING, proc.namespec()));
        }
        // A full queue is refused like a closed stdin: NO_FILE, "cannot
        // accept input", is the reference's nearest fault.
        let proc = self.table.get_mut(id).ok_or(Fault::bare(NO_FILE))?;
        match queue_stdin(proc, &self.events, data) {
            Ok(()) => Ok(Some(Outcome::process(self.proc(id).info()))),
            Err(refused) => Err(Fault::with(NO_FILE, refused.to_string())),
        }
    }

    fn clear_logs(&mut self, group: &str, name: &str) -> Answer {
        let id = self.table.find(group, name)?;
        let proc = self.proc(id);
        match clear_logs(proc) {
            Err(why) => Err(Fault::with(FAILED, why)),
            Ok(()) => Ok(Some(Outcome::process(proc.info()))),
        }
    }

    fn add_group_request(&mut self, name: &str) -> Answer {
        if self.mode != Mode::Running {
            return Err(Fault::bare(SHUTDOWN_STATE));
        }
        let pending = Arc::clone(&self.pending);
        let Some(index) = pending.groups.iter().position(|g| g.name == name) else {
            return Err(Fault::with(BAD_NAME, name));
        };
        if self.table.group(name).is_some() {
            return Err(Fault::with(ALREADY_ADDED, name));
        }
        self.add_group(&pending, index);
        let ids = self
            .table
            .group(name)
            .map(|g| g.procs.clone())
            .unwrap_or_default();
        self.deps.rebuild(&self.table);
        for id in ids {
            self.autostart(id);
        }
        Ok(Some(Outcome::done()))
    }

    fn remove_group(&mut self, name: &str) -> Answer {
        let (group, procs) = self.table.remove_group(name)?;
        self.events.pool_removed(&group.name);
        self.events.bus().publish(Event::ProcessGroupRemoved {
            group: group.name.clone(),
        });
        for (id, proc) in procs {
            crate::counters::process_removed(&proc.group, &proc.name);
            self.timers.cancel(id);
            self.probes.forget(id);
            self.waiters.fail(id, || Fault::with(BAD_NAME, name));
        }
        self.publisher.layout_changed();
        self.deps.rebuild(&self.table);
        self.changes.forget(name);
        Ok(Some(Outcome::done()))
    }

    fn start_reread(&mut self, ticket: Ticket) {
        let sender = self.sender.clone();
        reread::load_in_background(
            self.config.source.clone(),
            self.load_options.clone(),
            move |result| {
                let _ = sender.send(Message::Reread { ticket, result });
            },
        );
    }

    fn reread_done(&mut self, ticket: Ticket, result: Result<Box<Config>, String>) {
        let mut new = match result {
            Ok(config) => *config,
            Err(why) => {
                return self
                    .waiters
                    .complete(ticket, Outcome::failed(Fault::with(CANT_REREAD, why)));
            }
        };
        let value = reread::changes(&self.changes.file_view(&self.table), &new.groups);
        self.changes.keep_scaled(&self.table, &mut new);
        build::compact(&mut new);
        self.pending = Arc::new(new);
        self.publisher.layout_changed();
        self.waiters.complete(
            ticket,
            Outcome {
                value,
                ..Outcome::done()
            },
        );
    }

    /// `supervisor.shutdown` or `supervisor.restart`: answered done once
    /// begun (or when already under way, as the reference does).
    fn mode_call(&mut self, input: ModeInput, ticket: Option<Ticket>) {
        self.mode_input(input);
        if let Some(ticket) = ticket {
            self.waiters.complete(ticket, Outcome::done().immediate());
        }
    }

    /// Feed the daemon's mode and carry out what it says; how the run
    /// ends, once it does.
    fn mode_input(&mut self, input: ModeInput) -> Option<RunEnd> {
        let (mode, effects) = mode::step(self.mode, input);
        if mode != self.mode {
            self.mode = mode;
            self.publisher.changed();
            let released = self.deps.release_all();
            self.steps(released);
        }
        let mut end = None;
        for effect in effects {
            match effect {
                ModeEffect::Log(level, text) => self.log(level, &text),
                ModeEffect::ReopenLogs => reopen_logs(&self.main_log, self.table.procs()),
                ModeEffect::End(how) => end = Some(how),
            }
        }
        end
    }

    // ---- the state machine ----------------------------------------------

    /// Feed `input` to a process and carry out every effect, feeding back
    /// kill failures at once. Returns the text of a command failure.
    fn feed(&mut self, id: ProcId, input: Input) -> Option<String> {
        let mut inputs = VecDeque::from([input]);
        let mut failure = None;
        let mood = self.mode.mood();
        while let Some(input) = inputs.pop_front() {
            let Some(proc) = self.table.get_mut(id) else {
                return failure;
            };
            let (record, effects) =
                transition(&proc.record, input, Moment::now(), &proc.policy, mood);
            proc.record = record;
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
                    Effect::ArmTimer { kind, at } => self.timers.arm(id, Some((at, kind))),
                    Effect::CancelTimer => self.timers.arm(id, None),
                    Effect::StateChanged(change) => self.state_changed(id, change),
                    Effect::Log { level, text } => self.log(level, &text),
                    Effect::CommandFailed(text) => failure = Some(text),
                    Effect::EndDaemon(status) => {
                        // The first program to end the daemon decides its status.
                        self.exit_status.get_or_insert(status);
                        self.mode_input(ModeInput::ShutdownCall);
                    }
                }
            }
        }
        self.publisher.changed();
        self.stopping.fed(id);
        self.settle_waiters(id, false);
        self.drain_deps();
        failure
    }

    /// A process's state changed: its stdin goes with its child, and the
    /// event hub hears of it.
    fn state_changed(&mut self, id: ProcId, change: crate::process::StateChange) {
        let Some(proc) = self.table.get_mut(id) else {
            return;
        };
        if proc.record.pid.is_none() && !proc.record.spawning {
            // The child is gone: its stdin goes with it.
            proc.stdin = None;
            proc.stdin_queue = None;
        }
        self.events
            .process_changed(&proc.group, &proc.name, proc.pool.as_deref(), &change);
        if !self.deps.is_empty() {
            self.deps_changed.push(id);
        }
        self.checks_changed(id, &change);
    }

    /// The first of: a process timer, a TICK, a shutdown report, a
    /// deferred publish.
    fn next_deadline(&mut self) -> Option<Instant> {
        let tick = self
            .events
            .bus()
            .tick_sleep(SystemTime::now())
            .map(|wait| Instant::now() + wait);
        [
            self.timers.next(),
            tick,
            self.stopping.report_due(),
            self.publisher.due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn fire_timers(&mut self) {
        self.events.bus().tick(SystemTime::now());
        let now = Instant::now();
        while let Some((id, kind)) = self.timers.pop_due(now) {
            self.feed(id, Input::Timer(kind));
        }
    }

    /// Complete the commands waiting on `id` that its state now satisfies.
    /// `spawn_step` is true while handling the spawn report.
    fn settle_waiters(&mut self, id: ProcId, spawn_step: bool) {
        let Some(proc) = self.table.get(id) else {
            return;
        };
        let progress = Progress {
            held: self.deps.is_held(id),
            state: proc.record.state,
            spawning: proc.record.spawning,
            spawn_step,
            starts_at_once: proc.policy.startsecs == 0,
        };
        self.waiters.settle(id, progress, || proc.info());
    }

    // ---- spawning and reaping ------------------------------------------

    fn spawn(&mut self, id: ProcId) {
        if let Some(proc) = self.table.get_mut(id) {
            self.launcher.launch(id, proc);
        }
    }

    fn spawned(&mut self, id: ProcId, ticket: SpawnTicket, result: Result<SpawnedFds, SpawnError>) {
        let fds = match result {
            Ok(fds) => fds,
            Err(error) => {
                for settled in self.launcher.finished(ticket, None) {
                    self.resolved(settled);
                }
                if let Some(proc) = self.table.get_mut(id) {
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
        if !self.table.contains(id) {
            // Its group was removed while the fork was under way.
            let _ = kill::send_signal(pid, libc::SIGKILL, false);
            for settled in self.launcher.finished(ticket, None) {
                self.resolved(settled);
            }
            return;
        }
        let settled = self.launcher.finished(ticket, Some((pid, id)));
        if let Some(proc) = self.table.get_mut(id) {
            let cx = AttachContext {
                main_log: &self.main_log,
                publisher: &self.shared.publisher,
                hook: &self.output_hook,
                events: &self.events,
                ready: ready_signal(proc.ready.as_deref(), &self.sender, id, pid),
            };
            self.pumps.run(attach_output(proc, fds, &cx));
        }
        self.feed(id, Input::SpawnSucceeded { pid });
        self.start_probe(id, pid);
        for exit in settled {
            self.resolved(exit);
        }
        self.settle_waiters(id, true);
    }

    fn reaped(&mut self, exit: Reaped) {
        if let Some(resolved) = self.launcher.reaped(exit) {
            self.resolved(resolved);
        }
    }

    fn resolved(&mut self, resolved: Resolved<ProcId>) {
        match resolved {
            Resolved::Known { owner, reaped } if self.execs.exited(owner, reaped.status) => {}
            Resolved::Known { owner, reaped } => {
                self.feed(
                    owner,
                    Input::Exited {
                        pid: reaped.pid,
                        status: reaped.status,
                    },
                );
                if let Some(proc) = self.table.get(owner)
                    && let Some(pool) = &proc.pool
                {
                    self.events.listener_exited(pool, &proc.name);
                }
                if let Some(proc) = self.table.get_mut(owner)
                    && proc.record.pid.is_none()
                {
                    // The last lease going closes the group's socket.
                    proc.lease = None;
                }
            }
            Resolved::Unknown(r) => self.log(r.unknown_pid_level(), &r.unknown_pid_line()),
        }
    }

    /// Publish the snapshot if due, then hand out the batch's outcomes:
    /// a waiter reads a snapshot at least as fresh as its outcome.
    fn publish(&mut self) {
        self.change_progress();
        // A change of the daemon's state is urgent too (the publisher
        // sees it); a wind-down's stream of exits is not, or each of
        // thousands would rebuild the whole snapshot.
        let urgent = self.waiters.has_settled();
        let now = self.before_publish(urgent);
        let published = self.publisher.publish(
            now,
            urgent,
            &self.shared.snapshot,
            self.mode.state(),
            &self.table,
            &self.pending,
        );
        if published {
            self.shared.published.send_replace(());
        }
        for (ticket, outcome) in self.waiters.take_settled() {
            self.shared.hub.complete(ticket, outcome);
        }
    }
}

mod changes;
mod checks;
mod order;
mod twiddle;

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
