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
//! - [`types`]: the type names and hierarchy, sets of subscribed types.
//! - [`event`]: what each event carries and its payload text.
//! - [`protocol`]: listener states, the envelope, the `RESULT` line.
//! - [`pool`]: one `[eventlistener:x]` pool and the result-handler trait.
//! - [`bus`]: the pools together, serials, publishing from any task, TICKs.

pub mod bus;
pub mod event;
pub mod pool;
pub mod protocol;
pub mod types;

pub use bus::{EventBus, Publisher};
pub use event::{
    Channel, Event, ProcessStateChange, PublishedEvent, SupervisorStateChange, TickPeriod,
};
pub use pool::{
    AnsweredEvent, DefaultResultHandler, Delivery, ListenerPool, ResultHandler, Serial, Verdict,
    listener_stdout_debug_line,
};
pub use protocol::ListenerState;
/// The process states a [`ProcessStateChange`] names (from the SDK).
pub use supervisor_sdk::state::ProcessState;
pub use types::{EventType, EventTypeSet, UnknownEventType};

#[cfg(test)]
mod tests;
