//! `status`: the reference's table (and its LSB exit codes), in colour on
//! a terminal, or our `--json` array. Reads process infos; changes
//! nothing on the server.

use std::io::{self, Write};

use serde::Serialize;

use crate::ctl::api::{Namespec, ProcessInfo, split_namespec};
use crate::ctl::controller::{CmdResult, Controller, Outcome, exit};

/// `status [--json] [name ...]`.
pub fn status(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        c.exitstatus = exit::STATUS_UNKNOWN;
        return Ok(Outcome::Done);
    }
    let mut json = false;
    let names: Vec<&str> = arg
        .split_whitespace()
        .filter(|w| {
            let flag = *w == "--json";
            json |= flag;
            !flag
        })
        .collect();
    let all = if json {
        c.all_process_info()?
    } else {
        c.process_table_rows()?
    };
    let matching: Vec<&ProcessInfo> = if names.is_empty() || names.contains(&"all") {
        all.iter().collect()
    } else {
        let mut matching = Vec::new();
        for name in &names {
            let Namespec { group, process } = split_namespec(name);
            let before = matching.len();
            matching.extend(
                all.iter()
                    .filter(|info| info.group == group && process.is_none_or(|p| info.name == p)),
            );
            if matching.len() == before {
                let msg = match process {
                    None => format!("{group}: ERROR (no such group)"),
                    Some(_) => format!("{name}: ERROR (no such process)"),
                };
                if json {
                    // Keep stdout a valid JSON document.
                    let _ = writeln!(io::stderr(), "{msg}");
                } else {
                    c.output(&msg);
                }
                c.exitstatus = exit::STATUS_UNKNOWN;
            }
        }
        matching
    };
    if json {
        let doc = status_json(&matching);
        c.output(&doc);
    } else {
        let table = status_table(&matching, c.color());
        c.write_raw(&table);
    }
    if matching.iter().any(|i| i.is_stopped()) {
        c.exitstatus = exit::STATUS_NOT_RUNNING;
    }
    Ok(Outcome::Done)
}

/// The status table: name column `max(30, longest) + 3` wide, state 10,
/// then the description, one line per process (each ending in a newline),
/// built in one String so thousands of rows are written at once. Colour
/// wraps the padded state so columns line up.
pub fn status_table(infos: &[&ProcessInfo], color: bool) -> String {
    // The namespec in its two parts (`group:` and the name), written
    // without building it: thousands of rows would each allocate one.
    let group_width =
        |info: &ProcessInfo| info.namespec_group().map_or(0, |g| g.chars().count() + 1);
    let width = infos
        .iter()
        .map(|i| i.name.chars().count() + group_width(i))
        .max()
        .unwrap_or(0)
        .max(30)
        + 3;
    let mut out = String::with_capacity(infos.len() * (width + 60));
    for info in infos {
        if let Some(group) = info.namespec_group() {
            out.push_str(group);
            out.push(':');
        }
        pad(&mut out, &info.name, width - group_width(info));
        match (color, state_color(&info.statename)) {
            (true, Some(code)) => {
                out.push_str("\x1b[");
                out.push_str(code);
                out.push('m');
                out.push_str(&info.statename);
                out.push_str("\x1b[0m");
                pad(
                    &mut out,
                    "",
                    10usize.saturating_sub(info.statename.chars().count()),
                );
            }
            _ => pad(&mut out, &info.statename, 10),
        }
        out.push_str(&info.description);
        out.push('\n');
    }
    out
}

/// `text` then spaces up to `width` characters. By hand: `format!`'s
/// `{:<width$}` writes its fill a character at a time, which was a tenth
/// of a 4000-row status.
fn pad(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    let fill = width.saturating_sub(text.chars().count());
    out.extend(std::iter::repeat_n(' ', fill));
}

/// ANSI colour per state: green running, yellow in transition, red for
/// the states that need a look.
fn state_color(statename: &str) -> Option<&'static str> {
    match statename {
        "RUNNING" => Some("32"),
        "STARTING" | "STOPPING" | "BACKOFF" => Some("33"),
        "FATAL" | "EXITED" | "UNKNOWN" => Some("31"),
        _ => None,
    }
}

/// One element of `status --json`: the process info with its namespec
/// first, in the order the members are written.
#[derive(Serialize)]
struct JsonEntry<'a> {
    namespec: String,
    name: &'a str,
    group: &'a str,
    state: i64,
    statename: &'a str,
    description: &'a str,
    pid: i64,
    start: i64,
    stop: i64,
    now: i64,
    exitstatus: i64,
    spawnerr: &'a str,
    logfile: &'a str,
    stdout_logfile: &'a str,
    stderr_logfile: &'a str,
}

