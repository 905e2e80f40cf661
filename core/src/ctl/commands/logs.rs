//! The commands that read logs and attach to a process: `tail`,
//! `maintail` and `fg`. The streaming itself (`-f`, `fg`'s output) is the
//! `stream` module's; here are the arguments, the reference's messages and
//! `fg`'s loop of sending typed lines.

use dxr::Value;

use crate::ctl::api::{self, ProcessInfo, fault};
use crate::ctl::controller::{CmdResult, Controller, Outcome, exit, param};
use crate::ctl::stream::{self, SigintWatch, StdinLines};
use crate::ctl::transport::CallError;
use crate::pyrepr::py_repr;

/// `tail [-f|-N] name [stdout|stderr]`.
pub fn tail(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let mut args: Vec<&str> = arg.split_whitespace().collect();
    if let Some(request) = several(&args) {
        let infos = c.all_process_info()?;
        // A last word that is neither a channel nor a name reads as the
        // reference reads it (`tail web bogus`: a bad channel).
        let last = request.names.last().copied().unwrap_or_default();
        if request.channel_given || names_something(&infos, last) {
            return tail_several(c, request, &infos);
        }
    }
    if args.is_empty() {
        c.output("Error: too few arguments");
        c.exitstatus = exit::GENERIC;
        return Ok(Outcome::ShowUsage);
    }
    if args.len() > 3 {
        c.output("Error: too many arguments");
        c.exitstatus = exit::GENERIC;
        return Ok(Outcome::ShowUsage);
    }
    let modifier = if args[0].starts_with('-') {
        Some(args.remove(0))
    } else {
        None
    };
    let (name, channel) = match args.as_slice() {
        [name] => (*name, "stdout".to_string()),
        [name, .., last] => {
            let channel = last.to_lowercase();
            if channel != "stdout" && channel != "stderr" {
                c.output(&format!("Error: bad channel {}", py_repr(&channel)));
                c.exitstatus = exit::GENERIC;
                return Ok(Outcome::Done);
            }
            (*name, channel)
        }
        [] => {
            c.output("Error: tail requires process name");
            c.exitstatus = exit::GENERIC;
            return Ok(Outcome::Done);
        }
    };
    let mut bytes = 1600i64;
    if let Some(modifier) = modifier {
        let what = &modifier[1..];
        if what == "f" {
            c.follow(&format!("/logtail/{name}/{channel}"));
            return Ok(Outcome::Done);
        }
        match parse_python_int(what) {
            Some(n) => bytes = n,
            None => {
                c.output(&format!("Error: bad argument {modifier}"));
                c.exitstatus = exit::GENERIC;
                return Ok(Outcome::Done);
            }
        }
    }
    let method = if channel == "stdout" {
        "supervisor.readProcessStdoutLog"
    } else {
        "supervisor.readProcessStderrLog"
    };
    let params = vec![param(name), int_value(-bytes), Value::Integer(0)];
    show_log(c, name, method, params, LOG_FAULTS)
}

/// `tail [-f|-N] NAME [NAME ...] [stdout|stderr]` with more than one name
/// or a `group:*` (ours): what to read.
#[derive(Debug, PartialEq, Eq)]
struct Several<'a> {
    modifier: Option<&'a str>,
    names: Vec<&'a str>,
    channel: &'static str,
    /// The last word was `stdout` or `stderr`.
    channel_given: bool,
}

/// Whether `word` names a process (`group:name`, or `name` alone in its
/// group of the same name) or a group (`group:*`).
fn names_something(infos: &[ProcessInfo], word: &str) -> bool {
    infos.iter().any(|i| {
        word == format!("{}:{}", i.group, i.name)
            || (i.group == i.name && word == i.name)
            || word.strip_suffix(":*") == Some(i.group.as_str())
    })
}

