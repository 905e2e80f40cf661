//! What the state machine (`super::machine`) reads and keeps about one
//! process: its [`Policy`] (built from the config), the daemon's [`Mood`],
//! the [`Moment`] of an input, the [`ProcessRecord`], the timer kinds and
//! why a signal was sent, and the backoff delay. Plain data and pure
//! functions; the transitions are the machine's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use supervisor_sdk::state::ProcessState;
use tokio::time::Instant;

/// When to restart a process that exited after reaching RUNNING: the one
/// definition is the config layer's (`autorestart`), so the daemon hands
/// the configured value to the machine unmapped.
pub use crate::config::types::AutoRestart;

/// What follows a failed start (`backoff`, `backoff_max`,
/// `backoff_jitter`, `retry_forever`): the config layer's definition.
pub use crate::config::lifecycle::{BackoffKind, BackoffPolicy, ShutdownOn};

/// What the machine needs to know about one process's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The bare process name used in log lines (not `group:name`),
    /// shared with the daemon's other records of the process.
    pub name: Arc<str>,
    /// Start when the daemon starts (or the group is added).
    pub autostart: bool,
    /// Seconds the process must stay up to count as started.
    pub startsecs: u64,
    /// Failed starts tolerated before FATAL (total attempts = 1 + this).
    pub startretries: u32,
    /// What follows an exit from RUNNING.
    pub autorestart: AutoRestart,
    /// Exit statuses that count as expected.
    pub exitcodes: Arc<[i32]>,
    /// The signal a stop sends first.
    pub stopsignal: i32,
    /// Seconds between the stop signal and SIGKILL (and between SIGKILLs).
    pub stopwaitsecs: u64,
    /// Send the stop signal to the whole process group.
    pub stopasgroup: bool,
    /// Send SIGKILL to the whole process group.
    pub killasgroup: bool,
    /// The delay before each retry, and whether retries ever end.
    pub backoff: BackoffPolicy,
    /// The process has a ready check: RUNNING needs [`Input::Ready`] too.
    ///
    /// [`Input::Ready`]: super::machine::Input::Ready
    pub ready_check: bool,
    /// Seconds from the start the ready check is given.
    pub ready_timeout: u64,
    /// Whether this process going FATAL, or exiting for good, ends the
    /// daemon.
    pub shutdown_on: Option<ShutdownOn>,
}

impl Policy {
    /// The reference's defaults for a process called `name`.
    pub fn with_defaults(name: impl Into<Arc<str>>) -> Policy {
        Policy {
            name: name.into(),
            autostart: true,
            startsecs: 1,
            startretries: 3,
            autorestart: AutoRestart::Unexpected,
            exitcodes: Arc::from([0]),
            stopsignal: libc::SIGTERM,
            stopwaitsecs: 10,
            stopasgroup: false,
            killasgroup: false,
            backoff: BackoffPolicy::default(),
            ready_check: false,
            ready_timeout: 60,
            shutdown_on: None,
        }
    }
}

/// The daemon's mood as far as one process cares: whether it may be
/// (re)started by autostart, autorestart or a backoff retry. The reference
/// starts nothing on its own while shutting down or restarting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    /// Normal operation.
    Running,
    /// Shutting down or restarting: only explicit starts spawn.
    WindingDown,
}

/// A point in time, monotonic for deadlines and wall-clock for what
/// `getProcessInfo` reports. Deadlines use the monotonic clock, so a clock
/// stepped backwards cannot confuse startsecs or backoff (the reference
/// needs a repair pass for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// For deadlines and durations.
    pub instant: Instant,
    /// For the times reported to users.
    pub wall: SystemTime,
}

impl Moment {
    /// The current moment (tokio's clock, so paused-time tests work).
    pub fn now() -> Moment {
        Moment {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// This moment moved forward by `by` on both clocks.
    pub fn after(self, by: Duration) -> Moment {
        Moment {
            instant: self.instant + by,
            wall: self.wall + by,
        }
    }
}

/// Everything the machine remembers about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    /// The current state.
    pub state: ProcessState,
    /// The running child's pid; `None` when there is no child.
    pub pid: Option<i32>,
    /// A [`Effect::Spawn`](super::machine::Effect::Spawn) is out and has not been reported back yet.
    pub spawning: bool,
    /// When the last start began (`None`: never started; autostart uses it).
    pub laststart: Option<Instant>,
    /// `laststart` on the wall clock (`getProcessInfo`'s `start`).
    pub laststart_wall: Option<SystemTime>,
    /// When the last child was reaped.
    pub laststop_wall: Option<SystemTime>,
    /// The reference's `delay`: when the next timed step is due.
    pub deadline: Option<Instant>,
    /// Consecutive failed starts (the `tries` of STARTING/BACKOFF events).
    pub backoff: u32,
    /// The last exit status (`None` after a too-quick exit, as the
    /// reference resets it).
    pub exitstatus: Option<i32>,
    /// Why the last start failed; the description of BACKOFF and FATAL.
    pub spawnerr: Option<String>,
    /// The ready check passed for the current child.
    pub ready: bool,
    /// The current child is being stopped because it was not ready in
    /// time: its end is a failed start (BACKOFF), not a stop.
    pub not_ready: bool,
}

impl Default for ProcessRecord {
    fn default() -> Self {
        ProcessRecord {
            state: ProcessState::Stopped,
            pid: None,
            spawning: false,
            laststart: None,
            laststart_wall: None,
            laststop_wall: None,
            deadline: None,
            backoff: 0,
            exitstatus: None,
            spawnerr: None,
            ready: false,
            not_ready: false,
        }
    }
}

/// Which timer fired. A process has at most one armed timer at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// STARTING has lasted `startsecs`: promote to RUNNING.
    Startsecs,
    /// The backoff delay is over: try to start again.
    Backoff,
    /// `stopwaitsecs` passed in STOPPING: send SIGKILL.
    Stopwait,
    /// `ready_timeout` passed in STARTING without the ready check passing.
    ReadyTimeout,
}

/// Why a signal was sent, which decides what its failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPurpose {
    /// A stop or its SIGKILL escalation (`Subprocess.kill`).
    Stop,
    /// `signalProcess`: no state change intended (`Subprocess.signal`).
    Signal,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The wait before retry number `failures`: `failures` seconds (linear,
/// the reference) or 2^(failures-1) (exponential), capped by `max`, then
/// spread by the jitter. The spread is drawn from the process's name and
/// the attempt (FNV-1a), not from a clock or an RNG, so the machine stays
/// a pure function while programs that fail together retry apart.
pub fn backoff_delay(policy: &Policy, failures: u32) -> Duration {
    let b = &policy.backoff;
    let base = match b.kind {
        BackoffKind::Linear => u64::from(failures),
        BackoffKind::Exponential => 1u64 << failures.saturating_sub(1).min(62),
    };
    let capped = b.max.map_or(base, |max| base.min(max));
    let delay = secs(capped);
    if b.jitter_permille == 0 {
        return delay;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in policy.name.bytes().chain(failures.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    // A factor from 1 - jitter to 1 + jitter, in millionths.
    let unit = i64::try_from(hash % 2001).unwrap_or(1000) - 1000;
    let factor = 1_000_000 + i64::from(b.jitter_permille) * unit;
    let micros =
        i128::try_from(delay.as_micros()).unwrap_or(i128::MAX) * i128::from(factor) / 1_000_000;
    Duration::from_micros(u64::try_from(micros.max(0)).unwrap_or(u64::MAX))
}
