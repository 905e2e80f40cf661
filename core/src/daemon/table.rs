//! The process table: every active group and process record, the one
//! name lookup that answers `BAD_NAME` for every request, and the order
//! readers and shutdown see them in (groups by priority then name, each
//! group's processes in its own order). It only holds and finds records:
//! it never feeds the state machine, spawns, kills or publishes anything
//! (the supervisor task does, through it).

use crate::probes::{HealthCheck, Notes, NotifySocket, Probe};
use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use abi_stable::std_types::{RString, RVec};
use supervisor_sdk::fault::{BAD_NAME, Fault, STILL_RUNNING};
use supervisor_sdk::host::ProcessInfo;

use super::output::SharedLog;
use crate::config::{Config, GroupConfig};
use crate::logs::ChildLogSpec;
use crate::logs::Route;
use crate::process::fcgi_socket::{SocketLease, SocketManager};
use crate::process::spawn::SpawnSpec;
use crate::process::{Policy, ProcessRecord};

/// Names a process for as long as the supervisor task knows it; never
/// reused, so a late report about a removed process cannot hit another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcId(u64);

impl ProcId {
    /// The number (unique in this daemon's lifetime).
    pub fn number(self) -> u64 {
        self.0
    }
}

/// One process as the task holds it.
pub struct Proc {
    pub group: Arc<str>,
    pub name: Arc<str>,
    pub group_priority: i64,
    pub priority: i64,
    pub policy: Policy,
    pub spec: Arc<SpawnSpec>,
    pub record: ProcessRecord,
    pub log_specs: [Option<Arc<ChildLogSpec>>; 2],
    /// Opened at the first spawn, kept across spawns.
    pub logs: [Option<SharedLog>; 2],
    /// The child's stdin pipe, registered with the runtime only when
    /// something is first written to it (most programs never get input).
    pub stdin: Option<OwnedFd>,
    pub stdin_queue: Option<super::output::StdinQueue>,
    /// For an eventlistener process: its pool's name (the group's).
    pub pool: Option<Arc<str>>,
    /// Where each channel's output goes; shared by the processes of a
    /// program (decided from its options, the same for each).
    pub routes: Arc<[Route; 2]>,
    /// The socket of an fcgi group, shared by its processes.
    pub fcgi: Option<Arc<SocketManager>>,
    /// This process's hold on that socket while it has a child.
    pub lease: Option<SocketLease>,
    /// The ready check (`ready_check`), run while a child is STARTING.
    pub ready: Option<Arc<Probe>>,
    /// The socket of a `ready_check = notify` process.
    pub notify: Option<Arc<NotifySocket>>,
    /// The health check (`health_check`), run while RUNNING.
    pub health: Option<Arc<HealthCheck>>,
    /// What the checks have to say beside the description (issue 16);
    /// `None` for most processes.
    pub notes: Option<Box<Notes>>,
}

impl Proc {
    /// The process as the snapshot shows it.
    pub fn info(&self) -> ProcessInfo {
        fn unix(at: Option<SystemTime>) -> i64 {
            at.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        }
        fn path_of(spec: &Option<Arc<ChildLogSpec>>) -> RString {
            spec.as_ref()
                .and_then(|s| s.path.as_ref())
                .map(|p| p.to_string_lossy().into_owned().into())
                .unwrap_or_default()
        }
        let r = &self.record;
        ProcessInfo {
            group: RString::from(&*self.group),
            name: RString::from(&*self.name),
            group_priority: self.group_priority,
            priority: self.priority,
            state: r.state,
            pid: r.pid.map_or(0, |p| u32::try_from(p).unwrap_or(0)),
            start: unix(r.laststart_wall),
            stop: unix(r.laststop_wall),
            spawnerr: match (&r.spawnerr, &self.notes) {
                (Some(spawnerr), _) => spawnerr.as_str().into(),
                // Only while STARTING or RUNNING (the checks clear them).
                (None, Some(notes)) => notes.spawnerr().unwrap_or_default().into(),
                (None, None) => RString::new(),
            },
            exitstatus: r.exitstatus.unwrap_or(0),
            stdout_logfile: path_of(&self.log_specs[0]),
            stderr_logfile: path_of(&self.log_specs[1]),
        }
    }

