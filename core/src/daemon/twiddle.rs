//! supervisor_twiddler's run-time changes to a group (served by the
//! bundled twiddler plugin through `supervisor_sdk::extras`): adding the
//! processes of a `[program:x]` section given as options to an active
//! group, and removing one stopped process from its group, with the
//! Python package's checks and faults (`BAD_NAME` naming the group or the
//! process, `INCORRECT_PARAMETERS` for options the config parser refuses,
//! `STILL_RUNNING`).
//!
//! It plans: each request becomes a `Step` of `super::changes` (the
//! group's configuration afterwards, what to build, what to drop), which
//! the supervisor task applies as it applies a scale
//! (`supervisor/twiddle.rs`), so an added process is like a configured
//! one (status, logs, events) and starts if its `autostart` says so, as
//! the reference's next tick starts it there. Nothing here touches a
//! process.

use supervisor_sdk::fault::{BAD_NAME, Fault, INCORRECT_PARAMETERS, STILL_RUNNING};

use super::changes::{Step, alone};
use super::table::ProcessTable;
use crate::config::{Config, GroupConfig, GroupKind, LoadOptions, program_from_options};

/// A twiddler request to the supervisor task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwiddleRequest {
    /// `getGroupNames`: the active groups' names, as an array.
    GroupNames,
    /// `addProgramToGroup`: the `[program:NAME]` section made of
    /// `options` (key, value; in the order given) joins `group`.
    AddProgram {
        group: String,
        program: String,
        options: Vec<(String, String)>,
    },
    /// `removeProcessFromGroup`: the stopped process `name` leaves `group`.
    RemoveProcess { group: String, name: String },
}

/// The group named `name`, or the twiddler's `BAD_NAME: group: NAME`.
fn group_config<'a>(table: &'a ProcessTable, name: &str) -> Result<&'a GroupConfig, Fault> {
    table
        .group(name)
        .map(|group| group.config())
        .ok_or_else(|| Fault::with(BAD_NAME, format!("group: {name}")))
}

/// The step adding `program`, made of `options`, to `group`: its processes
/// are built as the config file's section would build them (`config` is
/// the configuration in force; `load` gives the environment it was read
/// with).
pub fn add_program(
    table: &ProcessTable,
    config: &Config,
    load: &LoadOptions,
    group: &str,
    program: &str,
    options: &[(String, String)],
) -> Result<Step, Fault> {
    let current = group_config(table, group)?;
    if !matches!(current.kind, GroupKind::Program) {
        // The reference would put a plain process into the pool, which
        // then never speaks the listener protocol: refused here.
        return Err(Fault::with(
            BAD_NAME,
            format!("group: {group} is an event listener pool, not a program group"),
        ));
    }
    let added = program_from_options(config, load, program, group, options).map_err(|errors| {
        let why: Vec<String> = errors
            .0
            .into_iter()
            .map(|mut error| {
                // Written in no file: the section and option say where.
                error.file = None;
                error.line = None;
                error.to_string()
            })
            .collect();
        Fault::with(INCORRECT_PARAMETERS, why.join("; "))
    })?;
    if let Some(taken) = added
        .iter()
        .find(|new| current.processes.iter().any(|p| p.name == new.name))
    {
        return Err(Fault::with(BAD_NAME, &taken.name));
    }
    let build = added.iter().map(|p| p.name.clone()).collect();
    let mut target = current.clone();
    target.processes.extend(added);
    let source = &table.group(group).expect("found above").source;
    Ok(Step {
        group: group.to_string(),
        drop: Vec::new(),
        whole: false,
        target: Some((alone(source, target), 0)),
        build,
        force_start: false,
    })
}

/// The step taking the process `name` out of `group`; only a stopped one
/// without a pid may go (the reference's `STOPPED_STATES` check).
pub fn remove_process(table: &ProcessTable, group: &str, name: &str) -> Result<Step, Fault> {
    let current = group_config(table, group)?;
    let id = table
        .find(group, name)
        .map_err(|_| Fault::with(BAD_NAME, name))?;
    let record = &table.get(id).expect("found by name").record;
    if record.pid.is_some() || !record.state.is_stopped() {
        return Err(Fault::with(STILL_RUNNING, name));
    }
    let mut target = current.clone();
    target.processes.retain(|p| p.name != name);
    let source = &table.group(group).expect("found above").source;
    Ok(Step {
        group: group.to_string(),
        drop: vec![id],
        whole: false,
        target: Some((alone(source, target), 0)),
        build: Vec::new(),
        force_start: false,
    })
}

