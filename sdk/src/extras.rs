//! Commands only the daemon's bundled plugins can give: supervisor-rs's own
//! operations beyond the reference's API (scaling a group, the granular
//! update), which the bundled `supervisor_rs.ext` namespace serves, and
//! the run-time group changes the bundled supervisor_twiddler twin serves.
//!
//! Not part of the ABI, for the reason [`crate::counters`] gives: growing
//! [`crate::host::Host`] would make the daemon refuse every plugin built
//! against an earlier SDK. The daemon provides its implementation here when
//! it builds its host; a plugin linked into the daemon shares this module
//! and finds it, while a plugin loaded from a library has its own copy of
//! this module and finds none.

use std::sync::{Arc, PoisonError, RwLock};

use crate::host::Ticket;

/// The daemon's side of the extra commands. Like the [`crate::host::Host`]
/// commands, each returns a ticket whose outcome the daemon settles.
pub trait Extras: Send + Sync {
    /// Make the group `group`, made by one `[program:x]` section, have
    /// `count` processes (0 or more), starting or stopping only the
    /// difference (the highest process numbers stop first) and leaving the
    /// others alone. Completes once the processes that go have stopped and
    /// left the table and the new ones were spawned; the value is an array
    /// of strings, one line per process started or removed. Faults:
    /// `BAD_NAME` (no such group), `BAD_ARGUMENTS` (a negative count, a
    /// group of several sections, an event listener pool), `FAILED` (the
    /// program's config on disk no longer matches the running one, another
    /// change under way), `SHUTDOWN_STATE`. A refusal changes nothing.
    fn scale_group(&self, group: &str, count: i64) -> Ticket;

    /// Read the configuration again and apply it process by process:
    /// restart only the processes whose own settings changed, start added
    /// ones, stop and remove removed ones, leave the others running. With
    /// `dry_run`, only say what it would do. The value is an array of
    /// strings, one line per process touched (`web:web_1: restarted`).
    /// Faults: `CANT_REREAD`, `FAILED` (another change under way),
    /// `SHUTDOWN_STATE`.
    fn update_changed(&self, dry_run: bool) -> Ticket;

    /// supervisor_twiddler's `getGroupNames`: the value is an array of the
    /// active groups' names, empty groups included.
    fn group_names(&self) -> Ticket;

    /// supervisor_twiddler's `addProgramToGroup`: the processes of the
    /// `[program:NAME]` section made of `options` (key, value, in the
    /// order given; values as the config file would hold them) join the
    /// active group `group`, built and checked as the file's section would
    /// be, and start if their `autostart` says so. The value is `true`.
    /// Faults: `BAD_NAME` (`group: NAME` for no such group, or the name of
    /// a process the group has already), `INCORRECT_PARAMETERS` (what the
    /// config parser refuses, in its words), `FAILED` (a scale or update
    /// under way), `SHUTDOWN_STATE`.
    fn add_program_to_group(
        &self,
        group: &str,
        program: &str,
        options: Vec<(String, String)>,
    ) -> Ticket;

    /// supervisor_twiddler's `removeProcessFromGroup`: the stopped process
    /// `process` leaves `group`. The value is `true`. Faults: `BAD_NAME`
    /// (`group: NAME`, or the process's name), `STILL_RUNNING`, `FAILED`
    /// (a scale or update under way), `SHUTDOWN_STATE`.
    fn remove_process_from_group(&self, group: &str, process: &str) -> Ticket;
}

static EXTRAS: RwLock<Option<Arc<dyn Extras>>> = RwLock::new(None);

/// Set the daemon's implementation (the daemon calls it when it builds the
/// host it gives plugins; a later call replaces an earlier one).
pub fn provide(extras: Arc<dyn Extras>) {
    *EXTRAS.write().unwrap_or_else(PoisonError::into_inner) = Some(extras);
}

/// The daemon's implementation, or `None` in a plugin loaded from a
/// library (or with no daemon).
pub fn get() -> Option<Arc<dyn Extras>> {
    EXTRAS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