    /// The `group:name` faults carry.
    pub fn namespec(&self) -> String {
        format!("{}:{}", self.group, self.name)
    }
}

/// An active group.
pub struct Group {
    pub name: String,
    /// The configuration the group was added from, shared rather than
    /// copied (a thousand programs' options are most of a config); it
    /// keeps that configuration alive while the group is active.
    pub source: Arc<Config>,
    /// The group's index in `source.groups`.
    pub index: usize,
    /// In the group's own order (process priority, then name).
    pub procs: Vec<ProcId>,
}

impl Group {
    /// The group's configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.source.groups[self.index]
    }
}

/// Every active group and process.
#[derive(Default)]
pub struct ProcessTable {
    /// Boxed: a table sized for a thousand processes has twice as many
    /// buckets, which would each hold a whole (half-kilobyte) record.
    procs: HashMap<ProcId, Box<Proc>>,
    by_name: NameIndex,
    /// By priority, then name.
    groups: Vec<Group>,
    next_id: u64,
}

impl ProcessTable {
    /// Forget every group and process (a restart starts from scratch);
    /// the names of the groups that were active, in order.
    pub fn clear(&mut self) -> Vec<String> {
        self.procs.clear();
        self.by_name = NameIndex::default();
        std::mem::take(&mut self.groups)
            .into_iter()
            .map(|g| g.name)
            .collect()
    }

    /// Make room for `processes` processes in `groups` groups.
    pub fn reserve(&mut self, processes: usize, groups: usize) {
        self.procs.reserve(processes);
        self.by_name.reserve(&self.procs, processes);
        self.groups.reserve(groups);
    }

    /// A name for a process about to be added; never given out again.
    pub fn next_id(&mut self) -> ProcId {
        self.next_id += 1;
        ProcId(self.next_id)
    }

    /// Activate `group` with its processes (in `group.procs` order), in
    /// its place by priority and name; its index among the groups.
    pub fn insert_group(&mut self, group: Group, procs: Vec<(ProcId, Proc)>) -> usize {
        for (id, proc) in procs {
            self.procs.insert(id, Box::new(proc));
            self.by_name.insert(&self.procs, id);
        }
        let rank = (group.config().priority, &group.name);
        let position = self
            .groups
            .iter()
            .position(|g| (g.config().priority, &g.name) > rank)
            .unwrap_or(self.groups.len());
        self.groups.insert(position, group);
        position
    }

    /// The process `group:name`, or the `BAD_NAME` fault every request
    /// answers when there is none.
    pub fn find(&self, group: &str, name: &str) -> Result<ProcId, Fault> {
        self.by_name
            .find(&self.procs, group, name)
            .ok_or_else(|| Fault::with(BAD_NAME, format!("{group}:{name}")))
    }

    pub fn get(&self, id: ProcId) -> Option<&Proc> {
        self.procs.get(&id).map(|p| &**p)
    }

    pub fn get_mut(&mut self, id: ProcId) -> Option<&mut Proc> {
        self.procs.get_mut(&id).map(|p| &mut **p)
    }

    pub fn contains(&self, id: ProcId) -> bool {
        self.procs.contains_key(&id)
    }

    /// Every process, in no particular order.
    pub fn procs(&self) -> impl Iterator<Item = &Proc> {
        self.procs.values().map(|p| &**p)
    }

    /// The active groups, by priority then name.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// A copy of the active groups' configurations, in order (the
    /// reread diff compares owned slices).
    pub fn group_configs(&self) -> Vec<GroupConfig> {
        self.groups.iter().map(|g| g.config().clone()).collect()
    }

