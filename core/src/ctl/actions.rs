//! supervisorctl's actions as one table: each action's name, its usage
//! text, what completion offers for its arguments, and the function that
//! runs it. Adding an action is adding one entry. `help`, dispatch and
//! completion all read the table, so an action cannot be listed without
//! being runnable or runnable without its usage.
//!
//! Also the command loop's one step, [`onecmd`]: the reference's `onecmd`
//! with its unknown-syntax line, its 401 handling and its catch-all error
//! line. What an action prints is its own business (`commands`); the
//! syntax forms of the usage texts are the reference's, the wording ours.

use super::commands::{control, ext, groups, logs, server, status};
use super::controller::{CmdError, CmdResult, Controller, Outcome, exit};
use super::help;
use super::transport::CallError;

/// One supervisorctl action.
#[derive(Debug)]
pub struct Action {
    /// What the user types.
    pub name: &'static str,
    /// What `help <name>` prints (a newline follows).
    pub usage: &'static str,
    /// Whether `help` lists it among the default commands.
    pub listed: bool,
    /// What completion offers: whether the name itself completes, and
    /// what its arguments complete to.
    pub completes: Completes,
    /// Runs it with the rest of the line.
    pub run: fn(&mut Controller, &str) -> CmdResult,
}

/// What the shell completes for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completes {
    /// The name never completes (`EOF`).
    Hidden,
    /// The name completes; its arguments are action names (`help`).
    Actions,
    /// The name completes; its arguments are group names.
    Groups,
    /// The name completes; its arguments are process names and `group:*`.
    Processes,
    /// The name completes; its arguments do not.
    Nothing,
}

