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

use super::controller::{CmdError, Controller};
use crate::config::ctl::CtlPlugin;
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
    /// The twins of `sections`, as the config read them.
    pub fn from_sections(sections: &[CtlPlugin]) -> Plugins {
        let mut plugins = Plugins::default();
        for CtlPlugin { factory, keys, .. } in sections {
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

/// supervisor-serialrestart's `help_serialrestart`, printed when no name
/// is given.
const SERIALRESTART_USAGE: &str = "serialrestart <name>\t\tRestart a process\n\
serialrestart <gname>:*\tRestart all processes in a group\n\
serialrestart <name> <name>\tRestart multiple processes or groups\n\
serialrestart all\t\tRestart all processes\n\
Note: serialrestart does restart one process after another, instead of restart, which stops all process and then starts them.\n\
Note: serialrestart does not reread config files. For that, see reread and update.\n\
Note: serialrestart also accepts wildcard expressions to match the process name\n\
serialrestart a* restarts all processes begining with \"a\"";

/// supervisor-wildcards' `help_mstart` (and mstop, mrestart): the
/// command, the plain command it extends, and the verb of its example.
const WILDCARDS_HELP: [(&str, &str, &str); 3] = [
    ("mrestart", "restart", "restarts"),
    ("mstart", "start", "starts"),
    ("mstop", "stop", "stops"),
];

/// The commands a twin's section offers, as its `help` lists them.
fn offered(plugin: &CtlPlugin) -> &'static [&'static str] {
    if plugin.factory == CTL_TWINS[0] {
        &["mrestart", "mstart", "mstop"]
    } else if plugin.factory == CTL_TWINS[1] {
        &["serialrestart"]
    } else {
        &[]
    }
}

/// What `help <topic>` prints after the builtin commands' part, as the
/// reference's `do_help` asks each plugin in turn: per twin section, in
/// file order, its help on `topic` or `*** No help on <topic>`; with no
/// topic, its own command list (headed by the section's name).
pub fn help(sections: &[CtlPlugin], topic: &str) -> String {
    let mut out = String::new();
    for plugin in sections {
        let commands = offered(plugin);
        if topic.is_empty() {
            let title = format!("{} commands (type help <topic>):", plugin.name);
            out.push_str(&super::help::titled_list(&title, commands));
            continue;
        }
        let text = if !commands.contains(&topic) {
            format!("*** No help on {topic}")
        } else if topic == "serialrestart" {
            SERIALRESTART_USAGE.to_string()
        } else {
            let (_, plain, verb) = WILDCARDS_HELP
                .iter()
                .find(|(name, _, _)| *name == topic)
                .copied()
                .unwrap_or_default();
            format!(
                "The same as {plain}, but accepts wildcard expressions to match the process name.\n\
                 {topic} a* - {verb} all processes begining with \"a\"."
            )
        };
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// Run the enabled twin command `name` with `arg`: `None` when no enabled
/// twin has that command; otherwise what it printed went out, and the
/// result is the ordinary command lines it expands to, for the caller's
/// command loop to run in order (as the Python plugins call `onecmd`).
pub fn commands(
    c: &mut Controller,
    name: &str,
    arg: &str,
) -> Option<Result<Vec<String>, CmdError>> {
    let plugins = Plugins::from_sections(&c.plugins);
    match (name, plugins) {
        (
            "mstart" | "mstop" | "mrestart",
            Plugins {
                wildcards: Some(match_group),
                ..
            },
        ) => Some(expand_wildcards(c, arg, &name[1..], match_group)),
        (
            "serialrestart",
            Plugins {
                serialrestart: true,
                ..
            },
        ) => Some(serialrestart(c, arg)),
        _ => None,
    }
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

/// supervisor-wildcards' `_expand_wildcards`.
fn expand_wildcards(
    c: &mut Controller,
    arg: &str,
    command: &str,
    match_group: bool,
) -> Result<Vec<String>, CmdError> {
    let mut patterns: Vec<&str> = arg.split_whitespace().collect();
    if patterns.contains(&"all") {
        patterns = vec!["*"];
    }
    let infos = c.all_process_info()?;
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
    Ok(commands)
}

/// supervisor-serialrestart's `do_serialrestart`.
fn serialrestart(c: &mut Controller, arg: &str) -> Result<Vec<String>, CmdError> {
    if !c.upcheck()? {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = arg.split_whitespace().collect();
    if names.is_empty() {
        c.output("Error: serialrestart requires a process name");
        c.output(SERIALRESTART_USAGE);
        return Ok(Vec::new());
    }
    let infos = c.all_process_info()?;
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
    Ok(chosen
        .into_iter()
        .map(|process| format!("restart {process}"))
        .collect())
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
        let section = |name: &str, factory: &str, pairs: &[(&str, &str)]| CtlPlugin {
            name: name.to_string(),
            factory: factory.to_string(),
            keys: keys(pairs),
        };
        let plugins = Plugins::from_sections(&[
            section("w", CTL_TWINS[0], &[("match_group", "1")]),
            section("s", CTL_TWINS[1], &[]),
        ]);
        assert_eq!(plugins.wildcards, Some(true));
        assert!(plugins.serialrestart);
        let plugins = Plugins::from_sections(&[section("w", CTL_TWINS[0], &[])]);
        assert_eq!(plugins.wildcards, Some(false));
        assert!(!plugins.serialrestart);
        assert_eq!(Plugins::from_sections(&[]), Plugins::default());
    }
}