/// The active groups' names, in the table's order.
pub fn group_names(table: &ProcessTable) -> Vec<String> {
    table.groups().iter().map(|g| g.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::groups::unit_table;
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_added_program_is_built_as_its_section_in_a_file_would_be() {
        let (_dir, config, table) = unit_table(
            "environment=A=1\n[program:web]\ncommand=/bin/true\n[group:g]\nprograms=web\n",
        );
        let load = LoadOptions::default();
        let step = add_program(
            &table,
            &config,
            &load,
            "g",
            "x",
            &options(&[
                ("Command", "/bin/echo %(group_name)s %(ENV_A)s"),
                ("numprocs", "2"),
                ("process_name", "%(program_name)s_%(process_num)s"),
                ("autostart", "false"),
            ]),
        )
        .expect("a valid section");
        assert_eq!(step.build, ["x_0", "x_1"]);
        let (target, index) = step.target.expect("the group stays");
        let group = &target.groups[index];
        let names: Vec<&str> = group.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web", "x_0", "x_1"]);
        let x = &group.processes[1];
        assert_eq!(x.command, "/bin/echo g 1");
        assert!(!x.autostart);
        assert_eq!(x.environment.get("A").map(String::as_str), Some("1"));
        assert_eq!(x.section, "program:x");
    }

    #[test]
    fn bad_groups_names_and_options_get_the_twiddlers_faults() {
        let (_dir, config, table) = unit_table("[program:web]\ncommand=/bin/true\n");
        let load = LoadOptions::default();
        let add = |group: &str, program: &str, pairs: &[(&str, &str)]| {
            add_program(&table, &config, &load, group, program, &options(pairs))
                .map(|_| ())
                .map_err(|f| (f.code, f.string.to_string()))
        };
        assert_eq!(
            add("nosuch", "x", &[("command", "/bin/true")]),
            Err((BAD_NAME, "BAD_NAME: group: nosuch".into()))
        );
        assert_eq!(
            add("web", "web", &[("command", "/bin/true")]),
            Err((BAD_NAME, "BAD_NAME: web".into()))
        );
        let (code, text) = add(
            "web",
            "x",
            &[("command", "/bin/true"), ("startsecs", "abc")],
        )
        .expect_err("a bad number");
        assert_eq!(code, INCORRECT_PARAMETERS);
        assert!(text.contains("[program:x] startsecs = 'abc'"), "{text}");
        let (code, text) = add("web", "x", &[]).expect_err("no command");
        assert_eq!(code, INCORRECT_PARAMETERS);
        assert!(text.contains("[program:x]"), "{text}");
        let (code, _) = add("web", "a b", &[("command", "/bin/true")]).expect_err("a bad name");
        assert_eq!(code, INCORRECT_PARAMETERS);
        assert_eq!(add("web", "x", &[("command", "/bin/true")]), Ok(()));
    }

    #[test]
    fn only_a_stopped_process_is_removed() {
        let (_dir, _config, mut table) = unit_table(
            "[program:web]\ncommand=/bin/true\nnumprocs=2\nprocess_name=w%(process_num)s\n",
        );
        let fault = remove_process(&table, "nosuch", "w0").expect_err("no group");
        assert_eq!(fault.string.as_str(), "BAD_NAME: group: nosuch");
        let fault = remove_process(&table, "web", "w9").expect_err("no process");
        assert_eq!(fault.string.as_str(), "BAD_NAME: w9");
        let step = remove_process(&table, "web", "w0").expect("stopped");
        let (target, index) = step.target.as_ref().expect("the group stays");
        let names: Vec<&str> = target.groups[*index]
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["w1"]);
        assert_eq!(step.drop.len(), 1);
        let id = table.find("web", "w1").expect("w1");
        if let Some(proc) = table.get_mut(id) {
            proc.record.state = supervisor_sdk::state::ProcessState::Backoff;
        }
        let fault = remove_process(&table, "web", "w1").expect_err("not stopped");
        assert_eq!(fault.string.as_str(), "STILL_RUNNING: w1");
        assert_eq!(group_names(&table), ["web"]);
    }
}
