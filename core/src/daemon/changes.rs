//! Our run-time changes to the set of processes (issue 17, served by the
//! bundled `ext` plugin): scaling the group of one `[program:x]` section to
//! N processes, and the granular update that applies a re-read
//! configuration process by process instead of group by group.
//!
//! It owns the one change under way (the processes that must stop before
//! the table changes, what to build and start after, the lines to answer
//! with) and the groups scaled at run time, each with the configuration
//! its file gives: reread and update compare the file with that, so an
//! update that finds the program unchanged leaves the scaled count alone.
//! It plans and remembers; the supervisor task stops, builds and starts
//! (`supervisor/changes.rs`), and nothing here touches a process.

use std::collections::HashMap;
use std::sync::Arc;

use supervisor_sdk::fault::{BAD_ARGUMENTS, BAD_NAME, FAILED, Fault};
use supervisor_sdk::host::Ticket;

use super::table::{ProcId, ProcessTable};
use crate::config::{Config, GroupConfig, GroupKind, ProcessConfig, ProcessRef};

/// What happens to one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// A new process; `start`: started at once.
    Added { start: bool },
    /// A process that goes; `running`: stopped first.
    Removed { running: bool },
    /// A process whose own settings changed: stopped if `running`, built
    /// again, started if `start`.
    Replaced { running: bool, start: bool },
}

impl Touch {
    /// The words after `NAME: `, as a plan (`dry_run`) or as done.
    pub fn words(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Touch::Added { start: true }, true) => "would add and start",
            (Touch::Added { start: true }, false) => "added and started",
            (Touch::Added { start: false }, true) => "would add (stays stopped)",
            (Touch::Added { start: false }, false) => "added (stays stopped)",
            (Touch::Removed { running: true }, true) => "would stop and remove",
            (Touch::Removed { running: true }, false) => "stopped and removed",
            (Touch::Removed { running: false }, true) => "would remove",
            (Touch::Removed { running: false }, false) => "removed",
            (Touch::Replaced { start: true, .. }, true) => "would restart with its new settings",
            (Touch::Replaced { start: true, .. }, false) => "restarted with its new settings",
            (Touch::Replaced { running: true, .. }, true) => {
                "would stop and take its new settings (autostart is false)"
            }
            (Touch::Replaced { running: true, .. }, false) => {
                "stopped and took its new settings (autostart is false)"
            }
            (Touch::Replaced { .. }, true) => "would take its new settings (stays stopped)",
            (Touch::Replaced { .. }, false) => "took its new settings (stays stopped)",
        }
    }
}

/// One group's part of a change.
#[derive(Debug)]
pub struct Step {
    /// The group.
    pub group: String,
    /// Processes to stop, then take out of the table.
    pub drop: Vec<ProcId>,
    /// The whole group goes (and comes back from `target`, if any) rather
    /// than changing in place: an added or removed group, or one whose
    /// group-level settings changed.
    pub whole: bool,
    /// The group's configuration afterwards and its index there; `None`:
    /// the group is removed.
    pub target: Option<(Arc<Config>, usize)>,
    /// Processes of `target` to build and add (in-place steps).
    pub build: Vec<String>,
    /// Start what was built whatever its `autostart` (a scale up);
    /// otherwise `autostart` decides.
    pub force_start: bool,
}

/// A change waiting for its processes to stop.
#[derive(Debug)]
pub struct Change {
    /// Settled with `lines` once applied.
    pub ticket: Ticket,
    pub steps: Vec<Step>,
    /// One per process touched.
    pub lines: Vec<String>,
    /// The pending configuration afterwards, when the change replaces it.
    pub pending: Option<Arc<Config>>,
}

impl Change {
    /// Every process that must be stopped before the change applies.
    pub fn stopping(&self) -> impl Iterator<Item = ProcId> + '_ {
        self.steps.iter().flat_map(|s| s.drop.iter().copied())
    }
}

