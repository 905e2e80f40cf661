//! HTML for the web UI's pages: the process list, the confirmation that
//! turns an old `?action=` link into a POST, the tail view and error
//! pages. Pure functions from data to markup; every text that comes from
//! a user or a process is escaped here. Links are relative only, so the
//! pages work behind a reverse proxy at any path prefix. It performs no
//! call and reads no daemon state.

use std::fmt::Write as _;

/// One row of the process list.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub(super) group: String,
    pub(super) name: String,
    pub(super) statename: String,
    pub(super) description: String,
    pub(super) pid: i32,
    /// When it last started and the daemon's clock when read (UNIX
    /// seconds), for the uptime.
    pub(super) start: i64,
    pub(super) now: i64,
    pub(super) exitstatus: i32,
    pub(super) spawnerr: String,
}

impl Row {
    /// `group:name`, or `name` when the group has the process's name, as
    /// the reference's `make_namespec`.
    pub(super) fn namespec(&self) -> String {
        if self.group == self.name {
            self.name.clone()
        } else {
            format!("{}:{}", self.group, self.name)
        }
    }
}

/// `text` safe inside HTML text and quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode `text` for a URL's query or path, keeping what Python's
/// `urllib.quote` keeps (letters, digits, `_.-~/`), as the reference's
/// links do. A few lines here rather than a new direct dependency.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `H:MM:SS` (with `N days, ` before it past a day) of a running
/// process, as Python's `timedelta` prints it in the reference's
/// description; empty for a process not running. `live.js` has the twin.
pub(super) fn uptime(row: &Row) -> String {
    if !matches!(row.statename.as_str(), "RUNNING" | "STOPPING") || row.start <= 0 {
        return String::new();
    }
    let secs = (row.now - row.start).max(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        n => format!("{n} days, {clock}"),
    }
}

/// The exit status, shown once a process has exited (it means nothing
/// before); `live.js` has the twin.
pub(super) fn exit_status(row: &Row) -> String {
    if matches!(row.statename.as_str(), "EXITED" | "BACKOFF" | "FATAL") {
        row.exitstatus.to_string()
    } else {
        String::new()
    }
}

/// The reference's CSS class for a state: running, trouble, the rest.
fn state_class(statename: &str) -> &'static str {
    match statename {
        "RUNNING" => "statusrunning",
        "FATAL" | "BACKOFF" => "statuserror",
        _ => "statusnominal",
    }
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"stylesheets/supervisor.css\">\
         <link rel=\"icon\" href=\"images/supervisor.svg\" type=\"image/svg+xml\"></head>\n<body>\
         <header><a href=\"index.html\"><img src=\"images/supervisor.svg\" alt=\"\" width=\"28\" height=\"28\"></a>\
         <h1>{}</h1></header>\n<main>\n",
        escape(title),
        escape(title)
    )
}

const FOOT: &str = "</main>\n<footer>supervisor-rs</footer>\n</body></html>\n";

/// The states in which a process can be sent a signal (live.js has the
/// twin).
const SIGNALLABLE: [&str; 4] = ["RUNNING", "STARTING", "STOPPING", "BACKOFF"];

/// The actions a process in `statename` offers, as the reference's
/// `actions_for_process`: `(label, href, new window)`. A read-only user
/// (`may_change` false) gets only the ones that read.
fn actions(statename: &str, quoted: &str, may_change: bool) -> Vec<(&'static str, String, bool)> {
    let action = |label, action: &str| {
        (
            label,
            format!("index.html?processname={quoted}&action={action}"),
            false,
        )
    };
    let mut list = match statename {
        _ if !may_change => Vec::new(),
        "RUNNING" => vec![action("Restart", "restart"), action("Stop", "stop")],
        "STOPPED" | "EXITED" | "FATAL" => vec![action("Start", "start")],
        _ => Vec::new(),
    };
    if may_change {
        list.push(action("Clear Log", "clearlog"));
    }
    list.push(("Log", format!("log.html?processname={quoted}"), false));
    list.push(("Tail -f Stdout", format!("logtail/{quoted}"), true));
    list.push(("Tail -f Stderr", format!("logtail/{quoted}/stderr"), true));
    list
}

