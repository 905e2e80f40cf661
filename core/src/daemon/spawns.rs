//! Handing processes to the [`Spawner`] threads and keeping account of
//! the children: the pid ledger (which exit belongs to which process,
//! even when it is reaped before its fork is reported), the fcgi socket
//! lease a child gets as fd 0, and the burst count that trims memory once
//! a burst of spawns is over. Spawn outcomes come back to the task as
//! [`Message`]s; this never feeds the state machine.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::execs::{ExecMessage, Verdict};
use super::handle::Message;
use super::memory::SpawnBurst;
use super::table::{Proc, ProcId};
use crate::process::kill;
use crate::process::reaper::{PidLedger, Reaped, Resolved, SpawnTicket};
use crate::process::spawn::{SpawnSpec, Spawner, StdinSource};

/// Starts children and accounts for them.
pub struct Launcher {
    spawner: Option<Spawner>,
    ledger: PidLedger<ProcId>,
    burst: SpawnBurst,
    /// Where spawn reports go: the task's own inbox.
    reports: mpsc::UnboundedSender<Message>,
}

impl Launcher {
    pub fn new(reports: mpsc::UnboundedSender<Message>) -> Launcher {
        Launcher {
            spawner: None,
            ledger: PidLedger::new(),
            burst: SpawnBurst::default(),
            reports,
        }
    }

    /// Start the spawner threads unless they run already.
    pub fn ensure_spawner(&mut self) -> std::io::Result<()> {
        if self.spawner.is_none() {
            self.spawner = Some(Spawner::new(2)?);
        }
        Ok(())
    }

    /// How many children of ours are alive.
    pub fn live_children(&self) -> usize {
        self.ledger.live_children()
    }

    /// Fork `proc` (process `id`) on the spawner threads; the outcome
    /// comes back as [`Message::Spawned`], or [`Message::SpawnRefused`]
    /// when its fcgi socket cannot be had.
    pub fn launch(&mut self, id: ProcId, proc: &mut Proc) {
        crate::counters::process_started(&proc.group, &proc.name);
        if let Some(notify) = &proc.notify {
            // What an earlier child sent must not make this one ready.
            notify.drain();
        }
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
                    let _ = self.reports.send(Message::SpawnRefused {
                        id,
                        message: error.to_string(),
                    });
                    return;
                }
            }
        }
        let ticket = self.ledger.spawn_started();
        self.burst.started();
        let sender = self.reports.clone();
        // Reported straight from the spawner thread (see `Spawner::submit`).
        spawner.submit(
            spec,
            Box::new(move |result| {
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
            }),
        );
    }

    /// Fork an `exec:` check's command (`key`, a ledger key of its own)
    /// as `spec` says; the outcome comes back as [`ExecMessage::Spawned`].
    /// Its exit resolves to `key` like any child's.
    pub fn launch_check(
        &mut self,
        key: ProcId,
        spec: Arc<SpawnSpec>,
        limit: std::time::Duration,
        verdict: Verdict,
    ) {
        let Some(spawner) = self.spawner.clone() else {
            let _ = verdict.send(Err("the spawner is not running".to_string()));
            return;
        };
        let ticket = self.ledger.spawn_started();
        self.burst.started();
        let sender = self.reports.clone();
        tokio::spawn(async move {
            let result = spawner.spawn(spec).await;
            let message = ExecMessage::Spawned {
                key,
                ticket,
                result,
                limit,
                verdict,
            };
            if let Err(lost) = sender.send(Message::Exec(message))
                && let Message::Exec(ExecMessage::Spawned {
                    result: Ok(fds), ..
                }) = lost.0
            {
                let _ = kill::send_signal(fds.pid, libc::SIGKILL, true);
            }
        });
    }

    /// The spawn of `ticket` was reported: `forked` is the child and its
    /// owner, `None` when there is none to keep (the fork failed, or its
    /// process went meanwhile). The exits this lets resolve.
    pub fn finished(
        &mut self,
        ticket: SpawnTicket,
        forked: Option<(i32, ProcId)>,
    ) -> Vec<Resolved<ProcId>> {
        self.burst.finished();
        self.ledger.spawn_finished(ticket, forked)
    }

    /// A child was reaped: whose it was, once that is known.
    pub fn reaped(&mut self, exit: Reaped) -> Option<Resolved<ProcId>> {
        self.ledger.reaped(exit)
    }
}