/// A request that waits for the configuration file to be read.
#[derive(Debug)]
pub enum Loading {
    /// A scale up, reading `section` with the new `numprocs`.
    Scale {
        group: String,
        count: i64,
        section: String,
        ticket: Ticket,
    },
    /// A granular update.
    Update { dry_run: bool, ticket: Ticket },
}

/// What a scale request needs next.
#[derive(Debug)]
pub enum ScaleNeed {
    /// Nothing to do: the group has that many processes.
    Nothing,
    /// Fewer processes: the step, and the lines.
    Shrink(Step, Vec<String>),
    /// More: read `section` again with the new `numprocs`.
    Grow { section: String },
}

/// The component; see the module docs.
#[derive(Debug, Default)]
pub struct Changes {
    /// A request reading the configuration.
    pub loading: Option<Loading>,
    /// A change waiting for stops.
    pub under_way: Option<Change>,
    /// An applied change waiting for the forks of the processes it
    /// started: its ticket, lines and those processes.
    pub spawning: Option<(Ticket, Vec<String>, Vec<ProcId>)>,
    /// Groups scaled at run time, with the configuration their file gave.
    scaled: HashMap<String, GroupConfig>,
}

impl Changes {
    /// Refuse a second change while one is being read or carried out.
    pub fn check_idle(&self) -> Result<(), Fault> {
        if self.loading.is_some() || self.under_way.is_some() || self.spawning.is_some() {
            return Err(Fault::with(
                FAILED,
                "another scale or update is under way; try again when it is done",
            ));
        }
        Ok(())
    }

    /// A restart starts from the file: no scaled group survives it.
    pub fn clear(&mut self) {
        self.scaled.clear();
    }

    /// The group went (plain update, removeProcessGroup): its next
    /// configuration is the file's.
    pub fn forget(&mut self, group: &str) {
        self.scaled.remove(group);
    }

    /// The active groups' configurations as their file gives them: what
    /// reread compares the file with.
    pub fn file_view(&self, table: &ProcessTable) -> Vec<GroupConfig> {
        table
            .groups()
            .iter()
            .map(|g| self.scaled.get(&g.name).unwrap_or(g.config()).clone())
            .collect()
    }

    /// `new` (a configuration just read) with each scaled group the file
    /// leaves unchanged replaced by its running, scaled form, so the pending
    /// configuration (getAllConfigInfo, avail) lists what runs.
    pub fn keep_scaled(&self, table: &ProcessTable, new: &mut Config) {
        for group in &mut new.groups {
            if let (Some(base), Some(active)) =
                (self.scaled.get(&group.name), table.group(&group.name))
                && group.same_as(base)
            {
                *group = active.config().clone();
            }
        }
    }

    /// Check a scale of `group` to `count` against the table.
    pub fn scale(&self, table: &ProcessTable, group: &str, count: i64) -> Result<ScaleNeed, Fault> {
        if count < 0 {
            return Err(Fault::with(
                BAD_ARGUMENTS,
                format!(
                    "cannot scale {group} to {count}: the number of processes must be 0 or more"
                ),
            ));
        }
        let active = table
            .group(group)
            .ok_or_else(|| Fault::with(BAD_NAME, group))?;
        let current = active.config();
        let section = self.section_of(current)?;
        let have = current.processes.len();
        let want = usize::try_from(count).unwrap_or(usize::MAX);
        if want == have {
            return Ok(ScaleNeed::Nothing);
        }
        if want > have {
            return Ok(ScaleNeed::Grow { section });
        }
        // The highest process numbers go first.
        let mut by_number: Vec<&ProcessConfig> = current.processes.iter().collect();
        by_number.sort_by_key(|p| std::cmp::Reverse(p.process_num));
        let going: Vec<&ProcessConfig> = by_number[..have - want].to_vec();
        let mut drop = Vec::new();
        let mut lines = Vec::new();
        for process in &going {
            let id = table.find(group, &process.name)?;
            let running = table.get(id).is_some_and(|p| !p.record.state.is_stopped());
            drop.push(id);
            lines.push(line(
                group,
                &process.name,
                Touch::Removed { running },
                false,
            ));
        }
        let kept = GroupConfig {
            processes: current
                .processes
                .iter()
                .filter(|p| !going.iter().any(|g| g.name == p.name))
                .cloned()
                .collect(),
            ..current.clone()
        };
        let step = Step {
            group: group.to_string(),
            drop,
            whole: false,
            target: Some((alone(&active.source, kept), 0)),
            build: Vec::new(),
            force_start: false,
        };
        Ok(ScaleNeed::Shrink(step, lines))
    }

