//! The checks under way (`ready_check`, `health_check`, `watchdog_secs`,
//! issue 16): one task per STARTING child with a polled ready check, which
//! runs the check (`crate::probes`) until it passes, then tells the
//! supervisor task with [`Message::Ready`] and ends. Between attempts it
//! waits 20 ms, doubling up to a second, so a quick service is seen
//! quickly and a slow one costs one connection a second. A `notify` child
//! has a task reading its socket for as long as it runs (`READY=1`,
//! `STATUS=`, `WATCHDOG=1` pings and their deadline); a RUNNING child
//! with a health check has a task checking it every interval. Each tells
//! the supervisor task what it learns ([`CheckNews`]) and is cancelled
//! when the process leaves the state it serves. No check configured: no
//! task, no timer, nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::execs::ExecMessage;
use super::handle::Message;
use super::table::ProcId;
use crate::probes::{
    CheckNews, HealthCheck, NotifyMessage, NotifySocket, Probe, ReadySignal, check,
};

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
    /// The socket readers of `notify` children, for the child's life.
    notify: HashMap<ProcId, AbortHandle>,
    /// Health restarts in a row (a passing check resets it): what the
    /// backoff policy delays the next one by.
    health_restarts: HashMap<ProcId, u32>,
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
    /// of an earlier child); a `notify` child's socket is read for as
    /// long as it runs, its pings expected every `watchdog` seconds once
    /// it is ready.
    pub fn start(
        &mut self,
        id: ProcId,
        pid: i32,
        probe: Arc<Probe>,
        notify: Option<(Arc<NotifySocket>, Option<u64>)>,
        sender: mpsc::UnboundedSender<Message>,
    ) {
        let task = match (&*probe, notify) {
            // Matched on the output as it is read, not polled.
            (Probe::Log(_), _) => return,
            (Probe::Notify, Some((socket, watchdog))) => {
                let task = tokio::spawn(read_notify(id, pid, socket, watchdog, sender));
                if let Some(earlier) = self.notify.insert(id, task.abort_handle()) {
                    earlier.abort();
                }
                return;
            }
            // The socket could not be bound (logged then): never ready.
            (Probe::Notify, None) => return,
            _ => self.poll(id, pid, probe, sender),
        };
        if let Some(earlier) = self.running.insert(id, task.abort_handle()) {
            earlier.abort();
        }
    }

    /// `id`'s child is no longer STARTING or RUNNING: its socket is not
    /// read any more (what it sends meanwhile is drained at the next
    /// spawn).
    pub fn stop_notify(&mut self, id: ProcId) {
        if let Some(task) = self.notify.remove(&id) {
            task.abort();
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
            while attempt(&probe, ATTEMPT_LIMIT, id, &sender).await.is_err() {
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
        self.stop_notify(id);
        self.restarting.remove(&id);
        self.health_restarts.remove(&id);
    }

    /// Whether no check is under way and no restart pending.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
            && self.health.is_empty()
            && self.notify.is_empty()
            && self.restarting.is_empty()
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
            let mut passed = false;
            let tell = |news| sender.send(Message::Check { id, pid, news }).is_ok();
            loop {
                tokio::time::sleep(Duration::from_secs(health.interval)).await;
                let limit = Duration::from_secs(health.timeout);
                match attempt(&health.probe, limit, id, &sender).await {
                    // The first pass, and a pass after failures, are news.
                    Ok(()) if failures > 0 || !passed => {
                        (failures, passed) = (0, true);
                        if !tell(CheckNews::Health {
                            failures,
                            why: None,
                        }) {
                            return;
                        }
                    }
                    Ok(()) => {}
                    Err(why) => {
                        failures += 1;
                        let why = Some(why);
                        if !tell(CheckNews::Health { failures, why }) || failures >= health.retries
                        {
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

    /// A health check of `id` passed: its next health restart is not
    /// delayed.
    pub fn healthy(&mut self, id: ProcId) {
        self.health_restarts.remove(&id);
    }

    /// `id` is to be restarted for its health: how many health restarts in
    /// a row this one is (1 for the first).
    pub fn count_restart(&mut self, id: ProcId) -> u32 {
        let n = self.health_restarts.entry(id).or_default();
        *n = n.saturating_add(1);
        *n
    }

    /// Restart child `pid` of `id` after `delay` (the backoff policy's),
    /// unless it leaves RUNNING first (the wait takes the health task's
    /// slot, which leaving RUNNING cancels).
    pub fn restart_after(
        &mut self,
        id: ProcId,
        pid: i32,
        delay: Duration,
        sender: mpsc::UnboundedSender<Message>,
    ) {
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let news = CheckNews::RestartDue;
            let _ = sender.send(Message::Check { id, pid, news });
        });
        if let Some(earlier) = self.health.insert(id, task.abort_handle()) {
            earlier.abort();
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

    /// A user stopped `id`: a health restart waiting for a stop is called
    /// off (the user's stop wins over the check's restart).
    pub fn cancel_restart(&mut self, id: ProcId) {
        self.restarting.remove(&id);
        self.due.retain(|due| *due != id);
    }

    /// The restarts due now.
    pub fn take_due(&mut self) -> Vec<ProcId> {
        std::mem::take(&mut self.due)
    }

    /// Cancel every check (a restart).
    pub fn clear(&mut self) {
        let tasks = self.running.drain().chain(self.health.drain());
        for (_, task) in tasks.chain(self.notify.drain()) {
            task.abort();
        }
        self.restarting.clear();
        self.due.clear();
        self.health_restarts.clear();
    }
}

/// Run `probe` once for `id`: an `exec:` command through the supervisor
/// task (the one owner of children), any other check here.
async fn attempt(
    probe: &Probe,
    limit: Duration,
    id: ProcId,
    sender: &mpsc::UnboundedSender<Message>,
) -> Result<(), String> {
    let Probe::Exec(command) = probe else {
        return check(probe, limit).await;
    };
    let (verdict, answer) = tokio::sync::oneshot::channel();
    let run = ExecMessage::Run {
        id,
        command: Arc::from(command.as_str()),
        limit,
        verdict,
    };
    if sender.send(Message::Exec(run)).is_err() {
        return Err("the daemon is stopping".to_string());
    }
    answer
        .await
        .unwrap_or_else(|_| Err("the daemon is stopping".to_string()))
}

/// Read what a `notify` child sends for as long as it runs: `READY=1`
/// (once), each `STATUS=`, and, with `watchdog` seconds and once it is
/// ready, a `WATCHDOG=1` at least that often (a missed one is reported,
/// and the task ends).
async fn read_notify(
    id: ProcId,
    pid: i32,
    socket: Arc<NotifySocket>,
    watchdog: Option<u64>,
    sender: mpsc::UnboundedSender<Message>,
) {
    let Ok(socket) = socket.receiver() else {
        return;
    };
    let tell = |news| sender.send(Message::Check { id, pid, news }).is_ok();
    let (mut ready, mut pinged) = (false, false);
    let mut buf = vec![0u8; 4096];
    loop {
        let received = match (ready, watchdog) {
            (true, Some(secs)) => {
                let limit = Duration::from_secs(secs);
                match tokio::time::timeout(limit, socket.recv(&mut buf)).await {
                    Ok(received) => received,
                    Err(_) => {
                        tell(CheckNews::WatchdogMissed(secs));
                        return;
                    }
                }
            }
            _ => socket.recv(&mut buf).await,
        };
        let Ok(n) = received else { return };
        let message = NotifyMessage::parse(&buf[..n]);
        if let Some(text) = message.status
            && !tell(CheckNews::Status(text))
        {
            return;
        }
        if message.ready && !ready {
            ready = true;
            if sender.send(Message::Ready { id, pid }).is_err() {
                return;
            }
        }
        if message.watchdog && ready && !pinged {
            pinged = true;
            if !tell(CheckNews::Pinged) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::table::ProcessTable;

    #[test]
    fn a_users_stop_calls_off_a_pending_health_restart() {
        let mut table = ProcessTable::default();
        let (sick, other) = (table.next_id(), table.next_id());
        let mut probes = Probes::default();
        // The stop was the check's own: the restart follows it.
        probes.restart_when_stopped(sick);
        probes.stopped(sick);
        assert_eq!(probes.take_due(), [sick]);
        // A user's stop arrives while the check's stop is under way, or
        // once it is over and the restart is queued: no restart either way.
        probes.restart_when_stopped(sick);
        probes.cancel_restart(sick);
        probes.stopped(sick);
        probes.restart_when_stopped(other);
        probes.stopped(other);
        probes.restart_when_stopped(sick);
        probes.stopped(sick);
        probes.cancel_restart(sick);
        assert_eq!(probes.take_due(), [other]);
        assert!(probes.is_empty());
    }
}
