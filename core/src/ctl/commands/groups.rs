//! The commands that read the configuration again and change the set of
//! groups: `avail`, `reread`, `update` (with our `--dry-run`, and
//! `--only-changed`, which `ext` serves), `add` and `remove`.

use crate::ctl::api::{CallResult, ConfigChanges, ConfigInfo, ProcessInfo, fault, make_namespec};
use crate::ctl::controller::{CmdResult, Controller, Outcome, exit, param};
use crate::ctl::transport::CallError;

/// `avail`: every configured process, in use or not.
pub fn avail(c: &mut Controller, arg: &str) -> CmdResult {
    if c.refuse_arguments("avail", arg) {
        return Ok(Outcome::ShowUsage);
    }
    match c.call("supervisor.getAllConfigInfo", vec![]) {
        Ok(v) => {
            for info in ConfigInfo::list(&v) {
                let line = format!(
                    "{:<32} {:<9} {:<9} {}:{}",
                    make_namespec(&info.group, &info.name),
                    if info.inuse { "in use" } else { "avail" },
                    if info.autostart { "auto" } else { "manual" },
                    info.group_prio,
                    info.process_prio
                );
                c.output(&line);
            }
        }
        Err(e) => return c.fail_unless_shutting_down(e, "ERROR: supervisor shutting down"),
    }
    Ok(Outcome::Done)
}

/// `reread`: what changed in the config, without applying it.
pub fn reread(c: &mut Controller, arg: &str) -> CmdResult {
    if c.refuse_arguments("reread", arg) {
        return Ok(Outcome::ShowUsage);
    }
    match c.call("supervisor.reloadConfig", vec![]) {
        Ok(v) => {
            let changes = ConfigChanges::from_value(&v);
            let mut lines: Vec<(String, &str)> = Vec::new();
            for (names, what) in [
                (&changes.added, "available"),
                (&changes.changed, "changed"),
                (&changes.removed, "disappeared"),
            ] {
                for n in names {
                    // A later list wins for a name in two lists, as
                    // the reference's dict update does.
                    lines.retain(|(m, _)| m != n);
                    lines.push((n.clone(), what));
                }
            }
            if lines.is_empty() {
                c.output("No config updates to processes");
            }
            lines.sort();
            for (name, what) in lines {
                c.output(&format!("{name}: {what}"));
            }
        }
        Err(e) => {
            c.exitstatus = exit::GENERIC;
            match e.fault_code() {
                Some(fault::SHUTDOWN_STATE) => c.output("ERROR: supervisor shutting down"),
                Some(fault::CANT_REREAD) => {
                    if let CallError::Fault { string, .. } = &e {
                        let line = format!("ERROR: {string}");
                        c.output(&line);
                    }
                }
                _ => return Err(e.into()),
            }
        }
    }
    Ok(Outcome::Done)
}

