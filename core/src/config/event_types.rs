//! The event type names and their hierarchy (the reference's `EventTypes`
//! and its class tree), and sets of concrete types as bit masks so that a
//! subscription test is one AND. The one list of names: the config check
//! of an eventlistener's `events` and the event hub both use it. This
//! file knows names and ancestry only; what an event carries is in
//! `events/event.rs`.

use std::fmt;

/// One event type of the reference, abstract or concrete. Subscribing to a
/// type also subscribes to every type below it (`EVENT` to all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EventType {
    /// `EVENT`: the abstract root.
    Event,
    /// `PROCESS_STATE`: abstract.
    ProcessState,
    /// `PROCESS_STATE_STOPPED`.
    ProcessStateStopped,
    /// `PROCESS_STATE_EXITED`.
    ProcessStateExited,
    /// `PROCESS_STATE_STARTING`.
    ProcessStateStarting,
    /// `PROCESS_STATE_STOPPING`.
    ProcessStateStopping,
    /// `PROCESS_STATE_BACKOFF`.
    ProcessStateBackoff,
    /// `PROCESS_STATE_FATAL`.
    ProcessStateFatal,
    /// `PROCESS_STATE_RUNNING`.
    ProcessStateRunning,
    /// `PROCESS_STATE_UNKNOWN`.
    ProcessStateUnknown,
    /// `PROCESS_COMMUNICATION`: abstract.
    ProcessCommunication,
    /// `PROCESS_COMMUNICATION_STDOUT`.
    ProcessCommunicationStdout,
    /// `PROCESS_COMMUNICATION_STDERR`.
    ProcessCommunicationStderr,
    /// `PROCESS_LOG`: abstract (and, in the reference too, not below
    /// `PROCESS_COMMUNICATION`).
    ProcessLog,
    /// `PROCESS_LOG_STDOUT`.
    ProcessLogStdout,
    /// `PROCESS_LOG_STDERR`.
    ProcessLogStderr,
    /// `REMOTE_COMMUNICATION`.
    RemoteCommunication,
    /// `SUPERVISOR_STATE_CHANGE`: abstract.
    SupervisorStateChange,
    /// `SUPERVISOR_STATE_CHANGE_RUNNING`.
    SupervisorStateChangeRunning,
    /// `SUPERVISOR_STATE_CHANGE_STOPPING`.
    SupervisorStateChangeStopping,
    /// `TICK`: abstract.
    Tick,
    /// `TICK_5`.
    Tick5,
    /// `TICK_60`.
    Tick60,
    /// `TICK_3600`.
    Tick3600,
    /// `PROCESS_GROUP`: abstract.
    ProcessGroup,
    /// `PROCESS_GROUP_ADDED`.
    ProcessGroupAdded,
    /// `PROCESS_GROUP_REMOVED`.
    ProcessGroupRemoved,
}

impl EventType {
    /// Every type, in the reference's `EventTypes` order.
    pub const ALL: [EventType; 27] = [
        EventType::Event,
        EventType::ProcessState,
        EventType::ProcessStateStopped,
        EventType::ProcessStateExited,
        EventType::ProcessStateStarting,
        EventType::ProcessStateStopping,
        EventType::ProcessStateBackoff,
        EventType::ProcessStateFatal,
        EventType::ProcessStateRunning,
        EventType::ProcessStateUnknown,
        EventType::ProcessCommunication,
        EventType::ProcessCommunicationStdout,
        EventType::ProcessCommunicationStderr,
        EventType::ProcessLog,
        EventType::ProcessLogStdout,
        EventType::ProcessLogStderr,
        EventType::RemoteCommunication,
        EventType::SupervisorStateChange,
        EventType::SupervisorStateChangeRunning,
        EventType::SupervisorStateChangeStopping,
        EventType::Tick,
        EventType::Tick5,
        EventType::Tick60,
        EventType::Tick3600,
        EventType::ProcessGroup,
        EventType::ProcessGroupAdded,
        EventType::ProcessGroupRemoved,
    ];

