//! Processes: the per-process state machine ([`machine`]), exit-status
//! decoding ([`exit`]), command lookup and spawning ([`command`],
//! [`spawn`]), the one reaper ([`reaper`]) and signal delivery ([`kill`]).
//!
//! This module decides and executes, but owns no process table: the
//! supervisor task in `daemon` holds every [`ProcessRecord`], feeds inputs
//! to [`transition`] and carries out the [`Effect`]s with the helpers here.
//! Nothing here may wait on a child other than the reaper, and nothing may
//! block the async runtime (forks run on the [`spawn::Spawner`] threads).

pub mod command;
pub mod exit;
pub mod kill;
pub mod machine;
pub mod reaper;
pub mod spawn;

pub use exit::ExitCause;
pub use machine::{
    AutoRestart, Effect, Input, KillPurpose, LogLevel, Moment, Mood, Policy, ProcessRecord,
    StateChange, TimerKind, transition,
};