    /// Every process id, groups in order, each group in its own order.
    pub fn ids(&self) -> Vec<ProcId> {
        self.groups.iter().flat_map(|g| g.procs.clone()).collect()
    }

    /// Whether a process of `group` is not in a stopped state.
    pub fn unstopped(&self, group: &Group) -> bool {
        group.procs.iter().any(|id| {
            self.procs
                .get(id)
                .is_some_and(|p| !p.record.state.is_stopped())
        })
    }

    /// The processes not in a stopped state, in order.
    pub fn unstopped_ids(&self) -> Vec<ProcId> {
        self.groups
            .iter()
            .flat_map(|g| g.procs.iter().copied())
            .filter(|id| {
                self.procs
                    .get(id)
                    .is_some_and(|p| !p.record.state.is_stopped())
            })
            .collect()
    }

    /// Deactivate the group `name` and give back its records; `BAD_NAME`
    /// when it is not active, `STILL_RUNNING` while a process of it is not
    /// stopped (as `removeProcessGroup` answers).
    pub fn remove_group(&mut self, name: &str) -> Result<(Group, Vec<(ProcId, Proc)>), Fault> {
        let Some(index) = self.groups.iter().position(|g| g.name == name) else {
            return Err(Fault::with(BAD_NAME, name));
        };
        if self.unstopped(&self.groups[index]) {
            return Err(Fault::with(STILL_RUNNING, name));
        }
        let group = self.groups.remove(index);
        let mut procs = Vec::with_capacity(group.procs.len());
        for &id in &group.procs {
            if let Some(proc) = self.procs.remove(&id) {
                self.by_name.remove(&proc.group, &proc.name, id);
                procs.push((id, *proc));
            }
        }
        Ok((group, procs))
    }

    /// Give the active group `name` the configuration `source.groups[index]`
    /// (the same priority): take out the stopped processes `drop`, put in
    /// `add`, and order its processes as that configuration lists them.
    /// The records taken out, for their owner to forget.
    pub fn reshape_group(
        &mut self,
        name: &str,
        drop: &[ProcId],
        add: Vec<(ProcId, Proc)>,
        source: Arc<Config>,
        index: usize,
    ) -> Vec<(ProcId, Proc)> {
        let Some(group) = self.groups.iter_mut().find(|g| g.name == name) else {
            return Vec::new();
        };
        let mut dropped = Vec::with_capacity(drop.len());
        for id in drop {
            if let Some(proc) = self.procs.remove(id) {
                self.by_name.remove(&proc.group, &proc.name, *id);
                dropped.push((*id, *proc));
            }
        }
        for (id, proc) in add {
            self.procs.insert(id, Box::new(proc));
            self.by_name.insert(&self.procs, id);
        }
        group.source = source;
        group.index = index;
        let config = &group.source.groups[group.index];
        group.procs = config
            .processes
            .iter()
            .filter_map(|p| self.by_name.find(&self.procs, name, &p.name))
            .collect();
        dropped
    }

    /// What the snapshot shows: every process, in order.
    pub fn infos(&self) -> RVec<ProcessInfo> {
        let mut infos = RVec::with_capacity(self.procs.len());
        for group in &self.groups {
            for id in &group.procs {
                if let Some(proc) = self.procs.get(id) {
                    infos.push(proc.info());
                }
            }
        }
        infos
    }

    /// The spawn specs in the snapshot's process order.
    pub fn spawn_specs(&self) -> Arc<[Arc<SpawnSpec>]> {
        self.groups
            .iter()
            .flat_map(|g| &g.procs)
            .filter_map(|id| self.procs.get(id).map(|p| Arc::clone(&p.spec)))
            .collect()
    }
}

/// Finds a process by `(group, name)`: a table of ids alone, the names
/// read from the records, so a slot costs nine bytes rather than the
/// forty-one of a map keyed by both shared names (a table sized for 4000
/// processes has 8192 slots).
#[derive(Default)]
struct NameIndex {
    ids: hashbrown::HashTable<ProcId>,
    hasher: std::hash::RandomState,
}

