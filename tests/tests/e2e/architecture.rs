//! The shape ARCHITECTURE.md promises, held by tests over the source of
//! `core/src`: no file passes the size a reader can hold in mind, and no two
//! files import each other, directly or round a circle (a circle means
//! neither can be read, tested or changed alone). Test code is left out:
//! files named `tests.rs` or `*_tests.rs`, and everything from a file's
//! first `#[cfg(test)]` on.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use supervisor_tests::workspace_root;

/// Non-test lines a file of `core/src` may have (issue 14's "about 800").
const MAX_LINES: usize = 800;

/// Every source file of `core/src`, keyed by its module path
/// (`["logs", "pump"]` for `logs/pump.rs`, `["logs"]` for `logs/mod.rs`).
fn modules() -> BTreeMap<Vec<String>, (PathBuf, String)> {
    let src = workspace_root().join("core/src");
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("core/src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(&src)
                    .expect("found under core/src")
                    .with_extension("");
                let mut parts: Vec<String> = relative
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                    parts.pop();
                }
                let text = fs::read_to_string(&path).expect("a readable source file");
                found.insert(parts, (path, text));
            }
        }
    }
    found
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().expect("a file path").to_string_lossy();
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The part of a file that is not its inline test module, without comments.
fn production_code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|line| match line.trim_start().starts_with("//") {
            true => "",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every path a file names from `crate::`, `super::` or `self::`, with use
/// groups (`use crate::a::{b, c::d}`) spelled out.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| bytes[i..].starts_with(h.as_bytes()));
        match (at_word, head) {
            (true, Some(_)) => use_tree(bytes, &mut i, Vec::new(), &mut out),
            _ => i += 1,
        }
    }
    out
}

fn use_tree(bytes: &[u8], i: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    loop {
        while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
            *i += 1;
        }
        let start = *i;
        while *i < bytes.len() && is_ident(bytes[*i]) {
            *i += 1;
        }
        let ident = String::from_utf8_lossy(&bytes[start..*i]).into_owned();
        if !ident.is_empty() && ident != "self" {
            prefix.push(ident);
        }
        if !bytes[*i..].starts_with(b"::") {
            out.push(prefix);
            return;
        }
        *i += 2;
        if bytes.get(*i) == Some(&b'{') {
            *i += 1;
            loop {
                use_tree(bytes, i, prefix.clone(), out);
                while *i < bytes.len() && !matches!(bytes[*i], b',' | b'}') {
                    *i += 1; // `as alias`, `*`
                }
                match bytes.get(*i) {
                    Some(b',') => *i += 1,
                    _ => break,
                }
                while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
                    *i += 1;
                }
                if bytes.get(*i) == Some(&b'}') {
                    break;
                }
            }
            *i += 1;
            return;
        }
    }
}

/// Which files each file imports (edges to `mod.rs`/`lib.rs` are left out:
/// a parent re-exports its children, which is not a dependency of theirs).
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules();
    let is_leaf = |m: &Vec<String>| {
        let path = &modules[m].0;
        !matches!(
            path.file_stem().and_then(|s| s.to_str()),
            Some("mod" | "lib")
        )
    };
    let mut graph = BTreeMap::new();
    for (module, (path, text)) in &modules {
        if is_test_file(path) {
            continue;
        }
        let mut targets = BTreeSet::new();
        for named in named_paths(&production_code(text)) {
            let Some((head, rest)) = named.split_first() else {
                continue;
            };
            let mut full = match head.as_str() {
                "crate" => Vec::new(),
                // `super` of logs/pump.rs and of logs/mod.rs alike is the
                // module above the one the file is.
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.clone(),
            };
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                full.pop();
                rest = &rest[1..];
            }
            full.extend(rest.iter().cloned());
            let target = (1..=full.len())
                .rev()
                .map(|k| full[..k].to_vec())
                .find(|m| modules.contains_key(m));
            if let Some(target) = target
                && &target != module
                && is_leaf(&target)
            {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

#[test]
fn no_file_in_core_src_passes_the_line_budget() {
    let over: Vec<String> = modules()
        .values()
        .filter(|(path, _)| !is_test_file(path))
        .map(|(path, text)| (path, production_code(text).lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(path, lines)| format!("{} ({lines} lines)", path.display()))
        .collect();
    assert!(over.is_empty(), "over {MAX_LINES} non-test lines: {over:?}");
}

#[test]
fn no_import_circle_between_files_of_core_src() {
    let graph = imports();
    // The checker must see imports at all, or it proves nothing.
    let pump = vec!["logs".to_string(), "pump".to_string()];
    assert!(
        graph[&pump].contains(&vec!["logs".to_string(), "capture".to_string()]),
        "logs/pump.rs imports logs/capture.rs: {:?}",
        graph[&pump]
    );
    // Depth-first search; a grey node met again closes a circle.
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path = Vec::new();
        if let Some(circle) = find_circle(&graph, start, &mut path, &mut done) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
}

fn find_circle(
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    node: &Vec<String>,
    path: &mut Vec<Vec<String>>,
    done: &mut BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut circle: Vec<String> = path[at..].iter().map(|m| m.join("/")).collect();
        circle.push(node.join("/"));
        return Some(circle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.clone());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(circle) = find_circle(graph, next, path, done) {
            return Some(circle);
        }
    }
    path.pop();
    done.insert(node.clone());
    None
}
