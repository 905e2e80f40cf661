//! Processes: the per-process state machine ([`machine`]), exit-status
//! decoding ([`exit`]), command lookup and spawning ([`command`],
//! [`spawn`], the cloned child's side in `child`, the errors in
//! [`spawn_error`], the servers' descriptor reserve in [`fd_budget`]), the one reaper ([`reaper`]), signal delivery ([`kill`]) and
//! the shared listening sockets of fcgi groups ([`fcgi_socket`]).
//!
//! This module decides and executes, but owns no process table: the
//! supervisor task in `daemon` holds every [`ProcessRecord`], feeds inputs
//! to [`transition`] and carries out the [`Effect`]s with the helpers here.
//! Nothing here may wait on a child other than the reaper, and nothing may
//! block the async runtime (forks run on the [`spawn::Spawner`] threads).
//!
//! # How the supervisor task drives a process
//!
//! - At start-up: [`reaper::become_subreaper`], then
//!   [`reaper::start_reaper`] before the first spawn, and one
//!   [`spawn::Spawner`].
//! - [`Effect::Spawn`]: take a ticket with
//!   [`reaper::PidLedger::spawn_started`] *in the task itself*, hand the
//!   process's [`spawn::SpawnSpec`] to the spawner, and when it answers call
//!   [`reaper::PidLedger::spawn_finished`] with the pid, feed
//!   [`Input::SpawnSucceeded`] (or [`Input::SpawnFailed`] with the error's
//!   text), then feed [`Input::Exited`] for any exit the ledger settled.
//! - Each reaped exit goes through [`reaper::PidLedger::reaped`]: a known
//!   pid becomes [`Input::Exited`] for its owner; an unknown one is logged
//!   with [`reaper::Reaped::unknown_pid_line`].
//! - [`Effect::Kill`]: [`kill::send_signal`]; on `Err(errno)` feed
//!   [`Input::KillFailed`].
//! - [`Effect::ArmTimer`] / [`Effect::CancelTimer`]: one timer slot per
//!   process; when it fires feed [`Input::Timer`].
//! - [`Effect::StateChanged`]: publish the `PROCESS_STATE_*` event and a new
//!   snapshot; [`Effect::Log`]: the main log; [`Effect::CommandFailed`]: the
//!   waiting command's fault text.

mod child;
pub mod command;
pub mod exit;
pub mod fcgi_socket;
pub mod fd_budget;
pub mod kill;
pub mod machine;
pub mod reaper;
pub mod record;
pub mod spawn;
pub mod spawn_error;

pub use exit::ExitCause;
pub use machine::{
    AutoRestart, Effect, Input, KillPurpose, LogLevel, Moment, Mood, Policy, ProcessRecord,
    StateChange, TimerKind, transition,
};
