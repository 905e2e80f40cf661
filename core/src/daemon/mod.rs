//! The daemon: start-up ([`startup`]: user, rlimits, logs, servers,
//! daemonizing, pidfile), the supervisor task that owns the process table
//! ([`supervisor`]), child output ([`output`]), completion tickets
//! ([`tickets`]) and the plugin host built on the task's handle ([`host`]).
//!
//! Only the supervisor task changes process state; everything else sends it
//! a [`supervisor::Request`] and reads the published
//! [`supervisor::Snapshot`]. Nothing here parses configuration files
//! (`config` does) or decides a transition (`process::transition` does).

pub mod args;
mod build;
pub mod host;
pub mod output;
pub mod startup;
pub mod supervisor;
pub mod tickets;

pub use host::DaemonHost;
pub use supervisor::{Handle, Request, RunEnd, Setup, Snapshot, Supervisor};
pub use tickets::{HubWatcher, TicketHub};
