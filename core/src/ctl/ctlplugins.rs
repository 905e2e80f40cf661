//! Native twins of the best-known supervisorctl plugins, offered when the
//! config file has their `[ctlplugin:x]` section (the Python factory names
//! in [`crate::config::plugin_spec::CTL_TWINS`]):
//!
//! - supervisor-wildcards 0.1.3: `mstart`, `mstop`, `mrestart` with glob
//!   patterns matched against process names, or `group:name` with the
//!   section's `match_group = 1`; each match runs `start|stop|restart
//!   group:name`; `all` matches everything;
//! - supervisor-serialrestart 0.1.1: `serialrestart` restarts the matched
//!   processes one after another.
//!
//! Each prints what the Python plugin prints and runs the same commands
//! through the ordinary command loop, so their output is the ordinary
//! commands' output. Where the Python plugins are not deterministic (the
//! wildcards plugin runs its commands on threads at once, serialrestart
//! collects names in a Python `set`), ours runs them in process order.

use super::actions::{Action, Completes, onecmd};
use super::api::ProcessInfo;
use super::controller::{CmdResult, Controller, Outcome};
use crate::config::plugin_spec::CTL_TWINS;

/// Which twins the config enabled, with their settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plugins {
    /// supervisor-wildcards, with its `match_group`.
    wildcards: Option<bool>,
    /// supervisor-serialrestart (its `match_group` is read and unused
    /// there too).
    serialrestart: bool,
}

impl Plugins {
    /// The twins of `sections` (factory, keys), as the config read them.
    pub fn from_sections(sections: &[(String, Vec<(String, String)>)]) -> Plugins {
        let mut plugins = Plugins::default();
        for (factory, keys) in sections {
            // `bool(int(config.get('match_group', '0')))`.
            let match_group = keys
                .iter()
                .find(|(key, _)| key == "match_group")
                .and_then(|(_, value)| value.trim().parse::<i64>().ok())
                .is_some_and(|n| n != 0);
            if factory == CTL_TWINS[0] {
                plugins.wildcards = Some(match_group);
            } else if factory == CTL_TWINS[1] {
                plugins.serialrestart = true;
            }
        }
        plugins
    }
}

/// The twins' actions.
const WILDCARDS: [Action; 3] = [
    Action {
        name: "mrestart",
        usage: "The same as restart, but accepts wildcard expressions to match the process name.\n\
                mrestart a* - restarts all processes begining with \"a\".",
        listed: false,
        completes: Completes::Processes,
        run: do_mrestart,
    },
    Action {
        name: "mstart",
        usage: "The same as start, but accepts wildcard expressions to match the process name.\n\
                mstart a* - starts all processes begining with \"a\".",
        listed: false,
        completes: Completes::Processes,
        run: do_mstart,
    },
    Action {
        name: "mstop",
        usage: "The same as stop, but accepts wildcard expressions to match the process name.\n\
                mstop a* - stops all processes begining with \"a\".",
        listed: false,
        completes: Completes::Processes,
        run: do_mstop,
    },
];

const SERIALRESTART_USAGE: &str = "serialrestart <name>\t\tRestart a process\n\
serialrestart <gname>:*\tRestart all processes in a group\n\
serialrestart <name> <name>\tRestart multiple processes or groups\n\
serialrestart all\t\tRestart all processes\n\
Note: serialrestart does restart one process after another, instead of restart, which stops all process and then starts them.\n\
Note: serialrestart does not reread config files. For that, see reread and update.\n\
Note: serialrestart also accepts wildcard expressions to match the process name\n\
serialrestart a* restarts all processes begining with \"a\"";

const SERIALRESTART: Action = Action {
    name: "serialrestart",
    usage: SERIALRESTART_USAGE,
    listed: false,
    completes: Completes::Processes,
    run: do_serialrestart,
};

/// The enabled twin action called `name`, if any.
pub fn find(c: &Controller, name: &str) -> Option<&'static Action> {
    if c.plugins.wildcards.is_some()
        && let Some(action) = WILDCARDS.iter().find(|a| a.name == name)
    {
        return Some(action);
    }
    (c.plugins.serialrestart && name == SERIALRESTART.name).then_some(&SERIALRESTART)
}

