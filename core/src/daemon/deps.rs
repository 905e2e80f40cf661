//! Start and stop order between processes (`depends_on`, issue 16): the
//! dependency graph of the active processes, the starts waiting for their
//! dependencies ("held") and the stops waiting for their dependents. It
//! decides which inputs the supervisor task feeds and to whom, from the
//! states in the process table; it never feeds them itself, and it holds no
//! timer. With no `depends_on` anywhere its maps are empty and every
//! question is answered without a lookup, so it costs nothing.
//!
//! The rules: a process is spawned only once every process it depends on
//! is up (RUNNING); starting it first starts each dependency that is not
//! under way (recursively), and holds it STOPPED meanwhile with a
//! `waiting for ...` spawn error as its description; a dependency going
//! FATAL fails the held start. A stop waits until the process's dependents
//! are stopped, stopping those first.
//!
//! The processes of a program share one list of dependencies (a "need")
//! with the set of those not up, so a dependency's state change costs one
//! update per program depending on it, and a held start's text is
//! rendered once per need when a snapshot is about to show it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use supervisor_sdk::describe::WAITING_FOR;
use supervisor_sdk::state::ProcessState;

use super::table::{ProcId, ProcessTable};
use crate::config::model::ProcessRef;
use crate::process::Input;

/// The most dependencies a `waiting for` text names.
const NAMED: usize = 3;

/// The inputs to feed, in order.
pub type Steps = Vec<(ProcId, Input)>;

/// The dependency graph and the starts and stops it holds back.
#[derive(Debug, Default)]
pub struct Deps {
    /// Each dependent's list of dependencies: its place in `needs`.
    need_of: HashMap<ProcId, usize>,
    /// The distinct lists of dependencies: the processes of a program
    /// naming the same ones share one, so a dependency coming up updates
    /// one set per program depending on it, not one per process (a chain
    /// of 100-process programs otherwise updates 100 sets per event,
    /// 90,000 in all: `tests/bench/order.sh`).
    needs: Vec<Need>,
    /// Each dependency with the needs naming it and its place in each.
    named_in: HashMap<ProcId, Vec<(usize, usize)>>,
    /// Each dependency's dependents.
    dependents: HashMap<ProcId, Vec<ProcId>>,
    /// Starts waiting for dependencies, each with its need.
    held: BTreeMap<ProcId, usize>,
    /// Needs whose `waiting for` text changed since it was last fed: a
    /// dependency coming up only marks its need, and [`Deps::texts`]
    /// renders the text once before it is shown.
    stale: BTreeSet<usize>,
    /// Stops waiting for dependents to stop.
    stops: BTreeSet<ProcId>,
    /// Processes a dependent's start started, until they stop: a start
    /// asked for them meanwhile (a group start lists them too) joins it.
    pulled: BTreeSet<ProcId>,
}

/// One list of dependencies and what depends on it.
#[derive(Debug, Default)]
struct Need {
    requires: Vec<ProcId>,
    /// The places in `requires` of those not up, kept up to date as each
    /// changes state (every state change comes to [`Deps::changed`]).
    unmet: BTreeSet<usize>,
    /// The starts held for it, in table order (ids grow with it).
    held: BTreeSet<ProcId>,
    /// Its `waiting for` text while `unmet` stays as it is.
    text: Option<String>,
}

/// Up, as a dependency: RUNNING.
fn up(table: &ProcessTable, id: ProcId) -> bool {
    state(table, id) == Some(ProcessState::Running)
}

fn state(table: &ProcessTable, id: ProcId) -> Option<ProcessState> {
    table.get(id).map(|p| p.record.state)
}

/// On its way up without help: STARTING or BACKOFF (a retry is due).
fn under_way(table: &ProcessTable, id: ProcId) -> bool {
    matches!(
        state(table, id),
        Some(ProcessState::Starting | ProcessState::Backoff)
    )
}

fn label(table: &ProcessTable, id: ProcId) -> String {
    table.get(id).map_or_else(String::new, |p| {
        if *p.group == *p.name {
            p.name.to_string()
        } else {
            p.namespec()
        }
    })
}

impl Need {
    /// The places of the dependencies not up, by a scan of the table.
    fn scan(&self, table: &ProcessTable) -> BTreeSet<usize> {
        self.requires
            .iter()
            .enumerate()
            .filter(|(_, d)| !up(table, **d))
            .map(|(place, _)| place)
            .collect()
    }

