//! `status`: the reference's table (and its LSB exit codes), in colour on
//! a terminal, or our `--json` array. Reads process infos; changes
//! nothing on the server.

use std::io::{self, Write};

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
    let all = ProcessInfo::list(&c.call("supervisor.getAllProcessInfo", vec![])?);
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
        for line in status_lines(&matching, c.color()) {
            c.output(&line);
        }
    }
    if matching.iter().any(|i| i.is_stopped()) {
        c.exitstatus = exit::STATUS_NOT_RUNNING;
    }
    Ok(Outcome::Done)
}

/// The status table: name column `max(30, longest) + 3` wide, state 10,
/// then the description. Colour wraps the padded state so columns line up.
pub fn status_lines(infos: &[&ProcessInfo], color: bool) -> Vec<String> {
    let names: Vec<String> = infos.iter().map(|i| i.namespec()).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(30)
        + 3;
    infos
        .iter()
        .zip(&names)
        .map(|(info, name)| {
            let state = format!("{:<10}", info.statename);
            let state = match (color, state_color(&info.statename)) {
                (true, Some(code)) => format!(
                    "\x1b[{code}m{}\x1b[0m{}",
                    info.statename,
                    &state[info.statename.len()..]
                ),
                _ => state,
            };
            format!("{name:<width$}{state}{}", info.description)
        })
        .collect()
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

/// `status --json`: an array of the process infos, one object each, with
/// the namespec added.
pub fn status_json(infos: &[&ProcessInfo]) -> String {
    let mut out = String::from("[");
    for (n, i) in infos.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str("\n  {");
        let fields: [(&str, Json<'_>); 15] = [
            ("namespec", Json::Str(&i.namespec())),
            ("name", Json::Str(&i.name)),
            ("group", Json::Str(&i.group)),
            ("state", Json::Int(i.state)),
            ("statename", Json::Str(&i.statename)),
            ("description", Json::Str(&i.description)),
            ("pid", Json::Int(i.pid)),
            ("start", Json::Int(i.start)),
            ("stop", Json::Int(i.stop)),
            ("now", Json::Int(i.now)),
            ("exitstatus", Json::Int(i.exitstatus)),
            ("spawnerr", Json::Str(&i.spawnerr)),
            ("logfile", Json::Str(&i.logfile)),
            ("stdout_logfile", Json::Str(&i.stdout_logfile)),
            ("stderr_logfile", Json::Str(&i.stderr_logfile)),
        ];
        for (k, (key, value)) in fields.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            json_string(&mut out, key);
            out.push_str(": ");
            match value {
                Json::Str(s) => json_string(&mut out, s),
                Json::Int(v) => out.push_str(&v.to_string()),
            }
        }
        out.push('}');
    }
    if !infos.is_empty() {
        out.push('\n');
    }
    out.push(']');
    out
}

enum Json<'a> {
    Str(&'a str),
    Int(i64),
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
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
        let lines = status_lines(&[&a, &b], false);
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
            status_lines(&[&long], false)[0]
                .starts_with(&format!("g:{}   STOPPED", "x".repeat(40)))
        );
        let coloured = status_lines(&[&a], true);
        assert!(coloured[0].contains("\x1b[32mRUNNING\x1b[0m   pid 1"));
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
}