    /// The scale up of `group` once `loaded` (the file read with the new
    /// `numprocs` for `section`) is there: the step and its lines. The
    /// processes that stay must read as they run: a program changed on
    /// disk is updated before it is scaled.
    pub fn grow(
        &self,
        table: &ProcessTable,
        group: &str,
        section: &str,
        loaded: &Config,
    ) -> Result<(Step, Vec<String>), Fault> {
        let active = table
            .group(group)
            .ok_or_else(|| Fault::with(BAD_NAME, group))?;
        let current = active.config();
        let read = loaded
            .groups
            .iter()
            .find(|g| g.name == group)
            .filter(|g| g.processes.iter().all(|p| p.section == section))
            .ok_or_else(|| changed_on_disk(section))?;
        let mut build = Vec::new();
        let mut lines = Vec::new();
        for process in &current.processes {
            let same = read
                .processes
                .iter()
                .find(|p| p.name == process.name)
                .is_some_and(|p| p.same_as(process));
            if !same {
                return Err(changed_on_disk(section));
            }
        }
        for process in &read.processes {
            if !current.processes.iter().any(|p| p.name == process.name) {
                build.push(process.name.clone());
                lines.push(line(
                    group,
                    &process.name,
                    Touch::Added { start: true },
                    false,
                ));
            }
        }
        let target = GroupConfig {
            processes: read.processes.clone(),
            ..current.clone()
        };
        let step = Step {
            group: group.to_string(),
            drop: Vec::new(),
            whole: false,
            target: Some((alone(&active.source, target), 0)),
            build,
            force_start: true,
        };
        Ok((step, lines))
    }

    /// Remember the file's configuration of `group` before its first
    /// scale.
    pub fn scaling(&mut self, table: &ProcessTable, group: &str) {
        if let Some(active) = table.group(group) {
            self.scaled
                .entry(group.to_string())
                .or_insert_with(|| active.config().clone());
        }
    }

    /// The one `[program:x]` section a scalable group is made by.
    fn section_of(&self, current: &GroupConfig) -> Result<String, Fault> {
        let name = &current.name;
        if !matches!(current.kind, GroupKind::Program) {
            return Err(Fault::with(
                BAD_ARGUMENTS,
                format!(
                    "{name} is not a program group: only the group of one [program:x] section \
                     can be scaled"
                ),
            ));
        }
        let base = self.scaled.get(name).unwrap_or(current);
        let mut sections: Vec<&str> = base
            .processes
            .iter()
            .chain(&current.processes)
            .map(|p| p.section.as_str())
            .collect();
        sections.sort_unstable();
        sections.dedup();
        match sections.as_slice() {
            [one] if one.starts_with("program:") => Ok((*one).to_string()),
            [] => Err(Fault::with(
                BAD_ARGUMENTS,
                format!("{name} has no process to scale from (numprocs = 0 in its file)"),
            )),
            many => Err(Fault::with(
                BAD_ARGUMENTS,
                format!(
                    "{name} is made by several program sections ({}): only the group of one \
                     [program:x] section can be scaled",
                    many.join(", ")
                ),
            )),
        }
    }

