//! The supervisor task's start and stop order: the life's opening (every
//! group created and published), autostart and the inputs
//! `depends_on` decides (`super::super::deps` says which), and the
//! shutdown's wind-down, group by group, each process after its
//! dependents. A part of the task itself (its `impl`), kept apart so the
//! task's file stays within its size budget.

use std::sync::Arc;

use supervisor_sdk::fault::{Fault, SHUTDOWN_STATE};
use supervisor_sdk::state::ProcessState;
use tokio::time::Instant;

use super::super::deps::Steps;
use super::super::mode::Mode;
use super::super::shutdown::{self, StopQueue};
use super::super::table::ProcId;
use super::Supervisor;
use crate::events::{Event, SupervisorStateChange};
use crate::logs::LogLevel as MainLevel;
use crate::process::Input;

impl Supervisor {
    /// Create every group and publish them, before the HTTP servers
    /// serve: the reference adds its groups before it opens its servers,
    /// so its first client never sees an empty list. False when the
    /// spawner cannot start (logged): the life ends at once.
    pub fn open(&mut self) -> bool {
        self.opened = Some(false);
        if let Err(error) = self.launcher.ensure_spawner() {
            self.log(
                MainLevel::Critical,
                &format!("unable to start the spawner threads: {error}"),
            );
            return false;
        }
        self.mode = Mode::Running;
        self.stopping.reset();
        // A restart starts from scratch: the old table's pools go, and a
        // command still waiting on an old process gets its answer.
        for group in self.table.clear() {
            self.events.pool_removed(&group);
        }
        self.waiters.fail_all(|| Fault::bare(SHUTDOWN_STATE));
        self.timers.clear();
        self.probes.clear();
        self.execs.clear();
        self.changes.clear();
        let config = Arc::clone(&self.config);
        self.table.reserve(
            config.groups.iter().map(|g| g.processes.len()).sum(),
            config.groups.len(),
        );
        for index in 0..config.groups.len() {
            self.add_group(&config, index);
        }
        self.publisher.layout_changed();
        self.deps.rebuild(&self.table);
        self.publish();
        self.opened = Some(true);
        true
    }

    /// Let `deps` react to the state changes seen so far, and start the
    /// health restarts whose stop is over.
    pub(super) fn drain_deps(&mut self) {
        for id in self.probes.take_due() {
            if self.mode == Mode::Running {
                self.feed(id, Input::Start);
            }
        }
        while let Some(changed) = self.deps_changed.pop() {
            let starting = self.mode == Mode::Running;
            let steps = self.deps.changed(&self.table, changed, starting);
            self.steps(steps);
        }
    }

    /// The moment a publish is judged at; when one is due then, the held
    /// starts' `waiting for` texts that fell behind are fed first, so the
    /// snapshot shows them (rendering them at each dependency coming up
    /// was most of a long chain's start time: `tests/bench/order.sh`).
    pub(super) fn before_publish(&mut self, urgent: bool) -> Instant {
        let now = Instant::now();
        if self.deps.has_stale() && self.publisher.is_due(now, urgent, self.mode.state()) {
            let steps = self.deps.texts(&self.table);
            self.steps(steps);
        }
        now
    }

    /// Feed the inputs `deps` decided, in order.
    pub(super) fn steps(&mut self, steps: Steps) {
        for (id, input) in steps {
            let failed = matches!(input, Input::DependencyFailed(_));
            self.feed(id, input);
            if failed {
                // FATAL again is no state change, yet fails its own waiters.
                self.deps_changed.push(id);
                self.drain_deps();
            }
            self.settle_waiters(id, false);
        }
    }

