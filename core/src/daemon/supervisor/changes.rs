//! The supervisor task's side of our run-time changes
//! (`super::super::changes` plans them): a scale or a granular update
//! stops the processes that go or change, waits until every one of them
//! is stopped (checked before each publish), then takes them out of the
//! table, builds and adds the new ones, and starts them. A part of the
//! task itself (its `impl`), kept apart so the task's file stays within its
//! size budget.

use std::sync::Arc;

use supervisor_sdk::fault::{BAD_NAME, CANT_REREAD, FAILED, Fault, SHUTDOWN_STATE};
use supervisor_sdk::host::{Outcome, Ticket};
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::value::Value;

use super::super::build;
use super::super::changes::{Change, Loading, ScaleNeed, Step, with_group};
use super::super::groups::GroupContext;
use super::super::handle::Message;
use super::super::mode::Mode;
use super::super::reread;
use super::super::table::ProcId;
use super::Supervisor;
use crate::config::Config;
use crate::logs::LogLevel as MainLevel;

/// The answer of a change: one line per process touched.
fn lines_outcome(lines: Vec<String>) -> Outcome {
    Outcome {
        value: Value::array(lines.into_iter().map(Value::string)),
        ..Outcome::done()
    }
}

impl Supervisor {
    /// `Request::Scale`.
    pub(super) fn scale(&mut self, group: &str, count: i64, ticket: Ticket) {
        if let Err(fault) = self.begin_scale(group, count, ticket) {
            self.waiters
                .complete(ticket, Outcome::failed(fault).immediate());
        }
    }

    fn begin_scale(&mut self, group: &str, count: i64, ticket: Ticket) -> Result<(), Fault> {
        if self.mode != Mode::Running {
            return Err(Fault::bare(SHUTDOWN_STATE));
        }
        self.changes.check_idle()?;
        match self.changes.scale(&self.table, group, count)? {
            ScaleNeed::Nothing => {
                self.waiters
                    .complete(ticket, lines_outcome(Vec::new()).immediate());
            }
            ScaleNeed::Shrink(step, lines) => self.begin_scaled(group, ticket, step, lines),
            ScaleNeed::Grow { section } => {
                self.changes.loading = Some(Loading::Scale {
                    group: group.to_string(),
                    count,
                    section: section.clone(),
                    ticket,
                });
                self.load_for_change(Some((section, count)));
            }
        }
        Ok(())
    }

    fn begin_scaled(&mut self, group: &str, ticket: Ticket, step: Step, lines: Vec<String>) {
        self.changes.scaling(&self.table, group);
        let pending = step
            .target
            .as_ref()
            .map(|(config, index)| Arc::new(with_group(&self.pending, &config.groups[*index])));
        self.begin_change(Change {
            ticket,
            steps: vec![step],
            lines,
            pending,
        });
    }

    /// `Request::UpdateChanged`.
    pub(super) fn update_changed(&mut self, dry_run: bool, ticket: Ticket) {
        let ready = if self.mode == Mode::Running {
            self.changes.check_idle()
        } else {
            Err(Fault::bare(SHUTDOWN_STATE))
        };
        if let Err(fault) = ready {
            return self
                .waiters
                .complete(ticket, Outcome::failed(fault).immediate());
        }
        self.changes.loading = Some(Loading::Update { dry_run, ticket });
        self.load_for_change(None);
    }

    /// Read the configuration file off the task, as reread does.
    fn load_for_change(&self, numprocs: Option<(String, i64)>) {
        let sender = self.sender.clone();
        let mut options = self.load_options.clone();
        options.numprocs = numprocs;
        reread::load_in_background(self.config.source.clone(), options, move |result| {
            let _ = sender.send(Message::ChangeLoaded { result });
        });
    }

    /// `Message::ChangeLoaded`: plan with what was read.
    pub(super) fn change_loaded(&mut self, result: Result<Box<Config>, String>) {
        let Some(loading) = self.changes.loading.take() else {
            return;
        };
        match loading {
            Loading::Scale {
                group,
                count,
                section,
                ticket,
            } => {
                let planned = match result {
                    Err(why) => Err(Fault::with(
                        FAILED,
                        format!("cannot scale {group} to {count}: {why}"),
                    )),
                    Ok(_) if self.mode != Mode::Running => Err(Fault::bare(SHUTDOWN_STATE)),
                    Ok(loaded) => self.changes.grow(&self.table, &group, &section, &loaded),
                };
                match planned {
                    Ok((step, lines)) => self.begin_scaled(&group, ticket, step, lines),
                    Err(fault) => self.waiters.complete(ticket, Outcome::failed(fault)),
                }
            }
            Loading::Update { dry_run, ticket } => {
                let mut new = match result {
                    Ok(config) => *config,
                    Err(why) => {
                        let fault = Fault::with(CANT_REREAD, why);
                        return self.waiters.complete(ticket, Outcome::failed(fault));
                    }
                };
                build::compact(&mut new);
                let new = Arc::new(new);
                let (steps, lines) = self.changes.plan_update(&self.table, &new, dry_run);
                if dry_run {
                    return self.waiters.complete(ticket, lines_outcome(lines));
                }
                self.begin_change(Change {
                    ticket,
                    steps,
                    lines,
                    pending: Some(new),
                });
            }
        }
    }