    /// `waiting for a, b, c`; past [`NAMED`] names, `and N more`: a start
    /// held for a hundred processes would otherwise show a hundred names.
    fn text(&mut self, table: &ProcessTable) -> String {
        let text = self.text.get_or_insert_with(|| {
            let names: Vec<String> = self
                .unmet
                .iter()
                .take(NAMED)
                .filter_map(|place| self.requires.get(*place))
                .map(|d| label(table, *d))
                .collect();
            let mut text = format!("{WAITING_FOR}{}", names.join(", "));
            if self.unmet.len() > NAMED {
                text.push_str(&format!(" and {} more", self.unmet.len() - NAMED));
            }
            text
        });
        text.clone()
    }

    fn set_unmet(&mut self, place: usize, unmet: bool) {
        let changed = if unmet {
            self.unmet.insert(place)
        } else {
            self.unmet.remove(&place)
        };
        if changed {
            self.text = None;
        }
    }
}

impl Deps {
    /// Read the graph again from the active groups' configurations (after
    /// groups were added or removed); a dependency whose group is not
    /// active is ignored.
    pub fn rebuild(&mut self, table: &ProcessTable) {
        self.need_of.clear();
        self.needs.clear();
        self.named_in.clear();
        self.dependents.clear();
        self.stale.clear();
        for group in table.groups() {
            // The processes of a program name the same dependencies: the
            // previous one's need serves the next without a lookup.
            let mut last: Option<(&[ProcessRef], usize)> = None;
            for (id, config) in group.procs.iter().zip(&group.config().processes) {
                if config.requires.is_empty() {
                    continue;
                }
                let need = match last {
                    Some((requires, need)) if requires == &config.requires[..] => need,
                    _ => {
                        let requires: Vec<ProcId> = config
                            .requires
                            .iter()
                            .filter_map(|r| table.find(&r.group, &r.name).ok())
                            .collect();
                        for (place, dependency) in requires.iter().enumerate() {
                            self.named_in
                                .entry(*dependency)
                                .or_default()
                                .push((self.needs.len(), place));
                        }
                        let mut need = Need {
                            requires,
                            ..Need::default()
                        };
                        need.unmet = need.scan(table);
                        self.needs.push(need);
                        self.needs.len() - 1
                    }
                };
                last = Some((&config.requires, need));
                for dependency in &self.needs[need].requires {
                    self.dependents.entry(*dependency).or_default().push(*id);
                }
                self.need_of.insert(*id, need);
            }
        }
        // A held start whose group stayed keeps waiting, on its new need,
        // and shows its text again (one not yet shown was dropped above).
        let held = std::mem::take(&mut self.held);
        for (id, _) in held {
            if let Some(&need) = self.need_of.get(&id) {
                self.held.insert(id, need);
                self.needs[need].held.insert(id);
                self.stale.insert(need);
            }
        }
        self.stops.retain(|id| table.contains(*id));
        self.pulled.retain(|id| table.contains(*id));
    }

    /// Whether no process has a dependency (nothing to do, ever).
    pub fn is_empty(&self) -> bool {
        self.need_of.is_empty()
    }

    /// Whether `id`'s start waits for its dependencies.
    pub fn is_held(&self, id: ProcId) -> bool {
        !self.held.is_empty() && self.held.contains_key(&id)
    }

    /// Whether `id` was started for a dependent's sake (and forget it):
    /// a start of it joins that one.
    pub fn take_pulled(&mut self, id: ProcId) -> bool {
        !self.pulled.is_empty() && self.pulled.remove(&id)
    }

    /// Whether a stop of `id` waits for its dependents.
    pub fn stop_deferred(&self, id: ProcId) -> bool {
        !self.stops.is_empty() && self.stops.contains(&id)
    }

    /// Whether `id` has a dependent not yet stopped (shutdown stops it
    /// after them).
    pub fn blocked(&self, table: &ProcessTable, id: ProcId) -> bool {
        self.dependents.get(&id).is_some_and(|ds| {
            ds.iter()
                .any(|d| state(table, *d).is_some_and(|s| !s.is_stopped()))
        })
    }

    /// `id`'s dependencies.
    fn requires(&self, id: ProcId) -> &[ProcId] {
        self.need_of
            .get(&id)
            .map_or(&[][..], |n| &self.needs[*n].requires)
    }

