//! `depends_on` (issue 16): reading the names of one process section, and,
//! once every section is read, resolving them to processes and refusing
//! what could never start: an unknown name, a program that names itself, a
//! cycle. The reference ignores the option, so a file using it still loads
//! there. Builds on [`super::reader`] only; what the daemon does with the
//! resolved names is `daemon/deps.rs`'s.

use std::collections::BTreeMap;

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
    /// Processes are handled as their places in [`NameIndex::refs`]: a
    /// chain of 100-process programs has 90,000 edges per 1,000
    /// processes, and comparing names at each one was most of the load
    /// time (`tests/bench/order.sh`).
    pub(super) fn resolve_depends(&mut self, groups: &mut [GroupConfig]) {
        if groups
            .iter()
            .all(|g| g.processes.iter().all(|p| p.depends_on.is_empty()))
        {
            return;
        }
        let index = NameIndex::new(groups);
        // Each process's section and dependencies, by its place.
        let mut nodes: Vec<(String, Vec<usize>)> = vec![Default::default(); index.refs.len()];
        for group in groups.iter_mut() {
            for process in &mut group.processes {
                let me = index.place(&group.name, &process.name);
                let mut requires: Vec<usize> = Vec::new();
                for name in &process.depends_on {
                    match index.resolve(name) {
                        None => {
                            let value = self.depends_value(&process.section);
                            self.error_at(
                                &process.section,
                                OPTION,
                                value.as_ref(),
                                format!(
                                    "{name} is no program, group or group:process of this \
                                     configuration"
                                ),
                            );
                        }
                        Some(found) if me.is_some_and(|me| found.contains(&me)) => {
                            let value = self.depends_value(&process.section);
                            let me = ProcessRef {
                                group: group.name.clone(),
                                name: process.name.clone(),
                            };
                            self.error_at(
                                &process.section,
                                OPTION,
                                value.as_ref(),
                                format!("{me} cannot depend on itself (through {name})"),
                            );
                        }
                        Some(found) => requires.extend_from_slice(&found),
                    }
                }
                // Places follow the names' order: sorted, as the names were.
                requires.sort_unstable();
                requires.dedup();
                process.requires = requires.iter().map(|i| index.refs[*i].clone()).collect();
                if let Some(me) = me {
                    nodes[me] = (process.section.clone(), requires);
                }
            }
        }
        if let Some((section, circle)) = find_cycle(&index.refs, &nodes) {
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
    /// Every process, sorted: a process is its place here.
    refs: Vec<ProcessRef>,
    /// Group names and program (section) names, each to its processes'
    /// places, sorted.
    by_name: BTreeMap<String, Vec<usize>>,
}

impl NameIndex {
    fn new(groups: &[GroupConfig]) -> NameIndex {
        let mut refs: Vec<ProcessRef> = groups
            .iter()
            .flat_map(|g| {
                g.processes.iter().map(|p| ProcessRef {
                    group: g.name.clone(),
                    name: p.name.clone(),
                })
            })
            .collect();
        refs.sort_unstable();
        refs.dedup();
        let mut index = NameIndex {
            refs,
            by_name: BTreeMap::new(),
        };
        for group in groups {
            for process in &group.processes {
                let Some(me) = index.place(&group.name, &process.name) else {
                    continue;
                };
                index.add(&group.name, me);
                if process.program_name != group.name {
                    index.add(&process.program_name, me);
                }
            }
        }
        for places in index.by_name.values_mut() {
            places.sort_unstable();
            places.dedup();
        }
        index
    }

    fn add(&mut self, name: &str, place: usize) {
        match self.by_name.get_mut(name) {
            Some(places) => places.push(place),
            None => {
                self.by_name.insert(name.to_string(), vec![place]);
            }
        }
    }

    /// The place of process `group:name`.
    fn place(&self, group: &str, name: &str) -> Option<usize> {
        self.refs
            .binary_search_by(|r| (r.group.as_str(), r.name.as_str()).cmp(&(group, name)))
            .ok()
    }

    /// The places of the processes `name` stands for: a group or program
    /// name (all of its processes), `group:*`, or `group:process`.
    fn resolve(&self, name: &str) -> Option<Vec<usize>> {
        match name.split_once(':') {
            Some((group, "*")) => self.by_name.get(group).cloned(),
            Some((group, process)) => self.place(group, process).map(|p| vec![p]),
            None => self.by_name.get(name).cloned(),
        }
    }
}

/// The first cycle of the `requires` graph (`nodes`: each process's
/// section and dependencies, by its place in `refs`), as the section of
/// its first process and the processes round it (the first repeated at
/// the end).
fn find_cycle(
    refs: &[ProcessRef],
    nodes: &[(String, Vec<usize>)],
) -> Option<(String, Vec<ProcessRef>)> {
    // Iterative depth-first search with three colours; the grey path is
    // the stack, so a grey node met again closes a cycle.
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut colour = vec![0u8; nodes.len()];
    for start in 0..nodes.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = GREY;
        while let Some((node, next)) = stack.last_mut() {
            let Some(&child) = nodes[*node].1.get(*next) else {
                colour[*node] = BLACK;
                stack.pop();
                continue;
            };
            *next += 1;
            match colour[child] {
                GREY => {
                    let at = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                    let mut circle: Vec<ProcessRef> =
                        stack[at..].iter().map(|(n, _)| refs[*n].clone()).collect();
                    circle.push(refs[child].clone());
                    return Some((nodes[child].0.clone(), circle));
                }
                BLACK => {}
                _ => {
                    colour[child] = GREY;
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