/// Python's `fnmatch.fnmatch` on POSIX: `*`, `?`, `[seq]`, `[!seq]`; a
/// pattern that is not one (an unclosed `[`) matches itself literally, as
/// Python's translation escapes it.
fn fnmatch(name: &str, pattern: &str) -> bool {
    match glob::Pattern::new(pattern) {
        Ok(glob) => glob.matches(name),
        Err(_) => name == pattern,
    }
}

fn do_mstart(c: &mut Controller, arg: &str) -> CmdResult {
    expand_wildcards(c, arg, "start")
}

fn do_mstop(c: &mut Controller, arg: &str) -> CmdResult {
    expand_wildcards(c, arg, "stop")
}

fn do_mrestart(c: &mut Controller, arg: &str) -> CmdResult {
    expand_wildcards(c, arg, "restart")
}

/// supervisor-wildcards' `_expand_wildcards`.
fn expand_wildcards(c: &mut Controller, arg: &str, command: &str) -> CmdResult {
    let mut patterns: Vec<&str> = arg.split_whitespace().collect();
    if patterns.contains(&"all") {
        patterns = vec!["*"];
    }
    let match_group = c.plugins.wildcards.unwrap_or(false);
    let infos = ProcessInfo::list(&c.call("supervisor.getAllProcessInfo", vec![])?);
    let mut commands = Vec::new();
    for info in &infos {
        let name = if match_group {
            format!("{}:{}", info.group, info.name)
        } else {
            info.name.clone()
        };
        for pattern in &patterns {
            if fnmatch(&name, pattern) {
                commands.push(format!("{command} {}:{}", info.group, info.name));
            }
        }
    }
    if commands.is_empty() {
        c.output("No process matched given expression.");
    }
    for line in commands {
        onecmd(c, &line);
    }
    Ok(Outcome::Done)
}

/// supervisor-serialrestart's `do_serialrestart`.
fn do_serialrestart(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let names: Vec<&str> = arg.split_whitespace().collect();
    if names.is_empty() {
        c.output("Error: serialrestart requires a process name");
        c.output(SERIALRESTART_USAGE);
        return Ok(Outcome::Done);
    }
    let infos = ProcessInfo::list(&c.call("supervisor.getAllProcessInfo", vec![])?);
    // `_procrepr`: the name alone when it is its group's.
    let all: Vec<String> = infos
        .iter()
        .map(|info| {
            if info.group == info.name {
                info.name.clone()
            } else {
                format!("{}:{}", info.group, info.name)
            }
        })
        .collect();
    let chosen: Vec<String> = if names.contains(&"all") {
        all
    } else {
        let mut chosen: Vec<String> = Vec::new();
        for name in names {
            let matched: Vec<&String> = all.iter().filter(|p| fnmatch(p, name)).collect();
            if matched.is_empty() {
                c.output(&format!("No such process {name}"));
            }
            for process in matched {
                if !chosen.contains(process) {
                    chosen.push(process.clone());
                }
            }
        }
        chosen
    };
    for process in chosen {
        onecmd(c, &format!("restart {process}"));
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_follows_python() {
        assert!(fnmatch("alpha", "a*"));
        assert!(fnmatch("g:alpha", "g:*"));
        assert!(fnmatch("web_01", "web_0?"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("b", "[!abc]"));
        assert!(fnmatch("x/y", "*"));
        assert!(!fnmatch("alpha", "b*"));
        assert!(fnmatch("[", "["));
    }

    #[test]
    fn only_the_twins_sections_enable_them() {
        let keys = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let plugins = Plugins::from_sections(&[
            (CTL_TWINS[0].to_string(), keys(&[("match_group", "1")])),
            (CTL_TWINS[1].to_string(), keys(&[])),
        ]);
        assert_eq!(plugins.wildcards, Some(true));
        assert!(plugins.serialrestart);
        let plugins = Plugins::from_sections(&[(CTL_TWINS[0].to_string(), keys(&[]))]);
        assert_eq!(plugins.wildcards, Some(false));
        assert!(!plugins.serialrestart);
        assert_eq!(Plugins::from_sections(&[]), Plugins::default());
    }
}
