//! echo_supervisord_conf: the sample it prints covers every section and
//! option of the configuration manual, the reference Supervisor loads it as
//! printed and with every option switched on, and a daemon runs on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run, stderr_text, stdout_text, wait_for,
};

/// Every section of the manual with every option it documents (plus the
/// 4.x options the manual's index misses: `silent`, `*_syslog`,
/// `socket_backlog`). The sample must mention each one under its section.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "unix_http_server",
        &["file", "chmod", "chown", "username", "password"],
    ),
    ("inet_http_server", &["port", "username", "password"]),
    (
        "supervisord",
        &[
            "logfile",
            "logfile_maxbytes",
            "logfile_backups",
            "loglevel",
            "pidfile",
            "umask",
            "nodaemon",
            "silent",
            "minfds",
            "minprocs",
            "nocleanup",
            "childlogdir",
            "user",
            "directory",
            "strip_ansi",
            "environment",
            "identifier",
        ],
    ),
    (
        "rpcinterface:supervisor",
        &["supervisor.rpcinterface_factory"],
    ),
    (
        "supervisorctl",
        &[
            "serverurl",
            "username",
            "password",
            "prompt",
            "history_file",
        ],
    ),
    ("program:example", PROGRAM_OPTIONS),
    ("eventlistener:examplelistener", LISTENER_OPTIONS),
    (
        "fcgi-program:examplefcgi",
        &[
            "command",
            "socket",
            "socket_backlog",
            "socket_owner",
            "socket_mode",
        ],
    ),
    ("group:examplegroup", &["programs", "priority"]),
    ("include", &["files"]),
];

const PROGRAM_OPTIONS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
];

const LISTENER_OPTIONS: &[&str] = &[
    "command",
    "events",
    "buffer_size",
    "result_handler",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "directory",
    "umask",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "serverurl",
];

/// Loads a config with the reference's own `ServerOptions.realize` (which
/// exits 2 on any config error) and prints the group names it built, one per
/// line, after a `groups:` marker.
const REFERENCE_LOADER: &str = r#"
import sys
from supervisor.options import ServerOptions
options = ServerOptions()
options.realize(args=['-c', sys.argv[1]])
print('groups:')
for group in options.process_group_configs:
    print(group.name)
"#;

fn sample_text() -> String {
    let out = run(our_bin("echo_supervisord_conf"), std::iter::empty::<&str>());
    assert!(out.status.success(), "stderr: {}", stderr_text(&out));
    stdout_text(&out)
}

/// Switch every option of the sample on: option lines (and commented
/// section headers) are the comment lines whose `;` is followed directly by
/// a name or a `[`; prose comments always have a blank after the `;`.
fn uncomment_every_option(sample: &str) -> (String, usize) {
    let mut count = 0;
    let text = sample
        .lines()
        .map(|line| match line.strip_prefix(';') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => {
                count += 1;
                rest
            }
            _ => line,
        })
        .fold(String::new(), |mut acc, line| {
            acc.push_str(line);
            acc.push('\n');
            acc
        });
    (text, count)
}

/// Sections of the sample (commented or not) with the options named in
/// them (commented or not).
fn sections_of(sample: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in sample.lines() {
        let line = line.strip_prefix(';').unwrap_or(line);
        if line.starts_with(' ') || line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header.split(']').next().unwrap_or_default().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, _))) = (&current, line.split_once('=')) {
            sections
                .get_mut(section)
                .expect("the current section was inserted when its header was seen")
                .insert(key.trim().to_string());
        }
    }
    sections
}

fn reference_loads(config: &Path) -> Vec<String> {
    // Sections of plugins bundled with supervisor-rs name `supervisor_rs.`
    // modules, which the reference cannot import: it gets the rest.
    let text = std::fs::read_to_string(config).expect("the config is readable");
    let mut kept = String::new();
    for section in text.split("\n[") {
        if !section.contains("= supervisor_rs.") {
            if !kept.is_empty() {
                kept.push_str("\n[");
            }
            kept.push_str(section);
        }
    }
    let config = &config.with_extension("reference.conf");
    std::fs::write(config, kept).expect("the reference's copy is written");
    let out = run(
        reference_bin("python"),
        [
            "-c",
            REFERENCE_LOADER,
            config.to_str().expect("sandbox paths are UTF-8"),
        ],
    );
    assert!(
        out.status.success(),
        "the reference rejected {}:\n{}{}",
        config.display(),
        stdout_text(&out),
        stderr_text(&out)
    );
    let stdout = stdout_text(&out);
    let (_, groups) = stdout
        .split_once("groups:\n")
        .expect("the loader prints its marker after a successful load");
    groups.lines().map(str::to_string).collect()
}

