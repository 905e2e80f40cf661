//! `depends_on` (issue 16): reading the names of one process section, and,
//! once every section is read, resolving them to processes and refusing
//! what could never start: an unknown name, a program that names itself, a
//! cycle. The reference ignores the option, so a file using it still loads
//! there. Builds on [`super::reader`] only; what the daemon does with the
//! resolved names is `daemon/deps.rs`'s.

use std::collections::{BTreeMap, BTreeSet};

use super::reader::{Loader, Value};
use crate::config::expand::Expansions;
use crate::config::model::{GroupConfig, ProcessRef};

const OPTION: &str = "depends_on";

impl Loader {
    /// The names `depends_on` lists for one process (commas or spaces
    /// between them), expanded with the process's names.
    pub(super) fn depends_on(&mut self, section: &str, names: &Expansions) -> Vec<String> {
        let Some(value) = self.get(section, OPTION, names) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for name in value.text.split([',', ' ', '\t', '\n']) {
            let name = name.trim();
            if !name.is_empty() && !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
        out
    }

    /// Fill every process's `requires` from its `depends_on`, recording an
    /// error for each unknown name, each self-reference and each cycle.
    pub(super) fn resolve_depends(&mut self, groups: &mut [GroupConfig]) {
        if groups
            .iter()
            .all(|g| g.processes.iter().all(|p| p.depends_on.is_empty()))
        {
            return;
        }
        let index = NameIndex::new(groups);
        for group in groups.iter_mut() {
            for process in &mut group.processes {
                let me = ProcessRef {
                    group: group.name.clone(),
                    name: process.name.clone(),
                };
                let mut requires = BTreeSet::new();
                for name in &process.depends_on {
                    let value = self.depends_value(&process.section);
                    match index.resolve(name) {
                        None => self.error_at(
                            &process.section,
                            OPTION,
                            value.as_ref(),
                            format!(
                                "{name} is no program, group or group:process of this \
                                 configuration"
                            ),
                        ),
                        Some(found) if found.contains(&me) => self.error_at(
                            &process.section,
                            OPTION,
                            value.as_ref(),
                            format!("{me} cannot depend on itself (through {name})"),
                        ),
                        Some(found) => requires.extend(found),
                    }
                }
                process.requires = requires.into_iter().collect();
            }
        }
        if let Some((section, circle)) = find_cycle(groups) {
            let value = self.depends_value(&section);
            let names: Vec<String> = circle.iter().map(ToString::to_string).collect();
            self.error_at(
                &section,
                OPTION,
                value.as_ref(),
                format!(
                    "dependency cycle: {} (none of them could ever start)",
                    names.join(" -> ")
                ),
            );
        }
    }

    fn depends_value(&self, section: &str) -> Option<Value> {
        self.raw(section, OPTION)
    }
}

/// What a `depends_on` name can stand for.
struct NameIndex {
    /// Group names and program (section) names, each to its processes.
    by_name: BTreeMap<String, BTreeSet<ProcessRef>>,
    /// `group:process`.
    exact: BTreeSet<ProcessRef>,
}

impl NameIndex {
    fn new(groups: &[GroupConfig]) -> NameIndex {
        let mut by_name: BTreeMap<String, BTreeSet<ProcessRef>> = BTreeMap::new();
        let mut exact = BTreeSet::new();
        for group in groups {
            for process in &group.processes {
                let me = ProcessRef {
                    group: group.name.clone(),
                    name: process.name.clone(),
                };
                by_name
                    .entry(group.name.clone())
                    .or_default()
                    .insert(me.clone());
                if process.program_name != group.name {
                    by_name
                        .entry(process.program_name.clone())
                        .or_default()
                        .insert(me.clone());
                }
                exact.insert(me);
            }
        }
        NameIndex { by_name, exact }
    }