/// Every action, in the order completion offers them (`help` first, then
/// by name, as the reference's `completenames` does).
pub const ACTIONS: &[Action] = &[
    Action {
        name: "help",
        usage: "help\t\tList the available commands\nhelp <action>\tShow how to use <action>",
        listed: false,
        completes: Completes::Actions,
        run: do_help,
    },
    Action {
        name: "EOF",
        usage: "Press ^D, or type quit, to leave the shell",
        listed: false,
        completes: Completes::Hidden,
        run: server::quit,
    },
    Action {
        name: "add",
        usage: "add <name> [...]\tActivate the configured but inactive group(s) <name>",
        listed: true,
        completes: Completes::Groups,
        run: groups::add,
    },
    Action {
        name: "avail",
        usage: "avail\t\t\tList every configured process and whether it is in use",
        listed: true,
        completes: Completes::Nothing,
        run: groups::avail,
    },
    Action {
        name: "clear",
        usage: "clear <name>\t\tEmpty the log files of a process\n\
                clear <name> <name>\tEmpty the log files of several processes\n\
                clear all\t\tEmpty the log files of every process",
        listed: true,
        completes: Completes::Processes,
        run: control::clear,
    },
    Action {
        name: "exit",
        usage: "exit\tLeave the shell",
        listed: true,
        completes: Completes::Nothing,
        run: server::quit,
    },
    Action {
        name: "fg",
        usage: "fg <process>\tAttach to a process: show its output, send it what you type\n\
                \t\tCtrl-C detaches",
        listed: true,
        completes: Completes::Processes,
        run: logs::fg,
    },
    Action {
        name: "maintail",
        usage: "maintail -f \tFollow the supervisord main log (Ctrl-C stops)\n\
                maintail -100\tShow the last 100 bytes of the main log\n\
                maintail\tShow the last 1600 bytes of the main log\n",
        listed: true,
        completes: Completes::Nothing,
        run: logs::maintail,
    },
    Action {
        name: "open",
        usage: "open <url>\tTalk to another supervisord from now on\n\
                \t\t(a UNIX domain socket is unix:///path/to/socket)",
        listed: true,
        completes: Completes::Nothing,
        run: server::open,
    },
    Action {
        name: "pid",
        usage: "pid\t\t\tShow the PID of supervisord\n\
                pid <name>\t\tShow the PID of one process\n\
                pid all\t\t\tShow the PID of every process, one per line",
        listed: true,
        completes: Completes::Processes,
        run: control::pid,
    },
    Action {
        name: "quit",
        usage: "quit\tLeave the shell",
        listed: true,
        completes: Completes::Nothing,
        run: server::quit,
    },
    Action {
        name: "reload",
        usage: "reload \t\tRestart supervisord itself (it reads its config afresh)",
        listed: true,
        completes: Completes::Nothing,
        run: server::reload,
    },
    Action {
        name: "remove",
        usage: "remove <name> [...]\tDeactivate the stopped group(s) <name>",
        listed: true,
        completes: Completes::Groups,
        run: groups::remove,
    },
    Action {
        name: "reread",
        usage: "reread \t\t\tRead the config files again and report what changed, \
                without applying it",
        listed: true,
        completes: Completes::Nothing,
        run: groups::reread,
    },
    Action {
        name: "restart",
        usage: "restart <name>\t\tStop then start a process\n\
                restart <gname>:*\tStop then start every process of a group\n\
                restart <name> <name>\tStop then start several processes or groups\n\
                restart all\t\tStop then start every process\n\
                Restarting does not read the config again: use reread and update for that.",
        listed: true,
        completes: Completes::Processes,
        run: control::restart,
    },
    // Ours, served by the bundled ext namespace; not in the command list,
    // which stays the reference's.
    Action {
        name: "scale",
        usage: "scale <gname> <n>\tGive the group of one [program:x] section n processes\n\
                \t\t\t(0 or more), starting or stopping only the difference.\n\
                \t\t\tNeeds [rpcinterface:ext] in supervisord's config.",
        listed: false,
        completes: Completes::Groups,
        run: ext::scale,
    },
    Action {
        name: "shutdown",
        usage: "shutdown \tStop every process and then supervisord",
        listed: true,
        completes: Completes::Nothing,
        run: server::shutdown,
    },
    Action {
        name: "signal",
        usage: "signal <signal name> <name>\t\tSend a signal to a process\n\
                signal <signal name> <gname>:*\t\tSend a signal to every process of a group\n\
                signal <signal name> <name> <name>\tSend a signal to several processes or groups\n\
                signal <signal name> all\t\tSend a signal to every process",
        listed: true,
        completes: Completes::Processes,
        run: control::signal,
    },
    Action {
        name: "start",
        usage: "start <name>\t\tStart a process\n\
                start <gname>:*\t\tStart every process of a group\n\
                start <name> <name>\tStart several processes or groups\n\
                start all\t\tStart every process",
        listed: true,
        completes: Completes::Processes,
        run: control::start,
    },
    Action {
        name: "status",
        usage: "status <name>\t\tShow the state of one process\n\
                status <gname>:*\tShow the state of every process of a group\n\
                status <name> <name>\tShow the state of several processes\n\
                status\t\t\tShow the state of every process\n\
                status --json [...]\tThe same, as a JSON array",
        listed: true,
        completes: Completes::Processes,
        run: status::status,
    },
    Action {
        name: "stop",
        usage: "stop <name>\t\tStop a process\n\
                stop <gname>:*\t\tStop every process of a group\n\
                stop <name> <name>\tStop several processes or groups\n\
                stop all\t\tStop every process",
        listed: true,
        completes: Completes::Processes,
        run: control::stop,
    },
    Action {
        name: "tail",
        usage: "tail [-f] <name> [stdout|stderr] (default stdout)\n\
                For example:\n\
                tail -f <name>\t\tFollow the stdout log of a process\n\
                \t\t\t(Ctrl-C stops).\n\
                tail -100 <name>\tShow the last 100 *bytes* of its stdout log\n\
                tail <name> stderr\tShow the last 1600 *bytes* of its stderr log",
        listed: true,
        completes: Completes::Processes,
        run: logs::tail,
    },
    Action {
        name: "update",
        usage: "update\t\t\tRead the config again and apply it: add, remove and restart \
                what changed\n\
                update all\t\tThe same as update\n\
                update <gname> [...]\tApply the changes to the named groups only\n\
                update --dry-run [...]\tRead the config as reread does and show per process\n\
                \t\t\twhat update would do, without doing it\n\
                update --only-changed\tApply the config process by process: restart only the\n\
                \t\t\tprocesses whose own settings changed, leave the rest running\n\
                \t\t\t(needs [rpcinterface:ext] in supervisord's config)\n\
                update --dry-run --only-changed\tShow what that would do, one line per process",
        listed: true,
        completes: Completes::Groups,
        run: groups::update,
    },
    Action {
        name: "version",
        usage: "version\t\t\tShow the version of the supervisord we talk to",
        listed: true,
        completes: Completes::Nothing,
        run: server::version,
    },
];

/// The action called `name`.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The text `help <topic>` prints (with its trailing newline); the command
/// list for an empty topic.
pub fn topic(topic: &str) -> String {
    if topic.is_empty() {
        let names: Vec<&str> = ACTIONS
            .iter()
            .filter(|a| a.listed)
            .map(|a| a.name)
            .collect();
        return help::command_list(&names);
    }
    match find(topic) {
        Some(action) => format!("{}\n", action.usage),
        None => format!("*** No help on {topic}\n"),
    }
}