/// The several-names form, or None for the reference's one-name form (one
/// name and no `group:*`: that keeps its output and errors exactly). The
/// last word is the channel only when it is `stdout` or `stderr`.
fn several<'a>(args: &[&'a str]) -> Option<Several<'a>> {
    let (modifier, rest) = match args.split_first() {
        Some((first, rest)) if first.starts_with('-') => (Some(*first), rest),
        _ => (None, args),
    };
    let (names, channel, channel_given) = match rest.split_last() {
        Some((last, names)) if !names.is_empty() => match last.to_lowercase().as_str() {
            "stdout" => (names, "stdout", true),
            "stderr" => (names, "stderr", true),
            _ => (rest, "stdout", false),
        },
        _ => (rest, "stdout", false),
    };
    (names.len() > 1 || names.iter().any(|n| n.ends_with(":*"))).then(|| Several {
        modifier,
        names: names.to_vec(),
        channel,
        channel_given,
    })
}

/// Tail each named process in turn under a `==> NAME <==` header (as
/// tail(1) does for several files), or with `-f` follow them all, lines
/// merged as they arrive, each prefixed `NAME | `.
fn tail_several(c: &mut Controller, request: Several<'_>, infos: &[ProcessInfo]) -> CmdResult {
    let mut bytes = 1600i64;
    let mut follow = false;
    if let Some(modifier) = request.modifier {
        let what = &modifier[1..];
        if what == "f" {
            follow = true;
        } else if let Some(n) = parse_python_int(what) {
            bytes = n;
        } else {
            c.output(&format!("Error: bad argument {modifier}"));
            c.exitstatus = exit::GENERIC;
            return Ok(Outcome::Done);
        }
    }
    let mut names: Vec<String> = Vec::new();
    for name in &request.names {
        let Some(group) = name.strip_suffix(":*") else {
            names.push(name.to_string());
            continue;
        };
        let members: Vec<String> = infos
            .iter()
            .filter(|i| i.group == group)
            .map(|i| format!("{}:{}", i.group, i.name))
            .collect();
        if members.is_empty() {
            c.output(&format!("{name}: ERROR (no such group)"));
            c.exitstatus = exit::GENERIC;
        }
        names.extend(members);
    }
    if follow {
        follow_merged(c, &names, request.channel);
        return Ok(Outcome::Done);
    }
    let method = if request.channel == "stdout" {
        "supervisor.readProcessStdoutLog"
    } else {
        "supervisor.readProcessStderrLog"
    };
    let headers = names.len() > 1;
    for (index, name) in names.iter().enumerate() {
        if headers {
            c.output(&format!(
                "{}==> {name} <==",
                if index == 0 { "" } else { "\n" }
            ));
        }
        let params = vec![param(name), int_value(-bytes), Value::Integer(0)];
        show_log(c, name, method, params, LOG_FAULTS)?;
    }
    Ok(Outcome::Done)
}

/// Follow `/logtail/NAME/channel` of every name at once until each ends
/// or Ctrl-C; whole lines only, each `NAME | line`, so lines of different
/// processes never mix.
fn follow_merged(c: &mut Controller, names: &[String], channel: &str) {
    c.output("==> Press Ctrl-C to exit <==");
    c.flush();
    let endpoint = c.endpoint();
    let interrupted = c.with_session(async |_session| {
        let mut streams = tokio::task::JoinSet::new();
        for name in names {
            let endpoint = endpoint.clone();
            let path = format!("/logtail/{name}/{channel}");
            let prefix = format!("{name} | ");
            streams.spawn(async move { follow_prefixed(&endpoint, &path, &prefix).await });
        }
        let all_ended = async { while streams.join_next().await.is_some() {} };
        match SigintWatch::install() {
            Ok(watch) => tokio::select! {
                () = all_ended => false,
                () = watch.interrupted() => true,
            },
            Err(_) => {
                all_ended.await;
                false
            }
        }
    });
    if interrupted {
        c.output("");
    }
}

