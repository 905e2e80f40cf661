//! The daemon: start-up ([`startup`]: user, rlimits, logs, servers,
//! daemonizing, pidfile), the supervisor task that owns the process table
//! ([`supervisor`]), child output ([`output`]) and the plugin host built on
//! the task's handle ([`host`]). Command outcomes travel through the
//! [`TicketHub`] (`crate::rpc::ticket`).
//!
//! Only the supervisor task changes process state; everything else sends it
//! a [`Request`] through a [`Handle`] ([`handle`]) and reads the published
//! [`Snapshot`] ([`snapshot`]). The task composes components that each own
//! one piece of its state: the process table with its name lookup
//! (`table`), the timers (`timers`), the commands waiting on a process
//! (`waiters`), group creation (`groups`), spawning and the pid ledger
//! (`spawns`), what a child is attached to (`attach`), the shutdown order
//! (`shutdown`) and the daemon's modes ([`mode`], one pure function fed by
//! RPC calls and [`signals`]). `notify` tells systemd what the published
//! snapshots show; `twiddle` plans supervisor_twiddler's changes.
//! Nothing here parses configuration files (`config` does) or decides a
//! process transition (`process::transition` does).

pub mod args;
mod attach;
mod build;
mod changes;
mod deps;
mod execs;
mod groups;
pub mod handle;
pub mod host;
mod listeners;
pub mod memory;
pub mod mode;
mod notify;
pub mod output;
mod probes;
mod reread;
mod shutdown;
pub mod signals;
pub mod snapshot;
mod spawns;
pub mod startup;
pub mod supervisor;
mod table;
mod timers;
pub mod twiddle;
mod waiters;

pub use crate::rpc::ticket::{HubWatcher, TicketHub};
pub use handle::{Handle, Request};
pub use host::DaemonHost;
pub use mode::RunEnd;
pub use snapshot::Snapshot;
pub use supervisor::{Setup, Supervisor};

/// A test configuration: `[supervisord]` with its logs in a fresh temp
/// dir, then `body`, loaded as the daemon loads its file. The dir lives
/// as long as the returned [`tempfile::TempDir`].
#[cfg(test)]
fn test_config(body: &str) -> (tempfile::TempDir, crate::config::Config) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write_test_config(&dir, body);
    let config = crate::config::load_config(&path).expect("a valid config");
    (dir, config)
}

/// Write (or rewrite) the configuration file of [`test_config`] in `dir`;
/// its path.
#[cfg(test)]
fn write_test_config(dir: &tempfile::TempDir, body: &str) -> std::path::PathBuf {
    let path = dir.path().join("supervisord.conf");
    let text = format!(
        "[supervisord]\nchildlogdir={}\nidentifier=unit\n{body}",
        dir.path().display()
    );
    std::fs::write(&path, text).expect("write the config");
    path
}
