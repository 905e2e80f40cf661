//! Event types, the event bus, eventlistener pools and their protocol.
//!
//! This module owns what Supervisor's events are (every type of the
//! reference with its hierarchy and payload text), how they are numbered
//! and buffered per pool, and the READY / RESULT protocol spoken with
//! listener processes. It does no I/O and owns no process or timer: the
//! supervisor task feeds it (state changes, listener output, the time) and
//! carries out what it asks (envelopes to write, the next TICK deadline).
//! It must never block its caller.
//!
//! - [`EventType`], [`EventTypeSet`]: the type names and hierarchy, sets of
//!   subscribed types (defined in `config::event_types`, which checks
//!   `events=` against them).
//! - [`event`]: what each event carries and its payload text.
//! - [`protocol`]: listener states, the envelope, the `RESULT` line.
//! - [`pool`]: one `[eventlistener:x]` pool and the result-handler trait.
//! - [`bus`]: the pools together, serials, publishing from any task, TICKs.
//!
//! # Driving it (the supervisor task)
//!
//! - At start-up: `EventBus::new(identifier)`; for each `[eventlistener:x]`
//!   group, [`ListenerPool::from_config`] with its result handler (all of
//!   them built by [`crate::plugins::handler::result_handlers_for`]), then
//!   [`EventBus::add_pool`]; hand [`EventBus::publisher`] clones to the
//!   output readers and the RPC layer and select on
//!   [`EventBus::take_inbox`], passing what arrives to
//!   [`EventBus::publish`].
//! - Publish PROCESS_STATE_* for every `StateChanged` effect (listener
//!   processes included), PROCESS_GROUP_ADDED/REMOVED, and
//!   SUPERVISOR_STATE_CHANGE_RUNNING/STOPPING at the reference's moments.
//! - For a listener process (found with [`EventBus::listener_mut`]): on
//!   spawn [`ListenerPool::listener_spawned`]; on entering or leaving
//!   RUNNING [`ListenerPool::listener_running`]; each stdout chunk to
//!   [`ListenerPool::listener_output`] (and to its log as usual, with
//!   [`listener_stdout_debug_line`] at debug); on exit
//!   [`ListenerPool::listener_exited`]; on a failed stdin write
//!   [`ListenerPool::stdin_failed`].
//! - After each of those, [`EventBus::drain_deliveries`] and write each
//!   envelope to its listener's stdin without blocking the task.
//!
//! The daemon keeps the bus in its event hub (`daemon::listeners`), behind
//! a lock taken briefly by the supervisor task and by the output tasks, so
//! that listener output and capture blocks reach the pools, and envelopes
//! the listeners, without a hop through the supervisor task.
//! - Keep one timer: [`EventBus::tick_sleep`] says how long (or that none is
//!   needed); when it fires, [`EventBus::tick`]. Re-ask after pools change.

pub mod bus;
pub mod event;
pub mod pool;
pub mod protocol;

/// The event type names live with the config vocabulary, which checks an
/// eventlistener's `events` against them.
pub use crate::config::{EventType, EventTypeSet, UnknownEventType};
pub use bus::{EventBatch, EventBus, Publisher};
pub use event::{
    Channel, Event, ProcessStateChange, PublishedEvent, SupervisorStateChange, TickPeriod,
};
pub use pool::{
    AnsweredEvent, Delivery, ListenerPool, ResultHandler, Serial, Verdict,
    listener_stdout_debug_line,
};
pub use protocol::ListenerState;
/// The process states a [`ProcessStateChange`] names (from the SDK).
pub use supervisor_sdk::state::ProcessState;

#[cfg(test)]
mod tests;