    /// The name listeners see in `eventname:` and configs write in `events=`.
    pub const fn name(self) -> &'static str {
        match self {
            EventType::Event => "EVENT",
            EventType::ProcessState => "PROCESS_STATE",
            EventType::ProcessStateStopped => "PROCESS_STATE_STOPPED",
            EventType::ProcessStateExited => "PROCESS_STATE_EXITED",
            EventType::ProcessStateStarting => "PROCESS_STATE_STARTING",
            EventType::ProcessStateStopping => "PROCESS_STATE_STOPPING",
            EventType::ProcessStateBackoff => "PROCESS_STATE_BACKOFF",
            EventType::ProcessStateFatal => "PROCESS_STATE_FATAL",
            EventType::ProcessStateRunning => "PROCESS_STATE_RUNNING",
            EventType::ProcessStateUnknown => "PROCESS_STATE_UNKNOWN",
            EventType::ProcessCommunication => "PROCESS_COMMUNICATION",
            EventType::ProcessCommunicationStdout => "PROCESS_COMMUNICATION_STDOUT",
            EventType::ProcessCommunicationStderr => "PROCESS_COMMUNICATION_STDERR",
            EventType::ProcessLog => "PROCESS_LOG",
            EventType::ProcessLogStdout => "PROCESS_LOG_STDOUT",
            EventType::ProcessLogStderr => "PROCESS_LOG_STDERR",
            EventType::RemoteCommunication => "REMOTE_COMMUNICATION",
            EventType::SupervisorStateChange => "SUPERVISOR_STATE_CHANGE",
            EventType::SupervisorStateChangeRunning => "SUPERVISOR_STATE_CHANGE_RUNNING",
            EventType::SupervisorStateChangeStopping => "SUPERVISOR_STATE_CHANGE_STOPPING",
            EventType::Tick => "TICK",
            EventType::Tick5 => "TICK_5",
            EventType::Tick60 => "TICK_60",
            EventType::Tick3600 => "TICK_3600",
            EventType::ProcessGroup => "PROCESS_GROUP",
            EventType::ProcessGroupAdded => "PROCESS_GROUP_ADDED",
            EventType::ProcessGroupRemoved => "PROCESS_GROUP_REMOVED",
        }
    }

    /// The type named `name`, case-insensitively (the reference upper-cases
    /// what `events=` lists).
    pub fn from_name(name: &str) -> Option<EventType> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The type directly above this one; `None` for `EVENT`.
    pub const fn parent(self) -> Option<EventType> {
        use EventType::*;
        match self {
            Event => None,
            ProcessState
            | ProcessCommunication
            | ProcessLog
            | RemoteCommunication
            | SupervisorStateChange
            | Tick
            | ProcessGroup => Some(Event),
            ProcessStateStopped | ProcessStateExited | ProcessStateStarting
            | ProcessStateStopping | ProcessStateBackoff | ProcessStateFatal
            | ProcessStateRunning | ProcessStateUnknown => Some(ProcessState),
            ProcessCommunicationStdout | ProcessCommunicationStderr => Some(ProcessCommunication),
            ProcessLogStdout | ProcessLogStderr => Some(ProcessLog),
            SupervisorStateChangeRunning | SupervisorStateChangeStopping => {
                Some(SupervisorStateChange)
            }
            Tick5 | Tick60 | Tick3600 => Some(Tick),
            ProcessGroupAdded | ProcessGroupRemoved => Some(ProcessGroup),
        }
    }

    /// True when this type is `ancestor` or below it (Python's
    /// `isinstance(event, ancestor)`).
    pub fn is_a(self, ancestor: EventType) -> bool {
        let mut current = Some(self);
        while let Some(t) = current {
            if t == ancestor {
                return true;
            }
            current = t.parent();
        }
        false
    }

    /// True for the types that are never emitted themselves, only
    /// subscribed to.
    pub fn is_abstract(self) -> bool {
        Self::ALL.iter().any(|t| t.parent() == Some(self))
    }

    const fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of concrete event types: what a subscription to some types
