//! The `exec:` checks' commands under way (`ready_check` and
//! `health_check = exec:COMMAND`, issue 16). A check's command is a child
//! of the daemon like any other: the reaper collects every child, so only
//! the supervisor task may start one (through the spawner and the pid
//! ledger) and learn its exit. This holds the commands started and not yet
//! ended, each with the check task waiting for its verdict: exit 0 passes,
//! anything else fails, and one still running at its time limit is killed
//! (SIGKILL to its process group) and fails; the reaper then collects it,
//! so it never stays a zombie. It starts nothing itself and sends no
//! message; `supervisor/checks.rs` does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::table::ProcId;
use crate::process::ExitCause;
use crate::process::kill;
use crate::process::reaper::SpawnTicket;
use crate::process::spawn::{SpawnError, SpawnedFds};

/// Where a check task waits for its command's verdict.
pub type Verdict = oneshot::Sender<Result<(), String>>;

/// What the `exec:` checks tell the supervisor task.
pub enum ExecMessage {
    /// Run `command` for process `id`'s check, within `limit`.
    Run {
        /// The process whose check it is.
        id: ProcId,
        /// The command line (split as `command` is).
        command: Arc<str>,
        /// How long it may run.
        limit: Duration,
        /// Where the verdict goes.
        verdict: Verdict,
    },
    /// The spawner forked (or failed to fork) the command of `key`.
    Spawned {
        /// The command's own key in the pid ledger.
        key: ProcId,
        /// The ledger's ticket for the fork.
        ticket: SpawnTicket,
        /// The fork's outcome.
        result: Result<SpawnedFds, SpawnError>,
        /// How long it may run.
        limit: Duration,
        /// Where the verdict goes.
        verdict: Verdict,
    },
    /// The time limit of `key`'s command is over.
    TimedOut {
        /// The command's key.
        key: ProcId,
        /// The limit it had.
        limit: Duration,
    },
}

/// The check commands running, by their key in the pid ledger.
#[derive(Default)]
pub struct Execs {
    running: HashMap<ProcId, (i32, Verdict)>,
}

impl Execs {
    /// Command `key` runs as `pid`.
    pub fn started(&mut self, key: ProcId, pid: i32, verdict: Verdict) {
        self.running.insert(key, (pid, verdict));
    }

    /// A reaped child belonged to `key`: if it is a check's command, give
    /// its verdict and say so.
    pub fn exited(&mut self, key: ProcId, status: i32) -> bool {
        let Some((_, verdict)) = self.running.remove(&key) else {
            return false;
        };
        let outcome = match ExitCause::from_raw(status) {
            ExitCause::Exited(0) => Ok(()),
            cause => Err(format!("the command ended with {cause}")),
        };
        let _ = verdict.send(outcome);
        true
    }

    /// `key`'s time is over: kill it if it still runs (its exit is then
    /// collected as any other, and ignored).
    pub fn timed_out(&mut self, key: ProcId, limit: Duration) {
        let Some((pid, verdict)) = self.running.remove(&key) else {
            return;
        };
        // The command leads a process group of its own: what it started
        // goes with it.
        let _ = kill::send_signal(pid, libc::SIGKILL, true);
        let why = format!("the command ran over {} s and was killed", limit.as_secs());
        let _ = verdict.send(Err(why));
    }

    /// Every command still running: killed (the daemon winds down).
    pub fn clear(&mut self) {
        for (_, (pid, verdict)) in self.running.drain() {
            let _ = kill::send_signal(pid, libc::SIGKILL, true);
            let _ = verdict.send(Err("the daemon is stopping".to_string()));
        }
    }
}
