//! The daemon's own modes (running, shutting down, restarting) and the one
//! pure function that changes them, fed alike by the RPC path
//! (`supervisor.shutdown`, `supervisor.restart`), the signal path
//! (SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR2, anything else) and the
//! wind-down reporting that every process is stopped. Like the process
//! machine (`process::transition`) it returns its effects as data and the
//! supervisor task carries them out; it reads no clock and touches
//! nothing.

use supervisor_sdk::signal::signame;
use supervisor_sdk::state::SupervisorState;

use crate::logs::LogLevel;
use crate::process::Mood;

/// What the daemon as a whole is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serving: processes start and stop on request.
    Running,
    /// Stopping every group, then exiting.
    ShuttingDown,
    /// Stopping every group, then reading the configuration again.
    Restarting,
}

/// What may change the daemon's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeInput {
    /// `supervisor.shutdown`.
    ShutdownCall,
    /// `supervisor.restart`.
    RestartCall,
    /// A unix signal.
    Signal(i32),
    /// Wind-down found every process stopped.
    AllStopped,
}

/// How a run of the supervisor task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Shut down: exit.
    Shutdown,
    /// Restart: read the configuration again and run again.
    Restart,
    /// Shut down because a program's `shutdown_on` fired: exit with this
    /// status.
    Exit(u8),
}

/// What the task does about a mode input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeEffect {
    /// A main-log line.
    Log(LogLevel, String),
    /// Reopen the main log and every child log.
    ReopenLogs,
    /// Leave the run.
    End(RunEnd),
}

impl Mode {
    /// The state `getState` and the snapshot report.
    pub fn state(self) -> SupervisorState {
        match self {
            Mode::Running => SupervisorState::Running,
            Mode::ShuttingDown => SupervisorState::Shutdown,
            Mode::Restarting => SupervisorState::Restarting,
        }
    }

    /// What the process machine is told about the daemon.
    pub fn mood(self) -> Mood {
        match self {
            Mode::Running => Mood::Running,
            Mode::ShuttingDown | Mode::Restarting => Mood::WindingDown,
        }
    }
}

