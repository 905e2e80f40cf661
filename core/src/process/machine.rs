//! The per-process state machine, as one pure function: [`transition`] takes
//! a process's record, one input (a command, a spawn report, an exit, a
//! timer), the current moment and the process's [`Policy`], and returns the
//! new record plus the [`Effect`]s the supervisor task must carry out
//! (spawn, signal, arm a timer, publish a state event, log a line).
//!
//! It mirrors the reference's `Subprocess` (`spawn`, `kill`, `finish`,
//! `transition`, `give_up`), but where the reference polls once a second
//! this machine asks for a timer exactly when something becomes due
//! (startsecs, backoff, stopwaitsecs), so an idle daemon sleeps and a due
//! transition happens at once. It performs no I/O, reads no clock and knows
//! nothing of the config file: the caller builds the [`Policy`].

use std::time::Duration;

use supervisor_sdk::signal::signame;
use supervisor_sdk::state::ProcessState;
use tokio::time::Instant;

use super::exit::ExitCause;
pub use super::record::{
    AutoRestart, BackoffKind, BackoffPolicy, KillPurpose, Moment, Mood, Policy, ProcessRecord,
    ShutdownOn, TimerKind, backoff_delay,
};

/// Something that happened to a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The daemon starts its processes (or a group was added): start this
    /// one if it has `autostart` and was never started.
    Autostart,
    /// An explicit start (`startProcess`). The RPC layer refuses it in
    /// RUNNING, STARTING and BACKOFF before it gets here.
    Start,
    /// An explicit stop (`stopProcess`, shutdown, update).
    Stop,
    /// Shutdown's treatment of a BACKOFF process: straight to FATAL.
    GiveUp,
    /// `signalProcess` with this signal number.
    Signal(i32),
    /// The spawner forked the child.
    SpawnSucceeded {
        /// The new child's pid.
        pid: i32,
    },
    /// The spawner could not fork the child; `message` is the spawnerr
    /// text (see `SpawnError`).
    SpawnFailed {
        /// The spawnerr text.
        message: String,
    },
    /// The reaper collected `pid` with this raw wait status. Feed it only
    /// after the [`Input::SpawnSucceeded`] that reported the pid (the
    /// reaper's `PidLedger` holds early exits for that).
    Exited {
        /// The child that ended.
        pid: i32,
        /// Its raw `waitpid` status.
        status: i32,
    },
    /// The armed timer of this kind fired.
    Timer(TimerKind),
    /// Carrying out [`Effect::Kill`] failed with this errno.
    KillFailed {
        /// The pid the signal was for.
        pid: i32,
        /// What `kill(2)` failed with.
        errno: i32,
        /// Why the signal was sent (from the effect).
        purpose: KillPurpose,
    },
    /// A start waits for the processes this one depends on (`depends_on`):
    /// `Some` says what it waits for (shown as its description), `None`
    /// ends the wait. Only a process without a child takes it; no event,
    /// as the state stays.
    Waiting(Option<String>),
    /// The ready check of the child `pid` passed.
    Ready {
        /// The child that was checked.
        pid: i32,
    },
    /// A dependency this process's start waits for went FATAL: so does
    /// this one (from STOPPED, EXITED or FATAL), with the text as its
    /// spawn error.
    DependencyFailed(String),
}

/// The main log's levels, which [`Effect::Log`] lines carry: the one
/// definition is the config layer's (`loglevel`).
pub use crate::config::types::LogLevel;

/// One state change, with the values its `PROCESS_STATE_*` event carries,
/// captured at the moment of the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// The state left.
    pub from: ProcessState,
    /// The state entered.
    pub to: ProcessState,
    /// Only meaningful for EXITED: the exit status was in `exitcodes`.
    pub expected: bool,
    /// The backoff counter (`tries`).
    pub tries: u32,
    /// The child's pid (for STOPPED/EXITED: the one that just died).
    pub pid: Option<i32>,
}

