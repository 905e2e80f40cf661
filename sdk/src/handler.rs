//! Event result handlers: what an `[eventlistener:x]` section's
//! `result_handler` names. When a listener answers `RESULT <n>\n<body>`,
//! the daemon asks the pool's handler whether the event was processed
//! (the reference's `default_handler` accepts exactly `OK`).
//!
//! Authors implement [`HandleResults`] and wrap it with
//! [`result_handler_box`], which catches panics; the daemon treats a panic
//! like the reference treats an exception from a handler (the event is
//! re-queued and the listener goes UNKNOWN).

use crate::guard::guarded;
use abi_stable::StableAbi;
use abi_stable::sabi_trait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RBox, RSlice, RStr, RString};

/// The event a listener answered about.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// The event type (`PROCESS_STATE_RUNNING`).
    pub name: RStr<'a>,
    /// The global serial of the event.
    pub serial: u64,
    /// The pool's name.
    pub pool: RStr<'a>,
    /// The pool's serial of the event.
    pub pool_serial: u64,
    /// The payload as sent to the listener.
    pub payload: RStr<'a>,
}

/// A handler's judgement of a listener's result.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The event was processed (`<name>: event was processed`).
    Processed,
    /// The listener refused the event: it is re-queued and the listener
    /// stays usable (`<name>: event was rejected`). The text says why.
    Rejected(RString),
    /// Handling failed: the event is re-queued and the listener is marked
    /// UNKNOWN (`<name>: event caused an error`). The text says why.
    Failed(RString),
}

/// What a plugin author implements for a result handler.
pub trait HandleResults: Send + Sync + 'static {
    /// Judge `response`, the body the listener sent after `RESULT <n>\n`.
    fn handle(&self, event: &EventRef<'_>, response: &[u8]) -> Verdict;
}

/// The ABI-stable result handler object. Implemented by the SDK's adapter;
/// see [`result_handler_box`].
#[sabi_trait]
pub trait ResultHandler: Send + Sync {
    /// Judge a listener's result.
    #[sabi(last_prefix_field)]
    fn handle(&self, event: EventRef<'_>, response: RSlice<'_, u8>) -> Verdict;
}

/// An owned result handler, as a factory returns it.
pub type ResultHandlerBox = ResultHandler_TO<'static, RBox<()>>;

struct GuardedHandler<T>(T);

impl<T: HandleResults> ResultHandler for GuardedHandler<T> {
    fn handle(&self, event: EventRef<'_>, response: RSlice<'_, u8>) -> Verdict {
        guarded(|| self.0.handle(&event, response.as_slice())).unwrap_or_else(|message| {
            Verdict::Failed(format!("result handler panicked: {message}").into())
        })
    }
}

/// Wrap a handler for the boundary, catching its panics.
pub fn result_handler_box(handler: impl HandleResults) -> ResultHandlerBox {
    ResultHandler_TO::from_value(GuardedHandler(handler), TD_Opaque)
}
