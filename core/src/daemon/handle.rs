//! The way in to the supervisor task: the [`Request`]s it serves, the
//! [`Handle`] that issues a ticket and sends one, the internal
//! `Message`s its own helpers report with, and the [`Shared`] read side
//! (snapshot, ticket hub, main log). Nothing here changes process state:
//! the task does, when it takes a message.

use std::sync::Arc;

use arc_swap::ArcSwap;
use supervisor_sdk::fault::{Fault, SHUTDOWN_STATE};
use supervisor_sdk::host::{Outcome, Ticket};
use tokio::sync::mpsc;

use super::snapshot::Snapshot;
use super::table::ProcId;
use crate::config::Config;
use crate::events::Publisher;
use crate::logs::MainLog;
use crate::process::reaper::SpawnTicket;
use crate::process::spawn::{SpawnError, SpawnedFds};
use crate::rpc::ticket::TicketHub;

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
    /// Publishes events to the supervisor task's bus from any task; behind
    /// an `Arc` so each output pump holds a pointer, not a copy.
    pub publisher: Arc<Publisher>,
    /// Ticks each time a snapshot is published, so a reader that follows
    /// changes (the systemd notifier) waits on it instead of polling.
    pub published: tokio::sync::watch::Sender<()>,
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
    /// supervisor_twiddler's requests (`super::twiddle`).
    Twiddle {
        request: super::twiddle::TwiddleRequest,
        /// Settled with the answer (at once).
        ticket: Ticket,
    },
    /// Ours: give a program's group `count` processes (`super::changes`).
    Scale {
        /// The group.
        group: String,
        /// How many processes it should have.
        count: i64,
        /// Settled with one line per process started or removed.
        ticket: Ticket,
    },
    /// Ours: read the configuration again and apply it process by process
    /// (`super::changes`); with `dry_run`, only the plan.
    UpdateChanged {
        /// Only say what would be done.
        dry_run: bool,
        /// Settled with one line per process touched.
        ticket: Ticket,
    },
}

/// Internal messages: requests plus what the task's own helpers report.
pub(super) enum Message {
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
    /// The configuration a scale or granular update read.
    ChangeLoaded {
        result: Result<Box<Config>, String>,
    },
    /// The ready check of child `pid` of `id` passed.
    Ready {
        id: ProcId,
        pid: i32,
    },
    /// An `exec:` check's command to run, or news of one.
    Exec(super::execs::ExecMessage),
    /// News from the checks of child `pid` of `id` (a health check's
    /// outcome, a `STATUS=`, a missed watchdog ping).
    Check {
        id: ProcId,
        pid: i32,
        news: crate::probes::CheckNews,
    },
}

/// A cloneable way to talk to the supervisor task and read its snapshot.
#[derive(Clone, Debug)]
pub struct Handle {
    sender: mpsc::UnboundedSender<Message>,
    shared: Arc<Shared>,
}

impl Handle {
    /// A handle sending to `sender`.
    pub(super) fn new(sender: mpsc::UnboundedSender<Message>, shared: Arc<Shared>) -> Handle {
        Handle { sender, shared }
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Request(r) => r.fmt(f),
            Message::SpawnRefused { id, message } => write!(f, "SpawnRefused({id:?}, {message})"),
            Message::Spawned { id, .. } => write!(f, "Spawned({id:?})"),
            Message::Reread { ticket, .. } => write!(f, "Reread({ticket:?})"),
            Message::ChangeLoaded { .. } => f.write_str("ChangeLoaded"),
            Message::Ready { id, pid } => write!(f, "Ready({id:?}, {pid})"),
            Message::Exec(_) => write!(f, "Exec"),
            Message::Check { id, pid, news } => write!(f, "Check({id:?}, {pid}, {news:?})"),
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