/// What the supervisor task must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Hand the process's spawn spec to the spawner; report back with
    /// [`Input::SpawnSucceeded`] or [`Input::SpawnFailed`].
    Spawn,
    /// Send `signal` to `pid` (to its process group when `group`); on
    /// failure report [`Input::KillFailed`].
    Kill {
        /// The child (its group is `-pid`).
        pid: i32,
        /// The signal number.
        signal: i32,
        /// Signal the whole process group.
        group: bool,
        /// Echoed back in [`Input::KillFailed`].
        purpose: KillPurpose,
    },
    /// Arm the process's timer, replacing any armed one.
    ArmTimer {
        /// Echoed back in [`Input::Timer`].
        kind: TimerKind,
        /// When it is due.
        at: Instant,
    },
    /// Disarm the process's timer.
    CancelTimer,
    /// Publish the matching `PROCESS_STATE_*` event and a new snapshot.
    StateChanged(StateChange),
    /// Write a line to the main log.
    Log {
        /// The main-log level.
        level: LogLevel,
        /// The message, without the time and level prefix.
        text: String,
    },
    /// The command that caused this input failed; the text is the
    /// reference's (it becomes the RPC fault's text).
    CommandFailed(String),
    /// `shutdown_on` fired: supervisord shuts down (stopping everything in
    /// order) and exits with this status.
    EndDaemon(u8),
}

/// Feed one input to a process and get its new record and the effects.
pub fn transition(
    record: &ProcessRecord,
    input: Input,
    at: Moment,
    policy: &Policy,
    mood: Mood,
) -> (ProcessRecord, Vec<Effect>) {
    let mut step = Step {
        rec: record.clone(),
        effects: Vec::new(),
        policy,
        at,
        mood,
    };
    step.apply(input);
    (step.rec, step.effects)
}

