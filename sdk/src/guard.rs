//! Panic capture for every plugin entry point. A panic that reaches
//! abi_stable's FFI shims aborts the whole daemon, and `catch_unwind` on
//! the daemon's side cannot stop that, so the SDK's adapters (compiled into
//! the plugin) catch it first and turn it into a fault or an error.
//!
//! Internal: plugin authors never call this; it is why they cannot forget.

use crate::fault::{FAILED, Fault};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The text of a panic payload (`panic!("…")` gives `&str` or `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Run `body`; a panic becomes `Err(message)`.
///
/// `AssertUnwindSafe`: after a panic the plugin's state may be half
/// updated, but the alternative is the daemon aborting; the fault tells
/// the caller something went wrong.
pub(crate) fn guarded<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| panic_message(&*payload))
}

/// The fault a panic inside `what` turns into.
pub(crate) fn panic_fault(what: &str, message: &str) -> Fault {
    Fault::with(FAILED, format!("plugin panicked in {what}: {message}"))
}
