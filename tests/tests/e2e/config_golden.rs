//! Golden tests of the config loader: every file in tests/fixtures/config
//! is loaded by our loader and by the reference (through
//! tests/fixtures/dump_config.py, run with the venv's python), and the two
//! must agree: both accept with the same resulting values (one `key=value`
//! line per value), or both refuse. For a refused file, a `; expect:
//! TEXT` line in the fixture names text (the bad value) that both error
//! messages must contain.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use supervisor::config::{
    self, AutoRestart, Config, FcgiSocket, GroupKind, LogFile, MainLog, MessageLevel,
};
use supervisor_tests::{reference_bin, run_with_timeout, stdout_text, workspace_root};

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| esc(&v.to_string()))
}

fn logfile(l: &LogFile) -> String {
    match l {
        LogFile::None => "-".to_string(),
        LogFile::Auto => "AUTO".to_string(),
        LogFile::Path(p) => esc(&p.display().to_string()),
    }
}

/// Our model in dump_config.py's line format.
fn dump_ours(c: &Config) -> String {
    let mut o = String::new();
    let s = &c.supervisord;
    let mut line = |text: String| {
        o.push_str(&text);
        o.push('\n');
    };
    line(format!(
        "supervisord.logfile={}",
        match &s.logfile {
            MainLog::Syslog => "syslog".to_string(),
            MainLog::File(p) => esc(&p.display().to_string()),
        }
    ));
    line(format!(
        "supervisord.logfile_maxbytes={}",
        s.logfile_maxbytes
    ));
    line(format!("supervisord.logfile_backups={}", s.logfile_backups));
    line(format!("supervisord.loglevel={}", s.loglevel.name()));
    line(format!(
        "supervisord.pidfile={}",
        esc(&s.pidfile.display().to_string())
    ));
    line(format!("supervisord.umask={:o}", s.umask));
    line(format!("supervisord.nodaemon={}", s.nodaemon));
    line(format!("supervisord.silent={}", s.silent));
    line(format!("supervisord.minfds={}", s.minfds));
    line(format!("supervisord.minprocs={}", s.minprocs));
    line(format!("supervisord.nocleanup={}", s.nocleanup));
    line(format!(
        "supervisord.childlogdir={}",
        esc(&s.childlogdir.display().to_string())
    ));
    line(format!(
        "supervisord.user={}",
        opt(s.user.as_ref().map(|u| u.uid))
    ));
    line(format!(
        "supervisord.directory={}",
        opt(s.directory.as_ref().map(|d| d.display().to_string()))
    ));
    line(format!("supervisord.strip_ansi={}", s.strip_ansi));
    line(format!("supervisord.identifier={}", esc(&s.identifier)));
    for (k, v) in &s.environment {
        line(format!("supervisord.environment.{}={}", esc(k), esc(v)));
    }
    for i in &c.inet_http_servers {
        line(format!("server.{}.host={}", i.section, esc(&i.host)));
        line(format!("server.{}.port={}", i.section, i.port));
        let cred = i.credentials.as_ref();
        line(format!(
            "server.{}.username={}",
            i.section,
            opt(cred.map(|c| &c.username))
        ));
        line(format!(
            "server.{}.password={}",
            i.section,
            opt(cred.map(|c| &c.password))
        ));
    }
    for u in &c.unix_http_servers {
        line(format!(
            "server.{}.file={}",
            u.section,
            esc(&u.file.display().to_string())
        ));
        line(format!("server.{}.chmod={:o}", u.section, u.chmod));
        line(format!(
            "server.{}.chown={}",
            u.section,
            match u.chown {
                None => "-".to_string(),
                Some(o) => format!("{}:{}", o.uid, opt(o.gid)),
            }
        ));
        let cred = u.credentials.as_ref();
        line(format!(
            "server.{}.username={}",
            u.section,
            opt(cred.map(|c| &c.username))
        ));
        line(format!(
            "server.{}.password={}",
            u.section,
            opt(cred.map(|c| &c.password))
        ));
    }
    for r in &c.rpcinterfaces {
        line(format!("rpcinterface.{}.factory={}", r.name, r.factory));
        for (k, v) in &r.extras {
            line(format!("rpcinterface.{}.{}={}", r.name, k, esc(v)));
        }
    }
    for (index, g) in c.groups.iter().enumerate() {
        let kind = match &g.kind {
            GroupKind::Program => "program",
            GroupKind::FastCgi { .. } => "fcgi",
            GroupKind::EventListener { .. } => "eventlistener",
        };
        let gp = format!("group.{index}");
        line(format!("{gp}={} {kind} {}", esc(&g.name), g.priority));
        match &g.kind {
            GroupKind::EventListener {
                buffer_size,
                events,
                result_handler,
                ..
            } => {
                line(format!("{gp}.events={}", events.join(",")));
                line(format!("{gp}.buffer_size={buffer_size}"));
                line(format!("{gp}.result_handler={result_handler}"));
            }
            GroupKind::FastCgi { socket, .. } => {
                let url = match socket {
                    FcgiSocket::Unix { .. } | FcgiSocket::Tcp { .. } => socket.url(),
                };
                line(format!("{gp}.socket={}", esc(&url)));
            }
            GroupKind::Program => {}
        }
        for (pindex, p) in g.processes.iter().enumerate() {
            let pp = format!("{gp}.process.{pindex}");
            let ar = match p.autorestart {
                AutoRestart::Always => "true",
                AutoRestart::Never => "false",
                AutoRestart::Unexpected => "unexpected",
            };
            line(format!("{pp}.name={}", esc(&p.name)));
            line(format!("{pp}.command={}", esc(&p.command)));
            line(format!("{pp}.directory={}", opt(p.directory.as_ref())));
            line(format!("{pp}.priority={}", p.priority));
            line(format!("{pp}.autostart={}", p.autostart));
            line(format!("{pp}.autorestart={ar}"));
            line(format!("{pp}.startsecs={}", p.startsecs));
            line(format!("{pp}.startretries={}", p.startretries));
            line(format!("{pp}.uid={}", opt(p.user.as_ref().map(|u| u.uid))));
            line(format!("{pp}.stopsignal={}", p.stopsignal));
            line(format!("{pp}.stopwaitsecs={}", p.stopwaitsecs));
            line(format!("{pp}.stopasgroup={}", p.stopasgroup));
            line(format!("{pp}.killasgroup={}", p.killasgroup));
            line(format!("{pp}.redirect_stderr={}", p.redirect_stderr));
            line(format!("{pp}.serverurl={}", opt(p.serverurl.as_ref())));
            line(format!(
                "{pp}.umask={}",
                p.umask
                    .map_or_else(|| "-".to_string(), |m| format!("{m:o}"))
            ));
            let codes: Vec<String> = p.exitcodes.iter().map(ToString::to_string).collect();
            line(format!("{pp}.exitcodes={}", codes.join(",")));
            for (ch, log) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
                line(format!("{pp}.{ch}_logfile={}", logfile(&log.logfile)));
                line(format!("{pp}.{ch}_logfile_maxbytes={}", log.maxbytes));
                line(format!("{pp}.{ch}_logfile_backups={}", log.backups));
                line(format!(
                    "{pp}.{ch}_capture_maxbytes={}",
                    log.capture_maxbytes
                ));
                line(format!("{pp}.{ch}_events_enabled={}", log.events_enabled));
                line(format!("{pp}.{ch}_syslog={}", log.syslog));
            }
            for (k, v) in &p.environment {
                line(format!("{pp}.environment.{}={}", esc(k), esc(v)));
            }
        }
    }
    // The unknown-name warnings are ours (the reference says nothing);
    // `conveniences.rs` tests them.
    let unknown: Vec<String> = c.unknown.iter().map(ToString::to_string).collect();
    for m in c.messages.iter().filter(|m| !unknown.contains(&m.text)) {
        let level = match m.level {
            MessageLevel::Info => "info",
            MessageLevel::Warn => "warn",
            MessageLevel::Critical => "critical",
        };
        line(format!("message.{level}={}", esc(&m.text)));
    }
    o
}

