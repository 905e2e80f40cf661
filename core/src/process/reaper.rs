//! The one reaper: a task that wakes on SIGCHLD and collects every exited
//! child with `waitpid(-1, WNOHANG)`, and the bookkeeping ([`PidLedger`])
//! that matches reaped pids to their processes.
//!
//! Because it waits on every pid, nothing else in the daemon may wait on a
//! child (tokio's `process` module or std's `Child::wait` would race it).
//! An exit can be reaped before the spawner has reported the pid it forked;
//! the ledger holds such exits until that report arrives, and only calls a
//! pid unknown once no spawn is in flight.

use std::collections::{BTreeSet, HashMap};
use std::io;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One collected child: its pid and raw wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// The collected child.
    pub pid: i32,
    /// Its raw `waitpid` status (see `ExitCause::from_raw`).
    pub status: i32,
    /// True when it ran in another process group than the daemon's: a
    /// descendant re-parented to us only because we are a subreaper. A
    /// child the daemon itself forked outside its processes (a plugin's
    /// helper, say) inherits the daemon's group; our processes lead groups
    /// of their own, which their descendants inherit or leave.
    pub adopted: bool,
}

/// Make this process a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`):
/// orphaned descendants re-parent to it instead of to init, so the reaper
/// collects them too and the daemon behaves as a correct PID 1.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Collect every child that has exited by now, without blocking. Returns
/// them in the order `waitpid` gave them.
pub fn reap_now() -> Vec<Reaped> {
    let mut reaped = Vec::new();
    let own_group = nix::unistd::getpgrp().as_raw();
    loop {
        // Peek first (WNOWAIT) so the zombie still says which process
        // group it ran in, then collect that pid.
        // SAFETY: an all-zero siginfo_t is a valid value of the C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the call.
        let peeked = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if peeked == -1 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        // SAFETY: waitid filled `info` for an exited child (or left it
        // zeroed, pid 0, when none has exited); si_pid is valid for both.
        let child = unsafe { info.si_pid() };
        if peeked == -1 || child <= 0 {
            // -1/ECHILD: none left; pid 0: children remain but none exited.
            return reaped;
        }
        let adopted = group_of(child).is_some_and(|group| group != own_group);
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, writable c_int for the call.
        let pid = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        if pid > 0 {
            reaped.push(Reaped {
                pid,
                status,
                adopted,
            });
        }
    }
}

/// The process group of `pid`, which may be a zombie not collected yet:
/// `getpgid` still answers for one, and is a single system call where
/// reading `/proc/PID/stat` costs an open, a read and a close for every
/// exit (thousands in a shutdown).
fn group_of(pid: i32) -> Option<i32> {
    nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)))
        .ok()
        .map(nix::unistd::Pid::as_raw)
}

/// Start the reaper on the current tokio runtime. Every exit goes to the
/// returned channel; the task ends when the receiver is dropped. It reaps
/// once right away, so exits from before the SIGCHLD handler existed are
/// not missed.
pub fn start_reaper() -> io::Result<(JoinHandle<()>, mpsc::UnboundedReceiver<Reaped>)> {
    let mut sigchld = signal(SignalKind::child())?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            for reaped in reap_now() {
                if sender.send(reaped).is_err() {
                    return;
                }
            }
            // SIGCHLD deliveries coalesce; each wake-up drains everything.
            tokio::select! {
                woke = sigchld.recv() => if woke.is_none() { return },
                () = sender.closed() => return,
            }
        }
    });
    Ok((task, receiver))
}

/// What a reaped pid turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<K> {
    /// The child of process `owner`.
    Known {
        /// The process it belongs to.
        owner: K,
        /// The exit.
        reaped: Reaped,
    },
    /// No process of ours: an orphaned grandchild (subreaper) or a child
    /// forked by something else. The reference logs `reaped unknown pid`.
    Unknown(Reaped),
}

impl Reaped {
    /// The main-log level of [`Reaped::unknown_pid_line`]: the
    /// reference's INFO for a child of the daemon's own; DEBUG for an
    /// adopted orphan, which the reference (no subreaper) never sees.
    pub fn unknown_pid_level(&self) -> crate::config::types::LogLevel {
        if self.adopted {
            crate::config::types::LogLevel::Debug
        } else {
            crate::config::types::LogLevel::Info
        }
    }

    /// The main-log line for a pid that belongs to no process.
    pub fn unknown_pid_line(&self) -> String {
        format!(
            "reaped unknown pid {} ({})",
            self.pid,
            super::exit::ExitCause::from_raw(self.status)
        )
    }
}

/// Proof that a spawn was announced to the [`PidLedger`]; hand it back to
/// [`PidLedger::spawn_finished`] exactly once.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "every announced spawn must be reported as finished"]
pub struct SpawnTicket(u64);

/// Matches reaped pids to the processes that own them. `K` is whatever
/// names a process in the process table.
///
/// An exit that matches no known pid is held while any spawn that was in
/// flight when it was reaped has not reported yet (it may be that spawn's
/// child); once those have all reported it is declared unknown. Spawns
/// announced later cannot own it, so a steady stream of restarts never
/// delays the verdict indefinitely.
#[derive(Debug)]
pub struct PidLedger<K> {
    owners: HashMap<i32, K>,
    in_flight: BTreeSet<u64>,
    last_ticket: u64,
    /// Unmatched exits, each with the newest ticket in flight when reaped.
    held: Vec<(Reaped, u64)>,
}

impl<K> Default for PidLedger<K> {
    fn default() -> Self {
        PidLedger {
            owners: HashMap::new(),
            in_flight: BTreeSet::new(),
            last_ticket: 0,
            held: Vec::new(),
        }
    }
}

