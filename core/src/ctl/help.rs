//! The shell's help: the command list laid out as Python's `cmd` module
//! does (sorted, in columns fitting 80 characters), and one short usage
//! text per command. The syntax forms are the reference's; the wording is
//! ours. Pure text, no I/O.

use super::commands::ACTIONS;

/// The text `help <topic>` prints (with its trailing newline); the command
/// list for an empty topic.
pub fn topic(topic: &str) -> String {
    if topic.is_empty() {
        return command_list();
    }
    match usage(topic) {
        Some(text) => format!("{text}\n"),
        None => format!("*** No help on {topic}\n"),
    }
}

/// Usage lines per command.
pub fn usage(action: &str) -> Option<&'static str> {
    Some(match action {
        "help" => "help\t\tList the available commands\nhelp <action>\tShow how to use <action>",
        "EOF" => "Press ^D, or type quit, to leave the shell",
        "add" => "add <name> [...]\tActivate the configured but inactive group(s) <name>",
        "avail" => "avail\t\t\tList every configured process and whether it is in use",
        "clear" => {
            "clear <name>\t\tEmpty the log files of a process\n\
             clear <name> <name>\tEmpty the log files of several processes\n\
             clear all\t\tEmpty the log files of every process"
        }
        "exit" => "exit\tLeave the shell",
        "quit" => "quit\tLeave the shell",
        "fg" => {
            "fg <process>\tAttach to a process: show its output, send it what you type\n\
             \t\tCtrl-C detaches"
        }
        "maintail" => {
            "maintail -f \tFollow the supervisord main log (Ctrl-C stops)\n\
             maintail -100\tShow the last 100 bytes of the main log\n\
             maintail\tShow the last 1600 bytes of the main log\n"
        }
        "open" => {
            "open <url>\tTalk to another supervisord from now on\n\
             \t\t(a UNIX domain socket is unix:///path/to/socket)"
        }
        "pid" => {
            "pid\t\t\tShow the PID of supervisord\n\
             pid <name>\t\tShow the PID of one process\n\
             pid all\t\t\tShow the PID of every process, one per line"
        }
        "reload" => "reload \t\tRestart supervisord itself (it reads its config afresh)",
        "remove" => "remove <name> [...]\tDeactivate the stopped group(s) <name>",
        "reread" => {
            "reread \t\t\tRead the config files again and report what changed, \
             without applying it"
        }
        "restart" => {
            "restart <name>\t\tStop then start a process\n\
             restart <gname>:*\tStop then start every process of a group\n\
             restart <name> <name>\tStop then start several processes or groups\n\
             restart all\t\tStop then start every process\n\
             Restarting does not read the config again: use reread and update for that."
        }
        "shutdown" => "shutdown \tStop every process and then supervisord",
        "signal" => {
            "signal <signal name> <name>\t\tSend a signal to a process\n\
             signal <signal name> <gname>:*\t\tSend a signal to every process of a group\n\
             signal <signal name> <name> <name>\tSend a signal to several processes or groups\n\
             signal <signal name> all\t\tSend a signal to every process"
        }
        "start" => {
            "start <name>\t\tStart a process\n\
             start <gname>:*\t\tStart every process of a group\n\
             start <name> <name>\tStart several processes or groups\n\
             start all\t\tStart every process"
        }
        "status" => {
            "status <name>\t\tShow the state of one process\n\
             status <gname>:*\tShow the state of every process of a group\n\
             status <name> <name>\tShow the state of several processes\n\
             status\t\t\tShow the state of every process\n\
             status --json [...]\tThe same, as a JSON array"
        }
        "stop" => {
            "stop <name>\t\tStop a process\n\
             stop <gname>:*\t\tStop every process of a group\n\
             stop <name> <name>\tStop several processes or groups\n\
             stop all\t\tStop every process"
        }
        "tail" => {
            "tail [-f] <name> [stdout|stderr] (default stdout)\n\
             For example:\n\
             tail -f <name>\t\tFollow the stdout log of a process\n\
             \t\t\t(Ctrl-C stops).\n\
             tail -100 <name>\tShow the last 100 *bytes* of its stdout log\n\
             tail <name> stderr\tShow the last 1600 *bytes* of its stderr log"
        }
        "update" => {
            "update\t\t\tRead the config again and apply it: add, remove and restart \
             what changed\n\
             update all\t\tThe same as update\n\
             update <gname> [...]\tApply the changes to the named groups only\n\
             update --dry-run [...]\tRead the config as reread does and show per process\n\
             \t\t\twhat update would do, without doing it"
        }
        "version" => "version\t\t\tShow the version of the supervisord we talk to",
        _ => return None,
    })
}

/// The header, ruler and command columns of `help` with no topic, exactly
/// as the reference lays them out (scripts and eyes know the shape).
fn command_list() -> String {
    let header = "default commands (type help <topic>):";
    let mut names: Vec<&str> = ACTIONS.to_vec();
    names.sort_unstable();
    let mut out = String::from("\n");
    out.push_str(header);
    out.push('\n');
    out.push_str(&"=".repeat(header.len()));
    out.push('\n');
    out.push_str(&columnize(&names, 79));
    out.push('\n');
    out
}

/// Python `cmd.Cmd.columnize`: the fewest rows whose columns (two spaces
/// apart) fit in `width`, filled down the columns; each cell padded.
fn columnize(items: &[&str], width: usize) -> String {
    let size = items.len();
    if size == 0 {
        return "<empty>\n".to_string();
    }
    if size == 1 {
        return format!("{}\n", items[0]);
    }
    let mut layout = (size, 1, vec![0usize]);
    for nrows in 1..size {
        let ncols = size.div_ceil(nrows);
        let mut widths = Vec::with_capacity(ncols);
        let mut total: isize = -2;
        for col in 0..ncols {
            let w = (0..nrows)
                .map(|row| row + nrows * col)
                .take_while(|&i| i < size)
                .map(|i| items[i].len())
                .max()
                .unwrap_or(0);
            widths.push(w);
            total += w as isize + 2;
            if total > width as isize {
                break;
            }
        }
        if total <= width as isize {
            layout = (nrows, ncols, widths);
            break;
        }
    }
    let (nrows, ncols, widths) = layout;
    let mut out = String::new();
    for row in 0..nrows {
        let mut cells: Vec<&str> = (0..ncols)
            .map(|col| items.get(row + nrows * col).copied().unwrap_or(""))
            .collect();
        while cells.last().is_some_and(|c| c.is_empty()) {
            cells.pop();
        }
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(col, c)| format!("{c:<w$}", w = widths[col]))
            .collect();
        out.push_str(&padded.join("  "));
        out.push('\n');
    }
    out
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
    fn every_action_has_usage_and_unknown_topics_say_so() {
        for action in ACTIONS {
            assert!(usage(action).is_some(), "{action}");
        }
        assert_eq!(topic("bogus"), "*** No help on bogus\n");
    }
}
