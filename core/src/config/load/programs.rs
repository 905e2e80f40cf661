//! The process sections: `[program:x]`, `[eventlistener:x]`,
//! `[fcgi-program:x]` and `[group:x]`, as the reference's
//! `process_groups_from_parser` reads them: `numprocs` into concrete
//! processes, per-process expansion, the channel and credential options,
//! regrouping and the final sort. Builds on [`super::reader`] only.

use std::path::Path;

use super::reader::{Loader, Value, s, section_suffix};
use crate::config::error::{MessageLevel, ParseMessage};
use crate::config::event_types::EventType;
use crate::config::expand::{ExpValue, Expansions, expand_layers};
use crate::config::known::SectionKind;
use crate::config::model::*;
use crate::config::plugin_spec::DEFAULT_RESULT_HANDLER;
use crate::config::types::{self, LogFile, LogFileValue};

impl Loader {
    fn name_or_error(&mut self, section: &str, raw_name: &str) -> String {
        match types::process_name(raw_name) {
            Ok(n) => n,
            Err(e) => {
                self.section_error(
                    section,
                    format!("bad name {}: {}", crate::pyrepr::py_repr(raw_name), e.ours),
                );
                raw_name.trim().to_string()
            }
        }
    }

    pub(super) fn groups(&mut self) -> Vec<GroupConfig> {
        let all: Vec<String> = self.ini.section_names().map(str::to_string).collect();
        let mut here = Expansions::new();
        here.insert("here".into(), s(self.here_str()));
        let mut groups = Vec::new();
        let mut excluded: std::collections::HashSet<String> = std::collections::HashSet::new();

        for section in all.iter().filter(|n| n.starts_with("group:")) {
            let suffix = section_suffix(section).to_string();
            let group_name = self.name_or_error(section, &suffix);
            let programs = self
                .get(section, "programs", &here)
                .map(|v| types::list_of_strings(&v.text))
                .unwrap_or_default();
            let priority = self.typed(section, "priority", &here, 999, types::integer);
            let mut processes = Vec::new();
            for program in programs {
                let program_section = format!("program:{program}");
                let fcgi_section = format!("fcgi-program:{program}");
                let is_program = self.ini.has_section(&program_section);
                let is_fcgi = self.ini.has_section(&fcgi_section);
                let member = match (is_program, is_fcgi) {
                    (false, false) => {
                        let value = self.raw(section, "programs");
                        self.error_at(
                            section,
                            "programs",
                            value.as_ref(),
                            format!(
                                "no [program:{program}] or [fcgi-program:{program}] section exists"
                            ),
                        );
                        continue;
                    }
                    (true, true) => {
                        let value = self.raw(section, "programs");
                        self.error_at(
                            section,
                            "programs",
                            value.as_ref(),
                            format!(
                                "{program} is ambiguous: both [program:{program}] and \
                                 [fcgi-program:{program}] exist"
                            ),
                        );
                        continue;
                    }
                    (true, false) => program_section,
                    (false, true) => fcgi_section,
                };
                excluded.insert(member.clone());
                processes.extend(self.processes(&member, &group_name));
            }
            groups.push(GroupConfig {
                name: group_name,
                priority,
                kind: GroupKind::Program,
                processes,
            });
        }

        for section in all.iter().filter(|n| n.starts_with("program:")) {
            if excluded.contains(section) {
                continue;
            }
            let suffix = section_suffix(section).to_string();
            let name = self.name_or_error(section, &suffix);
            let priority = self.typed(section, "priority", &here, 999, types::integer);
            let processes = self.processes(section, &name);
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::Program,
                processes,
            });
        }

        for section in all.iter().filter(|n| n.starts_with("eventlistener:")) {
            let pool_name = section_suffix(section).to_string();
            let priority = self.typed(section, "priority", &here, -1, types::integer);
            let buffer_size = self.typed(section, "buffer_size", &here, 10, types::integer);
            if buffer_size < 1 {
                let value = self.raw(section, "buffer_size");
                self.error_at(
                    section,
                    "buffer_size",
                    value.as_ref(),
                    "must be 1 or more".to_string(),
                );
            }
            let result_handler = match self.get(section, "result_handler", &here) {
                Some(v) => {
                    self.check_factory(section, "result_handler", &v, DEFAULT_RESULT_HANDLER)
                }
                None => DEFAULT_RESULT_HANDLER.to_string(),
            };
            let events_value = self.get(section, "events", &here);
            let mut events: Vec<String> = events_value
                .as_ref()
                .map(|v| types::list_of_strings(&v.text))
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.to_uppercase())
                .collect();
            events.sort();
            events.dedup();
            if events.is_empty() {
                self.error_at(
                    section,
                    "events",
                    events_value.as_ref(),
                    "an eventlistener needs an events option naming the event types it \
                     listens to"
                        .to_string(),
                );
            }
            for event in &events {
                if EventType::from_name(event).is_none() {
                    self.error_at(
                        section,
                        "events",
                        events_value.as_ref(),
                        format!("unknown event type {event}"),
                    );
                }
            }
            let redirect = self.typed(section, "redirect_stderr", &here, false, types::boolean);
            if redirect {
                let value = self.raw(section, "redirect_stderr");
                self.error_at(
                    section,
                    "redirect_stderr",
                    value.as_ref(),
                    "an eventlistener cannot redirect stderr: its stdout carries the \
                     eventlistener protocol"
                        .to_string(),
                );
            }
            let handler_config: Vec<(String, String)> = self
                .ini
                .options(section)
                .into_iter()
                .filter(|e| !SectionKind::EventListener.knows(&e.key))
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            let handler_dir = self.section_dir(section);
            let processes = self.processes(section, &pool_name);
            groups.push(GroupConfig {
                name: pool_name,
                priority,
                kind: GroupKind::EventListener {
                    buffer_size,
                    events,
                    result_handler,
                    handler_config,
                    handler_dir,
                },
                processes,
            });
        }

        for section in all.iter().filter(|n| n.starts_with("fcgi-program:")) {
            if excluded.contains(section) {
                continue;
            }
            let suffix = section_suffix(section).to_string();
            let name = self.name_or_error(section, &suffix);
            let priority = self.typed(section, "priority", &here, 999, types::integer);
            let proc_user = self.typed_opt(section, "user", &here, types::user);
            let backlog = self.get(section, "socket_backlog", &here).and_then(|v| {
                match types::integer(&v.text) {
                    Ok(n) if (1..=65535).contains(&n) => Some(n as u32),
                    Ok(_) => {
                        self.error_at(
                            section,
                            "socket_backlog",
                            Some(&v),
                            "must be from 1 to 65535".to_string(),
                        );
                        None
                    }
                    Err(e) => {
                        self.error_at(section, "socket_backlog", Some(&v), e.ours);
                        None
                    }
                }
            });
            let owner_value = self.get(section, "socket_owner", &here);
            let owner = self.parse_opt(section, "socket_owner", owner_value.as_ref(), types::owner);
            let mode_value = self.get(section, "socket_mode", &here);
            let mode = self.parse_opt(section, "socket_mode", mode_value.as_ref(), types::octal);
            let mut socket_names = here.clone();
            socket_names.insert("program_name".into(), s(name.clone()));
            let socket_value = self
                .get(section, "socket", &socket_names)
                .filter(|v| !v.text.is_empty());
            let socket = match &socket_value {
                None => {
                    if self
                        .raw(section, "socket")
                        .is_none_or(|v| v.text.is_empty())
                    {
                        self.section_error(
                            section,
                            "an fcgi-program needs a socket option (unix:///path or \
                             tcp://host:port)"
                                .to_string(),
                        );
                    }
                    None
                }
                Some(v) => {
                    let parsed = parse_fcgi_socket(
                        &v.text,
                        proc_user.as_ref(),
                        owner,
                        owner_value.is_some(),
                        mode,
                        mode_value.is_some(),
                    );
                    match parsed {
                        Ok(s) => Some(s),
                        Err(problem) => {
                            self.error_at(section, "socket", Some(v), problem);
                            None
                        }
                    }
                }
            };
            let processes = self.processes(section, &name);
            if let Some(socket) = socket {
                groups.push(GroupConfig {
                    name,
                    priority,
                    kind: GroupKind::FastCgi { socket, backlog },
                    processes,
                });
            }
        }

        // Python's stable sort by (priority, name).
        groups.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        groups
    }

    /// The reference's `processes_from_section`: the concrete processes
    /// of one program-like section.
    pub(super) fn processes(&mut self, section: &str, group_name: &str) -> Vec<ProcessConfig> {
        let suffix = section_suffix(section).to_string();
        let program_name = self.name_or_error(section, &suffix);
        let mut common = Expansions::new();
        common.insert("here".into(), s(self.here_str()));
        common.insert("program_name".into(), s(program_name.clone()));
        common.insert("host_node_name".into(), s(self.host.clone()));
        common.insert("group_name".into(), s(group_name));

        let priority = self.typed(section, "priority", &common, 999, types::integer);
        let autostart = self.typed(section, "autostart", &common, true, types::boolean);
        let autorestart = self.typed(
            section,
            "autorestart",
            &common,
            types::AutoRestart::Unexpected,
            types::autorestart,
        );
        let startsecs = self.typed(section, "startsecs", &common, 1, types::integer);
        let startretries = self.typed(section, "startretries", &common, 3, types::integer);
        let stopsignal = self.typed(section, "stopsignal", &common, 15, types::signal);
        let stopwaitsecs = self.typed(section, "stopwaitsecs", &common, 10, types::integer);
        let stopasgroup = self.typed(section, "stopasgroup", &common, false, types::boolean);
        let killasgroup = self.typed(section, "killasgroup", &common, stopasgroup, types::boolean);
        let exitcodes: std::sync::Arc<[i32]> = self
            .typed(section, "exitcodes", &common, vec![0], types::exitcodes)
            .into();
        let redirect_stderr =
            self.typed(section, "redirect_stderr", &common, false, types::boolean);
        let numprocs = self.typed(section, "numprocs", &common, 1, types::integer);
        let numprocs = self.numprocs_override(section).unwrap_or(numprocs);
        let numprocs_start = self.typed(section, "numprocs_start", &common, 0, types::integer);
        let environment_raw = self.raw(section, "environment");
        let stdout_capture = self.typed(
            section,
            "stdout_capture_maxbytes",
            &common,
            0,
            types::byte_size,
        );
        let stdout_events = self.typed(
            section,
            "stdout_events_enabled",
            &common,
            false,
            types::boolean,
        );
        let stderr_capture = self.typed(
            section,
            "stderr_capture_maxbytes",
            &common,
            0,
            types::byte_size,
        );
        let stderr_events = self.typed(
            section,
            "stderr_events_enabled",
            &common,
            false,
            types::boolean,
        );
        let serverurl = self
            .get(section, "serverurl", &common)
            .map(|v| v.text)
            .filter(|u| !u.trim().eq_ignore_ascii_case("auto"));
        let user = self.typed_opt(section, "user", &common, types::user);
        // Container output (ours): None leaves it to [supervisord].
        let forward_output = self.typed_opt(section, "forward_output", &common, types::boolean);
        let umask = self.typed_opt(section, "umask", &common, types::octal);
        let name_raw = self.raw(section, "process_name");
        let name_template = match &name_raw {
            None => "%(program_name)s".to_string(),
            Some(v) => match types::process_name(&v.text) {
                Ok(n) => n,
                Err(e) => {
                    self.error_at(section, "process_name", Some(v), e.ours);
                    v.text.trim().to_string()
                }
            },
        };
        if numprocs > 1 && !name_template.contains("%(process_num)") {
            let (option, value) = match &name_raw {
                Some(v) => ("process_name", Some(v.clone())),
                None => ("numprocs", self.raw(section, "numprocs")),
            };
            self.error_at(
                section,
                option,
                value.as_ref(),
                format!(
                    "with numprocs = {numprocs}, process_name must contain %(process_num) \
                     so that every process gets its own name"
                ),
            );
        }
        if stopasgroup && !killasgroup {
            let value = self.raw(section, "killasgroup");
            self.error_at(
                section,
                "killasgroup",
                value.as_ref(),
                "cannot be false when stopasgroup is true (stopping the group implies \
                 killing it)"
                    .to_string(),
            );
        }

        let (backoff, shutdown_on) = self.restart_policy(section, &common, autorestart);

        let mut processes = Vec::new();
        let end = numprocs_start.saturating_add(numprocs.max(0));
        for process_num in numprocs_start..end {
            common.insert("process_num".into(), ExpValue::Int(process_num));
            common.insert("numprocs".into(), ExpValue::Int(numprocs));
            // Python re-applies the environment names here, undoing a
            // program ENV_ name of the previous process that shadows one.
            common.retain(|k, _| !self.environ.contains_key(k));
            // `environment_file` (ours) lies under `environment`, which
            // may expand its variables.
            let mut environment = self.environment_files(section, &common);
            for (k, v) in &environment {
                common.insert(format!("ENV_{k}"), s(v.clone()));
            }
            if let Some(raw) = &environment_raw
                && let Some(text) = self.expand_with_env(section, "environment", raw, &common)
            {
                match types::environment(&text) {
                    Ok(mut env) => environment.append(&mut env),
                    Err(e) => self.error_at(section, "environment", Some(raw), e.ours),
                }
            }
            for (k, v) in &environment {
                common.insert(format!("ENV_{k}"), s(v.clone()));
            }
            let directory = self.get(section, "directory", &common).map(|v| v.text);
            let stdout = self.channel(section, "stdout", &common, stdout_capture, stdout_events);
            let mut stderr =
                self.channel(section, "stderr", &common, stderr_capture, stderr_events);
            if redirect_stderr {
                if matches!(stderr.logfile, LogFile::Path(_)) {
                    self.messages.push(ParseMessage {
                        level: MessageLevel::Warn,
                        text: format!(
                            "For [{section}], redirect_stderr=true but stderr_logfile has also \
                             been set to a filename, the filename has been ignored"
                        ),
                    });
                }
                stderr.logfile = LogFile::None;
            }
            // Checked per process, as in the reference: with numprocs = 0
            // a section without a command is accepted.
            if self.raw(section, "command").is_none() {
                self.section_error(
                    section,
                    "the section has no command option (the program to run)".to_string(),
                );
            }
            let command = self
                .get(section, "command", &common)
                .map(|v| v.text)
                .unwrap_or_default();
            let name = match expand_layers(&name_template, &[&self.environ, &common]) {
                Ok(n) => n,
                Err(_) => {
                    if let Some(v) = &name_raw {
                        self.expand_with_env(section, "process_name", v, &common);
                    }
                    name_template.clone()
                }
            };
            // Per process: a check's port may be `%(process_num)s`-based.
            let (ready_check, ready_timeout, watchdog_secs) =
                self.ready_check(section, &common, startsecs);
            let health_check = self.health_check(section, &common);
            let options = ProcessOptions {
                section: section.to_string(),
                program_name: program_name.clone(),
                directory,
                umask,
                priority,
                autostart,
                autorestart,
                startsecs,
                startretries,
                user: user.clone(),
                stopsignal,
                stopwaitsecs,
                stopasgroup,
                killasgroup,
                exitcodes: std::sync::Arc::clone(&exitcodes),
                redirect_stderr,
                environment,
                serverurl: serverurl.clone(),
                depends_on: self.depends_on(section, &common),
                backoff,
                shutdown_on,
                forward_output,
                ready_check,
                ready_timeout,
                watchdog_secs,
                health_check,
            }
            .shared_with(processes.last().map(|p: &ProcessConfig| &p.options));
            processes.push(ProcessConfig {
                name,
                process_num,
                command,
                stdout,
                stderr,
                requires: Vec::new(),
                options,
            });
        }
        processes.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        processes
    }

    /// One channel's log options. The logfile value is expanded twice,
    /// as in the reference (once on reading, once more explicitly).
    pub(super) fn channel(
        &mut self,
        section: &str,
        channel: &str,
        names: &Expansions,
        capture_maxbytes: u64,
        events_enabled: bool,
    ) -> ChannelLog {
        let lf_key = format!("{channel}_logfile");
        let file_value = self.get(section, &lf_key, names).and_then(|v| {
            let text = self.expand_with_env(section, &lf_key, &v, names)?;
            Some(Value { text, ..v })
        });
        let backups = self.typed(
            section,
            &format!("{channel}_logfile_backups"),
            names,
            10,
            types::integer,
        );
        let maxbytes = self.typed(
            section,
            &format!("{channel}_logfile_maxbytes"),
            names,
            50 << 20,
            types::byte_size,
        );
        let mut syslog = self.typed(
            section,
            &format!("{channel}_syslog"),
            names,
            false,
            types::boolean,
        );
        let logfile = match &file_value {
            None => LogFile::Auto,
            Some(v) => match types::logfile(&v.text) {
                Ok(LogFileValue::File(f)) => f,
                Ok(LogFileValue::Syslog) => {
                    self.messages.push(ParseMessage {
                        level: MessageLevel::Warn,
                        text: format!(
                            "For [{section}], {lf_key}=syslog but this is deprecated and will \
                             be removed.  Use {channel}_syslog=true to enable syslog instead."
                        ),
                    });
                    syslog = true;
                    LogFile::None
                }
                Err(e) => {
                    self.error_at(section, &lf_key, Some(v), e.ours);
                    LogFile::None
                }
            },
        };
        if logfile == LogFile::Auto && maxbytes == 0 {
            self.messages.push(ParseMessage {
                level: MessageLevel::Warn,
                text: format!(
                    "For [{section}], AUTO logging used for {lf_key} without rollover, set \
                     maxbytes > 0 to avoid filling up filesystem unintentionally"
                ),
            });
        }
        ChannelLog {
            logfile,
            maxbytes,
            backups,
            capture_maxbytes,
            events_enabled,
            syslog,
        }
    }

    pub(super) fn credentials(&mut self, section: &str) -> Option<Credentials> {
        let none = Expansions::new();
        let username = self.get(section, "username", &none);
        let password = self.get(section, "password", &none);
        match (username, password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.text,
                password: p.text,
            }),
            (None, None) => None,
            (Some(v), None) | (None, Some(v)) => {
                let which = if self.raw(section, "username").is_some() {
                    "username"
                } else {
                    "password"
                };
                self.error_at(
                    section,
                    which,
                    Some(&v),
                    "username and password must be given together (or neither)".to_string(),
                );
                None
            }
        }
    }
}