    /// An explicit start of `id`: its dependencies not up first (a line
    /// in the main log for each one pulled in), or held until they are.
    pub(super) fn start_in_order(&mut self, id: ProcId) {
        if self.deps.is_empty() {
            self.feed(id, Input::Start);
            return;
        }
        let (steps, pulled) = self.deps.start(&self.table, id);
        for dependency in pulled {
            if let Some(proc) = self.table.get(dependency) {
                let line = format!("{}: started as a dependency", proc.namespec());
                self.main_log.log(crate::logs::LogLevel::Info, &line);
            }
        }
        self.steps(steps);
    }

    /// An explicit stop of `id`: its running dependents first, each to
    /// completion, then `id`.
    pub(super) fn stop_in_order(&mut self, id: ProcId) {
        let steps = self.deps.stop(&self.table, id);
        self.steps(steps);
    }

    /// Autostart `id` (with its dependencies first, when it has some).
    pub(super) fn autostart(&mut self, id: ProcId) {
        if self.deps.is_held(id) {
            // A dependent's autostart already holds its start until its
            // dependencies are up: an Autostart now would spawn it early.
            return;
        }
        let wanted = self
            .table
            .get(id)
            .is_some_and(|p| p.policy.autostart && p.record.laststart.is_none());
        if self.deps.is_empty() || !wanted || self.mode != Mode::Running {
            self.feed(id, Input::Autostart);
        } else {
            let (steps, _) = self.deps.start(&self.table, id);
            self.steps(steps);
        }
    }

    /// One shutdown step: stop the highest-priority group still running,
    /// move to the next the moment it is fully stopped, report who we wait
    /// for. True when nothing is left running.
    pub(super) fn wind_down(&mut self) -> bool {
        let table = &self.table;
        if self
            .stopping
            .begin(|| table.groups().iter().map(|g| g.name.clone()).collect())
        {
            self.events.bus().publish(Event::SupervisorStateChange(
                SupervisorStateChange::Stopping,
            ));
        }
        // Groups stop one at a time; a process whose dependents are not
        // stopped yet waits for them, and a group with only such processes
        // left lets the next group go ahead. A pass looks at what changed
        // (`shutdown::StopQueue`), or at everything while any process has
        // dependents.
        let every_time = !self.deps.is_empty();
        let fed = self.stopping.begin_pass();
        let mut k = 0;
        while let Some(name) = self.stopping.nth(k).map(str::to_owned) {
            k += 1;
            let Some(group) = self.table.group(&name) else {
                continue;
            };
            let ids = self.stopping.look_at(&self.table, group, &fed, every_time);
            let mut busy = false;
            for id in ids {
                let Some(state) = self.table.get(id).map(|p| p.record.state) else {
                    continue;
                };
                self.stopping.looked(&self.table, id);
                if self.deps.blocked(&self.table, id) {
                    continue;
                }
                if let Some(input) = shutdown::stop_input(state) {
                    self.feed(id, input);
                }
                busy |= self
                    .table
                    .get(id)
                    .is_some_and(|p| !p.record.state.is_stopped());
            }
            self.stopping.settle(&self.table);
            let group = self.table.group(&name);
            if busy
                || (!every_time
                    && group.is_some_and(|g| self.stopping.unstopped(&self.table, g, false)))
            {
                break;
            }
        }
        StopQueue::close_stopped_logs(&mut self.table, &fed);
        while let Some(name) = self.stopping.current() {
            match self.table.group(name) {
                Some(g) if self.stopping.unstopped(&self.table, g, every_time) => break,
                _ => self.stopping.pop(),
            }
        }
        // While a group is left in the queue, it has a process running.
        if self.stopping.is_empty() && self.table.unstopped_ids().is_empty() {
            return true;
        }
        if self.stopping.report(Instant::now()) {
            let states: Vec<(&str, ProcessState)> = self
                .table
                .unstopped_ids()
                .iter()
                .filter_map(|id| self.table.get(*id))
                .map(|p| (&*p.name, p.record.state))
                .collect();
            for (level, line) in shutdown::report(&states) {
                self.log(level, &line);
            }
        }
        false
    }
}