impl<'a> From<&'a ProcessInfo> for JsonEntry<'a> {
    fn from(i: &'a ProcessInfo) -> Self {
        JsonEntry {
            namespec: i.namespec(),
            name: &i.name,
            group: &i.group,
            state: i.state,
            statename: &i.statename,
            description: &i.description,
            pid: i.pid,
            start: i.start,
            stop: i.stop,
            now: i.now,
            exitstatus: i.exitstatus,
            spawnerr: &i.spawnerr,
            logfile: &i.logfile,
            stdout_logfile: &i.stdout_logfile,
            stderr_logfile: &i.stderr_logfile,
        }
    }
}

/// `status --json`: an array of the process infos, one object each, with
/// the namespec added; one object per line, so `grep` still works on it.
pub fn status_json(infos: &[&ProcessInfo]) -> String {
    let entries: Vec<JsonEntry<'_>> = infos.iter().map(|&i| JsonEntry::from(i)).collect();
    let mut out = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, OneObjectPerLine::default());
    entries
        .serialize(&mut serializer)
        .expect("serializing strings and integers into a Vec cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The layout `status --json` has always had: `[`, each object on a line
/// of its own indented by two, members separated by `, ` with `: ` after
/// the key, and `]` on its own line (just `[]` when empty). Control
/// characters other than `\n`, `\r` and `\t` are written as `\u00XX`,
/// as before (serde_json's default would write `\b` and `\f`).
#[derive(Default)]
struct OneObjectPerLine {
    depth: usize,
    array_has_items: bool,
}

impl serde_json::ser::Formatter for OneObjectPerLine {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.array_has_items = false;
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.array_has_items && self.depth == 0 {
            writer.write_all(b"\n")?;
        }
        writer.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.array_has_items = true;
        if !first {
            writer.write_all(b",")?;
        }
        writer.write_all(b"\n  ")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape;
        match char_escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => serde_json::ser::CompactFormatter.write_char_escape(writer, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str, state: i64, statename: &str, desc: &str) -> ProcessInfo {
        ProcessInfo::sample(group, name, state, statename, desc)
    }

    #[test]
    fn status_table_pads_like_the_reference() {
        let a = info("sleeper", "sleeper", 20, "RUNNING", "pid 1, uptime 0:00:01");
        let b = info("grp", "ga", 0, "STOPPED", "");
        let table = status_table(&[&a, &b], false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(table.matches('\n').count(), 2);
        assert_eq!(
            lines[0],
            format!(
                "{:<33}{:<10}{}",
                "sleeper", "RUNNING", "pid 1, uptime 0:00:01"
            )
        );
        assert_eq!(lines[1], format!("{:<33}{:<10}", "grp:ga", "STOPPED"));
        let long = info("g", &"x".repeat(40), 0, "STOPPED", "");
        assert!(
            status_table(&[&long], false).starts_with(&format!("g:{}   STOPPED", "x".repeat(40)))
        );
        let coloured = status_table(&[&a], true);
        assert!(coloured.contains("\x1b[32mRUNNING\x1b[0m   pid 1"));
    }

    #[test]
    fn json_status_escapes_and_lists_every_field() {
        let a = info("g", "p\"q", 20, "RUNNING", "a\nb");
        let doc = status_json(&[&a]);
        assert!(doc.contains(r#""namespec": "g:p\"q""#), "{doc}");
        assert!(doc.contains(r#""description": "a\nb""#), "{doc}");
        assert!(doc.contains(r#""state": 20"#), "{doc}");
        assert_eq!(status_json(&[]), "[]");
    }

    #[test]
    fn json_status_keeps_its_layout_byte_for_byte() {
        let mut a = info(
            "g",
            "a",
            20,
            "RUNNING",
            "tab\there\u{8}\u{c}\u{1}\\ é\u{7f}",
        );
        a.pid = 42;
        a.exitstatus = -1;
        a.stdout_logfile = "/tmp/a.log".into();
        let b = info("h", "h", 0, "STOPPED", "");
        let expected = "[\n  {\"namespec\": \"g:a\", \"name\": \"a\", \"group\": \"g\", \
            \"state\": 20, \"statename\": \"RUNNING\", \
            \"description\": \"tab\\there\\u0008\\u000c\\u0001\\\\ é\u{7f}\", \"pid\": 42, \
            \"start\": 0, \"stop\": 0, \"now\": 0, \"exitstatus\": -1, \"spawnerr\": \"\", \
            \"logfile\": \"\", \"stdout_logfile\": \"/tmp/a.log\", \"stderr_logfile\": \"\"},\
            \n  {\"namespec\": \"h\", \"name\": \"h\", \"group\": \"h\", \"state\": 0, \
            \"statename\": \"STOPPED\", \"description\": \"\", \"pid\": 0, \"start\": 0, \
            \"stop\": 0, \"now\": 0, \"exitstatus\": 0, \"spawnerr\": \"\", \"logfile\": \"\", \
            \"stdout_logfile\": \"\", \"stderr_logfile\": \"\"}\n]";
        assert_eq!(status_json(&[&a, &b]), expected);
    }
}
