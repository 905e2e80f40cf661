//! Process and supervisor states: the names and codes the XML-RPC API,
//! events and logs use (Supervisor's `ProcessStates`, `SupervisorStates`).

use abi_stable::StableAbi;

/// The state of one process. Codes are the reference's; tools compare them.
#[repr(u16)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessState {
    Stopped = 0,
    Starting = 10,
    Running = 20,
    Backoff = 30,
    Stopping = 40,
    Exited = 100,
    Fatal = 200,
    Unknown = 1000,
}

impl ProcessState {
    pub const ALL: [ProcessState; 8] = [
        ProcessState::Stopped,
        ProcessState::Starting,
        ProcessState::Running,
        ProcessState::Backoff,
        ProcessState::Stopping,
        ProcessState::Exited,
        ProcessState::Fatal,
        ProcessState::Unknown,
    ];

    /// The code in `getProcessInfo`'s `state`.
    pub const fn code(self) -> i32 {
        self as u16 as i32
    }

    /// The name in `statename`, events and logs (`RUNNING`).
    pub const fn name(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
            ProcessState::Unknown => "UNKNOWN",
        }
    }

    pub fn from_code(code: i32) -> Option<ProcessState> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn from_name(name: &str) -> Option<ProcessState> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The reference's RUNNING_STATES: a start request is refused with
    /// ALREADY_STARTED in these (BACKOFF included).
    pub const fn is_running(self) -> bool {
        matches!(
            self,
            ProcessState::Running | ProcessState::Backoff | ProcessState::Starting
        )
    }

    /// The reference's STOPPED_STATES.
    pub const fn is_stopped(self) -> bool {
        matches!(
            self,
            ProcessState::Stopped
                | ProcessState::Exited
                | ProcessState::Fatal
                | ProcessState::Unknown
        )
    }

    /// The reference's SIGNALLABLE_STATES.
    pub const fn is_signallable(self) -> bool {
        matches!(
            self,
            ProcessState::Running | ProcessState::Starting | ProcessState::Stopping
        )
    }
}

/// The state of the daemon itself (`getState`).
#[repr(i8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SupervisorState {
    Fatal = 2,
    Running = 1,
    Restarting = 0,
    Shutdown = -1,
}

impl SupervisorState {
    pub const fn code(self) -> i32 {
        self as i8 as i32
    }

    pub const fn name(self) -> &'static str {
        match self {
            SupervisorState::Fatal => "FATAL",
            SupervisorState::Running => "RUNNING",
            SupervisorState::Restarting => "RESTARTING",
            SupervisorState::Shutdown => "SHUTDOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for state in ProcessState::ALL {
            assert_eq!(ProcessState::from_code(state.code()), Some(state));
            assert_eq!(ProcessState::from_name(state.name()), Some(state));
        }
        assert_eq!(ProcessState::Unknown.code(), 1000);
        assert_eq!(SupervisorState::Shutdown.code(), -1);
    }

    #[test]
    fn state_classes_match_the_reference() {
        assert!(ProcessState::Backoff.is_running());
        assert!(!ProcessState::Stopping.is_running());
        assert!(!ProcessState::Stopping.is_stopped());
        assert!(ProcessState::Unknown.is_stopped());
        assert!(ProcessState::Stopping.is_signallable());
        assert!(!ProcessState::Backoff.is_signallable());
    }
}
