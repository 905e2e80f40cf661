//! supervisord.conf text: the INI reader on its own, then the whole load
//! (reading, `%(x)s` expansion, validation) from a file, and the diff of
//! two loads of the same text.

use std::path::PathBuf;

use crate::config::ini::Ini;
use crate::config::{LoadOptions, diff, load_config_with};

/// A file of this thread's own for the text under test.
fn scratch_file() -> PathBuf {
    thread_local! {
        static PATH: PathBuf = std::env::temp_dir().join(format!(
            "supervisor-fuzz-{}-{:?}.conf",
            std::process::id(),
            std::thread::current().id()
        ));
    }
    PATH.with(Clone::clone)
}

/// Inputs the harness declines, because they make the load do what a
/// fuzzer must not: `[include]` reads other files of this machine (a glob
/// of `/proc` can block), a huge `numprocs` builds that many processes,
/// and a `%(name)` format with a width of four digits or more pads its
/// value to that many bytes per process (`%(process_num)5165229e` took
/// 15 s under the sanitizer: 5 MB each). Both as the reference does: slow,
/// not wrong.
fn declined(text: &str) -> bool {
    let four_digits = |s: &[u8]| s.windows(4).any(|w| w.iter().all(u8::is_ascii_digit));
    text.contains("include")
        || text
            .lines()
            .any(|line| line.contains("numprocs") && four_digits(line.as_bytes()))
        || text.split("%(").skip(1).any(|rest| {
            rest.split_once(')')
                .is_some_and(|(_, format)| four_digits(&format.as_bytes()[..format.len().min(8)]))
        })
}

/// Input: the text of a supervisord.conf. The INI reader and the load
/// never panic; every error names what it is about (a problem text and a
/// file); loading the same text twice gives the same model, so the diff of
/// a config with itself is empty, both ways.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if declined(text) {
        return;
    }
    let path = scratch_file();
    let mut ini = Ini::default();
    let _ = ini.read(text, &path);
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let options = LoadOptions {
        environ: [("HOME".to_string(), "/root".to_string())].into(),
        host_node_name: "fuzz".to_string(),
        cli_user: None,
        numprocs: None,
    };
    let first = load_config_with(&path, &options);
    let second = load_config_with(&path, &options);
    let _ = std::fs::remove_file(&path);
    match (first, second) {
        (Ok(a), Ok(b)) => {
            let forth = diff(&a.groups, &b.groups);
            assert!(forth.is_empty(), "a config differs from itself: {forth:?}");
            assert!(diff(&b.groups, &a.groups).is_empty());
            assert!(diff(&a.groups, &a.groups).is_empty());
        }
        (Err(a), Err(b)) => {
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "errors change between loads"
            );
            assert!(!a.0.is_empty(), "a failed load with no error");
            for error in &a.0 {
                assert!(!error.problem.is_empty(), "an error without a problem");
                assert!(error.file.is_some(), "an error names no file: {error:?}");
            }
        }
        (a, b) => panic!("one load failed and the other did not: {a:?} / {b:?}"),
    }
}

/// `s` as the inside of a double-quoted environment-file value, with the
/// escapes the reader undoes.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// Input: the text of an environment file (`environment_file`; bytes that
/// are not UTF-8 are declined, as the reader refuses them before parsing).
/// An error names a line of the text; a parsed file written back out as
/// `KEY="value"` lines (and again as `export KEY='value'` where the value
/// has no `'`) parses to the same pairs; a file without `\r` parses the
/// same with CRLF line ends.
pub fn env_file(data: &[u8]) {
    use crate::config::envfile::{EnvFileError, parse};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = match parse(text) {
        Ok(env) => env,
        Err(EnvFileError::BadLine(line, why)) => {
            let lines = text.lines().count();
            assert!(
                (1..=lines).contains(&line),
                "line {line} of {lines} is named: {why}"
            );
            return;
        }
        Err(other) => panic!("parsing text gave {other:?}"),
    };
    let written: String = env
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"\n", double_quoted(value)))
        .collect();
    let again = parse(&written)
        .unwrap_or_else(|e| panic!("the file written back is refused: {e} in {written:?}"));
    assert_eq!(again, env, "written back as {written:?}");
    let literal: String = env
        .iter()
        .filter(|(_, value)| !value.contains('\'') && !value.contains('\r'))
        .map(|(key, value)| format!("export {key}='{value}'\n"))
        .collect();
    let again = parse(&literal)
        .unwrap_or_else(|e| panic!("the file written back is refused: {e} in {literal:?}"));
    for (key, value) in &again {
        assert_eq!(
            Some(value),
            env.get(key),
            "{key} written back single-quoted"
        );
    }
    if !text.contains('\r') {
        let crlf = parse(&text.replace('\n', "\r\n"));
        assert_eq!(crlf, Ok(env), "CRLF line ends change the result");
    }
}
