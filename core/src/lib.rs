//! supervisor-rs: a drop-in replacement for Supervisor 4.3.0.
//!
//! # Theory of operation
//!
//! Start-up: `supervisord` parses its command line (Python getopt rules, see
//! [`cli`]), reads and validates the whole configuration ([`config`]) and loads
//! every `[rpcinterface:x]` plugin ([`plugins`]) while it still has a terminal,
//! so every error reaches the user. Only then does it daemonize (before any
//! thread exists) and build the tokio runtime by hand. A restart (SIGHUP,
//! `supervisor.restart`) runs the same start-up again as a new *life* from the
//! re-read configuration and command line: new supervisor task, main-log
//! settings, plugins and HTTP servers; only the runtime, the signal handlers
//! and the reaper carry over, and there is no second daemonize.
//!
//! The supervisor task ([`daemon`]) is the single owner of the process table.
//! Everything else sends it messages: RPC commands, unix signals, child exits
//! from the one reaper, timers, listener replies. It changes state through the
//! pure transition function in [`process`], carries out the effects (spawn,
//! kill, arm a timer, publish an event), and publishes a fresh read-only
//! snapshot that readers use without a round trip. The daemon as a whole
//! moves between running, shutting down and restarting in one pure
//! function (`daemon::mode::step`) fed alike by `supervisor.shutdown` /
//! `supervisor.restart` and by SIGTERM, SIGINT, SIGQUIT and SIGHUP.
//!
//! Plugins are called through the stable ABI of `supervisor-sdk`. A method
//! that declares it returns at once (every method of the builtin
//! `supervisor` namespace: its reads are snapshot reads and its waits are
//! deferred replies) runs inline on the connection's task, timed, and is
//! moved off the runtime threads for good if it ever overruns; any other
//! method runs off the runtime threads, so a slow plugin cannot stall other
//! clients.

pub mod cli;
pub mod config;
pub mod counters;
pub mod ctl;
pub mod daemon;
pub mod events;
// The fuzz targets' and the replay test's harness; not for the binaries.
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logs;
pub mod plugins;
pub mod probes;
pub mod process;
pub mod pyrepr;
pub mod rpc;

/// The version we answer with wherever the reference reports its own
/// (`supervisord -v`, `getSupervisorVersion`): tools compare against it.
pub const SUPERVISOR_VERSION: &str = "4.3.0";