    /// Start `id` (an explicit start, or autostart): the inputs that start
    /// it and every dependency not up or under way, dependencies first, or
    /// hold the ones that must wait. The second value names the
    /// dependencies this start pulled in.
    pub fn start(&mut self, table: &ProcessTable, id: ProcId) -> (Steps, Vec<ProcId>) {
        let mut steps = Steps::new();
        let mut pulled = Vec::new();
        let mut visiting = BTreeSet::new();
        self.visit(table, id, &mut steps, &mut pulled, &mut visiting);
        pulled.retain(|p| *p != id);
        self.pulled.extend(pulled.iter().copied());
        (steps, pulled)
    }

    fn visit(
        &mut self,
        table: &ProcessTable,
        id: ProcId,
        steps: &mut Steps,
        pulled: &mut Vec<ProcId>,
        visiting: &mut BTreeSet<ProcId>,
    ) {
        if !visiting.insert(id) || self.is_held(id) || up(table, id) || under_way(table, id) {
            return;
        }
        if state(table, id).is_some_and(|s| s.is_running()) {
            return;
        }
        pulled.push(id);
        let Some(&n) = self.need_of.get(&id) else {
            steps.push((id, Input::Start));
            return;
        };
        for place in 0..self.needs[n].requires.len() {
            let dependency = self.needs[n].requires[place];
            self.visit(table, dependency, steps, pulled, visiting);
        }
        let need = &mut self.needs[n];
        if need.unmet.is_empty() {
            steps.push((id, Input::Start));
        } else {
            self.held.insert(id, n);
            need.held.insert(id);
            steps.push((id, Input::Waiting(Some(need.text(table)))));
        }
    }

    /// `id` changed state: release, fail or update the starts held for
    /// it (`starting` false while the daemon winds down: nothing starts
    /// then), and carry out the stops that waited for it.
    pub fn changed(&mut self, table: &ProcessTable, id: ProcId, starting: bool) -> Steps {
        let mut steps = Steps::new();
        if self.is_empty() {
            return steps;
        }
        let failed = state(table, id) == Some(ProcessState::Fatal);
        let is_up = up(table, id);
        let named_in = self.named_in.get(&id).map_or(&[][..], Vec::as_slice);
        for &(n, place) in named_in {
            let need = &mut self.needs[n];
            // Every state change comes here, judged by the table's state
            // now, so the set stays what a scan would find.
            need.set_unmet(place, !is_up);
            // Only a dependency coming up or failing releases, fails or
            // shortens a held start (one going down shows in the text at
            // the next of these).
            if need.held.is_empty() || !(is_up || failed) {
                continue;
            }
            if failed {
                let why = format!("dependency {} entered FATAL state", label(table, id));
                for dependent in std::mem::take(&mut need.held) {
                    self.held.remove(&dependent);
                    steps.push((dependent, Input::DependencyFailed(why.clone())));
                }
                continue;
            }
            if need.unmet.is_empty() {
                // Once per release, a scan to be sure.
                let scanned = need.scan(table);
                if scanned.is_empty() && starting {
                    // The spawn clears the waiting text; clearing it first
                    // would end a start's wait as if it had failed.
                    for dependent in std::mem::take(&mut need.held) {
                        self.held.remove(&dependent);
                        steps.push((dependent, Input::Start));
                    }
                    continue;
                }
                if scanned != need.unmet {
                    need.unmet = scanned;
                    need.text = None;
                }
            }
            self.stale.insert(n);
        }
        if state(table, id).is_some_and(ProcessState::is_stopped) {
            self.pulled.remove(&id);
            for place in 0..self.requires(id).len() {
                let dependency = self.requires(id)[place];
                if self.stops.contains(&dependency) && !self.blocked(table, dependency) {
                    self.stops.remove(&dependency);
                    steps.push((dependency, Input::Stop));
                }
            }
        }
        steps
    }

    /// Stop `id`: the stops to issue now (its running dependents first,
    /// recursively); those whose dependents are still running wait here.
    pub fn stop(&mut self, table: &ProcessTable, id: ProcId) -> Steps {
        let mut steps = Steps::new();
        let mut seen = BTreeSet::new();
        self.stop_visit(table, id, &mut steps, &mut seen);
        steps
    }

