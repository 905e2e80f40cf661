//! The ready checks under way (`ready_check`, issue 16): one task per
//! STARTING child with a check, which runs the check (`crate::probes`)
//! until it passes, then tells the supervisor task with
//! [`Message::Ready`] and ends. Between attempts it waits 20 ms, doubling
//! up to a second, so a quick service is seen quickly and a slow one costs
//! one connection a second. The task is cancelled when the process leaves
//! STARTING. No check configured: no task, no timer, nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::handle::Message;
use super::table::ProcId;
use crate::probes::{HealthCheck, NotifySocket, Probe, ReadySignal, check};

/// The longest one attempt may take.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// What the `log:` check (if `probe` is one) of child `pid` of `id` calls
/// when it matches.
pub fn ready_signal(
    probe: Option<&Probe>,
    sender: &mpsc::UnboundedSender<Message>,
    id: ProcId,
    pid: i32,
) -> Option<ReadySignal> {
    if !matches!(probe, Some(Probe::Log(_))) {
        return None;
    }
    let sender = sender.clone();
    Some(Arc::new(move || {
        let _ = sender.send(Message::Ready { id, pid });
    }))
}

/// The running check tasks, by process.
#[derive(Debug, Default)]
pub struct Probes {
    running: HashMap<ProcId, AbortHandle>,
    /// Health checks of RUNNING processes.
    health: HashMap<ProcId, AbortHandle>,
    /// Processes being stopped to be restarted for failing their health
    /// check.
    restarting: HashSet<ProcId>,
    /// Those of them stopped by now, to start again.
    due: Vec<ProcId>,
}

impl Probes {
    /// Check child `pid` of `id` until `probe` passes (replacing a check
    /// of an earlier child).
    pub fn start(
        &mut self,
        id: ProcId,
        pid: i32,
        probe: Arc<Probe>,
        notify: Option<Arc<NotifySocket>>,
        sender: mpsc::UnboundedSender<Message>,
    ) {
        let task = match (&*probe, notify) {
            // Matched on the output as it is read, not polled.
            (Probe::Log(_), _) => return,
            (Probe::Notify, Some(socket)) => tokio::spawn(async move {
                if socket.ready().await.is_ok() {
                    let _ = sender.send(Message::Ready { id, pid });
                }
            }),
            // The socket could not be bound (logged then): never ready.
            (Probe::Notify, None) => return,
            _ => self.poll(id, pid, probe, sender),
        };
        if let Some(earlier) = self.running.insert(id, task.abort_handle()) {
            earlier.abort();
        }
    }

    fn poll(
        &self,
        id: ProcId,
        pid: i32,
        probe: Arc<Probe>,
        sender: mpsc::UnboundedSender<Message>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut pause = FIRST_PAUSE;
            while check(&probe, ATTEMPT_LIMIT).await.is_err() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            let _ = sender.send(Message::Ready { id, pid });
        })
    }

    /// `id` left STARTING: no more checking.
    pub fn stop(&mut self, id: ProcId) {
        if let Some(task) = self.running.remove(&id) {
            task.abort();
        }
    }

    /// `id` is gone: no check, no restart.
    pub fn forget(&mut self, id: ProcId) {
        self.stop(id);
        self.stop_health(id);
        self.restarting.remove(&id);
    }

    /// Whether no check is under way and no restart pending.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty() && self.health.is_empty() && self.restarting.is_empty()
    }

    /// Check the health of child `pid` of `id` every interval; after
    /// `retries` failures in a row, tell the task and end.
    pub fn start_health(
        &mut self,
        id: ProcId,
        pid: i32,
        health: Arc<HealthCheck>,
        sender: mpsc::UnboundedSender<Message>,
    ) {
        let task = tokio::spawn(async move {
            let mut failures = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(health.interval)).await;
                let limit = Duration::from_secs(health.timeout);
                match check(&health.probe, limit).await {
                    Ok(()) => failures = 0,
                    Err(why) => {
                        failures += 1;
                        if failures >= health.retries {
                            let _ = sender.send(Message::Unhealthy { id, pid, why });
                            return;
                        }
                    }
                }
            }
        });
        if let Some(earlier) = self.health.insert(id, task.abort_handle()) {
            earlier.abort();
        }
    }

    /// `id` left RUNNING: no more health checks.
    pub fn stop_health(&mut self, id: ProcId) {
        if let Some(task) = self.health.remove(&id) {
            task.abort();
        }
    }

    /// `id` is being stopped for its health: start it again once stopped.
    pub fn restart_when_stopped(&mut self, id: ProcId) {
        self.restarting.insert(id);
    }

    /// `id` reached a stopped state: queue its restart if one is pending.
    pub fn stopped(&mut self, id: ProcId) {
        if self.restarting.remove(&id) {
            self.due.push(id);
        }
    }

    /// The restarts due now.
    pub fn take_due(&mut self) -> Vec<ProcId> {
        std::mem::take(&mut self.due)
    }

    /// Cancel every check (a restart).
    pub fn clear(&mut self) {
        for (_, task) in self.running.drain().chain(self.health.drain()) {
            task.abort();
        }
        self.restarting.clear();
        self.due.clear();
    }
}
