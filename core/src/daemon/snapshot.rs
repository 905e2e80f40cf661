//! The read side of the supervisor task: the [`Snapshot`] readers use
//! without a round trip (processes, spawn specs, the configuration read
//! last and the `getAllConfigInfo` view of it), and the
//! [`SnapshotPublisher`] that decides when the task publishes a fresh one.
//! It reads the process table and never changes it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::{RArc, RString, RVec};
use arc_swap::ArcSwap;
use supervisor_sdk::host::{ChannelConfig, ConfigInfo, ProcessInfo, Setting};
use supervisor_sdk::state::SupervisorState;
use tokio::time::Instant;

use super::table::ProcessTable;
use crate::config::{self, Config, GroupConfig, LogFile};
use crate::process::spawn::SpawnSpec;

/// How often, at most, a burst of state changes nobody waits on is
/// published: rebuilding the snapshot of a thousand processes after each
/// of a thousand starts would cost more than the starts. A change that
/// settles a command, or of the daemon's state, is published at once.
const PUBLISH_EVERY: Duration = Duration::from_millis(10);

/// The period also stays at least this many times the last rebuild's
/// duration, so rebuilding (which grows with the number of processes)
/// takes at most about a ninth of the task's time in a burst: with 4000
/// processes a rebuild is a few milliseconds.
const REBUILD_SHARE: u32 = 8;

/// What the read side sees: published after every change.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The daemon's state.
    pub state: SupervisorState,
    /// Every process of every active group, groups in priority order.
    pub processes: RArc<RVec<ProcessInfo>>,
    /// The spawn spec of each process in `processes`, in the same order
    /// (for command checks).
    pub specs: Arc<[Arc<SpawnSpec>]>,
    /// The configuration read last; [`Snapshot::config_infos`] describes
    /// it. Kept as is rather than as infos: most daemons are never asked.
    pub pending: Arc<Config>,
}

impl Snapshot {
    /// The snapshot before the task published any.
    pub fn empty(pending: Arc<Config>) -> Snapshot {
        Snapshot {
            state: SupervisorState::Running,
            processes: RArc::new(RVec::new()),
            specs: Arc::from([]),
            pending,
        }
    }

    /// The spawn spec of `process` of `group`, if it is active.
    pub fn spec(&self, group: &str, process: &str) -> Option<&Arc<SpawnSpec>> {
        let index = self
            .processes
            .iter()
            .position(|p| p.group.as_str() == group && p.name.as_str() == process)?;
        self.specs.get(index)
    }

    /// Every process of the pending configuration, as `getAllConfigInfo`
    /// reports it.
    pub fn config_infos(&self) -> RVec<ConfigInfo> {
        // The reference reports an AUTO log of an active group by the path
        // it created when the group was added (its config object is updated
        // in place); only a group not added yet still says "auto".
        let created: HashMap<(&str, &str), [Option<&Path>; 2]> = self
            .processes
            .iter()
            .map(|p| {
                fn path(s: &RString) -> Option<&Path> {
                    (!s.is_empty()).then(|| Path::new(s.as_str()))
                }
                (
                    (p.group.as_str(), p.name.as_str()),
                    [path(&p.stdout_logfile), path(&p.stderr_logfile)],
                )
            })
            .collect();
        let active: HashSet<&str> = self.processes.iter().map(|p| p.group.as_str()).collect();
        self.pending
            .groups
            .iter()
            .flat_map(|g| {
                let inuse = active.contains(g.name.as_str());
                let created = &created;
                g.processes.iter().map(move |p| {
                    let paths = created
                        .get(&(g.name.as_str(), p.name.as_str()))
                        .filter(|_| inuse)
                        .copied()
                        .unwrap_or([None, None]);
                    config_info(g, p, inuse, paths)
                })
            })
            .collect()
    }
}

/// Where a snapshot's log file for `channel` of a process is.
pub fn log_path(info: &ProcessInfo, stderr: bool) -> Option<PathBuf> {
    let path = if stderr {
        &info.stderr_logfile
    } else {
        &info.stdout_logfile
    };
    (!path.is_empty()).then(|| PathBuf::from(path.as_str()))
}