    /// The processes `name` stands for: a group or program name (all of
    /// its processes), `group:*`, or `group:process`.
    fn resolve(&self, name: &str) -> Option<BTreeSet<ProcessRef>> {
        match name.split_once(':') {
            Some((group, "*")) => self.by_name.get(group).cloned(),
            Some((group, process)) => {
                let wanted = ProcessRef {
                    group: group.to_string(),
                    name: process.to_string(),
                };
                self.exact
                    .contains(&wanted)
                    .then(|| BTreeSet::from([wanted]))
            }
            None => self.by_name.get(name).cloned(),
        }
    }
}

/// The first cycle of the `requires` graph, as the section of its first
/// process and the processes round it (the first repeated at the end).
fn find_cycle(groups: &[GroupConfig]) -> Option<(String, Vec<ProcessRef>)> {
    let mut edges: BTreeMap<ProcessRef, (&str, &[ProcessRef])> = BTreeMap::new();
    for group in groups {
        for process in &group.processes {
            let me = ProcessRef {
                group: group.name.clone(),
                name: process.name.clone(),
            };
            edges.insert(me, (&process.section, &process.requires));
        }
    }
    // Iterative depth-first search with three colours; the grey path is
    // the stack, so a grey node met again closes a cycle.
    let mut colour: BTreeMap<&ProcessRef, u8> = BTreeMap::new();
    for start in edges.keys() {
        if colour.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&ProcessRef, usize)> = vec![(start, 0)];
        colour.insert(start, 1);
        while let Some((node, next)) = stack.last_mut() {
            let requires = edges.get(*node).map_or(&[][..], |(_, r)| r);
            let Some(child) = requires.get(*next) else {
                colour.insert(*node, 2);
                stack.pop();
                continue;
            };
            *next += 1;
            let Some((child, _)) = edges.get_key_value(child) else {
                continue;
            };
            match colour.get(child) {
                Some(1) => {
                    let at = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                    let mut circle: Vec<ProcessRef> =
                        stack[at..].iter().map(|(n, _)| (*n).clone()).collect();
                    circle.push(child.clone());
                    let section = edges.get(child).map_or("", |(s, _)| s).to_string();
                    return Some((section, circle));
                }
                Some(_) => {}
                None => {
                    colour.insert(child, 1);
                    stack.push((child, 0));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, LoadOptions, load_config_with};

    fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, format!("[supervisord]\n{text}")).unwrap();
        let options = LoadOptions {
            environ: Default::default(),
            host_node_name: "node1".into(),
            cli_user: None,
            numprocs: None,
        };
        load_config_with(&path, &options).map_err(|e| e.0)
    }

    fn requires(config: &Config, process: &str) -> Vec<String> {
        let p = config
            .groups
            .iter()
            .flat_map(|g| &g.processes)
            .find(|p| p.name == process)
            .unwrap();
        p.requires.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn names_resolve_to_programs_groups_and_single_processes() {
        let config = load(
            "[program:db]\ncommand=x\n\
             [program:w]\ncommand=x\nnumprocs=2\nprocess_name=w%(process_num)s\n\
             [program:a]\ncommand=x\ndepends_on = db, w:w1\n\
             [program:b]\ncommand=x\ndepends_on = w a\n\
             [program:m]\ncommand=x\n[group:g]\nprograms=m\n\
             [program:c]\ncommand=x\ndepends_on=g,m\n",
        )
        .unwrap();
        assert_eq!(requires(&config, "a"), ["db", "w:w1"]);
        assert_eq!(requires(&config, "b"), ["a", "w:w0", "w:w1"]);
        assert_eq!(requires(&config, "c"), ["g:m"]);
        assert!(requires(&config, "db").is_empty());
    }

    #[test]
    fn unknown_self_and_cycle_are_errors_with_their_location() {
        let errs = load("[program:a]\ncommand=x\ndepends_on=nope\n").unwrap_err();
        let text = errs[0].to_string();
        assert!(text.contains("s.conf:4: [program:a] depends_on = 'nope': nope is no program"));

        let errs = load("[program:a]\ncommand=x\ndepends_on=a\n").unwrap_err();
        assert!(
            errs[0]
                .to_string()
                .contains("depends_on = 'a': a cannot depend on itself"),
            "{}",
            errs[0]
        );

        let errs = load(
            "[program:a]\ncommand=x\ndepends_on=b\n\
             [program:b]\ncommand=x\ndepends_on=c\n\
             [program:c]\ncommand=x\ndepends_on=a\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let text = errs[0].to_string();
        assert!(
            text.contains("[program:a] depends_on = 'b': dependency cycle: a -> b -> c -> a"),
            "{text}"
        );
    }
}
