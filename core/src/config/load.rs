//! Loading supervisord.conf into the typed model, the way the reference's
//! `ServerOptions.read_config` and `process_groups_from_parser` do it:
//! which names each option may expand, which options are expanded twice,
//! `[include]` and its messages, `numprocs` into concrete processes,
//! `[group:x]` regrouping and the final sort. Unlike the reference, which
//! stops at the first problem, every problem is collected; a load fails
//! exactly when the reference's would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigErrors, MessageLevel, ParseMessage};
use super::expand::{ExpValue, ExpandError, Expansions, expand_layers};
use super::ini::{Entry, Ini};
use super::model::*;
use super::plugin_spec::{BUILTIN_RPCINTERFACE, DEFAULT_RESULT_HANDLER, PluginSpec, SpecError};
use super::types::{self, BadValue, LogFile, LogFileValue};

/// The event type names an eventlistener may subscribe to (the
/// reference's `EventTypes`).
pub const EVENT_TYPES: &[&str] = &[
    "EVENT",
    "PROCESS_STATE",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_UNKNOWN",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_LOG",
    "PROCESS_LOG_STDOUT",
    "PROCESS_LOG_STDERR",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_5",
    "TICK_60",
    "TICK_3600",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
];

/// Every option an `[eventlistener:x]` section has (the program options
/// plus the pool's own); any other key belongs to its result handler.
const EVENTLISTENER_OPTIONS: &[&str] = &[
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
    "buffer_size",
    "events",
    "result_handler",
];

/// What the environment of the load is: the daemon's environment
/// variables (for `%(ENV_X)s`), the node name, and a `-u` given on the
/// command line (which replaces the file's `user` before it is checked,
/// as in the reference).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Environment variables visible as `ENV_<name>`.
    pub environ: BTreeMap<String, String>,
    /// `%(host_node_name)s`.
    pub host_node_name: String,
    /// `-u` from the command line.
    pub cli_user: Option<String>,
}

impl LoadOptions {
    /// The running process's environment and node name.
    pub fn from_process() -> Self {
        LoadOptions {
            environ: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            host_node_name: nix::sys::utsname::uname()
                .map(|u| u.nodename().to_string_lossy().into_owned())
                .unwrap_or_default(),
            cli_user: None,
        }
    }
}

/// Load and validate the config file at `path` with the process's
/// environment.
pub fn load_config(path: &Path) -> Result<Config, ConfigErrors> {
    load_config_with(path, &LoadOptions::from_process())
}

