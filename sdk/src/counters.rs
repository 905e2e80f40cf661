//! The daemon's counters since it started, for monitoring plugins: RPC
//! calls and faults by method, restarts per process, the event buffers and
//! bytes of child output per channel.
//!
//! Not part of the ABI: [`crate::host::Host`] cannot grow without making
//! the daemon refuse every plugin built before the growth (abi_stable
//! checks that the host's method table has the fields the daemon's has).
//! So the daemon hands its source to this module at start-up, and only a
//! plugin linked into the daemon (a bundled plugin, which shares this
//! crate with it) reads the daemon's figures; a plugin loaded from a
//! library has its own copy of this module, which has no source and reads
//! nil.

use std::sync::OnceLock;

use crate::value::Value;

static SOURCE: OnceLock<fn() -> Value> = OnceLock::new();

/// Set where [`read`] gets the counters; the first call wins (the daemon
/// calls it once, before any plugin loads).
pub fn provide(source: fn() -> Value) {
    let _ = SOURCE.set(source);
}

/// The counters, or nil when no daemon provided them. A struct whose
/// counts are doubles (they outgrow XML-RPC's 32-bit ints):
///
/// - `rpc`: an array of `{method, calls, faults}`, one per method called
///   at least once over XML-RPC or the JSON API (a multicall's inner calls
///   count too; names that are no method count as `unknown`);
/// - `restarts`: an array of `{group, name, restarts}`: the starts of each
///   process after its first since the daemon started;
/// - `events`: `{buffered, overflows}`: events waiting in listener pools'
///   buffers now, and those dropped because a buffer was full;
/// - `logged`: an array of `{group, name, channel, bytes}`: the bytes of
///   child output per channel (`stdout`, `stderr`) read from its pipe since
///   the daemon started.
pub fn read() -> Value {
    SOURCE.get().map_or_else(Value::nil, |source| source())
}
