//! The daemon: start-up, daemonizing, signals and the supervisor task that
//! owns the process table.

pub mod args;