    fn stop_visit(
        &mut self,
        table: &ProcessTable,
        id: ProcId,
        steps: &mut Steps,
        seen: &mut BTreeSet<ProcId>,
    ) {
        if !seen.insert(id) {
            return;
        }
        // A held dependent stops waiting: the stop wins over its start.
        if let Some(n) = self.held.remove(&id) {
            self.needs[n].held.remove(&id);
            steps.push((id, Input::Waiting(None)));
        }
        let Some(now) = state(table, id) else { return };
        if now.is_stopped() || now == ProcessState::Stopping {
            return;
        }
        for dependent in self.dependents.get(&id).cloned().unwrap_or_default() {
            self.stop_visit(table, dependent, steps, seen);
        }
        if self.blocked(table, id) {
            self.stops.insert(id);
        } else {
            steps.push((id, Input::Stop));
        }
    }

    /// Whether a held start's text is behind (see [`Deps::texts`]).
    pub fn has_stale(&self) -> bool {
        !self.stale.is_empty()
    }

    /// The `waiting for` texts of the held starts that changed since the
    /// last call, to feed before they are shown (a snapshot, an answer):
    /// one text per need, however many starts it holds.
    pub fn texts(&mut self, table: &ProcessTable) -> Steps {
        let mut steps = Steps::new();
        for n in std::mem::take(&mut self.stale) {
            let need = &mut self.needs[n];
            if need.held.is_empty() || need.unmet.is_empty() {
                continue;
            }
            let text = need.text(table);
            for dependent in &need.held {
                steps.push((*dependent, Input::Waiting(Some(text.clone()))));
            }
        }
        steps.sort_by_key(|(id, _)| *id);
        steps
    }