/// `update [--dry-run] [group ...]`: apply the config changes.
pub fn update(c: &mut Controller, arg: &str) -> CmdResult {
    let mut dry_run = false;
    let mut only_changed = false;
    let mut wanted: Vec<&str> = Vec::new();
    for word in arg.split_whitespace() {
        if word == "--dry-run" || word == "-n" {
            dry_run = true;
        } else if word == "--only-changed" {
            only_changed = true;
        } else if !wanted.contains(&word) {
            wanted.push(word);
        }
    }
    if only_changed {
        if !wanted.is_empty() {
            c.output("Error: update --only-changed applies to every group: name none");
            c.exitstatus = exit::INVALID_ARGS;
            return Ok(Outcome::ShowUsage);
        }
        return super::ext::update_only_changed(c, dry_run);
    }
    let changes = match c.call("supervisor.reloadConfig", vec![]) {
        Ok(v) => ConfigChanges::from_value(&v),
        Err(e) => return c.fail_unless_shutting_down(e, "ERROR: already shutting down"),
    };
    // `all` means the same as naming nothing.
    if wanted.contains(&"all") {
        wanted.clear();
    }
    let mut running: Option<Vec<ProcessInfo>> = None;
    if !wanted.is_empty() {
        let infos = c.all_process_info()?;
        let known =
            |g: &str| infos.iter().any(|i| i.group == g) || changes.added.iter().any(|a| a == g);
        // The reference walks a set here; sorted is as good and stable.
        let mut unknown: Vec<&str> = wanted.iter().copied().filter(|g| !known(g)).collect();
        unknown.sort_unstable();
        for g in unknown {
            c.output(&format!("ERROR: no such group: {g}"));
            c.exitstatus = exit::GENERIC;
        }
        running = Some(infos);
    }
    let selected = |g: &String| wanted.is_empty() || wanted.contains(&g.as_str());
    if dry_run {
        let infos = match running {
            Some(i) => i,
            None => c.all_process_info()?,
        };
        let configs = ConfigInfo::list(&c.call("supervisor.getAllConfigInfo", vec![])?);
        let plan = update_plan(&changes, &infos, &configs, &selected);
        if plan.is_empty() {
            c.output("No config updates to processes");
        }
        for line in plan {
            c.output(&line);
        }
        return Ok(Outcome::Done);
    }
    for g in changes.removed.iter().filter(|g| selected(g)) {
        let results = CallResult::list(&c.call("supervisor.stopProcessGroup", vec![param(g)])?);
        c.output(&format!("{g}: stopped"));
        if results.iter().any(|r| r.status == fault::FAILED) {
            c.output(&format!("{g}: has problems; not removing"));
            c.exitstatus = exit::GENERIC;
            continue;
        }
        c.call("supervisor.removeProcessGroup", vec![param(g)])?;
        c.output(&format!("{g}: removed process group"));
    }
    for g in changes.changed.iter().filter(|g| selected(g)) {
        c.call("supervisor.stopProcessGroup", vec![param(g)])?;
        c.output(&format!("{g}: stopped"));
        c.call("supervisor.removeProcessGroup", vec![param(g)])?;
        c.call("supervisor.addProcessGroup", vec![param(g)])?;
        c.output(&format!("{g}: updated process group"));
    }
    for g in changes.added.iter().filter(|g| selected(g)) {
        c.call("supervisor.addProcessGroup", vec![param(g)])?;
        c.output(&format!("{g}: added process group"));
    }
    Ok(Outcome::Done)
}

/// `add group ...`: activate configured groups.
pub fn add(c: &mut Controller, arg: &str) -> CmdResult {
    for name in arg.split_whitespace() {
        match c.call("supervisor.addProcessGroup", vec![param(name)]) {
            Ok(_) => c.output(&format!("{name}: added process group")),
            Err(e) => match e.fault_code() {
                Some(fault::SHUTDOWN_STATE) => {
                    c.output("ERROR: shutting down");
                    c.exitstatus = exit::GENERIC;
                }
                Some(fault::ALREADY_ADDED) => c.output("ERROR: process group already active"),
                Some(fault::BAD_NAME) => {
                    c.output(&format!("ERROR: no such process/group: {name}"));
                    c.exitstatus = exit::GENERIC;
                }
                _ => {
                    c.exitstatus = exit::GENERIC;
                    return Err(e.into());
                }
            },
        }
    }
    Ok(Outcome::Done)
}

/// `remove group ...`: deactivate stopped groups.
pub fn remove(c: &mut Controller, arg: &str) -> CmdResult {
    for name in arg.split_whitespace() {
        match c.call("supervisor.removeProcessGroup", vec![param(name)]) {
            Ok(_) => c.output(&format!("{name}: removed process group")),
            Err(e) => {
                c.exitstatus = exit::GENERIC;
                match e.fault_code() {
                    Some(fault::STILL_RUNNING) => {
                        c.output(&format!("ERROR: process/group still running: {name}"));
                    }
                    Some(fault::BAD_NAME) => {
                        c.output(&format!("ERROR: no such process/group: {name}"));
                    }
                    _ => return Err(e.into()),
                }
            }
        }
    }
    Ok(Outcome::Done)
}

