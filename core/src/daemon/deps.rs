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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use supervisor_sdk::describe::WAITING_FOR;
use supervisor_sdk::state::ProcessState;

use super::table::{ProcId, ProcessTable};
use crate::process::Input;

/// The most dependencies a `waiting for` text names.
const NAMED: usize = 3;

/// The inputs to feed, in order.
pub type Steps = Vec<(ProcId, Input)>;

/// The dependency graph and the starts and stops it holds back.
#[derive(Debug, Default)]
pub struct Deps {
    requires: HashMap<ProcId, Vec<ProcId>>,
    /// Each dependent with the dependency's place in its `requires`.
    dependents: HashMap<ProcId, Vec<(ProcId, usize)>>,
    /// Starts waiting for dependencies, in table order (ids grow with it),
    /// each with the places in its `requires` of those not up. Kept up to
    /// date as each dependency changes state, so a dependency coming up
    /// costs O(1) per held dependent, not a scan of all its dependencies
    /// (a chain of 100-process groups otherwise scans 100 x 100 per event:
    /// `tests/bench/order.sh`).
    held: BTreeMap<ProcId, BTreeSet<usize>>,
    /// Stops waiting for dependents to stop.
    stops: BTreeSet<ProcId>,
    /// Processes a dependent's start started, until they stop: a start
    /// asked for them meanwhile (a group start lists them too) joins it.
    pulled: BTreeSet<ProcId>,
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

impl Deps {
    /// Read the graph again from the active groups' configurations (after
    /// groups were added or removed); a dependency whose group is not
    /// active is ignored.
    pub fn rebuild(&mut self, table: &ProcessTable) {
        self.requires.clear();
        self.dependents.clear();
        for group in table.groups() {
            for (id, config) in group.procs.iter().zip(&group.config().processes) {
                if config.requires.is_empty() {
                    continue;
                }
                let ids: Vec<ProcId> = config
                    .requires
                    .iter()
                    .filter_map(|r| table.find(&r.group, &r.name).ok())
                    .collect();
                for (place, dependency) in ids.iter().enumerate() {
                    self.dependents
                        .entry(*dependency)
                        .or_default()
                        .push((*id, place));
                }
                self.requires.insert(*id, ids);
            }
        }
        self.held.retain(|id, _| table.contains(*id));
        // The dependencies may have changed: count again.
        let held: Vec<ProcId> = self.held.keys().copied().collect();
        for id in held {
            let waiting = self.unmet(table, id);
            self.held.insert(id, waiting);
        }
        self.stops.retain(|id| table.contains(*id));
        self.pulled.retain(|id| table.contains(*id));
    }

    /// Whether no process has a dependency (nothing to do, ever).
    pub fn is_empty(&self) -> bool {
        self.requires.is_empty()
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
                .any(|(d, _)| state(table, *d).is_some_and(|s| !s.is_stopped()))
        })
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
        let requires = self.requires.get(&id).cloned().unwrap_or_default();
        for dependency in &requires {
            self.visit(table, *dependency, steps, pulled, visiting);
        }
        let waiting = self.unmet(table, id);
        if waiting.is_empty() {
            steps.push((id, Input::Start));
        } else {
            let text = self.waiting_text(table, id, &waiting);
            self.held.insert(id, waiting);
            steps.push((id, Input::Waiting(Some(text))));
        }
    }

    /// The places in `id`'s `requires` of the dependencies not up.
    fn unmet(&self, table: &ProcessTable, id: ProcId) -> BTreeSet<usize> {
        self.requires
            .get(&id)
            .map_or_else(BTreeSet::new, |requires| {
                requires
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| !up(table, **d))
                    .map(|(place, _)| place)
                    .collect()
            })
    }

    /// `waiting for a, b, c`; past [`NAMED`] names, `and N more`: a start
    /// held for a hundred processes would otherwise rebuild a hundred
    /// names each time one of them comes up (most of a long chain's start
    /// time, measured by `tests/bench/order.sh`).
    fn waiting_text(&self, table: &ProcessTable, id: ProcId, waiting: &BTreeSet<usize>) -> String {
        let requires = self.requires.get(&id).map_or(&[][..], Vec::as_slice);
        let names: Vec<String> = waiting
            .iter()
            .take(NAMED)
            .filter_map(|place| requires.get(*place))
            .map(|d| label(table, *d))
            .collect();
        let mut text = format!("{WAITING_FOR}{}", names.join(", "));
        if waiting.len() > NAMED {
            text.push_str(&format!(" and {} more", waiting.len() - NAMED));
        }
        text
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
        let dependents = match self.dependents.get(&id) {
            Some(ds) if !self.held.is_empty() => ds.clone(),
            _ => Vec::new(),
        };
        for (dependent, place) in dependents {
            let Some(waiting) = self.held.get_mut(&dependent) else {
                continue;
            };
            // Every state change comes here, judged by the table's state
            // now, so the set stays what a scan would find.
            if is_up {
                waiting.remove(&place);
            } else {
                waiting.insert(place);
            }
            // Only a dependency coming up or failing releases, fails or
            // shortens a held start (one going down shows in the text at
            // the next of these).
            if failed {
                self.held.remove(&dependent);
                let why = format!("dependency {} entered FATAL state", label(table, id));
                steps.push((dependent, Input::DependencyFailed(why)));
                continue;
            }
            if !is_up {
                continue;
            }
            if waiting.is_empty() {
                // Once per release, a scan to be sure.
                let scanned = self.unmet(table, dependent);
                if scanned.is_empty() && starting {
                    // The spawn clears the waiting text; clearing it first
                    // would end a start's wait as if it had failed.
                    self.held.remove(&dependent);
                    steps.push((dependent, Input::Start));
                    continue;
                }
                self.held.insert(dependent, scanned);
            }
            if let Some(waiting) = self.held.get(&dependent)
                && !waiting.is_empty()
            {
                let text = self.waiting_text(table, dependent, waiting);
                steps.push((dependent, Input::Waiting(Some(text))));
            }
        }
        if state(table, id).is_some_and(ProcessState::is_stopped) {
            self.pulled.remove(&id);
            for dependency in self.requires.get(&id).cloned().unwrap_or_default() {
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
        if self.held.remove(&id).is_some() {
            steps.push((id, Input::Waiting(None)));
        }
        let Some(now) = state(table, id) else { return };
        if now.is_stopped() || now == ProcessState::Stopping {
            return;
        }
        for (dependent, _) in self.dependents.get(&id).cloned().unwrap_or_default() {
            self.stop_visit(table, dependent, steps, seen);
        }
        if self.blocked(table, id) {
            self.stops.insert(id);
        } else {
            steps.push((id, Input::Stop));
        }
    }

    /// The daemon winds down: no held start will happen.
    pub fn release_all(&mut self) -> Steps {
        self.stops.clear();
        self.pulled.clear();
        std::mem::take(&mut self.held)
            .into_keys()
            .map(|id| (id, Input::Waiting(None)))
            .collect()
    }
}
