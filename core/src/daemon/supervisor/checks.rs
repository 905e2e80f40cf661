//! The supervisor task's side of the checks (issue 16): starting and
//! cancelling the check tasks (`super::super::probes`) as states change,
//! and acting on their news: a `STATUS=` text or a failed health check
//! shown beside the description (`Notes`), a process restarted through the
//! normal stop path when its health checks failed `health_retries` times
//! in a row or its watchdog ping is late, consecutive such restarts
//! delayed by the program's backoff policy. A part of the task itself (its
//! `impl`), kept apart so the task's file stays within its size budget.

use std::sync::Arc;
use std::time::Duration;

use supervisor_sdk::state::ProcessState;

use super::super::execs::ExecMessage;
use super::super::handle::Message;
use super::super::mode::Mode;
use super::super::table::ProcId;
use super::Supervisor;
use crate::logs::LogLevel as MainLevel;
use crate::probes::CheckNews;
use crate::process::record::backoff_delay;
use crate::process::spawn::StdinSource;
use crate::process::{Input, StateChange};

impl Supervisor {
    /// Start and stop the checks a state change calls for: the ready
    /// check ends with STARTING, the health check runs while RUNNING, a
    /// notify child's socket is read while it is STARTING or RUNNING, and a
    /// health restart starts again once the stop is over.
    pub(super) fn checks_changed(&mut self, id: ProcId, change: &StateChange) {
        let Some(proc) = self.table.get_mut(id) else {
            return;
        };
        if proc.health.is_none() && proc.notes.is_none() && self.probes.is_empty() {
            return;
        }
        let alive = matches!(change.to, ProcessState::Starting | ProcessState::Running);
        if !alive {
            proc.notes = None;
        } else if change.from == ProcessState::Running
            && let Some(notes) = &mut proc.notes
        {
            notes.health = None;
        }
        if change.from == ProcessState::Starting {
            self.probes.stop(id);
        }
        if change.from == ProcessState::Running {
            self.probes.stop_health(id);
        }
        if !alive {
            self.probes.stop_notify(id);
        }
        if let (ProcessState::Running, Some(health), Some(pid)) =
            (change.to, &proc.health, proc.record.pid)
        {
            let (health, sender) = (Arc::clone(health), self.sender.clone());
            self.probes.start_health(id, pid, health, sender);
        }
        if change.to.is_stopped() {
            self.probes.stopped(id);
        }
    }

    /// Begin checking child `pid` of `id` if it has a ready check and is
    /// STARTING.
    pub(super) fn start_probe(&mut self, id: ProcId, pid: i32) {
        let Some(proc) = self.table.get(id) else {
            return;
        };
        if let Some(probe) = &proc.ready
            && proc.record.state == ProcessState::Starting
            && proc.record.pid == Some(pid)
        {
            let notify = proc.notify.clone().map(|s| {
                let watchdog = s.watchdog;
                (s, watchdog)
            });
            self.probes
                .start(id, pid, Arc::clone(probe), notify, self.sender.clone());
        }
    }

    /// What a check task reports about child `pid` of `id`.
    pub(super) fn check_news(&mut self, id: ProcId, pid: i32, news: CheckNews) {
        let Some(proc) = self.table.get_mut(id) else {
            return;
        };
        // A report about an earlier child is late.
        if proc.record.pid != Some(pid) {
            return;
        }
        let state = proc.record.state;
        let alive = matches!(state, ProcessState::Starting | ProcessState::Running);
        match news {
            CheckNews::Status(text) if alive => {
                proc.notes.get_or_insert_default().status = Some(text.into());
                self.publisher.changed();
            }
            CheckNews::Health { failures, why } if state == ProcessState::Running => {
                let retries = proc.health.as_ref().map_or(1, |h| h.retries);
                let notes = proc.notes.get_or_insert_default();
                match why {
                    None => {
                        notes.health = None;
                        self.probes.healthy(id);
                    }
                    Some(why) => {
                        notes.health = Some((failures, retries, why.as_str().into()));
                        if failures >= retries {
                            self.unhealthy(id, pid, &why);
                        }
                    }
                }
                self.publisher.changed();
            }
            CheckNews::WatchdogMissed(secs) if alive => {
                let line = format!(
                    "{} sent no WATCHDOG=1 for {secs} seconds (watchdog_secs)",
                    proc.name
                );
                self.restart_for_health(id, pid, line);
            }
            CheckNews::Pinged => self.probes.healthy(id),
            CheckNews::RestartDue
                if state == ProcessState::Running && self.mode == Mode::Running =>
            {
                self.probes.restart_when_stopped(id);
                self.feed(id, Input::Stop);
            }
            _ => {}
        }
    }