type Procs = HashMap<ProcId, Box<Proc>>;

impl NameIndex {
    fn hash(hasher: &std::hash::RandomState, group: &str, name: &str) -> u64 {
        hasher.hash_one((group, name))
    }

    /// How an id already indexed is hashed again when the table grows.
    fn rehash<'a>(
        hasher: &'a std::hash::RandomState,
        procs: &'a Procs,
    ) -> impl Fn(&ProcId) -> u64 + 'a {
        move |id| {
            procs
                .get(id)
                .map_or(0, |p| Self::hash(hasher, &p.group, &p.name))
        }
    }

    fn reserve(&mut self, procs: &Procs, additional: usize) {
        self.ids
            .reserve(additional, Self::rehash(&self.hasher, procs));
    }

    fn find(&self, procs: &Procs, group: &str, name: &str) -> Option<ProcId> {
        let hash = Self::hash(&self.hasher, group, name);
        let named = |id: &ProcId| {
            procs
                .get(id)
                .is_some_and(|p| *p.group == *group && *p.name == *name)
        };
        self.ids.find(hash, named).copied()
    }

    /// Index `id`, whose record is in `procs`, in place of any id of the
    /// same names.
    fn insert(&mut self, procs: &Procs, id: ProcId) {
        let Some(proc) = procs.get(&id) else { return };
        let (group, name) = (&*proc.group, &*proc.name);
        let hash = Self::hash(&self.hasher, group, name);
        let named = |other: &ProcId| {
            *other != id
                && procs
                    .get(other)
                    .is_some_and(|p| *p.group == *group && *p.name == *name)
        };
        match self
            .ids
            .entry(hash, named, Self::rehash(&self.hasher, procs))
        {
            hashbrown::hash_table::Entry::Occupied(mut entry) => *entry.get_mut() = id,
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(id);
            }
        }
    }

    /// Forget `id`, named `group:name`.
    fn remove(&mut self, group: &str, name: &str, id: ProcId) {
        let hash = Self::hash(&self.hasher, group, name);
        if let Ok(entry) = self.ids.find_entry(hash, |other| *other == id) {
            entry.remove();
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use supervisor_sdk::state::ProcessState;

    /// A configuration with groups `a` (priority 20, two processes) and
    /// `b` (priority 10, one).
    pub(in crate::daemon) fn config() -> (tempfile::TempDir, Arc<Config>) {
        let (dir, config) = super::super::test_config(
            "[program:a]\ncommand=/bin/true\nnumprocs=2\nprocess_name=a_%(process_num)s\n\
             priority=20\n\
             [program:b]\ncommand=/bin/true\npriority=10\n",
        );
        (dir, Arc::new(config))
    }

    fn proc(config: &Config, group: &GroupConfig, index: usize) -> Proc {
        let process = &group.processes[index];
        let name: Arc<str> = Arc::from(process.name.as_str());
        let names = super::super::build::Names {
            group: Arc::from(group.name.as_str()),
            process: Arc::clone(&name),
        };
        Proc {
            group: Arc::clone(&names.group),
            name: Arc::clone(&name),
            group_priority: group.priority,
            priority: process.priority,
            policy: super::super::build::policy(process, name),
            spec: Arc::new(super::super::build::spawn_spec(
                config, &names, process, None,
            )),
            record: ProcessRecord::default(),
            log_specs: [None, None],
            logs: [None, None],
            stdin: None,
            stdin_queue: None,
            pool: None,
            routes: Arc::new([Route::default(); 2]),
            fcgi: None,
            lease: None,
            ready: None,
            notify: None,
            health: None,
            notes: None,
        }
    }

    pub(in crate::daemon) fn fill(table: &mut ProcessTable, source: &Arc<Config>) {
        for (index, group) in source.groups.iter().enumerate() {
            let procs: Vec<(ProcId, Proc)> = (0..group.processes.len())
                .map(|i| (table.next_id(), proc(source, group, i)))
                .collect();
            table.insert_group(
                Group {
                    name: group.name.clone(),
                    source: Arc::clone(source),
                    index,
                    procs: procs.iter().map(|(id, _)| *id).collect(),
                },
                procs,
            );
        }
    }

    #[test]
    fn groups_are_kept_by_priority_and_unknown_names_are_bad_names() {
        let (_dir, source) = config();
        let mut table = ProcessTable::default();
        fill(&mut table, &source);
        let order: Vec<&str> = table.groups().iter().map(|g| g.name.as_str()).collect();
        assert_eq!(order, ["b", "a"]);
        let infos: Vec<String> = table
            .infos()
            .iter()
            .map(|p| format!("{}:{}", p.group, p.name))
            .collect();
        assert_eq!(infos, ["b:b", "a:a_0", "a:a_1"]);
        assert_eq!(table.spawn_specs().len(), 3);
        let id = table.find("a", "a_1").expect("a:a_1 is active");
        assert_eq!(table.get(id).map(Proc::namespec).as_deref(), Some("a:a_1"));
        let fault = table.find("a", "a_2").expect_err("no a:a_2");
        assert_eq!(
            (fault.code, fault.string.as_str()),
            (BAD_NAME, "BAD_NAME: a:a_2")
        );
        // The pair is two names, not one joined string.
        assert!(table.find("aa", "_1").is_err() && table.find("b", "a_1").is_err());
    }

    #[test]
    fn names_are_found_as_the_index_grows_and_shrinks() {
        let (_dir, source) = super::super::test_config(
            "[program:w]\ncommand=/bin/true\nnumprocs=300\nprocess_name=w_%(process_num)s\n\
             [program:x]\ncommand=/bin/true\n",
        );
        let source = Arc::new(source);
        let mut table = ProcessTable::default();
        fill(&mut table, &source);
        let ids: Vec<ProcId> = (0..300)
            .map(|n| {
                table
                    .find("w", &format!("w_{n}"))
                    .expect("every w is found")
            })
            .collect();
        let names: Vec<String> = ids
            .iter()
            .filter_map(|id| table.get(*id).map(Proc::namespec))
            .collect();
        assert_eq!(names.len(), 300);
        assert!(
            names
                .iter()
                .enumerate()
                .all(|(n, name)| *name == format!("w:w_{n}"))
        );
        table.remove_group("w").expect("w is stopped");
        assert!((0..300).all(|n| table.find("w", &format!("w_{n}")).is_err()));
        assert!(table.find("x", "x").is_ok());
    }

    #[test]
    fn a_group_is_removed_only_when_stopped_and_its_names_go_with_it() {
        let (_dir, source) = config();
        let mut table = ProcessTable::default();
        fill(&mut table, &source);
        let id = table.find("a", "a_0").expect("a:a_0 is active");
        if let Some(proc) = table.get_mut(id) {
            proc.record.state = ProcessState::Running;
        }
        assert_eq!(table.unstopped_ids(), [id]);
        let busy = table.remove_group("a").err().map(|f| f.code);
        assert_eq!(busy, Some(STILL_RUNNING));
        assert_eq!(
            table.remove_group("nope").err().map(|f| f.code),
            Some(BAD_NAME)
        );
        if let Some(proc) = table.get_mut(id) {
            proc.record.state = ProcessState::Exited;
        }
        let (group, procs) = table.remove_group("a").expect("a is stopped");
        assert_eq!((group.name.as_str(), procs.len()), ("a", 2));
        assert!(table.find("a", "a_0").is_err() && !table.contains(id));
        assert_eq!(table.clear(), ["b"]);
        assert!(table.find("b", "b").is_err());
        // Ids are never reused, even after a clear.
        assert!(table.next_id() > id);
    }
}