/// The next mode after `input`, and what to do about it. The reference
/// (`supervisord.py`'s `handle_signal`, `rpcinterface.shutdown` and
/// `restart`): an RPC call only acts while running; an exit signal always
/// wins, even over a restart under way; a restart signal is ignored (and
/// says so) once shutting down.
pub fn step(mode: Mode, input: ModeInput) -> (Mode, Vec<ModeEffect>) {
    use ModeEffect::Log;
    match input {
        ModeInput::ShutdownCall if mode == Mode::Running => (Mode::ShuttingDown, vec![]),
        ModeInput::RestartCall if mode == Mode::Running => (Mode::Restarting, vec![]),
        ModeInput::ShutdownCall | ModeInput::RestartCall => (mode, vec![]),
        ModeInput::Signal(sig @ (libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)) => (
            Mode::ShuttingDown,
            vec![Log(
                LogLevel::Warn,
                format!("received {} indicating exit request", signame(sig)),
            )],
        ),
        ModeInput::Signal(sig @ libc::SIGHUP) if mode == Mode::ShuttingDown => (
            mode,
            vec![Log(
                LogLevel::Warn,
                format!(
                    "ignored {} indicating restart request (shutdown in progress)",
                    signame(sig)
                ),
            )],
        ),
        ModeInput::Signal(sig @ libc::SIGHUP) => (
            Mode::Restarting,
            vec![Log(
                LogLevel::Warn,
                format!("received {} indicating restart request", signame(sig)),
            )],
        ),
        ModeInput::Signal(libc::SIGUSR2) => (mode, vec![ModeEffect::ReopenLogs]),
        ModeInput::Signal(sig) => (
            mode,
            vec![Log(
                LogLevel::Blather,
                format!("received {} indicating nothing", signame(sig)),
            )],
        ),
        ModeInput::AllStopped => match mode {
            Mode::Running => (mode, vec![]),
            Mode::ShuttingDown => (mode, vec![ModeEffect::End(RunEnd::Shutdown)]),
            Mode::Restarting => (mode, vec![ModeEffect::End(RunEnd::Restart)]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [Mode; 3] = [Mode::Running, Mode::ShuttingDown, Mode::Restarting];

    const INPUTS: [(&str, ModeInput); 9] = [
        ("ShutdownCall", ModeInput::ShutdownCall),
        ("RestartCall", ModeInput::RestartCall),
        ("SIGTERM", ModeInput::Signal(libc::SIGTERM)),
        ("SIGINT", ModeInput::Signal(libc::SIGINT)),
        ("SIGQUIT", ModeInput::Signal(libc::SIGQUIT)),
        ("SIGHUP", ModeInput::Signal(libc::SIGHUP)),
        ("SIGUSR2", ModeInput::Signal(libc::SIGUSR2)),
        ("SIGUSR1", ModeInput::Signal(libc::SIGUSR1)),
        ("AllStopped", ModeInput::AllStopped),
    ];

    /// Every (mode, input) cell: the new mode, then the effects in order
    /// (logs as level initial and text).
    const TABLE: &[(&str, &str, &str)] = &[
        ("Running", "ShutdownCall", "ShuttingDown |"),
        ("Running", "RestartCall", "Restarting |"),
        (
            "Running",
            "SIGTERM",
            "ShuttingDown | W:received SIGTERM indicating exit request",
        ),
        (
            "Running",
            "SIGINT",
            "ShuttingDown | W:received SIGINT indicating exit request",
        ),
        (
            "Running",
            "SIGQUIT",
            "ShuttingDown | W:received SIGQUIT indicating exit request",
        ),
        (
            "Running",
            "SIGHUP",
            "Restarting | W:received SIGHUP indicating restart request",
        ),
        ("Running", "SIGUSR2", "Running | reopen"),
        (
            "Running",
            "SIGUSR1",
            "Running | B:received SIGUSR1 indicating nothing",
        ),
        ("Running", "AllStopped", "Running |"),
        ("ShuttingDown", "ShutdownCall", "ShuttingDown |"),
        ("ShuttingDown", "RestartCall", "ShuttingDown |"),
        (
            "ShuttingDown",
            "SIGTERM",
            "ShuttingDown | W:received SIGTERM indicating exit request",
        ),
        (
            "ShuttingDown",
            "SIGINT",
            "ShuttingDown | W:received SIGINT indicating exit request",
        ),
        (
            "ShuttingDown",
            "SIGQUIT",
            "ShuttingDown | W:received SIGQUIT indicating exit request",
        ),
        (
            "ShuttingDown",
            "SIGHUP",
            "ShuttingDown | W:ignored SIGHUP indicating restart request (shutdown in progress)",
        ),
        ("ShuttingDown", "SIGUSR2", "ShuttingDown | reopen"),
        (
            "ShuttingDown",
            "SIGUSR1",
            "ShuttingDown | B:received SIGUSR1 indicating nothing",
        ),
        ("ShuttingDown", "AllStopped", "ShuttingDown | end:Shutdown"),
        ("Restarting", "ShutdownCall", "Restarting |"),
        ("Restarting", "RestartCall", "Restarting |"),
        (
            "Restarting",
            "SIGTERM",
            "ShuttingDown | W:received SIGTERM indicating exit request",
        ),
        (
            "Restarting",
            "SIGINT",
            "ShuttingDown | W:received SIGINT indicating exit request",
        ),
        (
            "Restarting",
            "SIGQUIT",
            "ShuttingDown | W:received SIGQUIT indicating exit request",
        ),
        (
            "Restarting",
            "SIGHUP",
            "Restarting | W:received SIGHUP indicating restart request",
        ),
        ("Restarting", "SIGUSR2", "Restarting | reopen"),
        (
            "Restarting",
            "SIGUSR1",
            "Restarting | B:received SIGUSR1 indicating nothing",
        ),
        ("Restarting", "AllStopped", "Restarting | end:Restart"),
    ];

    fn summary(mode: Mode, effects: &[ModeEffect]) -> String {
        let mut out = vec![format!("{mode:?}"), "|".to_string()];
        for effect in effects {
            out.push(match effect {
                ModeEffect::Log(level, text) => format!("{}:{text}", &format!("{level:?}")[..1]),
                ModeEffect::ReopenLogs => "reopen".into(),
                ModeEffect::End(end) => format!("end:{end:?}"),
            });
        }
        out.join(" ")
    }

    #[test]
    fn every_mode_against_every_input() {
        let mut got = Vec::new();
        for mode in MODES {
            for (label, input) in INPUTS {
                let (next, effects) = step(mode, input);
                got.push((format!("{mode:?}"), label, summary(next, &effects)));
            }
        }
        let want: Vec<(String, &str, String)> = TABLE
            .iter()
            .map(|(m, i, s)| (m.to_string(), *i, s.to_string()))
            .collect();
        if got != want {
            let table: Vec<String> = got
                .iter()
                .map(|(m, i, s)| format!("    ({m:?}, {i:?}, {s:?}),"))
                .collect();
            panic!("the mode table changed; now:\n{}", table.join("\n"));
        }
    }

    #[test]
    fn only_running_lets_processes_start() {
        let moods: Vec<Mood> = MODES.iter().map(|m| m.mood()).collect();
        assert_eq!(moods, [Mood::Running, Mood::WindingDown, Mood::WindingDown]);
        let states: Vec<SupervisorState> = MODES.iter().map(|m| m.state()).collect();
        assert_eq!(
            states,
            [
                SupervisorState::Running,
                SupervisorState::Shutdown,
                SupervisorState::Restarting
            ]
        );
    }
}