    /// The daemon winds down: no held start will happen.
    pub fn release_all(&mut self) -> Steps {
        self.stale.clear();
        self.stops.clear();
        self.pulled.clear();
        for need in &mut self.needs {
            need.held.clear();
        }
        std::mem::take(&mut self.held)
            .into_keys()
            .map(|id| (id, Input::Waiting(None)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::daemon::groups::with_unit_context;

    /// `db` (five processes) and `web` (two), which depends on it.
    fn chain() -> (tempfile::TempDir, ProcessTable, Vec<ProcId>, Vec<ProcId>) {
        let (dir, config) = super::super::test_config(
            "[program:db]\ncommand=/bin/true\nnumprocs=5\nprocess_name=db_%(process_num)s\n\
             [program:web]\ncommand=/bin/true\nnumprocs=2\nprocess_name=web_%(process_num)s\n\
             depends_on=db\n",
        );
        let config = Arc::new(config);
        let mut table = ProcessTable::default();
        with_unit_context(&config, |cx, builder| {
            for index in 0..config.groups.len() {
                builder.add(cx, &mut table, &config, index);
            }
        });
        let ids = |name| table.group(name).map(|g| g.procs.clone()).unwrap();
        let (db, web) = (ids("db"), ids("web"));
        (dir, table, db, web)
    }

    fn set(table: &mut ProcessTable, id: ProcId, state: ProcessState) {
        table.get_mut(id).unwrap().record.state = state;
    }

    fn texts(steps: &Steps) -> Vec<(ProcId, Option<String>)> {
        steps
            .iter()
            .filter_map(|(id, input)| match input {
                Input::Waiting(text) => Some((*id, text.clone())),
                _ => None,
            })
            .collect()
    }

    fn each(web: &[ProcId], text: &str) -> Vec<(ProcId, Option<String>)> {
        web.iter().map(|id| (*id, Some(text.to_string()))).collect()
    }

    #[test]
    fn a_dependency_coming_up_marks_the_held_texts_rendered_once_when_shown() {
        let (_dir, mut table, db, web) = chain();
        let mut deps = Deps::default();
        deps.rebuild(&table);
        let (mut steps, pulled) = deps.start(&table, web[0]);
        assert_eq!(pulled, db);
        for id in &db {
            set(&mut table, *id, ProcessState::Starting);
            assert!(deps.changed(&table, *id, true).is_empty());
        }
        steps.extend(deps.start(&table, web[1]).0);
        let starts: Vec<ProcId> = steps
            .iter()
            .filter(|(_, i)| matches!(i, Input::Start))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(starts, db, "each dependency started once");
        let all = "waiting for db:db_0, db:db_1, db:db_2 and 2 more";
        assert_eq!(texts(&steps), each(&web, all));
        assert!(!deps.has_stale());

        // Two come up: no text each time, one text each when asked.
        for id in &db[..2] {
            set(&mut table, *id, ProcessState::Running);
            assert!(deps.changed(&table, *id, true).is_empty());
        }
        assert!(deps.has_stale());
        let shown = "waiting for db:db_2, db:db_3, db:db_4";
        assert_eq!(texts(&deps.texts(&table)), each(&web, shown));
        assert!(deps.texts(&table).is_empty(), "rendered once");

        // One going down shows at the next text, as a scan would find it.
        set(&mut table, db[0], ProcessState::Stopped);
        assert!(deps.changed(&table, db[0], true).is_empty());
        set(&mut table, db[2], ProcessState::Running);
        deps.changed(&table, db[2], true);
        let shown = "waiting for db:db_0, db:db_3, db:db_4";
        assert_eq!(texts(&deps.texts(&table)), each(&web, shown));

        // The last one up releases both starts, in table order; nothing is
        // left to render.
        for id in [db[0], db[3]] {
            set(&mut table, id, ProcessState::Running);
            assert!(deps.changed(&table, id, true).is_empty());
        }
        set(&mut table, db[4], ProcessState::Running);
        let steps = deps.changed(&table, db[4], true);
        let started: Vec<ProcId> = steps
            .iter()
            .filter(|(_, i)| matches!(i, Input::Start))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!((started, steps.len()), (web.clone(), 2), "{steps:?}");
        assert!(!deps.is_held(web[0]) && !deps.is_held(web[1]));
        assert!(
            deps.texts(&table).is_empty(),
            "a released start shows no text"
        );
    }

    #[test]
    fn a_rebuild_keeps_the_held_starts_and_their_text_behind() {
        let (_dir, mut table, db, web) = chain();
        let mut deps = Deps::default();
        deps.rebuild(&table);
        deps.start(&table, web[0]);
        set(&mut table, db[0], ProcessState::Running);
        deps.changed(&table, db[0], true);
        deps.rebuild(&table);
        assert!(deps.is_held(web[0]));
        let shown = "waiting for db:db_1, db:db_2, db:db_3 and 1 more";
        assert_eq!(texts(&deps.texts(&table)), each(&web[..1], shown));
    }

    #[test]
    fn a_dependency_going_fatal_fails_every_start_held_for_it() {
        let (_dir, mut table, db, web) = chain();
        let mut deps = Deps::default();
        deps.rebuild(&table);
        deps.start(&table, web[0]);
        deps.start(&table, web[1]);
        set(&mut table, db[3], ProcessState::Fatal);
        let steps = deps.changed(&table, db[3], true);
        let failed: Vec<(ProcId, String)> = steps
            .iter()
            .filter_map(|(id, i)| match i {
                Input::DependencyFailed(why) => Some((*id, why.clone())),
                _ => None,
            })
            .collect();
        let why = "dependency db:db_3 entered FATAL state".to_string();
        assert_eq!(failed, vec![(web[0], why.clone()), (web[1], why)]);
        assert!(!deps.is_held(web[0]));
    }

    #[test]
    fn a_stop_of_a_held_start_drops_it_from_its_need() {
        let (_dir, mut table, db, web) = chain();
        let mut deps = Deps::default();
        deps.rebuild(&table);
        deps.start(&table, web[0]);
        deps.start(&table, web[1]);
        set(&mut table, db[0], ProcessState::Running);
        deps.changed(&table, db[0], true);
        let steps = deps.stop(&table, web[0]);
        assert_eq!(texts(&steps), vec![(web[0], None)]);
        let shown = "waiting for db:db_1, db:db_2, db:db_3 and 1 more";
        assert_eq!(texts(&deps.texts(&table)), each(&web[1..], shown));
        // The other is still released when its dependencies are up.
        for id in &db[1..4] {
            set(&mut table, *id, ProcessState::Running);
            deps.changed(&table, *id, true);
        }
        set(&mut table, db[4], ProcessState::Running);
        let steps = deps.changed(&table, db[4], true);
        assert!(
            matches!(steps[..], [(id, Input::Start)] if id == web[1]),
            "{steps:?}"
        );
    }
}
