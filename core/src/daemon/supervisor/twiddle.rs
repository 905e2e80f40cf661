//! The supervisor task's side of supervisor_twiddler's requests
//! (`super::super::twiddle` plans them): the step is applied at once, as a
//! scale's is once its processes stopped (a removed process is stopped
//! already), and every answer is immediate, as in the Python package. A
//! part of the task itself (its `impl`), kept apart so the task's file
//! stays within its size budget.

use std::sync::Arc;

use supervisor_sdk::fault::{Fault, SHUTDOWN_STATE};
use supervisor_sdk::host::{Outcome, Ticket};
use supervisor_sdk::value::Value;

use super::super::changes::{Step, with_group};
use super::super::mode::Mode;
use super::super::twiddle::{self, TwiddleRequest};
use super::Supervisor;

impl Supervisor {
    /// `Request::Twiddle`.
    pub(super) fn twiddle(&mut self, request: TwiddleRequest, ticket: Ticket) {
        let outcome = match self.twiddled(request) {
            Ok(value) => Outcome {
                value,
                ..Outcome::done()
            },
            Err(fault) => Outcome::failed(fault),
        };
        self.waiters.complete(ticket, outcome.immediate());
    }

    fn twiddled(&mut self, request: TwiddleRequest) -> Result<Value, Fault> {
        if !matches!(request, TwiddleRequest::GroupNames) {
            // The plugin refused already in the reference's SHUTDOWN state;
            // a change between its check and this one is refused too.
            if self.mode != Mode::Running {
                return Err(Fault::bare(SHUTDOWN_STATE));
            }
            // A scale or update under way holds a plan of the group as it
            // was: changing the group under it would leave records astray.
            self.changes.check_idle()?;
        }
        let step = match request {
            TwiddleRequest::GroupNames => {
                let names = twiddle::group_names(&self.table);
                return Ok(Value::array(names.into_iter().map(Value::string)));
            }
            TwiddleRequest::AddProgram {
                group,
                program,
                options,
            } => twiddle::add_program(
                &self.table,
                &self.config,
                &self.load_options,
                &group,
                &program,
                &options,
            )?,
            TwiddleRequest::RemoveProcess { group, name } => {
                twiddle::remove_process(&self.table, &group, &name)?
            }
        };
        self.apply_twiddle(step);
        Ok(Value::bool(true))
    }

    /// Apply `step` and autostart what it built.
    fn apply_twiddle(&mut self, step: Step) {
        if let Some((source, index)) = &step.target {
            // getAllConfigInfo lists what runs, as the reference's config
            // objects (changed in place there) do.
            self.pending = Arc::new(with_group(&self.pending, &source.groups[*index]));
        }
        let starts = self.apply_step(step);
        self.publisher.layout_changed();
        self.deps.rebuild(&self.table);
        for (id, _) in starts {
            self.autostart(id);
        }
    }
}