#[test]
fn echo_conf_ignores_its_arguments_and_exits_zero() {
    let plain = sample_text();
    let out = run(
        our_bin("echo_supervisord_conf"),
        ["--help", "-c", "/nonexistent", "extra"],
    );
    assert!(out.status.success());
    assert_eq!(stdout_text(&out), plain);
    assert!(out.stderr.is_empty(), "stderr: {}", stderr_text(&out));
}

#[test]
fn echo_conf_sample_names_every_section_and_option_of_the_manual() {
    let sections = sections_of(&sample_text());
    let mut missing = Vec::new();
    for (section, options) in SECTIONS {
        match sections.get(*section) {
            None => missing.push(format!("[{section}]")),
            Some(found) => missing.extend(
                options
                    .iter()
                    .filter(|option| !found.contains(**option))
                    .map(|option| format!("[{section}] {option}")),
            ),
        }
    }
    assert!(missing.is_empty(), "not in the sample: {missing:?}");
}

#[test]
fn echo_conf_sample_loads_in_the_reference_as_printed() {
    let sandbox = Sandbox::new();
    let config = sandbox.write("supervisord.conf", &sample_text());
    let groups = reference_loads(&config);
    assert!(
        groups.is_empty(),
        "as printed the sample runs no program, got {groups:?}"
    );
}

#[test]
fn echo_conf_sample_loads_in_the_reference_with_every_option_uncommented() {
    let sandbox = Sandbox::new();
    let (uncommented, switched_on) = uncomment_every_option(&sample_text());
    // Every option of the manual is now a live line of the file.
    let live: BTreeSet<(String, String)> = sections_of(&uncommented)
        .into_iter()
        .flat_map(|(section, keys)| keys.into_iter().map(move |key| (section.clone(), key)))
        .collect();
    assert!(
        switched_on > 90,
        "only {switched_on} lines were switched on"
    );
    assert!(
        uncommented
            .lines()
            .all(|line| !line.starts_with(';') || line == ";" || line.starts_with("; ")),
        "an option line was left commented"
    );
    for (section, options) in SECTIONS {
        for option in *options {
            assert!(
                live.contains(&(section.to_string(), option.to_string())),
                "[{section}] {option} is not live in the uncommented sample"
            );
        }
    }
    let config = sandbox.write("supervisord.conf", &uncommented);
    let mut groups = reference_loads(&config);
    groups.sort();
    // [group:examplegroup] takes [program:example] in, so that program does
    // not form a group of its own: the reference read the group section too.
    assert_eq!(
        groups,
        ["examplefcgi", "examplegroup", "examplelistener"],
        "the reference built other groups from the uncommented sample"
    );
}

#[test]
fn echo_conf_sample_runs_a_reference_daemon_that_answers_supervisorctl() {
    let sandbox = Sandbox::new();
    // Same text, with the daemon's files moved from /tmp into the sandbox so
    // tests never collide on /tmp/supervisor.sock.
    let dir = sandbox.path().to_str().expect("sandbox paths are UTF-8");
    let config = sandbox.write(
        "supervisord.conf",
        &sample_text().replace("/tmp/", &format!("{dir}/")),
    );
    let mut daemon = ChildGuard::spawn(
        std::process::Command::new(reference_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let ctl = |command: &str| {
        run(
            reference_bin("supervisorctl"),
            ["-c", config.to_str().expect("UTF-8"), command],
        )
    };
    let pid = wait_for(
        "the daemon to answer supervisorctl pid",
        Duration::from_secs(20),
        || {
            let out = ctl("pid");
            out.status
                .success()
                .then(|| stdout_text(&out).trim().to_string())
        },
    );
    assert_eq!(pid, daemon.id().to_string());
    let log = sandbox.read("supervisord.log");
    assert!(log.contains("supervisord started with pid"), "log: {log}");
    assert!(ctl("shutdown").status.success());
    assert!(daemon.wait_timeout(Duration::from_secs(20)).success());
}

/// Our own loader (`supervisord --test-config`) must accept the sample
/// too, and build the same groups as the reference from the uncommented one.
fn ours_loads(config: &Path) -> String {
    let out = run(
        our_bin("supervisord"),
        [
            "-c",
            config.to_str().expect("sandbox paths are UTF-8"),
            "--test-config",
        ],
    );
    assert!(
        out.status.success(),
        "our supervisord rejected {}:\n{}{}",
        config.display(),
        stdout_text(&out),
        stderr_text(&out)
    );
    stdout_text(&out)
}

#[test]
fn echo_conf_sample_loads_in_our_supervisord_as_printed_and_uncommented() {
    let sandbox = Sandbox::new();
    let printed = sandbox.write("printed.conf", &sample_text());
    ours_loads(&printed);

    let (uncommented, _) = uncomment_every_option(&sample_text());
    let config = sandbox.write("uncommented.conf", &uncommented);
    let summary = ours_loads(&config);
    for group in reference_loads(&config) {
        assert!(
            summary.contains(&group),
            "our summary misses group {group}:\n{summary}"
        );
    }
}