/// The status page: every process in `rows` (already sorted), and the
/// message of the last action when there is one. For a read-only user
/// (`may_change` false) no action that changes anything is shown, and the
/// table says so to live.js (`data-readonly`).
pub(super) fn status(rows: &[Row], message: Option<&str>, may_change: bool) -> String {
    let mut out = head("Supervisor status");
    out.push_str("<nav class=\"buttons\"><a href=\"index.html?action=refresh\">Refresh</a> ");
    if may_change {
        out.push_str(
            "<a href=\"index.html?action=restartall\">Restart All</a> \
             <a href=\"index.html?action=stopall\">Stop All</a> ",
        );
    }
    out.push_str("<a href=\"log.html\">Logs</a></nav>\n");
    if let Some(message) = message {
        let _ = writeln!(
            out,
            "<p class=\"status_msg\" role=\"status\">{}</p>",
            escape(message)
        );
    }
    if rows.is_empty() {
        out.push_str("<p>No programs to manage</p>\n");
        out.push_str(FOOT);
        return out;
    }
    out.push_str(if may_change {
        "<table id=\"processes\">"
    } else {
        "<table id=\"processes\" data-readonly>"
    });
    out.push_str(
        "<thead><tr><th>State</th><th class=\"c-desc\">Description</th>\
         <th>Name</th><th class=\"c-pid\">Pid</th><th class=\"c-up\">Uptime</th>\
         <th class=\"c-exit\">Exit status</th><th class=\"c-err\">Spawn error</th>\
         <th>Action</th></tr></thead>\n<tbody>\n",
    );
    for row in rows {
        let namespec = row.namespec();
        let quoted = quote(&namespec);
        let pid = if row.pid > 0 {
            row.pid.to_string()
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr data-name=\"{name}\" data-state=\"{statename}\" data-start=\"{start}\" data-now=\"{now}\">\
             <td><span class=\"state {class}\">{state}</span></td>\
             <td class=\"c-desc\">{description}</td>\
             <td><a href=\"tail.html?processname={quoted}\">{name}</a></td>\
             <td class=\"c-pid\">{pid}</td><td class=\"c-up\">{uptime}</td>\
             <td class=\"c-exit\">{exit}</td><td class=\"c-err\">{spawnerr}</td>\
             <td><ul class=\"actions\">",
            name = escape(&namespec),
            start = row.start,
            now = row.now,
            statename = escape(&row.statename),
            class = state_class(&row.statename),
            state = escape(&row.statename.to_ascii_lowercase()),
            description = escape(&row.description),
            uptime = uptime(row),
            exit = exit_status(row),
            spawnerr = escape(&row.spawnerr),
        );
        for (label, href, new_window) in actions(&row.statename, &quoted, may_change) {
            let target = if new_window { " target=\"_blank\"" } else { "" };
            let _ = write!(
                out,
                "<li><a href=\"{}\"{target}>{label}</a></li>",
                escape(&href)
            );
        }
        if may_change && SIGNALLABLE.contains(&row.statename.as_str()) {
            // Shown by live.js, which sends the signal; hidden without it.
            let _ = write!(
                out,
                "<li class=\"sig\" hidden><button type=\"button\" class=\"signal\" \
                 data-process=\"{}\">Signal\u{2026}</button></li>",
                escape(&namespec)
            );
        }
        out.push_str("</ul></td></tr>\n");
    }
    out.push_str("</tbody></table>\n");
    // Makes the list live; without it the page and its forms still work.
    out.push_str("<script src=\"scripts/live.js\" defer></script>\n");
    out.push_str(FOOT);
    out
}

