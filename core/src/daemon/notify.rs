//! systemd's notify protocol (sd_notify): when supervisord starts with
//! `NOTIFY_SOCKET` (a path, or an abstract socket written `@name`), it
//! sends `READY=1` once a life's servers listen and every autostart
//! process has settled, `STOPPING=1` when shutdown begins, `RELOADING=1`
//! when a restart begins (then `READY=1` again when the new life settled),
//! `STATUS=` lines as processes change, and `WATCHDOG=1` every half
//! `WATCHDOG_USEC` when the watchdog is on (and `WATCHDOG_PID`, if set, is
//! us). It owns the socket and the variables: [`Notifier::from_environment`]
//! removes them so no child inherits them. It reads the published
//! snapshot and never sends the supervisor task anything; without
//! `NOTIFY_SOCKET` none of it exists and no timer runs.
//!
//! The sender is hand-written (a datagram per message on a std
//! `UnixDatagram`): the `sd-notify` crate would do the same in more lines
//! of dependency, and libsystemd would be a C library to link.

use std::collections::HashMap;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

use supervisor_sdk::host::ProcessInfo;
use supervisor_sdk::state::{ProcessState, SupervisorState};

use super::handle::Shared;
use super::mode::RunEnd;
use super::snapshot::Snapshot;

const SOCKET_VAR: &str = "NOTIFY_SOCKET";
const WATCHDOG_USEC_VAR: &str = "WATCHDOG_USEC";
const WATCHDOG_PID_VAR: &str = "WATCHDOG_PID";

/// The connection to systemd's notify socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
    /// How often to ping the watchdog (half its timeout), if it is on.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Read and remove `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    /// None when there is no usable socket (then nothing is ever sent).
    /// Without `NOTIFY_SOCKET` the environment is left as it is: children
    /// inherit what they always did.
    ///
    /// Must run while the process has a single thread: it changes the
    /// environment.
    pub fn from_environment() -> Option<Notifier> {
        let socket = std::env::var_os(SOCKET_VAR)?;
        let usec = std::env::var(WATCHDOG_USEC_VAR).ok();
        let pid = std::env::var(WATCHDOG_PID_VAR).ok();
        for name in [SOCKET_VAR, WATCHDOG_USEC_VAR, WATCHDOG_PID_VAR] {
            // SAFETY: called from `startup::run` before the runtime, the
            // spawner threads or any other thread exists, so nothing reads
            // the environment concurrently.
            unsafe { std::env::remove_var(name) };
        }
        let address = parse_address(socket.to_str()?)?;
        let socket = UnixDatagram::unbound().ok()?;
        let watchdog = watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id());
        Some(Notifier {
            socket,
            address,
            watchdog,
        })
    }

    /// Send one message (`KEY=value` lines). A failure is not ours to
    /// act on: systemd may be gone, and supervisord goes on without it.
    pub fn send(&self, message: &str) {
        let _ = self.socket.send_to_addr(message.as_bytes(), &self.address);
    }

    /// Ping the watchdog every half timeout, for as long as the runtime
    /// lives (across restarts). Nothing when the watchdog is off.
    pub fn spawn_watchdog(self: &Arc<Self>, runtime: &tokio::runtime::Runtime) {
        let Some(every) = self.watchdog else {
            return;
        };
        let notifier = Arc::clone(self);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                notifier.send("WATCHDOG=1");
            }
        });
    }

    /// Say how a life ends: `STOPPING=1` before shutdown, `RELOADING=1`
    /// before a restart.
    pub fn life_ends(&self, end: RunEnd) {
        match end {
            RunEnd::Shutdown | RunEnd::Exit(_) => self.send("STOPPING=1\nSTATUS=Stopping"),
            RunEnd::Restart => self.send("RELOADING=1\nSTATUS=Restarting"),
        }
    }

    /// Follow one life's published snapshots: `READY=1` once it settled,
    /// `STATUS=` as it changes, `STOPPING=1` or `RELOADING=1` when it
    /// begins to end (then return). Wakes only when a snapshot is
    /// published; cancelled only while it waits for one.
    pub async fn follow_life(&self, shared: Arc<Shared>) {
        let mut published = shared.published.subscribe();
        let mut ready = false;
        let mut status = String::new();
        loop {
            let snapshot = shared.snapshot.load_full();
            match snapshot.state {
                SupervisorState::Shutdown | SupervisorState::Fatal => {
                    return self.life_ends(RunEnd::Shutdown);
                }
                SupervisorState::Restarting => return self.life_ends(RunEnd::Restart),
                SupervisorState::Running => {}
            }
            if ready || settled(&snapshot) {
                let now = status_line(&snapshot.processes);
                if !ready {
                    ready = true;
                    self.send(&format!("READY=1\nSTATUS={now}"));
                } else if now != status {
                    self.send(&format!("STATUS={now}"));
                }
                status = now;
            }
            if published.changed().await.is_err() {
                return;
            }
        }
    }
}