/// Load and validate the config file at `path`.
pub fn load_config_with(path: &Path, options: &LoadOptions) -> Result<Config, ConfigErrors> {
    let here = super::types::normalize_path(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut loader = Loader {
        ini: Ini::default(),
        source: path.to_path_buf(),
        here,
        environ: options
            .environ
            .iter()
            .map(|(k, v)| (format!("ENV_{k}"), ExpValue::Str(v.clone())))
            .collect(),
        host: options.host_node_name.clone(),
        errors: Vec::new(),
        messages: Vec::new(),
    };
    let text = read_file(path)?;
    let syntax = loader.ini.read(&text, path);
    loader.errors.extend(syntax);
    loader.includes();
    if !loader.ini.has_section("supervisord") {
        loader.errors.push(
            ConfigError::new("the file has no [supervisord] section, which supervisord needs")
                .in_file(path),
        );
        return Err(dedup(loader.errors));
    }
    let supervisord = loader.supervisord(options.cli_user.as_deref());
    let rpcinterfaces = loader.rpcinterfaces();
    let mut groups = loader.groups();
    for group in &mut groups {
        for process in &mut group.processes {
            let mut env = supervisord.environment.clone();
            env.append(&mut process.environment);
            process.environment = env;
        }
    }
    let (inet_http_servers, unix_http_servers) = loader.servers();
    if !loader.errors.is_empty() {
        return Err(dedup(loader.errors));
    }
    Ok(Config {
        source: loader.source,
        here: loader.here,
        supervisord,
        unix_http_servers,
        inet_http_servers,
        rpcinterfaces,
        groups,
        messages: loader.messages,
    })
}

/// Read a config file as the reference does, with its two messages.
pub(crate) fn read_file(path: &Path) -> Result<String, ConfigError> {
    if !path.exists() {
        return Err(ConfigError::new(format!(
            "could not find config file {}",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigError::new(format!(
            "could not read config file {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        ConfigError::new(format!(
            "could not read config file {}: not UTF-8 text (byte {} is invalid)",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => e.to_string(),
    }
}

/// Drop repeated errors (the same bad value reached for every process
/// number, or by both the group and the process pass).
fn dedup(errors: Vec<ConfigError>) -> ConfigErrors {
    let mut unique: Vec<ConfigError> = Vec::with_capacity(errors.len());
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    // In file order, so the list reads top to bottom like the file; the
    // sort is stable, so errors of one line keep the order found.
    unique.sort_by(|a, b| {
        (a.file.is_some(), &a.file, a.line.unwrap_or(usize::MAX)).cmp(&(
            b.file.is_some(),
            &b.file,
            b.line.unwrap_or(usize::MAX),
        ))
    });
    ConfigErrors(unique)
}

/// An option's value and where it was written.
#[derive(Debug, Clone)]
struct Value {
    text: String,
    file: PathBuf,
    line: Option<usize>,
}

struct Loader {
    ini: Ini,
    source: PathBuf,
    here: PathBuf,
    /// `ENV_*` names (the process environment, then `[supervisord]
    /// environment`), the reference's `parser.expansions`.
    environ: Expansions,
    host: String,
    errors: Vec<ConfigError>,
    messages: Vec<ParseMessage>,
}

fn s(v: impl Into<String>) -> ExpValue {
    ExpValue::Str(v.into())
}

impl Loader {
    fn here_str(&self) -> String {
        self.here.to_string_lossy().into_owned()
    }

    fn section_file(&self, section: &str) -> PathBuf {
        self.ini
            .section(section)
            .map(|s| s.file.clone())
            .unwrap_or_else(|| self.source.clone())
    }

    /// The directory of the file that holds `section` (where a plugin's
    /// relative paths start).
    fn section_dir(&self, section: &str) -> PathBuf {
        types::normalize_path(&self.section_file(section))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The raw value of an option, not expanded.
    fn raw(&self, section: &str, key: &str) -> Option<Value> {
        self.ini.get(section, key).map(|e: &Entry| Value {
            text: e.value.clone(),
            file: e.file.clone(),
            line: Some(e.line),
        })
    }

    fn error_at(&mut self, section: &str, key: &str, value: Option<&Value>, problem: String) {
        let mut e = ConfigError::new(problem)
            .in_section(section)
            .for_option(key);
        match value {
            Some(v) => {
                e = e.in_file(v.file.clone()).with_value(v.text.clone());
                if let Some(line) = v.line {
                    e = e.at_line(line);
                }
            }
            None => e = e.in_file(self.section_file(section)),
        }
        self.errors.push(e);
    }

    fn section_error(&mut self, section: &str, problem: String) {
        let file = self.section_file(section);
        self.errors
            .push(ConfigError::new(problem).in_section(section).in_file(file));
    }

    /// Expand `value` against `names`, recording a failure.
    fn expand_value(
        &mut self,
        section: &str,
        key: &str,
        value: &Value,
        names: &Expansions,
    ) -> Option<String> {
        let outcome = expand_described(&value.text, &[names]);
        self.record(section, key, value, outcome)
    }

    /// Expand `value` against the environment names plus `extra` (which
    /// win), recording a failure.
    fn expand_with_env(
        &mut self,
        section: &str,
        key: &str,
        value: &Value,
        extra: &Expansions,
    ) -> Option<String> {
        let outcome = expand_described(&value.text, &[&self.environ, extra]);
        self.record(section, key, value, outcome)
    }

    fn record(
        &mut self,
        section: &str,
        key: &str,
        value: &Value,
        outcome: Result<String, String>,
    ) -> Option<String> {
        match outcome {
            Ok(text) => Some(text),
            Err(problem) => {
                self.error_at(section, key, Some(value), problem);
                None
            }
        }
    }

    /// The reference's `saneget`: the option expanded against the
    /// environment names plus `extra` (which win). An expansion failure
    /// is recorded and gives None, as a missing option would.
    fn get(&mut self, section: &str, key: &str, extra: &Expansions) -> Option<Value> {
        let raw = self.raw(section, key)?;
        let text = self.expand_with_env(section, key, &raw, extra)?;
        Some(Value { text, ..raw })
    }

    /// Parse an optional option with `parse`, or use `default`.
    fn typed<T>(
        &mut self,
        section: &str,
        key: &str,
        extra: &Expansions,
        default: T,
        parse: impl Fn(&str) -> types::Parsed<T>,
    ) -> T {
        self.typed_opt(section, key, extra, parse)
            .unwrap_or(default)
    }

    /// Parse an option that has no default with `parse`: `None` when it is
    /// absent or bad (a bad one is recorded as an error).
    fn typed_opt<T>(
        &mut self,
        section: &str,
        key: &str,
        extra: &Expansions,
        parse: impl Fn(&str) -> types::Parsed<T>,
    ) -> Option<T> {
        let value = self.get(section, key, extra);
        self.parse_opt(section, key, value.as_ref(), parse)
    }

    /// Parse an already fetched optional value with `parse`, recording a bad
    /// one as an error; for callers that also need to know it was present.
    fn parse_opt<T>(
        &mut self,
        section: &str,
        key: &str,
        value: Option<&Value>,
        parse: impl Fn(&str) -> types::Parsed<T>,
    ) -> Option<T> {
        let value = value?;
        match parse(&value.text) {
            Ok(t) => Some(t),
            Err(BadValue { ours, .. }) => {
                self.error_at(section, key, Some(value), ours);
                None
            }
        }
    }

    fn includes(&mut self) {
        if !self.ini.has_section("include") {
            return;
        }
        let here = self.here.clone();
        self.ini.expand_here(&here);
        let Some(raw) = self.raw("include", "files") else {
            self.section_error(
                "include",
                "an [include] section needs a files option (glob patterns of files to read)"
                    .to_string(),
            );
            return;
        };
        let mut names = self.environ.clone();
        names.insert("here".into(), s(self.here_str()));
        names.insert("host_node_name".into(), s(self.host.clone()));
        let Some(files) = self.expand_value("include", "files", &raw, &names) else {
            return;
        };
        let base = self.here.clone();
        for pattern in files.split_whitespace() {
            let pattern = base.join(pattern).to_string_lossy().into_owned();
            let options = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: true,
            };
            let mut matches: Vec<String> = match glob::glob_with(&pattern, options) {
                Ok(paths) => paths
                    .filter_map(Result::ok)
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect(),
                Err(e) => {
                    self.error_at(
                        "include",
                        "files",
                        Some(&raw),
                        format!("bad glob pattern {pattern}: {}", e.msg),
                    );
                    continue;
                }
            };
            if matches.is_empty() {
                self.messages.push(ParseMessage {
                    level: MessageLevel::Warn,
                    text: format!("No file matches via include \"{pattern}\""),
                });
                continue;
            }
            matches.sort();
            for file in matches {
                self.messages.push(ParseMessage {
                    level: MessageLevel::Info,
                    text: format!("Included extra file \"{file}\" during parsing"),
                });
                let path = PathBuf::from(&file);
                // The reference's parser skips files it cannot open
                // (directories, unreadable files) without a word.
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let errors = self.ini.read(&text, &path);
                self.errors.extend(errors);
                let dir = types::normalize_path(&path)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("/"));
                self.ini.expand_here(&dir);
            }
        }
    }

    fn supervisord(&mut self, cli_user: Option<&str>) -> SupervisordConfig {
        const S: &str = "supervisord";
        let mut here = Expansions::new();
        here.insert("here".into(), s(self.here_str()));
        let minfds = self.typed(S, "minfds", &here, 1024, types::integer);
        let minprocs = self.typed(S, "minprocs", &here, 200, types::integer);
        let directory =
            self.get(S, "directory", &here).and_then(|v| {
                match types::existing_directory(&v.text) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.error_at(S, "directory", Some(&v), e.ours);
                        None
                    }
                }
            });
        let user_value = self.get(S, "user", &here);
        let umask = self.typed(S, "umask", &here, 0o22, types::octal);
        let logfile_value = self.get(S, "logfile", &here);
        let logfile_text = logfile_value
            .as_ref()
            .map_or_else(|| "supervisord.log".to_string(), |v| v.text.clone());
        let logfile = match types::existing_dirpath(&logfile_text) {
            Ok(path) if logfile_text == "syslog" => {
                let _ = path;
                MainLog::Syslog
            }
            Ok(path) => MainLog::File(types::normalize_path(&path)),
            Err(e) => {
                self.error_at(S, "logfile", logfile_value.as_ref(), e.ours);
                MainLog::Syslog
            }
        };
        let logfile_maxbytes = self.typed(S, "logfile_maxbytes", &here, 50 << 20, types::byte_size);
        let logfile_backups = self.typed(S, "logfile_backups", &here, 10, types::integer);
        let loglevel = self.typed(
            S,
            "loglevel",
            &here,
            types::LogLevel::Info,
            types::log_level,
        );
        let pidfile_value = self.get(S, "pidfile", &here);
        let pidfile_text = pidfile_value
            .as_ref()
            .map_or_else(|| "supervisord.pid".to_string(), |v| v.text.clone());
        let pidfile = match types::existing_dirpath(&pidfile_text) {
            Ok(path) => types::normalize_path(&path),
            Err(e) => {
                self.error_at(S, "pidfile", pidfile_value.as_ref(), e.ours);
                PathBuf::new()
            }
        };
        let identifier = self
            .get(S, "identifier", &here)
            .map_or_else(|| "supervisor".to_string(), |v| v.text);
        let nodaemon = self.typed(S, "nodaemon", &here, false, types::boolean);
        let silent = self.typed(S, "silent", &here, false, types::boolean);
        let tempdir = std::env::var("TMPDIR")
            .ok()
            .filter(|d| Path::new(d).is_dir())
            .unwrap_or_else(|| "/tmp".to_string());
        let childlogdir = match self.get(S, "childlogdir", &here) {
            None => PathBuf::from(tempdir),
            Some(v) => match types::existing_directory(&v.text) {
                Ok(p) => p,
                Err(e) => {
                    self.error_at(S, "childlogdir", Some(&v), e.ours);
                    PathBuf::new()
                }
            },
        };
        let nocleanup = self.typed(S, "nocleanup", &here, false, types::boolean);
        let strip_ansi = self.typed(S, "strip_ansi", &here, false, types::boolean);
        // The reference expands `environment` twice: once on reading, once
        // more with `host_node_name` added.
        let mut environment = Environment::new();
        if let Some(first) = self.get(S, "environment", &here) {
            let mut names = self.environ.clone();
            names.insert("here".into(), s(self.here_str()));
            names.insert("host_node_name".into(), s(self.host.clone()));
            if let Some(text) = self.expand_value(S, "environment", &first, &names) {
                match types::environment(&text) {
                    Ok(env) => environment = env,
                    Err(e) => self.error_at(S, "environment", Some(&first), e.ours),
                }
            }
        }
        for (k, v) in &environment {
            self.environ.insert(format!("ENV_{k}"), s(v.clone()));
        }
        // Only the value that wins (command line over file) is checked,
        // as in the reference.
        let user = match (cli_user, user_value) {
            (Some(name), _) => match types::user(name) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.errors.push(
                        ConfigError::new(format!("-u {name}: {}", e.ours)).for_option("user"),
                    );
                    None
                }
            },
            (None, Some(v)) => match types::user(&v.text) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.error_at(S, "user", Some(&v), e.ours);
                    None
                }
            },
            (None, None) => None,
        };
        SupervisordConfig {
            logfile,
            logfile_maxbytes,
            logfile_backups,
            loglevel,
            pidfile,
            umask,
            nodaemon,
            silent,
            minfds,
            minprocs,
            nocleanup,
            childlogdir,
            user,
            directory,
            strip_ansi,
            environment,
            identifier,
        }
    }

    fn sections_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.ini
            .section_names()
            .filter(|n| n.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    /// Check a `LIBRARY:FACTORY` spec with the parser the plugin loader
    /// uses, and a builtin's factory name here, where the error can name
    /// the file and line. Returns the spec with the blanks around its
    /// colon removed (the reference's entry-point syntax allows them).
    fn check_factory(&mut self, section: &str, key: &str, value: &Value, builtin: &str) -> String {
        let parsed = PluginSpec::parse(&value.text);
        let spec = match &parsed {
            Ok(parsed) => parsed.to_string(),
            Err(_) => value.text.trim().to_string(),
        };
        if spec == builtin {
            return spec;
        }
        let builtin_library = builtin.split_once(':').map(|(library, _)| library);
        let problem = match parsed {
            Err(error) => error.to_string(),
            Ok(PluginSpec { library, factory }) if builtin_library == Some(library) => {
                format!("the builtin {library} has no factory named {factory} (it has {builtin})")
            }
            // The other kind's builtin library offers nothing for this
            // option: to the user it is a Python module like any other.
            Ok(parsed) if parsed.is_builtin() => SpecError::PythonPath {
                library: parsed.library.to_string(),
            }
            .to_string(),
            Ok(_) => return spec,
        };
        self.error_at(
            section,
            key,
            Some(value),
            format!("{spec} cannot be resolved: {problem}"),
        );
        spec
    }

    fn rpcinterfaces(&mut self) -> Vec<RpcInterfaceConfig> {
        const KEY: &str = "supervisor.rpcinterface_factory";
        let none = Expansions::new();
        let mut out = Vec::new();
        for section in self.sections_with_prefix("rpcinterface:") {
            let name = section_suffix(&section).to_string();
            let Some(factory) = self.get(&section, KEY, &none) else {
                if self.raw(&section, KEY).is_none() {
                    self.section_error(
                        &section,
                        format!("the section does not name its factory ({KEY} = LIBRARY:FACTORY)"),
                    );
                }
                continue;
            };
            let spec = self.check_factory(&section, KEY, &factory, BUILTIN_RPCINTERFACE);
            let keys: Vec<String> = self
                .ini
                .options(&section)
                .into_iter()
                .map(|e| e.key.clone())
                .filter(|k| k != KEY)
                .collect();
            let mut extras = BTreeMap::new();
            for key in keys {
                if let Some(v) = self.get(&section, &key, &none) {
                    extras.insert(key, v.text);
                }
            }
            let dir = self.section_dir(&section);
            out.push(RpcInterfaceConfig {
                name,
                factory: spec,
                extras,
                dir,
            });
        }
        out
    }

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

    fn groups(&mut self) -> Vec<GroupConfig> {
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
                if !EVENT_TYPES.contains(&event.as_str()) {
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
                .filter(|e| !EVENTLISTENER_OPTIONS.contains(&e.key.as_str()))
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
    fn processes(&mut self, section: &str, group_name: &str) -> Vec<ProcessConfig> {
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
        let exitcodes = self.typed(section, "exitcodes", &common, vec![0], types::exitcodes);
        let redirect_stderr =
            self.typed(section, "redirect_stderr", &common, false, types::boolean);
        let numprocs = self.typed(section, "numprocs", &common, 1, types::integer);
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

        let mut processes = Vec::new();
        let end = numprocs_start.saturating_add(numprocs.max(0));
        for process_num in numprocs_start..end {
            common.insert("process_num".into(), ExpValue::Int(process_num));
            common.insert("numprocs".into(), ExpValue::Int(numprocs));
            // Python re-applies the environment names here, undoing a
            // program ENV_ name of the previous process that shadows one.
            common.retain(|k, _| !self.environ.contains_key(k));
            let mut environment = Environment::new();
            if let Some(raw) = &environment_raw
                && let Some(text) = self.expand_with_env(section, "environment", raw, &common)
            {
                match types::environment(&text) {
                    Ok(env) => environment = env,
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
            processes.push(ProcessConfig {
                name,
                section: section.to_string(),
                program_name: program_name.clone(),
                process_num,
                command,
                directory,
                umask,
                priority,
                autostart,
                autorestart,
                startsecs,
                startretries,
                user: user.clone(),
                stdout,
                stderr,
                stopsignal,
                stopwaitsecs,
                stopasgroup,
                killasgroup,
                exitcodes: exitcodes.clone(),
                redirect_stderr,
                environment,
                serverurl: serverurl.clone(),
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
    fn channel(
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

    fn credentials(&mut self, section: &str) -> Option<Credentials> {
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

    fn servers(&mut self) -> (Vec<InetHttpServerConfig>, Vec<UnixHttpServerConfig>) {
        let none = Expansions::new();
        let mut inet = Vec::new();
        for section in self.sections_with_prefix("inet_http_server") {
            let credentials = self.credentials(&section);
            let Some(port) = self.get(&section, "port", &none) else {
                if self.raw(&section, "port").is_none() {
                    self.section_error(
                        &section,
                        "the section has no port option ([host:]port to listen on)".to_string(),
                    );
                }
                continue;
            };
            match types::inet_address(&port.text) {
                Ok((host, number)) => inet.push(InetHttpServerConfig {
                    section: section.clone(),
                    host,
                    port: number,
                    credentials,
                }),
                Err(e) => self.error_at(&section, "port", Some(&port), e.ours),
            }
        }
        let mut unix = Vec::new();
        let mut here = Expansions::new();
        here.insert("here".into(), s(self.here_str()));
        for section in self.sections_with_prefix("unix_http_server") {
            let Some(file) = self.get(&section, "file", &here) else {
                if self.raw(&section, "file").is_none() {
                    self.section_error(
                        &section,
                        "the section has no file option (the socket path)".to_string(),
                    );
                }
                continue;
            };
            let path = types::normalize_path(&types::expand_user(
                file.text.trim_matches(char::is_whitespace),
            ));
            let credentials = self.credentials(&section);
            let chown = self.typed_opt(&section, "chown", &none, types::owner);
            let chmod = self.typed(&section, "chmod", &none, 0o700, types::octal);
            unix.push(UnixHttpServerConfig {
                section: section.clone(),
                file: path,
                chmod,
                chown,
                credentials,
            });
        }
        (inet, unix)
    }
}

/// The name after a section's `type:` prefix (`web` of `program:web`).
fn section_suffix(section: &str) -> &str {
    section.split_once(':').map_or("", |(_, name)| name)
}

/// Expand, turning a failure into the problem text of an error.
fn expand_described(template: &str, layers: &[&Expansions]) -> Result<String, String> {
    expand_layers(template, layers).map_err(|e| match e {
        ExpandError::UnknownName(name) => {
            // The environment adds dozens of ENV_ names; list the others
            // and say how many of those there are.
            let mut available: Vec<&str> = layers
                .iter()
                .flat_map(|names| names.keys())
                .map(String::as_str)
                .filter(|k| !k.starts_with("ENV_"))
                .collect();
            available.sort_unstable();
            available.dedup();
            let mut env: Vec<&str> = layers
                .iter()
                .flat_map(|names| names.keys())
                .map(String::as_str)
                .filter(|k| k.starts_with("ENV_"))
                .collect();
            env.sort_unstable();
            env.dedup();
            let hint = match name.strip_prefix("ENV_") {
                Some(var) => format!(" (no environment variable {var} is set)"),
                None => String::new(),
            };
            format!(
                "%({name}) cannot be expanded here{hint}; the names available are: {}, \
                 and ENV_<name> for each of {} environment variables",
                available.join(", "),
                env.len()
            )
        }
        ExpandError::BadFormat(why) => format!("bad %-format: {why} (write %% for a literal %)"),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Loaded {
        _dir: tempfile::TempDir,
        path: PathBuf,
        result: Result<Config, ConfigErrors>,
    }

    fn load_env(text: &str, env: &[(&str, &str)]) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).unwrap();
        let options = LoadOptions {
            environ: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            host_node_name: "node1".into(),
            cli_user: None,
        };
        let result = load_config_with(&path, &options);
        Loaded {
            _dir: dir,
            path,
            result,
        }
    }

    fn ok(text: &str) -> Config {
        load_env(text, &[]).result.unwrap()
    }

    fn errors(text: &str) -> Vec<ConfigError> {
        load_env(text, &[]).result.unwrap_err().0
    }

    #[test]
    fn defaults_of_every_program_option() {
        let c = ok("[supervisord]\n[program:p]\ncommand=/bin/p\n");
        let p = &c.groups[0].processes[0];
        assert_eq!(p.name, "p");
        assert_eq!(p.priority, 999);
        assert!(p.autostart);
        assert_eq!(p.autorestart, types::AutoRestart::Unexpected);
        assert_eq!((p.startsecs, p.startretries, p.stopwaitsecs), (1, 3, 10));
        assert_eq!(p.stopsignal, 15);
        assert_eq!(p.exitcodes, vec![0]);
        assert!(!p.stopasgroup && !p.killasgroup && !p.redirect_stderr);
        assert_eq!(p.stdout.logfile, LogFile::Auto);
        assert_eq!(p.stdout.maxbytes, 50 << 20);
        assert_eq!(p.stdout.backups, 10);
        assert_eq!(p.umask, None);
        assert_eq!(p.serverurl, None);
        let s = &c.supervisord;
        assert_eq!(s.umask, 0o22);
        assert_eq!(s.minfds, 1024);
        assert_eq!(s.minprocs, 200);
        assert_eq!(s.identifier, "supervisor");
        assert_eq!(s.loglevel, types::LogLevel::Info);
    }

    #[test]
    fn numprocs_expand_per_process_and_sort() {
        let c = ok(
            "[supervisord]\n[program:w]\ncommand=/bin/w %(process_num)d\n\
                    process_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nnumprocs_start=9\n\
                    environment=N=%(process_num)d\n",
        );
        let g = &c.groups[0];
        let names: Vec<_> = g.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["w_09", "w_10", "w_11"]);
        assert_eq!(g.processes[1].command, "/bin/w 10");
        assert_eq!(g.processes[2].environment["N"], "11");
    }

    #[test]
    fn env_names_from_process_supervisord_and_program() {
        let loaded = load_env(
            "[supervisord]\nenvironment=G=global,S=sup\n[program:p]\n\
             command=%(ENV_OUTER)s %(ENV_G)s %(ENV_OWN)s %(ENV_S)s\nenvironment=OWN=mine,S=prog\n",
            &[("OUTER", "out")],
        );
        let c = loaded.result.unwrap();
        let p = &c.groups[0].processes[0];
        assert_eq!(p.command, "out global mine prog");
        assert_eq!(p.environment["G"], "global");
        assert_eq!(p.environment["S"], "prog");
    }

    #[test]
    fn every_error_is_reported_with_location() {
        let errs = errors(
            "[supervisord]\nminfds=x\n[program:a]\ncommand=/bin/a\nstartsecs=y\nautostart=maybe\n\
             [program:b]\nstopsignal=NOPE\n",
        );
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 5, "{text:#?}");
        assert_eq!(errs[0].option.as_deref(), Some("minfds"));
        assert_eq!(errs[0].line, Some(2));
        assert_eq!(errs[0].value.as_deref(), Some("x"));
        assert!(text[1].contains("[program:a] startsecs = 'y'"), "{text:#?}");
        assert!(text[2].contains("autostart = 'maybe'"), "{text:#?}");
        assert!(text.iter().any(|t| t.contains("stopsignal = 'NOPE'")));
        assert!(
            text.iter()
                .any(|t| t.contains("[program:b]") && t.contains("command"))
        );
    }

    #[test]
    fn expansion_errors_name_the_missing_key_and_what_is_available() {
        let errs = errors("[supervisord]\n[program:a]\ncommand=%(nope)s\n");
        let text = errs[0].to_string();
        assert!(text.contains("%(nope)"), "{text}");
        assert!(text.contains("program_name"), "{text}");
    }

    #[test]
    fn include_reads_sorted_matches_with_their_own_here() {
        let dir = tempfile::tempdir().unwrap();
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir(&conf_d).unwrap();
        std::fs::write(conf_d.join("b.ini"), "[program:b]\ncommand=%(here)s/b\n").unwrap();
        std::fs::write(conf_d.join("a.ini"), "[program:a]\ncommand=%(here)s/a\n").unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            "[supervisord]\nidentifier=%(here)s\n[include]\nfiles=conf.d/*.ini none/*.x\n",
        )
        .unwrap();
        let c = load_config_with(&path, &LoadOptions::default()).unwrap();
        assert_eq!(c.supervisord.identifier, dir.path().to_string_lossy());
        assert_eq!(
            c.groups[0].processes[0].command,
            format!("{}/a", conf_d.display())
        );
        let texts: Vec<&str> = c.messages.iter().map(|m| m.text.as_str()).collect();
        assert!(texts[0].starts_with("Included extra file \""));
        assert!(texts[0].ends_with("a.ini\" during parsing"));
        assert!(texts[1].ends_with("b.ini\" during parsing"));
        assert!(texts[2].starts_with("No file matches via include \""));
        assert_eq!(c.messages[2].level, MessageLevel::Warn);
    }

    #[test]
    fn heterogeneous_group_keeps_listed_order_and_excludes_members() {
        let c = ok("[supervisord]\n[group:g]\nprograms=z,a\npriority=5\n\
                    [program:a]\ncommand=/a\npriority=1\n[program:z]\ncommand=/z\npriority=9\n\
                    [program:solo]\ncommand=/s\n");
        assert_eq!(c.groups.len(), 2);
        assert_eq!(c.groups[0].name, "g");
        let names: Vec<_> = c.groups[0]
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["z", "a"]);
        assert_eq!(c.groups[1].name, "solo");
    }

    #[test]
    fn servers_and_default_serverurl() {
        let c = ok("[supervisord]\n[inet_http_server]\nport=127.0.0.1:9001\n\
                    [unix_http_server]\nfile=%(here)s/s.sock\nchmod=0777\n");
        assert_eq!(c.inet_http_servers[0].port, 9001);
        assert_eq!(c.unix_http_servers[0].chmod, 0o777);
        assert_eq!(
            c.default_serverurl(),
            Some(format!("unix://{}/s.sock", c.here.display()))
        );
        let errs = errors("[supervisord]\n[inet_http_server]\nport=9001\npassword=p\n");
        assert!(errs[0].to_string().contains("password"));
    }

    #[test]
    fn missing_file_and_missing_supervisord_section() {
        let loaded = load_env("[program:x]\ncommand=/x\n", &[]);
        let errs = loaded.result.unwrap_err();
        assert!(errs.to_string().contains("[supervisord]"));
        assert!(errs.0[0].file.as_deref() == Some(loaded.path.as_path()));
        let missing = load_config_with(Path::new("/nonexistent/s.conf"), &LoadOptions::default());
        assert_eq!(
            missing.unwrap_err().to_string(),
            "could not find config file /nonexistent/s.conf"
        );
    }

    #[test]
    fn cli_user_replaces_the_files_user_before_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, "[supervisord]\nuser=nosuchuser_xyz\n").unwrap();
        let options = LoadOptions {
            cli_user: Some("root".into()),
            ..LoadOptions::default()
        };
        let c = load_config_with(&path, &options).unwrap();
        assert_eq!(c.supervisord.user.map(|u| u.uid), Some(0));
        assert!(load_config_with(&path, &LoadOptions::default()).is_err());
    }

    /// Every validation, one bad value each: the error names the section,
    /// the option and the value as written.
    #[test]
    fn every_validation_error_names_section_option_and_value() {
        let p = "[supervisord]\n[program:p]\ncommand=/bin/p\n";
        let cases: &[(&str, &str, &str, &str)] = &[
            ("[supervisord]\nminfds=x\n", "supervisord", "minfds", "x"),
            (
                "[supervisord]\nminprocs=x\n",
                "supervisord",
                "minprocs",
                "x",
            ),
            ("[supervisord]\numask=9\n", "supervisord", "umask", "9"),
            (
                "[supervisord]\nlogfile=/no/such/dir/x\n",
                "supervisord",
                "logfile",
                "/no/such/dir/x",
            ),
            (
                "[supervisord]\nlogfile_maxbytes=1TB\n",
                "supervisord",
                "logfile_maxbytes",
                "1TB",
            ),
            (
                "[supervisord]\nlogfile_backups=many\n",
                "supervisord",
                "logfile_backups",
                "many",
            ),
            (
                "[supervisord]\nloglevel=loud\n",
                "supervisord",
                "loglevel",
                "loud",
            ),
            (
                "[supervisord]\npidfile=/no/such/dir/p\n",
                "supervisord",
                "pidfile",
                "/no/such/dir/p",
            ),
            (
                "[supervisord]\nnodaemon=perhaps\n",
                "supervisord",
                "nodaemon",
                "perhaps",
            ),
            (
                "[supervisord]\nsilent=perhaps\n",
                "supervisord",
                "silent",
                "perhaps",
            ),
            (
                "[supervisord]\nnocleanup=perhaps\n",
                "supervisord",
                "nocleanup",
                "perhaps",
            ),
            (
                "[supervisord]\nstrip_ansi=perhaps\n",
                "supervisord",
                "strip_ansi",
                "perhaps",
            ),
            (
                "[supervisord]\nchildlogdir=/no/such\n",
                "supervisord",
                "childlogdir",
                "/no/such",
            ),
            (
                "[supervisord]\ndirectory=/no/such\n",
                "supervisord",
                "directory",
                "/no/such",
            ),
            (
                "[supervisord]\nuser=no_such_user_x\n",
                "supervisord",
                "user",
                "no_such_user_x",
            ),
            (
                "[supervisord]\nenvironment=A\n",
                "supervisord",
                "environment",
                "A",
            ),
            (
                "[supervisord]\n[unix_http_server]\nfile=/tmp/s\nchmod=8\n",
                "unix_http_server",
                "chmod",
                "8",
            ),
            (
                "[supervisord]\n[unix_http_server]\nfile=/tmp/s\nchown=no_such_user_x\n",
                "unix_http_server",
                "chown",
                "no_such_user_x",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=http\n",
                "inet_http_server",
                "port",
                "http",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=9001\nusername=u\n",
                "inet_http_server",
                "username",
                "u",
            ),
            (
                "[supervisord]\n[rpcinterface:r]\nsupervisor.rpcinterface_factory=py.mod:f\n",
                "rpcinterface:r",
                "supervisor.rpcinterface_factory",
                "py.mod:f",
            ),
            (
                "[supervisord]\n[group:g]\nprograms=ghost\n",
                "group:g",
                "programs",
                "ghost",
            ),
            (
                "[supervisord]\n[group:g]\npriority=first\n",
                "group:g",
                "priority",
                "first",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=NOPE\n",
                "eventlistener:e",
                "events",
                "NOPE",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\nbuffer_size=0\n",
                "eventlistener:e",
                "buffer_size",
                "0",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\nredirect_stderr=true\n",
                "eventlistener:e",
                "redirect_stderr",
                "true",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\nresult_handler=a.b:c\n",
                "eventlistener:e",
                "result_handler",
                "a.b:c",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\n\
                 result_handler=supervisor.dispatchers:default_handlr\n",
                "eventlistener:e",
                "result_handler",
                "supervisor.dispatchers:default_handlr",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=udp://x\n",
                "fcgi-program:f",
                "socket",
                "udp://x",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=tcp://h:1\nsocket_backlog=0\n",
                "fcgi-program:f",
                "socket_backlog",
                "0",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=unix:///s\nsocket_mode=9\n",
                "fcgi-program:f",
                "socket_mode",
                "9",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=unix:///s\nsocket_owner=no_such_user_x\n",
                "fcgi-program:f",
                "socket_owner",
                "no_such_user_x",
            ),
        ];
        let program_cases: &[(&str, &str)] = &[
            ("priority", "top"),
            ("autostart", "perhaps"),
            ("autorestart", "sometimes"),
            ("startsecs", "soon"),
            ("startretries", "often"),
            ("stopsignal", "STOPPLEASE"),
            ("stopwaitsecs", "long"),
            ("stopasgroup", "perhaps"),
            ("killasgroup", "perhaps"),
            ("exitcodes", "0,300"),
            ("redirect_stderr", "perhaps"),
            ("numprocs", "two"),
            ("numprocs_start", "one"),
            ("environment", "A=1,B"),
            ("stdout_capture_maxbytes", "big"),
            ("stdout_events_enabled", "perhaps"),
            ("stderr_capture_maxbytes", "big"),
            ("stderr_events_enabled", "perhaps"),
            ("user", "no_such_user_x"),
            ("umask", "8"),
            ("process_name", "a/b"),
            ("stdout_logfile", "/no/such/dir/o.log"),
            ("stdout_logfile_backups", "some"),
            ("stdout_logfile_maxbytes", "huge"),
            ("stdout_syslog", "perhaps"),
            ("stderr_logfile", "/no/such/dir/e.log"),
            ("stderr_logfile_backups", "some"),
            ("stderr_logfile_maxbytes", "huge"),
            ("stderr_syslog", "perhaps"),
            ("command", "%(nope)s"),
            ("directory", "%(nope)s"),
            ("serverurl", "%(nope)s"),
        ];
        let mut all: Vec<(String, String, String, String)> = cases
            .iter()
            .map(|(t, s, o, v)| (t.to_string(), s.to_string(), o.to_string(), v.to_string()))
            .collect();
        for (option, value) in program_cases {
            all.push((
                format!("{p}{option}={value}\n"),
                "program:p".to_string(),
                option.to_string(),
                value.to_string(),
            ));
        }
        for (text, section, option, value) in all {
            let errs = errors(&text);
            assert!(
                errs.iter()
                    .any(|e| e.section.as_deref() == Some(section.as_str())
                        && e.option.as_deref() == Some(option.as_str())
                        && e.value.as_deref() == Some(value.as_str())
                        && e.file.is_some()),
                "{section} {option}={value}: {errs:#?}"
            );
        }
    }
}
