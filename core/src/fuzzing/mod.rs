//! The fuzz harness: one function per input an outsider or a config
//! controls, each taking the fuzzer's bytes, running them through the real
//! code and checking an invariant (not only "no panic"). The libFuzzer
//! targets in `fuzz/` and the stable replay test
//! (`tests/tests/fuzz_replay.rs`, which runs every committed corpus and
//! regression input) call these same functions, so a crash found by the
//! fuzzer is replayed by `cargo test` with the code that found it.
//!
//! A violated invariant panics with what was seen. Nothing here is part of
//! the daemon: the module is public (hidden from the docs) only so that the
//! two callers outside the crate reach the crate's internals through one
//! door, and it must never be called by the binaries.

mod config;
mod events;
mod http;
mod notify;
mod text;

pub use config::{config_text, env_file};
pub use events::listener_replies;
pub use http::{ctl_response, http_request, json_api, xmlrpc_body};
pub use notify::notify_datagram;
pub use text::{ansi, capture};

/// A harness: the fuzzer's bytes in, a panic when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and the
/// corpus directories `fuzz/corpus/<name>/` are named.
pub const TARGETS: &[(&str, Harness)] = &[
    ("http_request", http_request),
    ("xmlrpc_body", xmlrpc_body),
    ("json_api", json_api),
    ("config_text", config_text),
    ("listener_replies", listener_replies),
    ("capture", capture),
    ("ansi", ansi),
    ("ctl_response", ctl_response),
    ("env_file", env_file),
    ("notify_datagram", notify_datagram),
];

/// Split `data` at its first `\0`: a header part the harness reads as
/// parameters and the rest. Inputs without one are all payload.
fn split_params(data: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(0, data) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[], data),
    }
}

/// Cut points into `len` bytes from the seed bytes `seed`: each seed byte
/// is a step (1..=256) from the previous cut, so short seeds give few
/// cuts and the fuzzer controls every boundary.
fn cuts(seed: &[u8], len: usize) -> Vec<usize> {
    let mut at = 0usize;
    let mut out = Vec::new();
    for &step in seed {
        at += usize::from(step) + 1;
        if at >= len {
            break;
        }
        out.push(at);
    }
    out
}

/// `data` in pieces cut at `points` (increasing, inside `data`).
fn pieces<'a>(data: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(points.len() + 1);
    let mut from = 0;
    for &to in points {
        out.push(&data[from..to]);
        from = to;
    }
    out.push(&data[from..]);
    out
}