/// One process of the configuration as the SDK's [`ConfigInfo`];
/// `created` are the paths its AUTO logs were given when its group was
/// added.
fn config_info(
    group: &GroupConfig,
    p: &config::ProcessConfig,
    inuse: bool,
    created: [Option<&Path>; 2],
) -> ConfigInfo {
    fn setting(logfile: &LogFile, created: Option<&Path>) -> Setting {
        let text = |path: &Path| Setting::Text(path.to_string_lossy().into_owned().into());
        match (logfile, created) {
            (LogFile::None, _) => Setting::Unset,
            (LogFile::Auto, Some(path)) => text(path),
            (LogFile::Auto, None) => Setting::Auto,
            (LogFile::Path(path), _) => text(path),
        }
    }
    fn channel(log: &config::ChannelLog, created: Option<&Path>) -> ChannelConfig {
        ChannelConfig {
            logfile: setting(&log.logfile, created),
            logfile_backups: log.backups,
            logfile_maxbytes: i64::try_from(log.maxbytes).unwrap_or(i64::MAX),
            capture_maxbytes: i64::try_from(log.capture_maxbytes).unwrap_or(i64::MAX),
            events_enabled: log.events_enabled,
            syslog: log.syslog,
        }
    }
    ConfigInfo {
        name: p.name.as_str().into(),
        group: group.name.as_str().into(),
        inuse,
        autostart: p.autostart,
        directory: p.directory.clone().map(RString::from).into(),
        uid: p.user.as_ref().map(|u| u.uid).into(),
        command: p.command.as_str().into(),
        exitcodes: p.exitcodes.iter().copied().collect(),
        group_prio: group.priority,
        process_prio: p.priority,
        killasgroup: p.killasgroup,
        redirect_stderr: p.redirect_stderr,
        startretries: p.startretries,
        startsecs: p.startsecs,
        stopsignal: p.stopsignal,
        stopwaitsecs: p.stopwaitsecs,
        // `serverurl=AUTO` and no serverurl are both None in the reference.
        serverurl: match &p.serverurl {
            Some(url) => Setting::Text(url.as_str().into()),
            None => Setting::Unset,
        },
        stdout: channel(&p.stdout, created[0]),
        stderr: channel(&p.stderr, created[1]),
    }
}

/// When the task publishes: at once when a command settles or the daemon
/// is winding down, otherwise at most every `PUBLISH_EVERY`.
#[derive(Debug)]
pub struct SnapshotPublisher {
    /// The published snapshot is stale.
    stale: bool,
    /// Groups or the pending configuration changed: the snapshot's spawn
    /// specs must be rebuilt too (otherwise they are shared with the
    /// previous snapshot, so a burst of state changes does not rebuild
    /// them once per change).
    layout_stale: bool,
    /// When the snapshot was last published, and when a deferred publish
    /// is due.
    last: Option<Instant>,
    due: Option<Instant>,
    /// The shortest period between two deferrable publishes (see
    /// [`REBUILD_SHARE`]).
    every: Duration,
    /// The daemon's state in the last published snapshot: a change of it
    /// is published at once.
    state: Option<SupervisorState>,
    /// The next publish is urgent ([`SnapshotPublisher::urgent`]).
    forced: bool,
}

impl Default for SnapshotPublisher {
    fn default() -> Self {
        SnapshotPublisher {
            stale: true,
            layout_stale: true,
            last: None,
            due: None,
            every: PUBLISH_EVERY,
            state: None,
            forced: false,
        }
    }
}

impl SnapshotPublisher {
    /// A process or the daemon's state changed.
    pub fn changed(&mut self) {
        self.stale = true;
    }

    /// Groups or the pending configuration changed.
    pub fn layout_changed(&mut self) {
        self.stale = true;
        self.layout_stale = true;
    }

    /// Publish the next change at once, however recent the last publish
    /// (the end of a life: nothing comes after it to publish a deferred
    /// one).
    pub fn urgent(&mut self) {
        self.forced = true;
    }

    /// When a deferred publish is due.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Whether [`SnapshotPublisher::publish`] at `now` publishes (the
    /// caller brings what it shows up to date first).
    pub fn is_due(&self, now: Instant, urgent: bool, state: SupervisorState) -> bool {
        let urgent = urgent || self.forced || self.state != Some(state);
        self.stale && (urgent || self.last.is_none_or(|last| now >= last + self.every))
    }

