//! A readable summary of a loaded configuration: what `supervisord
//! --test-config` prints. One line per server, group and process with the
//! settings people check first. Pure formatting; no I/O.

use std::fmt::Write as _;

use super::error::MessageLevel;
use super::model::{Config, FcgiSocket, GroupKind, MainLog, ProcessConfig};
use super::types::{AutoRestart, LogFile};

fn logfile(l: &LogFile) -> String {
    match l {
        LogFile::None => "none".to_string(),
        LogFile::Auto => "AUTO".to_string(),
        LogFile::Path(p) => p.display().to_string(),
    }
}

fn autorestart(a: AutoRestart) -> &'static str {
    match a {
        AutoRestart::Never => "false",
        AutoRestart::Unexpected => "unexpected",
        AutoRestart::Always => "true",
    }
}

fn process_line(out: &mut String, group: &str, p: &ProcessConfig) {
    let namespec = if group == p.name {
        p.name.clone()
    } else {
        format!("{group}:{}", p.name)
    };
    let _ = writeln!(
        out,
        "    {namespec}: priority={} autostart={} autorestart={} startsecs={} \
         stopsignal={} user={} stdout={} stderr={}",
        p.priority,
        p.autostart,
        autorestart(p.autorestart),
        p.startsecs,
        supervisor_sdk::signal::signame(p.stopsignal),
        p.user.as_ref().map_or("-", |u| u.name.as_str()),
        logfile(&p.stdout.logfile),
        if p.redirect_stderr {
            "(redirected)".to_string()
        } else {
            logfile(&p.stderr.logfile)
        },
    );
    let _ = writeln!(out, "      command: {}", p.command);
    if !p.requires.is_empty() {
        let names: Vec<String> = p.requires.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "      depends_on: {}", names.join(", "));
    }
    lifecycle_line(out, p);
}

/// Issue 16's options a process sets, on one line (none: no line).
fn lifecycle_line(out: &mut String, p: &ProcessConfig) {
    use crate::config::lifecycle::{BackoffKind, BackoffPolicy, ShutdownOn};
    let mut parts = Vec::new();
    if let Some(check) = &p.ready_check {
        parts.push(format!(
            "ready_check={check} ready_timeout={}",
            p.ready_timeout
        ));
    }
    if let Some(secs) = p.watchdog_secs {
        parts.push(format!("watchdog_secs={secs}"));
    }
    if let Some(health) = &p.health_check {
        parts.push(format!(
            "health_check={} every {}s, timeout {}s, {} retries",
            health.probe, health.interval, health.timeout, health.retries
        ));
    }
    if p.backoff != BackoffPolicy::default() {
        let b = &p.backoff;
        let kind = match b.kind {
            BackoffKind::Linear => "linear",
            BackoffKind::Exponential => "exponential",
        };
        let max = b.max.map_or("none".to_string(), |m| format!("{m}s"));
        parts.push(format!(
            "backoff={kind} max={max} jitter={}.{:03} retry_forever={}",
            b.jitter_permille / 1000,
            b.jitter_permille % 1000,
            b.forever
        ));
    }
    if let Some(on) = p.shutdown_on {
        let on = match on {
            ShutdownOn::Fatal => "fatal",
            ShutdownOn::Exit => "exit",
        };
        parts.push(format!("shutdown_on={on}"));
    }
    if !parts.is_empty() {
        let _ = writeln!(out, "      {}", parts.join(" "));
    }
}

/// The summary text, ending with a newline.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let s = &config.supervisord;
    let _ = writeln!(out, "config: {}", config.source.display());
    let _ = writeln!(
        out,
        "supervisord: logfile={} loglevel={} pidfile={} childlogdir={} nodaemon={} \
         identifier={}",
        match &s.logfile {
            MainLog::Syslog => "syslog".to_string(),
            MainLog::File(p) => p.display().to_string(),
        },
        s.loglevel.name(),
        s.pidfile.display(),
        s.childlogdir.display(),
        s.nodaemon,
        s.identifier,
    );
    for u in &config.unix_http_servers {
        let _ = writeln!(
            out,
            "[{}]: unix socket {} mode {:04o}{}",
            u.section,
            u.file.display(),
            u.chmod,
            if u.credentials.is_some() {
                " with authentication"
            } else {
                ""
            }
        );
    }
    for i in &config.inet_http_servers {
        let host = if i.host.is_empty() { "*" } else { &i.host };
        let _ = writeln!(
            out,
            "[{}]: http on {host}:{}{}",
            i.section,
            i.port,
            if i.credentials.is_some() {
                " with authentication"
            } else {
                ""
            }
        );
    }
    for r in &config.rpcinterfaces {
        let _ = writeln!(out, "[rpcinterface:{}]: {}", r.name, r.factory);
    }
    if !config.program_defaults.is_empty() {
        let pairs: Vec<String> = config
            .program_defaults
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "[program-defaults]: {}", pairs.join(" "));
    }
    let processes: usize = config.groups.iter().map(|g| g.processes.len()).sum();
    let _ = writeln!(
        out,
        "{} group(s), {processes} process(es), in start order:",
        config.groups.len()
    );
    for g in &config.groups {
        let kind = match &g.kind {
            GroupKind::Program => "program".to_string(),
            GroupKind::FastCgi { socket, .. } => match socket {
                FcgiSocket::Unix { .. } | FcgiSocket::Tcp { .. } => {
                    format!("fcgi-program on {}", socket.url())
                }
            },
            GroupKind::EventListener { events, .. } => {
                format!("eventlistener for {}", events.join(","))
            }
        };
        let _ = writeln!(out, "  {} ({kind}, priority {})", g.name, g.priority);
        for p in &g.processes {
            process_line(&mut out, &g.name, p);
        }
    }
    for m in &config.messages {
        let level = match m.level {
            MessageLevel::Info => "info",
            MessageLevel::Warn => "warn",
            MessageLevel::Critical => "critical",
        };
        let _ = writeln!(out, "{level}: {}", m.text);
    }
    out
}
