//! Tests of the process engine with real processes: spawning, spawn
//! errors, what a child inherits, the reaper and subreaper, signals, and
//! the state machine driven against the OS. All in one binary with one
//! shared reaper (see `harness`).

mod harness;
mod machine;
mod measure;
mod reaping;
mod reference;
mod spawning;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Driver, engine, is_gone, read_all, read_line, spec, within};
use supervisor::process::ExitCause;
use supervisor::process::kill::send_signal;
use supervisor::process::spawn::StdinSource;
use supervisor::process::{AutoRestart, Input, LogLevel, Policy};
use supervisor_sdk::state::ProcessState as S;
use supervisor_tests::{Sandbox, is_root};

const PROBE: &str = env!("CARGO_BIN_EXE_fixture_probe");
const EXIT: &str = env!("CARGO_BIN_EXE_fixture_exit");
const STUBBORN: &str = env!("CARGO_BIN_EXE_fixture_stubborn");
const FORKER: &str = env!("CARGO_BIN_EXE_fixture_forker");

fn exit_text(status: i32) -> String {
    ExitCause::from_raw(status).to_string()
}

/// The probe's `key=value` lines (environment lines keep their `env:`).
fn probe_lines(output: &str) -> HashMap<String, String> {
    output
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Poll `probe` every few milliseconds until it gives a value, failing the
/// test after [`harness::PATIENCE`].
async fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + harness::PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `spawned: 'x' with pid 123` → `spawned: 'x' with pid N`.
fn without_pid(line: &str) -> String {
    match line.rsplit_once(" with pid ") {
        Some((head, _)) => format!("{head} with pid N"),
        None => line.to_string(),
    }
}

/// Replace every run of digits in `text` with `N` (pids differ per run).
fn mask_pids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}