/// (abstract ones included) receives. Testing an event against it is one
/// AND, so publishing to nobody costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct EventTypeSet(u32);

impl EventTypeSet {
    /// The empty set.
    pub const EMPTY: EventTypeSet = EventTypeSet(0);

    /// Every concrete type at or below any of `subscribed`.
    pub fn subscribing_to(subscribed: impl IntoIterator<Item = EventType>) -> EventTypeSet {
        let subscribed: Vec<EventType> = subscribed.into_iter().collect();
        let mut bits = 0;
        for concrete in EventType::ALL {
            if !concrete.is_abstract() && subscribed.iter().any(|s| concrete.is_a(*s)) {
                bits |= concrete.bit();
            }
        }
        EventTypeSet(bits)
    }

    /// The set holding the types named in `names` (an eventlistener's
    /// `events` option, already split), or the first unknown name.
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<EventTypeSet, UnknownEventType> {
        let mut types = Vec::new();
        for name in names {
            types.push(
                EventType::from_name(name).ok_or_else(|| UnknownEventType(name.to_string()))?,
            );
        }
        Ok(Self::subscribing_to(types))
    }

    /// True when events of type `t` belong to the set.
    pub const fn contains(self, t: EventType) -> bool {
        self.0 & t.bit() != 0
    }

    /// True when nothing is in the set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of both sets.
    pub const fn union(self, other: EventTypeSet) -> EventTypeSet {
        EventTypeSet(self.0 | other.0)
    }

    /// The raw bits, for sharing through an atomic.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The set with these raw bits (from [`EventTypeSet::bits`]).
    pub const fn from_bits(bits: u32) -> EventTypeSet {
        EventTypeSet(bits)
    }
}

/// An `events=` name that is no event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown event type {0}")]
pub struct UnknownEventType(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.name()), Some(t));
            assert_eq!(EventType::from_name(&t.name().to_lowercase()), Some(t));
        }
        assert_eq!(EventType::from_name("PROCESS_STATES"), None);
    }

    #[test]
    fn abstract_types_are_the_reference_ones() {
        let abstract_names: Vec<&str> = EventType::ALL
            .into_iter()
            .filter(|t| t.is_abstract())
            .map(EventType::name)
            .collect();
        assert_eq!(
            abstract_names,
            [
                "EVENT",
                "PROCESS_STATE",
                "PROCESS_COMMUNICATION",
                "PROCESS_LOG",
                "SUPERVISOR_STATE_CHANGE",
                "TICK",
                "PROCESS_GROUP"
            ]
        );
    }

    #[test]
    fn subscribing_to_a_parent_gets_every_child_and_nothing_else() {
        let state = EventTypeSet::subscribing_to([EventType::ProcessState]);
        for t in EventType::ALL {
            let expected = t.name().starts_with("PROCESS_STATE_");
            assert_eq!(state.contains(t), expected, "{t}");
        }
        let all = EventTypeSet::subscribing_to([EventType::Event]);
        assert!(
            EventType::ALL
                .iter()
                .all(|t| all.contains(*t) != t.is_abstract())
        );
        // PROCESS_LOG is not below PROCESS_COMMUNICATION in the reference.
        let comm = EventTypeSet::subscribing_to([EventType::ProcessCommunication]);
        assert!(comm.contains(EventType::ProcessCommunicationStderr));
        assert!(!comm.contains(EventType::ProcessLogStdout));
        let exact = EventTypeSet::from_names(["tick_60"]).expect("a known name");
        assert!(exact.contains(EventType::Tick60));
        assert!(!exact.contains(EventType::Tick5));
    }

    #[test]
    fn an_unknown_name_is_named_in_the_error() {
        let err = EventTypeSet::from_names(["TICK_5", "TICK_7"]).unwrap_err();
        assert_eq!(err.to_string(), "Unknown event type TICK_7");
    }
}