/// One stream of [`follow_merged`]: its body cut into whole lines, each
/// written with `prefix` in one locked write. A stream that cannot start
/// is reported on stderr as the one-name `tail -f` reports it.
async fn follow_prefixed(endpoint: &crate::ctl::transport::Endpoint, path: &str, prefix: &str) {
    use http_body_util::BodyExt as _;
    use std::io::Write as _;
    let url = format!("{}{}", endpoint.serverurl, path);
    let response = match endpoint.open_stream(path).await {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "{url} Cannot connect, error: <class '{}'> ({e})",
                e.python_class()
            );
            return;
        }
    };
    if response.status() != hyper::StatusCode::OK {
        let _ = writeln!(
            std::io::stderr(),
            "{url} Cannot read, status code {}",
            response.status().as_u16()
        );
        return;
    }
    let mut body = response.into_body();
    let mut partial: Vec<u8> = Vec::new();
    let mut out_buf: Vec<u8> = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Some(data) = frame.data_ref() else {
            continue;
        };
        partial.extend_from_slice(data);
        let Some(end) = memchr::memrchr(b'\n', &partial) else {
            continue;
        };
        out_buf.clear();
        for line in partial[..=end].split_inclusive(|b| *b == b'\n') {
            out_buf.extend_from_slice(prefix.as_bytes());
            out_buf.extend_from_slice(line);
        }
        partial.drain(..=end);
        let mut out = std::io::stdout().lock();
        if out.write_all(&out_buf).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
    if !partial.is_empty() {
        partial.push(b'\n');
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all(prefix.as_bytes())
            .and_then(|()| out.write_all(&partial))
            .and_then(|()| out.flush());
    }
}

/// `maintail [-f|-N]`: the main log.
pub fn maintail(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let args: Vec<&str> = arg.split_whitespace().collect();
    let bytes = match args.as_slice() {
        [] => 1600,
        [one] => {
            let parsed = one.strip_prefix('-').and_then(|what| {
                if what == "f" {
                    Some(None)
                } else {
                    parse_python_int(what).map(Some)
                }
            });
            match parsed {
                Some(None) => {
                    c.follow("/mainlogtail");
                    return Ok(Outcome::Done);
                }
                Some(Some(n)) => n,
                None => {
                    c.output(&format!("Error: bad argument {one}"));
                    c.exitstatus = exit::GENERIC;
                    return Ok(Outcome::Done);
                }
            }
        }
        _ => {
            c.output("Error: too many arguments");
            c.exitstatus = exit::GENERIC;
            return Ok(Outcome::ShowUsage);
        }
    };
    let params = vec![int_value(-bytes), Value::Integer(0)];
    // The main log has no name to get wrong.
    let faults = &LOG_FAULTS[..2];
    show_log(c, "supervisord", "supervisor.readLog", params, faults)
}

/// The faults reading a log may meet, in the reference's words.
const LOG_FAULTS: &[(i32, &str)] = &[
    (fault::NO_FILE, "no log file"),
    (fault::FAILED, "unknown error reading log"),
    (fault::BAD_NAME, "no such process name"),
];

/// Print what `method` reads, or `who: ERROR (why)` for one of `faults`.
fn show_log(
    c: &mut Controller,
    who: &str,
    method: &str,
    params: Vec<Value>,
    faults: &[(i32, &str)],
) -> CmdResult {
    match c.call(method, params) {
        Ok(text) => c.output(&api::display(&text)),
        Err(e) => {
            c.exitstatus = exit::GENERIC;
            let code = e.fault_code();
            let Some((_, why)) = faults.iter().find(|(f, _)| Some(*f) == code) else {
                return Err(e.into());
            };
            c.output(&format!("{who}: ERROR ({why})"));
        }
    }
    Ok(Outcome::Done)
}