    /// Whether to publish at `now`; `Some(layout)` says so and whether the
    /// spawn specs must be rebuilt, and counts it as published.
    fn take(&mut self, now: Instant, urgent: bool) -> Option<bool> {
        let recent = self.last.is_some_and(|last| now < last + self.every);
        if self.stale && recent && !urgent {
            self.due = self.last.map(|last| last + self.every);
            return None;
        }
        self.due = None;
        if !self.stale {
            return None;
        }
        self.last = Some(now);
        self.stale = false;
        Some(std::mem::take(&mut self.layout_stale))
    }

    /// Publish a fresh snapshot of `table` into `into` if one is due (see
    /// `SnapshotPublisher::take`) at `now`; whether it did.
    pub fn publish(
        &mut self,
        now: Instant,
        urgent: bool,
        into: &ArcSwap<Snapshot>,
        state: SupervisorState,
        table: &ProcessTable,
        pending: &Arc<Config>,
    ) -> bool {
        let urgent = urgent || std::mem::take(&mut self.forced) || self.state != Some(state);
        let started = Instant::now();
        let Some(layout) = self.take(now, urgent) else {
            return false;
        };
        self.state = Some(state);
        let specs = if layout {
            table.spawn_specs()
        } else {
            Arc::clone(&into.load().specs)
        };
        let processes = table.infos();
        // The snapshot this replaces is freed in the middle of the heap
        // (or later, by its last reader): trim once things are quiet.
        if processes.len() * std::mem::size_of::<ProcessInfo>() >= super::memory::TRIM_WORTHY {
            super::memory::trim_when_quiet();
        }
        into.store(Arc::new(Snapshot {
            state,
            processes: RArc::new(processes),
            specs,
            pending: Arc::clone(pending),
        }));
        self.every = PUBLISH_EVERY.max(started.elapsed() * REBUILD_SHARE);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_published_once_per_period_unless_urgent() {
        let t0 = Instant::now();
        let mut publisher = SnapshotPublisher::default();
        assert_eq!(publisher.take(t0, false), Some(true), "the first is due");
        assert_eq!(publisher.take(t0, false), None, "nothing changed");
        publisher.changed();
        let soon = t0 + Duration::from_millis(1);
        assert_eq!(publisher.take(soon, false), None, "deferred");
        assert_eq!(publisher.due(), Some(t0 + PUBLISH_EVERY));
        assert_eq!(publisher.take(soon, true), Some(false), "urgent: at once");
        assert_eq!(publisher.due(), None);
        publisher.layout_changed();
        let later = soon + PUBLISH_EVERY;
        assert_eq!(publisher.take(later, false), Some(true));
    }

    #[test]
    fn a_published_snapshot_shows_the_table_and_keeps_unchanged_specs() {
        let (_dir, config) = super::super::test_config("[program:a]\ncommand=/bin/true\n");
        let config = Arc::new(config);
        let into = ArcSwap::from_pointee(Snapshot::empty(Arc::clone(&config)));
        let table = ProcessTable::default();
        let mut publisher = SnapshotPublisher::default();
        let now = Instant::now();
        assert!(publisher.is_due(now, false, SupervisorState::Shutdown));
        publisher.publish(
            now,
            false,
            &into,
            SupervisorState::Shutdown,
            &table,
            &config,
        );
        assert!(
            !publisher.is_due(now, true, SupervisorState::Shutdown),
            "not stale"
        );
        let first = into.load_full();
        assert_eq!(first.state, SupervisorState::Shutdown);
        assert!(first.processes.is_empty());
        let infos = first.config_infos();
        assert_eq!(infos.len(), 1);
        assert!(!infos[0].inuse);
        assert_eq!(infos[0].stdout.logfile, Setting::Auto);
        publisher.changed();
        assert!(publisher.is_due(now, true, SupervisorState::Running));
        publisher.publish(now, true, &into, SupervisorState::Running, &table, &config);
        assert!(Arc::ptr_eq(&first.specs, &into.load().specs));
    }
}
