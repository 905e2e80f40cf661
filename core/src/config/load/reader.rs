//! The loader's state and primitives: reading the files (`[include]`
//! too), getting a value with its location, expanding `%(name)s`,
//! converting with a checker of [`crate::config::types`] and recording
//! every error. It knows no section but `[include]`; the section readers
//! beside it build on these and must not be needed here.

use std::path::{Path, PathBuf};

use crate::config::envfile;
use crate::config::error::{ConfigError, MessageLevel, ParseMessage};
use crate::config::expand::{ExpValue, ExpandError, Expansions, expand_layers};
use crate::config::ini::{Ini, Section};
use crate::config::known::{self, PROGRAM_DEFAULTS};
use crate::config::model::Environment;
use crate::config::plugin_spec::{PluginSpec, SpecError};
use crate::config::types::{self, BadValue};

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

/// An option's value and where it was written.
#[derive(Debug, Clone)]
pub(super) struct Value {
    pub(super) text: String,
    pub(super) file: PathBuf,
    pub(super) line: Option<usize>,
}

pub(super) struct Loader {
    pub(super) ini: Ini,
    pub(super) source: PathBuf,
    pub(super) here: PathBuf,
    /// `ENV_*` names (the process environment, then `[supervisord]
    /// environment`), the reference's `parser.expansions`.
    pub(super) environ: Expansions,
    pub(super) host: String,
    pub(super) errors: Vec<ConfigError>,
    pub(super) messages: Vec<ParseMessage>,
    /// A section whose `numprocs` is replaced (a scale at run time).
    pub(super) numprocs: Option<(String, i64)>,
}

pub(super) fn s(v: impl Into<String>) -> ExpValue {
    ExpValue::Str(v.into())
}

impl Loader {
    /// The `numprocs` a scale asked for in place of `section`'s own.
    pub(super) fn numprocs_override(&self, section: &str) -> Option<i64> {
        self.numprocs
            .as_ref()
            .filter(|(name, _)| name == section)
            .map(|(_, count)| *count)
    }

    pub(super) fn here_str(&self) -> String {
        self.here.to_string_lossy().into_owned()
    }

    pub(super) fn section_file(&self, section: &str) -> PathBuf {
        self.ini
            .section(section)
            .map(|s| s.file.clone())
            .unwrap_or_else(|| self.source.clone())
    }

    /// The directory of the file that holds `section` (where a plugin's
    /// relative paths start).
    pub(super) fn section_dir(&self, section: &str) -> PathBuf {
        types::normalize_path(&self.section_file(section))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The raw value of an option, not expanded: the section's own, then
    /// for a program or fcgi-program a program option of
    /// `[program-defaults]`, then `[DEFAULT]`'s.
    pub(super) fn raw<'a>(&'a self, section: &str, key: &str) -> Option<Value> {
        let find = |s: &'a Section| s.entries.iter().find(|e| e.key == key);
        let own = find(self.ini.section(section)?);
        let entry = own
            .or_else(|| {
                // Most options are in neither the section nor the defaults:
                // the few defaults are searched first, and the long list
                // of program options only for a key found there.
                let program_like =
                    section.starts_with("program:") || section.starts_with("fcgi-program:");
                if !program_like {
                    return None;
                }
                find(self.ini.section(PROGRAM_DEFAULTS)?).filter(|_| known::PROGRAM.contains(&key))
            })
            .or_else(|| self.ini.get(section, key))?;
        Some(Value {
            text: entry.value.clone(),
            file: entry.file.clone(),
            line: Some(entry.line),
        })
    }

    /// The variables of a section's `environment_file` paths, expanded
    /// with `names`, later files winning; relative paths start at the
    /// directory of the file holding the section. Every problem is
    /// recorded with the environment file's name (and line, for a bad
    /// line).
    pub(super) fn environment_files(&mut self, section: &str, names: &Expansions) -> Environment {
        let mut env = Environment::new();
        let Some(value) = self.get(section, "environment_file", names) else {
            return env;
        };
        let dir = self.section_dir(section);
        for file in envfile::paths(&value.text) {
            let path = types::normalize_path(&dir.join(&file.path));
            match envfile::read(&path, file.optional) {
                Ok(Some(vars)) => env.extend(vars),
                Ok(None) => {}
                Err(envfile::EnvFileError::Unreadable(why)) => self.error_at(
                    section,
                    "environment_file",
                    Some(&value),
                    format!("cannot read {}: {why}", path.display()),
                ),
                Err(envfile::EnvFileError::BadLine(line, why)) => self.errors.push(
                    ConfigError::new(format!("in environment file: {why}"))
                        .in_file(path)
                        .at_line(line)
                        .in_section(section)
                        .for_option("environment_file")
                        .with_value(value.text.clone()),
                ),
            }
        }
        env
    }

    pub(super) fn error_at(
        &mut self,
        section: &str,
        key: &str,
        value: Option<&Value>,
        problem: String,
    ) {
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

    pub(super) fn section_error(&mut self, section: &str, problem: String) {
        let file = self.section_file(section);
        self.errors
            .push(ConfigError::new(problem).in_section(section).in_file(file));
    }

    /// Expand `value` against `names`, recording a failure.
    pub(super) fn expand_value(
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
    pub(super) fn expand_with_env(
        &mut self,
        section: &str,
        key: &str,
        value: &Value,
        extra: &Expansions,
    ) -> Option<String> {
        let outcome = expand_described(&value.text, &[&self.environ, extra]);
        self.record(section, key, value, outcome)
    }

    pub(super) fn record(
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
    pub(super) fn get(&mut self, section: &str, key: &str, extra: &Expansions) -> Option<Value> {
        let raw = self.raw(section, key)?;
        let text = self.expand_with_env(section, key, &raw, extra)?;
        Some(Value { text, ..raw })
    }

    /// Parse an optional option with `parse`, or use `default`.
    pub(super) fn typed<T>(
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
    pub(super) fn typed_opt<T>(
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
    pub(super) fn parse_opt<T>(
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

    pub(super) fn includes(&mut self) {
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

    pub(super) fn sections_with_prefix(&self, prefix: &str) -> Vec<String> {
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
    pub(super) fn check_factory(
        &mut self,
        section: &str,
        key: &str,
        value: &Value,
        builtin: &str,
    ) -> String {
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
            Ok(parsed) if parsed.is_builtin() && !parsed.is_bundled() => SpecError::PythonPath {
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
}

/// The name after a section's `type:` prefix (`web` of `program:web`).
pub(super) fn section_suffix(section: &str) -> &str {
    section.split_once(':').map_or("", |(_, name)| name)
}

/// Expand, turning a failure into the problem text of an error.
pub(super) fn expand_described(template: &str, layers: &[&Expansions]) -> Result<String, String> {
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