/// `NOTIFY_SOCKET`'s address: a path, or `@name` for an abstract socket.
fn parse_address(value: &str) -> Option<SocketAddr> {
    if let Some(name) = value.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt as _;
        return SocketAddr::from_abstract_name(name.as_bytes()).ok();
    }
    if !value.starts_with('/') {
        return None;
    }
    SocketAddr::from_pathname(value).ok()
}

/// Half of `WATCHDOG_USEC`, when it is set, positive, and meant for us
/// (`WATCHDOG_PID` unset or our pid), as `sd_watchdog_enabled` decides.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, ours: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(ours)
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// Whether every autostart process of the life's configuration has left
/// STARTING: up (RUNNING), failed once (BACKOFF: a program that retries
/// forever must not hold READY back), given up (FATAL) or ended (EXITED).
/// A process not published yet, or still STOPPED without ever having
/// started, has not settled.
fn settled(snapshot: &Snapshot) -> bool {
    let states: HashMap<(&str, &str), &ProcessInfo> = snapshot
        .processes
        .iter()
        .map(|p| ((p.group.as_str(), p.name.as_str()), p))
        .collect();
    snapshot.pending.groups.iter().all(|group| {
        group.processes.iter().filter(|p| p.autostart).all(|p| {
            match states.get(&(group.name.as_str(), p.name.as_str())) {
                None => false,
                Some(info) => process_settled(info),
            }
        })
    })
}

fn process_settled(info: &ProcessInfo) -> bool {
    match info.state {
        ProcessState::Starting => false,
        ProcessState::Stopped => info.start != 0,
        _ => true,
    }
}

/// `STATUS=`'s text: how many processes run.
fn status_line(processes: &[ProcessInfo]) -> String {
    let running = processes
        .iter()
        .filter(|p| p.state == ProcessState::Running)
        .count();
    format!("{running} of {} programs running", processes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_runs_at_half_its_timeout_and_only_for_us() {
        let half = Some(Duration::from_secs(1));
        assert_eq!(watchdog_interval(Some("2000000"), None, 7), half);
        assert_eq!(watchdog_interval(Some("2000000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval(Some("2000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("x"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    #[test]
    fn addresses_are_paths_or_abstract_names() {
        let path = parse_address("/run/systemd/notify").expect("a path");
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        use std::os::linux::net::SocketAddrExt as _;
        let abstract_ = parse_address("@notify").expect("an abstract name");
        assert_eq!(abstract_.as_abstract_name(), Some(&b"notify"[..]));
        assert!(parse_address("relative").is_none());
    }

    fn info(state: ProcessState, start: i64) -> ProcessInfo {
        ProcessInfo {
            group: "g".into(),
            name: "p".into(),
            group_priority: 999,
            priority: 999,
            state,
            pid: 0,
            start,
            stop: 0,
            spawnerr: "".into(),
            exitstatus: 0,
            stdout_logfile: "".into(),
            stderr_logfile: "".into(),
        }
    }

    #[test]
    fn a_process_settles_when_it_left_starting() {
        for (state, start, want) in [
            (ProcessState::Stopped, 0, false),
            (ProcessState::Starting, 1, false),
            (ProcessState::Running, 1, true),
            (ProcessState::Backoff, 1, true),
            (ProcessState::Fatal, 1, true),
            (ProcessState::Exited, 1, true),
            (ProcessState::Stopping, 1, true),
            (ProcessState::Stopped, 1, true),
        ] {
            assert_eq!(process_settled(&info(state, start)), want, "{state:?}");
        }
    }

    #[test]
    fn status_counts_running_processes() {
        let processes = [
            info(ProcessState::Running, 1),
            info(ProcessState::Backoff, 1),
        ];
        assert_eq!(status_line(&processes), "1 of 2 programs running");
    }
}