    /// The granular update's steps and lines: `new` against the active
    /// groups (scaled ones compared as their file gave them).
    pub fn plan_update(
        &mut self,
        table: &ProcessTable,
        new: &Arc<Config>,
        dry_run: bool,
    ) -> (Vec<Step>, Vec<String>) {
        let mut steps = Vec::new();
        let mut lines = Vec::new();
        let running = |id: ProcId| table.get(id).is_some_and(|p| !p.record.state.is_stopped());
        for (index, group) in new.groups.iter().enumerate() {
            let name = group.name.as_str();
            let Some(active) = table.group(name) else {
                for p in &group.processes {
                    let touch = Touch::Added { start: p.autostart };
                    lines.push(line(name, &p.name, touch, dry_run));
                }
                steps.push(Step {
                    group: name.to_string(),
                    drop: Vec::new(),
                    whole: true,
                    target: Some((Arc::clone(new), index)),
                    build: Vec::new(),
                    force_start: false,
                });
                continue;
            };
            if group.same_as(self.scaled.get(name).unwrap_or(active.config())) {
                continue;
            }
            let current = active.config();
            let in_place = matches!(
                (&group.kind, &current.kind),
                (GroupKind::Program, GroupKind::Program)
            ) && group.priority == current.priority;
            let mut step = Step {
                group: name.to_string(),
                drop: Vec::new(),
                whole: !in_place,
                target: Some((Arc::clone(new), index)),
                build: Vec::new(),
                force_start: false,
            };
            for old in &current.processes {
                let Ok(id) = table.find(name, &old.name) else {
                    continue;
                };
                let new_process = group.processes.iter().find(|p| p.name == old.name);
                let touch = match new_process {
                    Some(p) if in_place && p.same_as(old) => continue,
                    Some(p) => Touch::Replaced {
                        running: running(id),
                        start: p.autostart,
                    },
                    None => Touch::Removed {
                        running: running(id),
                    },
                };
                if in_place && new_process.is_some() {
                    step.build.push(old.name.clone());
                }
                step.drop.push(id);
                lines.push(line(name, &old.name, touch, dry_run));
            }
            for p in &group.processes {
                if !current.processes.iter().any(|old| old.name == p.name) {
                    step.build.push(p.name.clone());
                    let touch = Touch::Added { start: p.autostart };
                    lines.push(line(name, &p.name, touch, dry_run));
                }
            }
            if step.whole {
                step.drop = active.procs.clone();
            }
            steps.push(step);
        }
        for active in table.groups() {
            if new.groups.iter().any(|g| g.name == active.name) {
                continue;
            }
            for id in &active.procs {
                if let Some(p) = table.get(*id) {
                    let touch = Touch::Removed {
                        running: running(*id),
                    };
                    lines.push(line(&active.name, &p.name, touch, dry_run));
                }
            }
            steps.push(Step {
                group: active.name.clone(),
                drop: active.procs.clone(),
                whole: true,
                target: None,
                build: Vec::new(),
                force_start: false,
            });
        }
        if !dry_run {
            // Whatever the update touches takes its file's configuration.
            for step in &steps {
                self.scaled.remove(&step.group);
            }
        }
        (steps, lines)
    }
}

fn changed_on_disk(section: &str) -> Fault {
    Fault::with(
        FAILED,
        format!(
            "[{section}] changed on disk since it was applied: run update (or update \
             --only-changed) first, then scale"
        ),
    )
}

/// `NAME: words`, the name as supervisorctl shows it.
fn line(group: &str, name: &str, touch: Touch, dry_run: bool) -> String {
    let who = ProcessRef {
        group: group.to_string(),
        name: name.to_string(),
    };
    format!("{who}: {}", touch.words(dry_run))
}