    /// Child `pid` of `id` failed its health check too often: restart it
    /// through the normal stop path, whatever its autorestart says.
    fn unhealthy(&mut self, id: ProcId, pid: i32, why: &str) {
        let Some(proc) = self.table.get(id) else {
            return;
        };
        let Some(health) = &proc.health else {
            return;
        };
        let line = format!(
            "{} failed its health check ({}) {} times in a row, the last time: {why}",
            proc.name, health.probe, health.retries
        );
        self.restart_for_health(id, pid, line);
    }

    /// Restart child `pid` of `id` (health check or watchdog), with a
    /// main-log line starting with `why`: at once the first time, after
    /// the program's backoff delay when the last restart did not help
    /// (no check passed since), so a sick service is not restarted in a
    /// storm.
    fn restart_for_health(&mut self, id: ProcId, pid: i32, why: String) {
        if self.mode != Mode::Running {
            return;
        }
        let n = self.probes.count_restart(id);
        let Some(proc) = self.table.get(id) else {
            return;
        };
        let delay = if n <= 1 {
            Duration::ZERO
        } else {
            backoff_delay(&proc.policy, n - 1)
        };
        if delay.is_zero() {
            self.log(MainLevel::Warn, &format!("{why}; restarting it"));
            self.probes.restart_when_stopped(id);
            self.feed(id, Input::Stop);
        } else {
            let line = format!(
                "{why}; restarting it in {:.1} seconds (health restart {n} in a row)",
                delay.as_secs_f64()
            );
            self.log(MainLevel::Warn, &line);
            self.probes
                .restart_after(id, pid, delay, self.sender.clone());
        }
    }

    /// An `exec:` check's command: run it as its process would run (user,
    /// environment, directory; output discarded), see it forked, or end
    /// it at its time limit.
    pub(super) fn exec_message(&mut self, message: ExecMessage) {
        match message {
            ExecMessage::Run {
                id,
                command,
                limit,
                verdict,
            } => {
                let Some(proc) = self.table.get(id) else {
                    let _ = verdict.send(Err("the process is gone".to_string()));
                    return;
                };
                let mut spec = (*proc.spec).clone();
                spec.command = command.to_string();
                spec.stdin = StdinSource::Pipe;
                (spec.discard_stdout, spec.discard_stderr) = (true, true);
                let key = self.table.next_id();
                self.launcher
                    .launch_check(key, Arc::new(spec), limit, verdict);
            }
            ExecMessage::Spawned {
                key,
                ticket,
                result,
                limit,
                verdict,
            } => {
                let forked = match result {
                    Ok(fds) => {
                        // Its stdin closes here: the command reads EOF.
                        self.execs.started(key, fds.pid, verdict);
                        let sender = self.sender.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(limit).await;
                            let _ =
                                sender.send(Message::Exec(ExecMessage::TimedOut { key, limit }));
                        });
                        Some((fds.pid, key))
                    }
                    Err(error) => {
                        let _ = verdict.send(Err(error.to_string()));
                        None
                    }
                };
                for settled in self.launcher.finished(ticket, forked) {
                    self.resolved(settled);
                }
            }
            ExecMessage::TimedOut { key, limit } => self.execs.timed_out(key, limit),
        }
    }
}