/// What `update` would do, per process, without doing it: for removed
/// groups every process goes, for changed groups the old processes stop
/// and the new ones start as configured, for added groups the new
/// processes appear (and start when autostart is set).
pub fn update_plan(
    changes: &ConfigChanges,
    running: &[ProcessInfo],
    configs: &[ConfigInfo],
    selected: &dyn Fn(&String) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let old_of =
        |g: &str| -> Vec<&ProcessInfo> { running.iter().filter(|i| i.group == g).collect() };
    let new_of =
        |g: &str| -> Vec<&ConfigInfo> { configs.iter().filter(|c| c.group == g).collect() };
    for g in changes.removed.iter().filter(|g| selected(g)) {
        lines.push(format!("{g}: would be removed"));
        for p in old_of(g) {
            let what = if p.is_active() {
                "stop and remove"
            } else {
                "remove"
            };
            lines.push(format!("  {}: {what}", p.namespec()));
        }
    }
    for g in changes.changed.iter().filter(|g| selected(g)) {
        lines.push(format!("{g}: would be updated"));
        let mut names: Vec<&str> = old_of(g).into_iter().map(|p| p.name.as_str()).collect();
        for c in new_of(g) {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
        names.sort_unstable();
        for name in names {
            let old = old_of(g).into_iter().find(|p| p.name == name);
            let new = new_of(g).into_iter().find(|c| c.name == name);
            let was_active = old.is_some_and(|p| p.is_active());
            let what = match (old, new) {
                (Some(_), None) if was_active => "stop and remove",
                (Some(_), None) => "remove",
                (_, Some(c)) if c.autostart && was_active => "restart",
                (_, Some(c)) if c.autostart => "start",
                (_, Some(_)) if was_active => "stop",
                (Some(_), Some(_)) => "reload its settings (stays stopped)",
                (None, Some(_)) => "add (stays stopped)",
                (None, None) => continue,
            };
            lines.push(format!("  {}: {what}", make_namespec(g, name)));
        }
    }
    for g in changes.added.iter().filter(|g| selected(g)) {
        lines.push(format!("{g}: would be added"));
        for c in new_of(g) {
            let what = if c.autostart {
                "start"
            } else {
                "add (stays stopped)"
            };
            lines.push(format!("  {}: {what}", make_namespec(g, &c.name)));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str, state: i64, statename: &str) -> ProcessInfo {
        ProcessInfo::sample(group, name, state, statename, "")
    }

    #[test]
    fn update_plan_names_what_happens_to_each_process() {
        let changes = ConfigChanges {
            added: vec!["new".into()],
            changed: vec!["chg".into()],
            removed: vec!["old".into()],
        };
        let running = vec![
            info("old", "old", 20, "RUNNING"),
            info("chg", "a", 20, "RUNNING"),
            info("chg", "b", 0, "STOPPED"),
        ];
        let cfg = |g: &str, n: &str, auto: bool| ConfigInfo {
            name: n.into(),
            group: g.into(),
            inuse: false,
            autostart: auto,
            group_prio: 999,
            process_prio: 999,
        };
        let configs = vec![
            cfg("chg", "a", true),
            cfg("chg", "c", false),
            cfg("new", "new", true),
        ];
        let plan = update_plan(&changes, &running, &configs, &|_| true);
        assert_eq!(
            plan,
            [
                "old: would be removed",
                "  old: stop and remove",
                "chg: would be updated",
                "  chg:a: restart",
                "  chg:b: remove",
                "  chg:c: add (stays stopped)",
                "new: would be added",
                "  new: start",
            ]
        );
    }
}