/// A configuration holding `group` alone, for a group whose processes no
/// longer match any file's: the table reads only a group's own entry.
pub fn alone(base: &Config, group: GroupConfig) -> Arc<Config> {
    Arc::new(Config {
        source: base.source.clone(),
        here: base.here.clone(),
        supervisord: base.supervisord.clone(),
        unix_http_servers: Vec::new(),
        inet_http_servers: Vec::new(),
        rpcinterfaces: Vec::new(),
        groups: vec![group],
        messages: Vec::new(),
        program_defaults: Vec::new(),
        unknown: Vec::new(),
    })
}

/// `config` with its group of `group`'s name replaced (the pending
/// configuration after a scale).
pub fn with_group(config: &Config, group: &GroupConfig) -> Config {
    let mut config = config.clone();
    if let Some(slot) = config.groups.iter_mut().find(|g| g.name == group.name) {
        *slot = group.clone();
    }
    config
}

#[cfg(test)]
mod tests {
    use super::super::groups::unit_table;
    use super::*;

    /// A table holding every group of `body`.
    fn table_of(body: &str) -> (tempfile::TempDir, ProcessTable) {
        let (dir, _config, table) = unit_table(body);
        (dir, table)
    }

    const WEB: &str = "[program:web]\ncommand=/bin/true\nnumprocs=11\n\
        process_name=web_%(process_num)s\n\
        [program:a]\ncommand=/bin/true\n[program:b]\ncommand=/bin/true\n\
        [group:pair]\nprograms=a,b\n";

    #[test]
    fn shrinking_takes_the_highest_process_numbers_not_the_last_names() {
        let (_dir, table) = table_of(WEB);
        let changes = Changes::default();
        let Ok(ScaleNeed::Shrink(step, lines)) = changes.scale(&table, "web", 9) else {
            panic!("a shrink");
        };
        // By name web_9 sorts last; by number web_10 is the highest.
        assert_eq!(
            lines,
            ["web:web_10: removed", "web:web_9: removed"],
            "stopped processes are only removed"
        );
        let (config, index) = step.target.expect("the group stays");
        assert_eq!(config.groups[index].processes.len(), 9);
        assert!(matches!(
            changes.scale(&table, "web", 11),
            Ok(ScaleNeed::Nothing)
        ));
        assert!(matches!(
            changes.scale(&table, "web", 12),
            Ok(ScaleNeed::Grow { section }) if section == "program:web"
        ));
    }

    #[test]
    fn refusals_name_their_reason() {
        let (_dir, table) = table_of(WEB);
        let changes = Changes::default();
        let refused = |group: &str, count: i64| match changes.scale(&table, group, count) {
            Err(fault) => (fault.code, fault.string.to_string()),
            Ok(need) => panic!("{group} {count}: {need:?}"),
        };
        assert_eq!(refused("web", -1).0, BAD_ARGUMENTS);
        assert_eq!(refused("nosuch", 1).0, BAD_NAME);
        let (code, text) = refused("pair", 1);
        assert_eq!(code, BAD_ARGUMENTS);
        assert!(text.contains("(program:a, program:b)"), "{text}");
    }

    #[test]
    fn the_update_plan_touches_only_changed_processes() {
        let (dir, table) = table_of(WEB);
        let path = super::super::write_test_config(
            &dir,
            &WEB.replace("numprocs=11", "numprocs=10")
                .replace(
                    "[program:a]\ncommand=/bin/true",
                    "[program:a]\ncommand=/bin/false",
                )
                .replace("[group:pair]\nprograms=a,b\n", "[group:pair]\nprograms=a\n"),
        );
        let new = Arc::new(crate::config::load_config(&path).expect("a valid config"));
        let mut changes = Changes::default();
        let (steps, lines) = changes.plan_update(&table, &new, true);
        assert_eq!(
            lines,
            [
                "b: would add and start",
                "pair:a: would restart with its new settings",
                "pair:b: would remove",
                "web:web_10: would remove",
            ]
        );
        let whole: Vec<(&str, bool)> = steps.iter().map(|s| (s.group.as_str(), s.whole)).collect();
        assert_eq!(whole, [("b", true), ("pair", false), ("web", false)]);
    }
}