struct Step<'a> {
    rec: ProcessRecord,
    effects: Vec<Effect>,
    policy: &'a Policy,
    at: Moment,
    mood: Mood,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Step<'_> {
    fn apply(&mut self, input: Input) {
        match input {
            Input::Autostart => {
                if self.rec.state == ProcessState::Stopped
                    && self.rec.laststart.is_none()
                    && self.policy.autostart
                    && self.mood == Mood::Running
                {
                    self.spawn();
                }
            }
            Input::Start => self.spawn(),
            Input::Stop => self.stop(),
            Input::GiveUp => {
                if self.rec.state == ProcessState::Backoff {
                    self.give_up();
                }
            }
            Input::Signal(signal) => self.signal(signal),
            Input::SpawnSucceeded { pid } => self.spawn_succeeded(pid),
            Input::SpawnFailed { message } => self.spawn_failed(message),
            Input::Exited { pid, status } => {
                if self.rec.pid == Some(pid) {
                    self.finish(status);
                }
            }
            Input::Timer(kind) => self.timer(kind),
            Input::KillFailed {
                pid,
                errno,
                purpose,
            } => {
                if self.rec.pid == Some(pid) {
                    self.kill_failed(pid, errno, purpose);
                }
            }
            Input::Ready { pid } => {
                if self.policy.ready_check
                    && self.rec.pid == Some(pid)
                    && self.rec.state == ProcessState::Starting
                {
                    self.rec.ready = true;
                    let started = self.rec.laststart.unwrap_or(self.at.instant);
                    if self.at.instant >= started + secs(self.policy.startsecs) {
                        self.effects.push(Effect::CancelTimer);
                        self.promote();
                    }
                }
            }
            Input::Waiting(what) => {
                if self.idle() {
                    self.rec.spawnerr = what;
                }
            }
            Input::DependencyFailed(why) => {
                if self.idle() {
                    let text = format!("gave up: {} entered FATAL state, {why}", self.name());
                    self.rec.spawnerr = Some(why);
                    self.rec.deadline = None;
                    self.rec.backoff = 0;
                    self.change_state(ProcessState::Fatal, true);
                    self.log(LogLevel::Info, text);
                    self.shutdown_on(ShutdownOn::Fatal, 1);
                }
            }
        }
    }

    /// No child and none on the way, in a state a start may leave.
    fn idle(&self) -> bool {
        self.rec.pid.is_none()
            && !self.rec.spawning
            && matches!(
                self.rec.state,
                ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal
            )
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.effects.push(Effect::Log { level, text });
    }

    fn name(&self) -> &str {
        &self.policy.name
    }

    /// The reference's `change_state`: no event when nothing changes;
    /// entering BACKOFF counts a failure and sets the retry delay to as many
    /// seconds as there were consecutive failures.
    fn change_state(&mut self, to: ProcessState, expected: bool) {
        let from = self.rec.state;
        if from == to {
            return;
        }
        self.rec.state = to;
        if to == ProcessState::Backoff {
            self.rec.backoff = self.rec.backoff.saturating_add(1);
            let delay = backoff_delay(self.policy, self.rec.backoff);
            self.rec.deadline = Some(self.at.instant + delay);
        }
        self.effects.push(Effect::StateChanged(StateChange {
            from,
            to,
            expected,
            tries: self.rec.backoff,
            pid: self.rec.pid,
        }));
    }

    /// `Subprocess.spawn`, up to handing the fork to the spawner.
    fn spawn(&mut self) {
        if self.rec.pid.is_some() || self.rec.spawning {
            let text = format!("process '{}' already running", self.name());
            self.log(LogLevel::Warn, text);
            return;
        }
        let from = self.rec.state;
        if !matches!(
            from,
            ProcessState::Exited
                | ProcessState::Fatal
                | ProcessState::Backoff
                | ProcessState::Stopped
                | ProcessState::Unknown
        ) {
            return;
        }
        self.rec.spawnerr = None;
        self.rec.exitstatus = None;
        self.rec.ready = false;
        self.rec.not_ready = false;
        self.rec.laststart = Some(self.at.instant);
        self.rec.laststart_wall = Some(self.at.wall);
        if from == ProcessState::Backoff {
            self.effects.push(Effect::CancelTimer);
        }
        self.change_state(ProcessState::Starting, true);
        self.rec.spawning = true;
        self.effects.push(Effect::Spawn);
    }

    fn spawn_succeeded(&mut self, pid: i32) {
        if !self.rec.spawning {
            return;
        }
        self.rec.spawning = false;
        self.rec.pid = Some(pid);
        let text = format!("spawned: '{}' with pid {pid}", self.name());
        self.log(LogLevel::Info, text);
        match self.rec.state {
            // A stop arrived while the fork was under way: deliver it now.
            ProcessState::Stopping => self.kill(self.policy.stopsignal, self.policy.stopasgroup),
            ProcessState::Starting => {
                let started = self.rec.laststart.unwrap_or(self.at.instant);
                let due = started + secs(self.policy.startsecs);
                self.rec.deadline = Some(due);
                if self.at.instant >= due {
                    self.promote_if_ready();
                } else {
                    self.effects.push(Effect::ArmTimer {
                        kind: TimerKind::Startsecs,
                        at: due,
                    });
                }
            }
            _ => {}
        }
    }

    fn spawn_failed(&mut self, message: String) {
        if !self.rec.spawning {
            return;
        }
        self.rec.spawning = false;
        self.log(LogLevel::Info, format!("spawnerr: {message}"));
        self.rec.spawnerr = Some(message);
        match self.rec.state {
            ProcessState::Starting => {
                self.change_state(ProcessState::Backoff, true);
                self.after_backoff();
            }
            ProcessState::Stopping => {
                self.rec.deadline = None;
                self.change_state(ProcessState::Stopped, true);
            }
            _ => {}
        }
    }

    /// startsecs passed: RUNNING if ready (or without a ready check), else
    /// wait for the check until `ready_timeout` from the start.
    fn promote_if_ready(&mut self) {
        if !self.policy.ready_check || self.rec.ready {
            return self.promote();
        }
        let started = self.rec.laststart.unwrap_or(self.at.instant);
        let at = started + secs(self.policy.ready_timeout);
        self.rec.deadline = Some(at);
        self.effects.push(Effect::ArmTimer {
            kind: TimerKind::ReadyTimeout,
            at,
        });
    }

    /// `ready_timeout` passed without the check passing: stop the child
    /// through the normal stop path; its end counts as a failed start.
    fn not_ready(&mut self) {
        let text = format!(
            "{} was not ready within {} seconds (ready_timeout): stopping it",
            self.name(),
            self.policy.ready_timeout
        );
        self.log(LogLevel::Warn, text);
        self.rec.not_ready = true;
        self.kill(self.policy.stopsignal, self.policy.stopasgroup);
    }

    /// STARTING → RUNNING once the process stayed up `startsecs` (and,
    /// with a ready check, is ready).
    fn promote(&mut self) {
        self.rec.deadline = None;
        self.rec.backoff = 0;
        self.change_state(ProcessState::Running, true);
        let ready = if self.policy.ready_check {
            "its ready check passed and "
        } else {
            ""
        };
        let text = format!(
            "success: {} entered RUNNING state, {ready}process has stayed up for > than {} seconds (startsecs)",
            self.name(),
            self.policy.startsecs
        );
        self.log(LogLevel::Info, text);
    }

    /// What follows entering BACKOFF: give up when out of retries (the
    /// reference does it on its next loop pass), else wait for the delay.
    fn after_backoff(&mut self) {
        if !self.policy.backoff.forever && self.rec.backoff > self.policy.startretries {
            self.give_up();
            let text = format!(
                "gave up: {} entered FATAL state, too many start retries too quickly",
                self.name()
            );
            self.log(LogLevel::Info, text);
        } else if let Some(at) = self.rec.deadline {
            self.effects.push(Effect::ArmTimer {
                kind: TimerKind::Backoff,
                at,
            });
        }
    }

    fn give_up(&mut self) {
        self.rec.deadline = None;
        self.rec.backoff = 0;
        self.effects.push(Effect::CancelTimer);
        self.change_state(ProcessState::Fatal, true);
        self.shutdown_on(ShutdownOn::Fatal, 1);
    }

    /// `shutdown_on`: end the daemon when `what` happened, unless it is
    /// winding down already (a shutdown's own give-ups do not count).
    fn shutdown_on(&mut self, what: ShutdownOn, status: u8) {
        if self.policy.shutdown_on == Some(what) && self.mood == Mood::Running {
            let text = match what {
                ShutdownOn::Fatal => format!(
                    "{} entered FATAL state and has shutdown_on = fatal: shutting down",
                    self.name()
                ),
                ShutdownOn::Exit => format!(
                    "{} exited and will not be restarted, and has shutdown_on = exit: \
                     shutting down with exit status {status}",
                    self.name()
                ),
            };
            self.log(LogLevel::Warn, text);
            self.effects.push(Effect::EndDaemon(status));
        }
    }

    fn timer(&mut self, kind: TimerKind) {
        let now = self.at.instant;
        let due = self.rec.deadline.is_some_and(|d| now >= d);
        match (kind, self.rec.state) {
            (TimerKind::Startsecs, ProcessState::Starting) if self.rec.pid.is_some() => {
                if due {
                    self.promote_if_ready();
                } else if let Some(at) = self.rec.deadline {
                    self.effects.push(Effect::ArmTimer { kind, at });
                }
            }
            (TimerKind::Backoff, ProcessState::Backoff)
                if self.mood == Mood::Running
                    && (self.policy.backoff.forever
                        || self.rec.backoff <= self.policy.startretries) =>
            {
                if due {
                    self.spawn();
                } else if let Some(at) = self.rec.deadline {
                    self.effects.push(Effect::ArmTimer { kind, at });
                }
            }
            (TimerKind::ReadyTimeout, ProcessState::Starting)
                if self.policy.ready_check && self.rec.pid.is_some() =>
            {
                if due && !self.rec.ready {
                    self.not_ready();
                } else if let Some(at) = self.rec.deadline {
                    self.effects.push(Effect::ArmTimer { kind, at });
                }
            }
            (TimerKind::Stopwait, ProcessState::Stopping) => {
                if let (true, Some(pid)) = (due, self.rec.pid) {
                    let text = format!("killing '{}' ({pid}) with SIGKILL", self.name());
                    self.log(LogLevel::Warn, text);
                    self.kill(libc::SIGKILL, self.policy.killasgroup);
                } else if let Some(at) = self.rec.deadline {
                    self.effects.push(Effect::ArmTimer { kind, at });
                }
            }
            _ => {}
        }
    }

    /// `Subprocess.stop` / `kill(stopsignal)`.
    fn stop(&mut self) {
        if self.rec.state == ProcessState::Backoff {
            let text = format!(
                "Attempted to kill {}, which is in BACKOFF state.",
                self.name()
            );
            self.log(LogLevel::Debug, text);
            self.rec.deadline = None;
            self.effects.push(Effect::CancelTimer);
            self.change_state(ProcessState::Stopped, true);
            return;
        }
        if self.rec.pid.is_none() && self.rec.spawning {
            // The fork is under way; the stop signal goes out once the pid
            // is known (see spawn_succeeded).
            self.effects.push(Effect::CancelTimer);
            self.change_state(ProcessState::Stopping, true);
            return;
        }
        if self.rec.pid.is_none() {
            let text = format!(
                "attempted to kill {} with sig {} but it wasn't running",
                self.name(),
                signame(self.policy.stopsignal)
            );
            self.log(LogLevel::Debug, text.clone());
            self.effects.push(Effect::CommandFailed(text));
            return;
        }
        let group = if self.rec.state == ProcessState::Stopping {
            self.policy.killasgroup
        } else {
            self.policy.stopasgroup
        };
        self.kill(self.policy.stopsignal, group);
    }

    /// Signal the child meaning to end it: STOPPING, with SIGKILL due
    /// `stopwaitsecs` later.
    fn kill(&mut self, signal: i32, group: bool) {
        let Some(pid) = self.rec.pid else { return };
        let as_group = if group { "process group " } else { "" };
        let text = format!(
            "killing {} (pid {pid}) {as_group}with signal {}",
            self.name(),
            signame(signal)
        );
        self.log(LogLevel::Debug, text);
        let due = self.at.instant + secs(self.policy.stopwaitsecs);
        self.rec.deadline = Some(due);
        self.change_state(ProcessState::Stopping, true);
        self.effects.push(Effect::ArmTimer {
            kind: TimerKind::Stopwait,
            at: due,
        });
        self.effects.push(Effect::Kill {
            pid,
            signal,
            group,
            purpose: KillPurpose::Stop,
        });
    }

    /// `Subprocess.signal`: deliver a signal without meaning to stop.
    fn signal(&mut self, signal: i32) {
        let Some(pid) = self.rec.pid else {
            let text = format!(
                "attempted to send {} sig {} but it wasn't running",
                self.name(),
                signame(signal)
            );
            self.log(LogLevel::Debug, text.clone());
            self.effects.push(Effect::CommandFailed(text));
            return;
        };
        let text = format!(
            "sending {} (pid {pid}) sig {}",
            self.name(),
            signame(signal)
        );
        self.log(LogLevel::Debug, text);
        self.effects.push(Effect::Kill {
            pid,
            signal,
            group: false,
            purpose: KillPurpose::Signal,
        });
    }

    fn kill_failed(&mut self, pid: i32, errno: i32, purpose: KillPurpose) {
        let error = crate::pyrepr::os_error(errno);
        if errno == libc::ESRCH {
            // The child is gone already; its exit arrives through the reaper.
            let just = match purpose {
                KillPurpose::Stop => "just",
                KillPurpose::Signal => "just now",
            };
            let text = format!(
                "unable to signal {} (pid {pid}), it probably {just} exited on its own: {error}",
                self.name()
            );
            self.log(LogLevel::Debug, text);
            return;
        }
        let text = match purpose {
            KillPurpose::Stop => format!("unknown problem killing {} ({pid}):{error}", self.name()),
            KillPurpose::Signal => {
                format!(
                    "unknown problem sending sig {} ({pid}):{error}",
                    self.name()
                )
            }
        };
        self.log(LogLevel::Critical, text.clone());
        self.change_state(ProcessState::Unknown, true);
        if purpose == KillPurpose::Stop {
            self.rec.deadline = None;
            self.effects.push(Effect::CancelTimer);
        }
        self.effects.push(Effect::CommandFailed(text));
    }

    /// `Subprocess.finish`: the child was reaped.
    fn finish(&mut self, status: i32) {
        let cause = ExitCause::from_raw(status);
        let es = cause.exit_status();
        let now = self.at.instant;
        self.rec.laststop_wall = Some(self.at.wall);
        let too_quickly = self.rec.laststart.is_some_and(|start| {
            now.saturating_duration_since(start) < secs(self.policy.startsecs)
        });
        let exit_expected = self.policy.exitcodes.contains(&es);
        self.effects.push(Effect::CancelTimer);

        let unready =
            self.policy.ready_check && !self.rec.ready && self.rec.state == ProcessState::Starting;
        if self.rec.state == ProcessState::Stopping && self.rec.not_ready {
            // Stopped for not being ready: a failed start.
            self.rec.not_ready = false;
            self.rec.exitstatus = None;
            self.rec.spawnerr = Some(format!(
                "not ready within {} seconds (ready_timeout)",
                self.policy.ready_timeout
            ));
            self.change_state(ProcessState::Backoff, true);
            let text = format!("stopped: {} ({cause}; not ready)", self.name());
            self.log(LogLevel::Warn, text);
            self.rec.pid = None;
            self.after_backoff();
        } else if self.rec.state == ProcessState::Stopping {
            self.rec.deadline = None;
            self.rec.exitstatus = Some(es);
            self.change_state(ProcessState::Stopped, true);
            let level = if exit_expected {
                LogLevel::Info
            } else {
                LogLevel::Warn
            };
            let text = format!("stopped: {} ({cause})", self.name());
            self.log(level, text);
            self.rec.pid = None;
        } else if (too_quickly || unready) && self.rec.state == ProcessState::Starting {
            self.rec.exitstatus = None;
            self.rec.spawnerr = Some("Exited too quickly (process log may have details)".into());
            self.change_state(ProcessState::Backoff, true);
            let text = format!("exited: {} ({cause}; not expected)", self.name());
            self.log(LogLevel::Warn, text);
            self.rec.pid = None;
            self.after_backoff();
        } else {
            self.rec.deadline = None;
            self.rec.backoff = 0;
            self.rec.exitstatus = Some(es);
            if self.rec.state == ProcessState::Starting {
                // Only reachable when the exit and the startsecs deadline
                // coincide; the reference then passes through RUNNING too.
                self.change_state(ProcessState::Running, true);
            }
            if exit_expected {
                self.change_state(ProcessState::Exited, true);
                let text = format!("exited: {} ({cause}; expected)", self.name());
                self.log(LogLevel::Info, text);
            } else {
                self.rec.spawnerr = Some(format!("Bad exit code {es}"));
                self.change_state(ProcessState::Exited, false);
                let text = format!("exited: {} ({cause}; not expected)", self.name());
                self.log(LogLevel::Warn, text);
            }
            self.rec.pid = None;
            self.maybe_autorestart();
            if self.rec.state == ProcessState::Exited {
                let status = match cause {
                    ExitCause::Exited(code) => u8::try_from(code & 0xff).unwrap_or(1),
                    ExitCause::Signaled { signal, .. } => u8::try_from(128 + signal).unwrap_or(255),
                    ExitCause::Unknown(_) => 1,
                };
                self.shutdown_on(ShutdownOn::Exit, status);
            }
        }
    }

    /// EXITED → STARTING at once when autorestart says so (the reference
    /// does it on its next loop pass).
    fn maybe_autorestart(&mut self) {
        if self.mood != Mood::Running {
            return;
        }
        let restart = match self.policy.autorestart {
            AutoRestart::Never => false,
            AutoRestart::Always => true,
            AutoRestart::Unexpected => self
                .rec
                .exitstatus
                .is_none_or(|es| !self.policy.exitcodes.contains(&es)),
        };
        if restart {
            self.spawn();
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
