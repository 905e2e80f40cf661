//! Test fixture: reports what a spawned child inherited, one `key=value`
//! line each on stdout (argv, cwd, umask, ids, groups, process group, open
//! fds, ignored signals, environment), writes `to-stderr` on stderr, then
//! exits 0. Tests compare the lines with what the spawn spec asked for.

use std::io::Write;

fn status_field(name: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn main() {
    let mut out = String::new();
    let argv: Vec<String> = std::env::args().collect();
    out.push_str(&format!("argv={}\n", argv.join("\u{1f}")));
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("error: {e}"));
    out.push_str(&format!("cwd={cwd}\n"));
    out.push_str(&format!("umask={}\n", status_field("Umask:")));
    out.push_str(&format!("uid={}\n", status_field("Uid:")));
    out.push_str(&format!("gid={}\n", status_field("Gid:")));
    out.push_str(&format!("groups={}\n", status_field("Groups:")));
    out.push_str(&format!("sigign={}\n", status_field("SigIgn:")));
    out.push_str(&format!("pid={}\n", std::process::id()));
    // SAFETY: getpgrp has no preconditions.
    out.push_str(&format!("pgid={}\n", unsafe { libc::getpgrp() }));
    let mut fds = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        for entry in entries.flatten() {
            let target = std::fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            // Skip the descriptor read_dir itself holds on /proc/<pid>/fd.
            if target.ends_with("/fd") {
                continue;
            }
            let fd = entry.file_name().to_string_lossy().into_owned();
            fds.push((fd.parse::<i32>().unwrap_or(-1), target));
        }
    }
    fds.sort();
    let list: Vec<String> = fds.iter().map(|(fd, _)| fd.to_string()).collect();
    out.push_str(&format!("fds={}\n", list.join(",")));
    for (fd, target) in &fds {
        out.push_str(&format!("fd{fd}={target}\n"));
    }
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.sort();
    for (key, value) in env {
        out.push_str(&format!("env:{key}={value}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    let _ = std::io::stderr().write_all(b"to-stderr\n");
}
