//! The `[supervisord]` section: the daemon's own options, its
//! `environment` (which later sections may expand as `ENV_x`) and the
//! `-u` override. Builds on [`super::reader`] only.

use std::path::{Path, PathBuf};

use super::reader::{Loader, s};
use crate::config::error::ConfigError;
use crate::config::expand::Expansions;
use crate::config::model::*;
use crate::config::types::{self};

impl Loader {
    pub(super) fn supervisord(&mut self, cli_user: Option<&str>) -> SupervisordConfig {
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
        // Container output (ours).
        let forward_output = self.typed(S, "forward_output", &here, false, types::boolean);
        let forward_timestamps = self.typed(S, "forward_timestamps", &here, false, types::boolean);
        let forward_format =
            self.typed(S, "forward_format", &here, ForwardFormat::Text, |v| match v
                .trim()
                .to_lowercase()
                .as_str()
            {
                "text" => Ok(ForwardFormat::Text),
                "json" => Ok(ForwardFormat::Json),
                _ => Err(types::BadValue {
                    ours: "not a forward format (text or json)".to_string(),
                    python: String::new(),
                }),
            });
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
        // `environment_file` lies under `environment` (ours).
        let mut names = here.clone();
        names.insert("host_node_name".into(), s(self.host.clone()));
        let mut from_files = self.environment_files(S, &names);
        from_files.append(&mut environment);
        let environment = from_files;
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
            forward_output,
            forward_format,
            forward_timestamps,
        }
    }
}