/// The reference's `parse_fcgi_socket`.
fn parse_fcgi_socket(
    value: &str,
    proc_user: Option<&types::UserSpec>,
    owner: Option<types::Owner>,
    owner_given: bool,
    mode: Option<u32>,
    mode_given: bool,
) -> Result<FcgiSocket, String> {
    if let Some(path) = value.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(format!("the unix socket path {path} is not absolute"));
        }
        let owner = owner.or_else(|| {
            let me = nix::unistd::getuid().as_raw();
            proc_user.filter(|u| u.uid != me).map(|u| types::Owner {
                uid: u.uid,
                gid: Some(u.gid),
            })
        });
        return Ok(FcgiSocket::Unix {
            path: types::normalize_path(Path::new(path)),
            owner,
            mode: mode.unwrap_or(0o700),
        });
    }
    if owner_given || mode_given {
        return Err(
            "socket_owner and socket_mode apply only to unix sockets (unix:///path)".to_string(),
        );
    }
    // The reference's pattern: tcp://([^\s:]+):(\d+)$
    if let Some((host, port)) = value
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
    {
        let host_ok = !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c == ':');
        let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
        if host_ok && port_ok {
            // Too many digits for an i64 is out of range too.
            let number: i64 = port.parse().unwrap_or(0);
            if !(1..=65535).contains(&number) {
                return Err(format!("port {port} is not from 1 to 65535"));
            }
            return Ok(FcgiSocket::Tcp {
                host: host.to_lowercase(),
                port: number as u16,
            });
        }
    }
    Err("bad socket format: expected unix:///absolute/path or tcp://host:port".to_string())
}