    /// Stop what the change takes out (in the order planned: the highest
    /// process numbers first); it applies once they are all stopped.
    fn begin_change(&mut self, change: Change) {
        let stops: Vec<ProcId> = change.stopping().collect();
        self.changes.under_way = Some(change);
        for id in stops {
            self.stop_for_change(id);
        }
    }

    fn stop_for_change(&mut self, id: ProcId) {
        let Some(proc) = self.table.get(id) else {
            return;
        };
        let state = proc.record.state;
        if state.is_stopped() || state == ProcessState::Stopping {
            return;
        }
        let (group, name) = (Arc::clone(&proc.group), Arc::clone(&proc.name));
        // Without wait, a stop answers at once and never uses its ticket.
        let _ = self.stop(&group, &name, false, Ticket(0));
    }

    /// Before each publish: apply the change under way once every process
    /// it takes out is stopped (stopping again one a user started
    /// meanwhile); a shutdown ends it unapplied.
    pub(super) fn change_progress(&mut self) {
        if let Some((_, _, ids)) = &self.changes.spawning {
            let forking = |id: &ProcId| self.table.get(*id).is_some_and(|p| p.record.spawning);
            if !ids.iter().any(forking)
                && let Some((ticket, lines, _)) = self.changes.spawning.take()
            {
                self.waiters.complete(ticket, lines_outcome(lines));
            }
        }
        let Some(change) = &self.changes.under_way else {
            return;
        };
        if self.mode != Mode::Running {
            let ticket = change.ticket;
            self.changes.under_way = None;
            let fault = Fault::bare(SHUTDOWN_STATE);
            return self.waiters.complete(ticket, Outcome::failed(fault));
        }
        let mut waiting = Vec::new();
        for id in change.stopping() {
            if let Some(proc) = self.table.get(id)
                && (!proc.record.state.is_stopped() || proc.record.spawning)
            {
                waiting.push(id);
            }
        }
        if !waiting.is_empty() {
            for id in waiting {
                self.stop_for_change(id);
            }
            return;
        }
        let Some(change) = self.changes.under_way.take() else {
            return;
        };
        let mut starts = Vec::new();
        for step in change.steps {
            starts.extend(self.apply_step(step));
        }
        if let Some(pending) = change.pending {
            self.pending = pending;
        }
        self.publisher.layout_changed();
        self.deps.rebuild(&self.table);
        let started: Vec<ProcId> = starts.iter().map(|(id, _)| *id).collect();
        for (id, force) in starts {
            if force {
                self.start_in_order(id);
            } else {
                self.autostart(id);
            }
        }
        for line in &change.lines {
            self.log(MainLevel::Info, line);
        }
        // Answered once the new children are forked, so their pids show.
        self.changes.spawning = Some((change.ticket, change.lines, started));
        self.change_progress();
    }

    /// Carry out one group's step; the processes to start, each with
    /// whether it starts whatever its `autostart`.
    pub(super) fn apply_step(&mut self, step: Step) -> Vec<(ProcId, bool)> {
        if step.whole {
            if self.table.group(&step.group).is_some()
                && let Err(fault) = self.remove_group(&step.group)
            {
                let line = format!("{}: not updated: {}", step.group, fault.string);
                self.log(MainLevel::Error, &line);
                return Vec::new();
            }
            let Some((source, index)) = step.target else {
                return Vec::new();
            };
            self.add_group(&source, index);
            let ids = self.table.group(&step.group).map(|g| g.procs.clone());
            return ids
                .unwrap_or_default()
                .into_iter()
                .map(|id| (id, false))
                .collect();
        }
        let Some((source, index)) = step.target else {
            return Vec::new();
        };
        if self.table.group(&step.group).is_none() {
            // Removed meanwhile (removeProcessGroup): nothing to reshape.
            return Vec::new();
        }
        let cx = GroupContext {
            config: &self.config,
            main_log: &self.main_log,
            events: &self.events,
            hooked: self.output_hook.is_some(),
        };
        let built = self
            .builder
            .procs(&cx, &mut self.table, &source.groups[index], &step.build);
        let starts: Vec<(ProcId, bool)> = built
            .iter()
            .map(|(id, _)| (*id, step.force_start))
            .collect();
        let dropped = self
            .table
            .reshape_group(&step.group, &step.drop, built, source, index);
        for (id, proc) in dropped {
            crate::counters::process_removed(&proc.group, &proc.name);
            self.timers.cancel(id);
            self.probes.forget(id);
            self.waiters
                .fail(id, || Fault::with(BAD_NAME, proc.namespec()));
        }
        starts
    }
}