/// `fg name`: follow a process's output and send it what is typed,
/// until Ctrl-C or its end.
pub fn fg(c: &mut Controller, arg: &str) -> CmdResult {
    if !c.upcheck()? {
        return Ok(Outcome::Done);
    }
    let names: Vec<&str> = arg.split_whitespace().collect();
    let name = match names.as_slice() {
        [] => {
            c.output("ERROR: no process name supplied");
            c.exitstatus = exit::GENERIC;
            return Ok(Outcome::ShowUsage);
        }
        [one] => one.to_string(),
        _ => {
            c.output("ERROR: too many process names supplied");
            c.exitstatus = exit::GENERIC;
            return Ok(Outcome::Done);
        }
    };
    let info = match c.call("supervisor.getProcessInfo", vec![param(&name)]) {
        Ok(v) => ProcessInfo::from_value(&v),
        Err(e) if e.fault_code() == Some(fault::BAD_NAME) => {
            c.output("ERROR: bad process name supplied");
            c.exitstatus = exit::GENERIC;
            return Ok(Outcome::Done);
        }
        Err(e @ CallError::Fault { .. }) => {
            c.output(&format!("ERROR: {e}"));
            return Ok(Outcome::Done);
        }
        Err(e) => return Err(e.into()),
    };
    if !info.is_running_now() {
        c.output("ERROR: process not running");
        c.exitstatus = exit::GENERIC;
        return Ok(Outcome::Done);
    }
    c.output("==> Press Ctrl-C to exit <==");
    c.flush();

    let endpoint = c.endpoint();
    let messages: Vec<String> = c.with_session(async |session| {
        let watch = SigintWatch::install().ok();
        let out = tokio::spawn({
            let endpoint = endpoint.clone();
            let path = format!("/logtail/{name}/stdout");
            async move { stream::follow(&endpoint, &path).await }
        });
        let err = tokio::spawn({
            let endpoint = endpoint.clone();
            let path = format!("/logtail/{name}/stderr");
            async move { stream::follow(&endpoint, &path).await }
        });
        let mut input = StdinLines::start();
        let interrupted = async {
            match &watch {
                Some(w) => w.interrupted().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(interrupted);
        let messages = loop {
            let line = tokio::select! {
                () = &mut interrupted => break vec![],
                line = input.lines.recv() => line,
            };
            let Some(line) = line else { break vec![] };
            let params = vec![Value::String(name.clone()), Value::String(line + "\n")];
            match session.call("supervisor.sendProcessStdin", params).await {
                Ok(_) => {}
                Err(e) if e.fault_code() == Some(fault::NOT_RUNNING) => {
                    break vec!["Process got killed".to_string()];
                }
                Err(e) => break vec![format!("ERROR: {e}")],
            }
            let still = session
                .call(
                    "supervisor.getProcessInfo",
                    vec![Value::String(name.clone())],
                )
                .await
                .map(|v| ProcessInfo::from_value(&v).is_running_now());
            match still {
                Ok(true) => {}
                Ok(false) => break vec!["Process got killed".to_string()],
                Err(e) => break vec![format!("ERROR: {e}")],
            }
        };
        out.abort();
        err.abort();
        drop(input);
        messages
    });
    for m in messages {
        c.output(&m);
    }
    c.output("Exiting foreground");
    Ok(Outcome::Done)
}

/// Python's `int()` of a `tail -N` argument: optional sign, digits,
/// underscores between digits, surrounding whitespace.
fn parse_python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// An int parameter: i4 when it fits (what Python sends), i8 otherwise.
fn int_value(n: i64) -> Value {
    match i32::try_from(n) {
        Ok(i) => Value::Integer(i),
        Err(_) => Value::Long(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_names_or_a_group_take_the_multi_form() {
        assert_eq!(several(&["web"]), None);
        assert_eq!(several(&["-f", "web", "stderr"]), None);
        assert_eq!(several(&["-100", "web", "STDOUT"]), None);
        assert_eq!(several(&[]), None);
        assert_eq!(
            several(&["a", "b"]),
            Some(Several {
                modifier: None,
                names: vec!["a", "b"],
                channel: "stdout",
                channel_given: false,
            })
        );
        assert_eq!(
            several(&["-f", "web:*", "stderr"]),
            Some(Several {
                modifier: Some("-f"),
                names: vec!["web:*"],
                channel: "stderr",
                channel_given: true,
            })
        );
        assert_eq!(
            several(&["-5", "a", "b", "c"]).map(|s| s.names),
            Some(vec!["a", "b", "c"])
        );
    }

    #[test]
    fn tail_sizes_follow_pythons_int() {
        assert_eq!(parse_python_int("100"), Some(100));
        assert_eq!(parse_python_int("1_000"), Some(1000));
        assert_eq!(parse_python_int("x"), None);
        assert_eq!(parse_python_int("_1"), None);
        assert_eq!(parse_python_int(""), None);
    }
}