fn fixtures() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/fixtures/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the fixture folder exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files
}

/// The reference's dump of every file, by file, from one python run (a
/// python start per file would cost seconds).
fn reference_dumps(paths: &[PathBuf], ctl: bool) -> Vec<String> {
    let script = workspace_root().join("tests/fixtures/dump_config.py");
    let mut cmd = Command::new(reference_bin("python"));
    cmd.arg(script);
    if ctl {
        cmd.arg("--ctl");
    }
    // A lone file prints no header: always pass at least two.
    cmd.args(paths).arg(paths[0].as_os_str());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "dump_config.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout_text(&out);
    let mut dumps: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("### ") {
            dumps.push(String::new());
        } else if let Some(current) = dumps.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    assert_eq!(dumps.len(), paths.len() + 1, "one dump per file");
    dumps.truncate(paths.len());
    dumps
}

/// The `; expect: TEXT` lines of a fixture.
fn expectations(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("; expect: "))
        .map(str::to_string)
        .collect()
}

/// Compare one fixture; returns a description of the disagreement.
fn compare(path: &Path, theirs: &str) -> Option<String> {
    let ours = config::load_config(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meant_bad = name.starts_with("bad_");
    if theirs.starts_with("error=") != meant_bad {
        return Some(format!(
            "{name}: the fixture's name says {} but the reference says: {}",
            if meant_bad { "refused" } else { "accepted" },
            theirs.lines().next().unwrap_or("")
        ));
    }
    match (theirs.strip_prefix("error="), ours) {
        (Some(their_error), Err(our_errors)) => {
            let our_text = our_errors.to_string();
            for expected in expectations(path) {
                if !their_error.contains(&expected) {
                    return Some(format!(
                        "{name}: the reference's error does not contain {expected:?}: {their_error}"
                    ));
                }
                if !our_text.contains(&expected) {
                    return Some(format!(
                        "{name}: our error does not contain {expected:?}: {our_text}"
                    ));
                }
            }
            None
        }
        (Some(their_error), Ok(_)) => Some(format!(
            "{name}: the reference refuses ({}) but we accept",
            their_error.trim()
        )),
        (None, Err(e)) => Some(format!("{name}: the reference accepts but we refuse: {e}")),
        (None, Ok(c)) => {
            let ours = dump_ours(&c);
            let mut diff = String::new();
            let theirs: Vec<&str> = theirs.lines().collect();
            let ours: Vec<&str> = ours.lines().collect();
            for l in &theirs {
                if !ours.contains(l) {
                    let _ = writeln!(diff, "  reference only: {l}");
                }
            }
            for l in &ours {
                if !theirs.contains(l) {
                    let _ = writeln!(diff, "  ours only:      {l}");
                }
            }
            if diff.is_empty() && theirs != ours {
                diff.push_str("  same lines, different order\n");
            }
            (!diff.is_empty()).then(|| format!("{name}:\n{diff}"))
        }
    }
}

#[test]
fn every_fixture_loads_like_the_reference() {
    let files = fixtures();
    assert!(files.len() >= 20, "the corpus has its fixtures");
    let dumps = reference_dumps(&files, false);
    let failures: Vec<String> = files
        .iter()
        .zip(&dumps)
        .filter_map(|(f, theirs)| compare(f, theirs))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures disagree:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn fixture_corpus_has_both_accepted_and_refused_files() {
    let refused = fixtures()
        .iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("bad_"))
        })
        .count();
    assert!(refused >= 10);
    assert!(fixtures().len() - refused >= 10);
}