fn do_help(c: &mut Controller, arg: &str) -> CmdResult {
    let arg = arg.trim();
    let mut text = topic(arg);
    // `help help` is answered before the plugins are asked (the reference's
    // do_help); any other topic goes to the twins' sections as well.
    if arg != "help" {
        text.push_str(&super::ctlplugins::help(&c.plugins, arg));
    }
    c.write_raw(&text);
    Ok(Outcome::Done)
}

/// Whether the shell goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Leave the shell.
    Quit,
}

/// Run one command line, as the reference's `onecmd`: unknown commands,
/// the 401 retry and unexpected errors are handled here.
pub fn onecmd(c: &mut Controller, line: &str) -> Flow {
    let Some((cmd, arg)) = parse_line(line) else {
        return Flow::Continue;
    };
    c.begin_command();
    let Some(action) = find(&cmd) else {
        if let Some(expanded) = super::ctlplugins::commands(c, &cmd, &arg) {
            match expanded {
                Ok(lines) => {
                    for line in &lines {
                        onecmd(c, line);
                    }
                }
                Err(e) => c.report(&e),
            }
            c.flush();
            return Flow::Continue;
        }
        c.output(&format!("*** Unknown syntax: {}", line.trim()));
        c.exitstatus = exit::GENERIC;
        c.flush();
        return Flow::Continue;
    };
    let flow = match run(c, action, &arg) {
        Ok(flow) => flow,
        Err(e) if e.is_unauthorized() => {
            c.output("Server requires authentication");
            if c.interactive {
                if c.ask_credentials() {
                    let flow = onecmd(c, line);
                    c.flush();
                    return flow;
                }
                Flow::Continue
            } else {
                // The reference then runs the command once more, which
                // fails the same way and adds the generic error line.
                c.exitstatus = exit::GENERIC;
                c.reset_session();
                match run(c, action, &arg) {
                    Ok(flow) => flow,
                    Err(e) => {
                        c.report(&e);
                        Flow::Continue
                    }
                }
            }
        }
        Err(e) if matches!(e.error, CallError::Interrupted) => {
            c.output("");
            Flow::Quit
        }
        Err(e) => {
            c.report(&e);
            Flow::Continue
        }
    };
    c.flush();
    flow
}

/// Run `action`; its usage follows when it asks for it.
fn run(c: &mut Controller, action: &Action, arg: &str) -> Result<Flow, CmdError> {
    match (action.run)(c, arg)? {
        Outcome::Done => Ok(Flow::Continue),
        Outcome::ShowUsage => {
            c.write_raw(&topic(action.name));
            Ok(Flow::Continue)
        }
        Outcome::Quit => Ok(Flow::Quit),
    }
}

/// Python `cmd.parseline`: `?` means help, the command is the leading run
/// of identifier characters, the rest (trimmed) is its argument. `None`
/// for a blank line.
pub fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let line = match line.strip_prefix('?') {
        Some(rest) => format!("help {rest}"),
        None => line.to_string(),
    };
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    let (cmd, arg) = line.split_at(end);
    Some((cmd.to_string(), arg.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_list_matches_the_reference_layout() {
        let expected = "\ndefault commands (type help <topic>):\n\
            =====================================\n\
            add    exit      open  reload  restart   start   tail   \n\
            avail  fg        pid   remove  shutdown  status  update \n\
            clear  maintail  quit  reread  signal    stop    version\n\n";
        assert_eq!(topic(""), expected);
    }

    #[test]
    fn every_action_is_named_once_and_unknown_topics_say_so() {
        for (n, action) in ACTIONS.iter().enumerate() {
            assert!(
                ACTIONS[n + 1..].iter().all(|a| a.name != action.name),
                "{} twice",
                action.name
            );
            assert_eq!(topic(action.name), format!("{}\n", action.usage));
        }
        assert_eq!(topic("bogus"), "*** No help on bogus\n");
    }

    #[test]
    fn completion_order_is_help_then_by_name() {
        let offered: Vec<&str> = ACTIONS
            .iter()
            .filter(|a| a.completes != Completes::Hidden)
            .map(|a| a.name)
            .collect();
        assert_eq!(offered[0], "help");
        assert!(offered[1..].is_sorted(), "{offered:?}");
    }

    #[test]
    fn lines_parse_like_pythons_cmd() {
        assert_eq!(
            parse_line("  status  a b "),
            Some(("status".into(), "a b".into()))
        );
        assert_eq!(parse_line("?start"), Some(("help".into(), "start".into())));
        assert_eq!(
            parse_line("status--json"),
            Some(("status".into(), "--json".into()))
        );
        assert_eq!(parse_line("!ls"), Some(("".into(), "!ls".into())));
        assert_eq!(parse_line("   "), None);
    }
}