impl<K: Clone> PidLedger<K> {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A spawn is about to be handed to the spawner: until it reports, an
    /// unmatched exit may be its child. Call it before the fork can happen,
    /// in the task that also feeds [`PidLedger::reaped`]; a message on a
    /// channel of its own could be overtaken by the reaper's report.
    pub fn spawn_started(&mut self) -> SpawnTicket {
        self.last_ticket += 1;
        self.in_flight.insert(self.last_ticket);
        SpawnTicket(self.last_ticket)
    }

    /// The spawner reported: `forked` is the child's pid and its owner, or
    /// `None` when nothing was forked. Returns the exits this settles: the
    /// new child's if it was reaped already, and held ones that no spawn in
    /// flight can own any more.
    pub fn spawn_finished(
        &mut self,
        ticket: SpawnTicket,
        forked: Option<(i32, K)>,
    ) -> Vec<Resolved<K>> {
        self.in_flight.remove(&ticket.0);
        let mut settled = Vec::new();
        if let Some((pid, owner)) = forked {
            if let Some(index) = self.held.iter().position(|(r, _)| r.pid == pid) {
                let (reaped, _) = self.held.swap_remove(index);
                settled.push(Resolved::Known { owner, reaped });
            } else {
                self.owners.insert(pid, owner);
            }
        }
        let oldest = self.in_flight.first().copied();
        let mut index = 0;
        while index < self.held.len() {
            let newest_then = self.held[index].1;
            if oldest.is_none_or(|oldest| oldest > newest_then) {
                let (reaped, _) = self.held.swap_remove(index);
                settled.push(Resolved::Unknown(reaped));
            } else {
                index += 1;
            }
        }
        settled
    }

    /// The reaper collected `reaped`. Returns its owner, an unknown pid, or
    /// nothing when it is held for a spawn still in flight.
    pub fn reaped(&mut self, reaped: Reaped) -> Option<Resolved<K>> {
        if let Some(owner) = self.owners.remove(&reaped.pid) {
            Some(Resolved::Known { owner, reaped })
        } else if let Some(&newest) = self.in_flight.last() {
            self.held.push((reaped, newest));
            None
        } else {
            Some(Resolved::Unknown(reaped))
        }
    }

    /// Pids currently known to be children of ours.
    pub fn live_children(&self) -> usize {
        self.owners.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(pid: i32) -> Reaped {
        Reaped {
            pid,
            status: 0,
            adopted: false,
        }
    }

    #[test]
    fn a_known_pid_resolves_to_its_owner_once() {
        let mut ledger = PidLedger::new();
        let ticket = ledger.spawn_started();
        assert!(ledger.spawn_finished(ticket, Some((10, "a"))).is_empty());
        assert_eq!(
            ledger.reaped(exit(10)),
            Some(Resolved::Known {
                owner: "a",
                reaped: exit(10)
            })
        );
        assert_eq!(ledger.reaped(exit(10)), Some(Resolved::Unknown(exit(10))));
    }

    #[test]
    fn an_exit_before_the_spawn_report_is_held_until_the_pid_is_known() {
        let mut ledger = PidLedger::new();
        let first = ledger.spawn_started();
        let second = ledger.spawn_started();
        assert_eq!(ledger.reaped(exit(7)), None);
        assert_eq!(ledger.reaped(exit(99)), None);
        assert_eq!(
            ledger.spawn_finished(first, Some((7, "fast"))),
            vec![Resolved::Known {
                owner: "fast",
                reaped: exit(7)
            }]
        );
        // 99 may still belong to the second spawn in flight.
        assert_eq!(ledger.live_children(), 0);
        assert_eq!(
            ledger.spawn_finished(second, None),
            vec![Resolved::Unknown(exit(99))]
        );
    }

    #[test]
    fn spawns_announced_after_an_exit_do_not_delay_its_verdict() {
        let mut ledger: PidLedger<&str> = PidLedger::new();
        let before = ledger.spawn_started();
        assert_eq!(ledger.reaped(exit(500)), None);
        let after = ledger.spawn_started();
        // `after` is still in flight, but it was announced after the reap:
        // 500 cannot be its child.
        assert_eq!(
            ledger.spawn_finished(before, Some((1, "a"))),
            vec![Resolved::Unknown(exit(500))]
        );
        assert!(ledger.spawn_finished(after, None).is_empty());
    }

    #[test]
    fn an_unknown_pid_is_logged_with_its_exit_text() {
        let reaped = Reaped {
            pid: 77,
            status: libc::SIGKILL,
            adopted: false,
        };
        assert_eq!(
            reaped.unknown_pid_line(),
            "reaped unknown pid 77 (terminated by SIGKILL)"
        );
    }

    #[test]
    fn a_zombie_still_tells_its_process_group() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("/bin/true")
            .process_group(0)
            .spawn()
            .expect("spawn /bin/true");
        let pid = i32::try_from(child.id()).expect("a pid fits an i32");
        // Wait for it to exit without collecting it (WNOWAIT).
        // SAFETY: an all-zero siginfo_t is a valid value of the C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the call.
        let waited = unsafe {
            libc::waitid(
                libc::P_PID,
                u32::try_from(pid).expect("a positive pid"),
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        assert_eq!(waited, 0);
        assert_eq!(group_of(pid), Some(pid), "it leads a group of its own");
        assert!(child.wait().expect("collect it").success());
    }

    #[test]
    fn with_no_spawn_in_flight_an_unmatched_pid_is_unknown_at_once() {
        let mut ledger: PidLedger<&str> = PidLedger::new();
        assert_eq!(ledger.reaped(exit(5)), Some(Resolved::Unknown(exit(5))));
    }
}