fn ctl_dump_ours(c: &config::CtlConfig) -> String {
    format!(
        "serverurl={}\nusername={}\npassword={}\nprompt={}\nhistory_file={}\n",
        esc(&c.serverurl),
        opt(c.username.as_ref()),
        opt(c.password.as_ref()),
        esc(&c.prompt),
        opt(c.history_file.as_ref().map(|h| h.display().to_string())),
    )
}

#[test]
fn every_supervisorctl_fixture_loads_like_the_reference() {
    let dir = workspace_root().join("tests/fixtures/config/ctl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the ctl fixture folder exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let dumps = reference_dumps(&files, true);
    let mut failures = Vec::new();
    for (path, theirs) in files.iter().zip(&dumps) {
        let ours = config::load_ctl_config(path);
        let name = path.display();
        match (theirs.starts_with("error="), ours) {
            (true, Err(_)) => {}
            (false, Ok(c)) if ctl_dump_ours(&c) == *theirs => {}
            (false, Ok(c)) => failures.push(format!(
                "{name}:\n reference: {theirs}\n ours: {}",
                ctl_dump_ours(&c)
            )),
            (true, Ok(_)) => failures.push(format!("{name}: we accept, reference: {theirs}")),
            (false, Err(e)) => failures.push(format!("{name}: we refuse ({e}), reference accepts")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