/// The page an old `?action=` link leads to: what would happen, and a
/// form that POSTs it (a GET never changes state).
pub(super) fn confirm(question: &str, processname: Option<&str>, action: &str) -> String {
    let mut out = head("Supervisor: confirm");
    let _ = write!(
        out,
        "<form method=\"post\" action=\"index.html\" class=\"confirm\"><p>{}</p>",
        escape(question)
    );
    if let Some(name) = processname {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"processname\" value=\"{}\">",
            escape(name)
        );
    }
    let _ = writeln!(
        out,
        "<input type=\"hidden\" name=\"action\" value=\"{}\">\
         <button type=\"submit\">Confirm</button> <a href=\"index.html\">Cancel</a></form>",
        escape(action)
    );
    out.push_str(FOOT);
    out
}

/// `tail.html`: the end of a process's stdout (or why there is none).
pub(super) fn tail(processname: Option<&str>, text: &str, limit: u64) -> String {
    let title = format!(
        "Supervisor tail of process {}",
        processname.unwrap_or("None")
    );
    let mut out = head(&title);
    if let Some(name) = processname {
        let _ = writeln!(
            out,
            "<nav class=\"buttons\"><a href=\"tail.html?processname={}&amp;limit={limit}\">Refresh</a> \
             <a href=\"index.html\">Back</a></nav>",
            escape(&quote(name))
        );
    }
    let _ = writeln!(out, "<pre id=\"tailbody\">{}</pre>", escape(text));
    out.push_str(FOOT);
    out
}

/// An error page that says what went wrong, with a way back.
pub(super) fn error(message: &str) -> String {
    let mut out = head("Supervisor: error");
    let _ = writeln!(
        out,
        "<p class=\"status_msg error\" role=\"alert\">{}</p><p><a href=\"index.html\">Back to the list</a></p>",
        escape(message)
    );
    out.push_str(FOOT);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, statename: &str) -> Row {
        Row {
            group: name.to_owned(),
            name: name.to_owned(),
            statename: statename.to_owned(),
            description: "<b>".to_owned(),
            pid: 0,
            start: 0,
            now: 0,
            exitstatus: 0,
            spawnerr: String::new(),
        }
    }

    #[test]
    fn uptime_and_exit_status_show_only_where_they_mean_something() {
        let mut r = row("a", "RUNNING");
        r.start = 1000;
        r.now = 1000 + 3 * 86_400 + 3600 + 62;
        assert_eq!(uptime(&r), "3 days, 1:01:02");
        r.now = 1000 + 86_400 + 5;
        assert_eq!(uptime(&r), "1 day, 0:00:05");
        r.now = 1059;
        assert_eq!(uptime(&r), "0:00:59");
        assert_eq!(exit_status(&r), "");
        r.statename = "EXITED".into();
        r.exitstatus = 3;
        assert_eq!(uptime(&r), "");
        assert_eq!(exit_status(&r), "3");
        r.spawnerr = "<x>".into();
        let page = status(&[r], None, true);
        assert!(
            page.contains("<td class=\"c-err\">&lt;x&gt;</td>"),
            "{page}"
        );
        assert!(page.contains("<td class=\"c-exit\">3</td>"), "{page}");
    }

    #[test]
    fn names_and_descriptions_are_escaped() {
        let page = status(&[row("<script>", "STOPPED")], Some("<i>"), true);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("processname=%3Cscript%3E"));
        assert!(page.contains("&lt;i&gt;"));
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn actions_follow_the_reference_by_state() {
        let running = status(&[row("a", "RUNNING")], None, true);
        assert!(running.contains(">Restart<") && running.contains(">Stop<"));
        assert!(!running.contains(">Start<"));
        let stopped = status(&[row("a", "STOPPED")], None, true);
        assert!(stopped.contains(">Start<") && !stopped.contains(">Stop<"));
        let starting = status(&[row("a", "STARTING")], None, true);
        assert!(!starting.contains(">Start<") && starting.contains(">Clear Log<"));
    }

    #[test]
    fn links_are_relative() {
        let page = status(&[row("a", "RUNNING")], None, true);
        assert!(!page.contains("href=\"/") && !page.contains("src=\"/"));
        assert!(!page.contains("action=\"/"));
        assert!(page.contains("src=\"scripts/live.js\""));
    }

    #[test]
    fn quote_keeps_what_urllib_keeps() {
        assert_eq!(quote("g:a b/c"), "g%3Aa%20b/c");
    }
}
