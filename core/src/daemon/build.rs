//! Turning the configuration model into what the process machinery needs:
//! a [`Policy`] for the state machine, a [`SpawnSpec`] for the spawner and
//! the log settings of each output channel. Pure apart from materializing
//! AUTO log names (which creates the files, as the reference does when it
//! creates a group).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{self, Config, ProcessConfig};
use crate::logs::{ChildLogSpec, Rotation, materialize_logfile};
use crate::process::spawn::{SpawnSpec, StdinSource};
use crate::process::{AutoRestart, Policy};

/// The state machine's view of a process's options.
pub fn policy(process: &ProcessConfig) -> Policy {
    Policy {
        name: process.name.clone(),
        autostart: process.autostart,
        startsecs: u64::try_from(process.startsecs).unwrap_or(0),
        startretries: u32::try_from(process.startretries).unwrap_or(0),
        autorestart: match process.autorestart {
            config::AutoRestart::Never => AutoRestart::Never,
            config::AutoRestart::Unexpected => AutoRestart::Unexpected,
            config::AutoRestart::Always => AutoRestart::Always,
        },
        exitcodes: process.exitcodes.clone(),
        stopsignal: process.stopsignal,
        stopwaitsecs: u64::try_from(process.stopwaitsecs).unwrap_or(0),
        stopasgroup: process.stopasgroup,
        killasgroup: process.killasgroup,
    }
}

/// What the spawner needs to start `process` of group `group`.
pub fn spawn_spec(config: &Config, group: &str, process: &ProcessConfig) -> Arc<SpawnSpec> {
    Arc::new(SpawnSpec {
        process_name: process.name.clone(),
        group_name: group.to_string(),
        command: process.command.clone(),
        directory: process.directory.clone(),
        umask: process.umask,
        uid: process.user.as_ref().map(|u| u.uid),
        environment: process
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        server_url: process
            .serverurl
            .clone()
            .or_else(|| config.default_serverurl()),
        stdin: StdinSource::Pipe,
        redirect_stderr: process.redirect_stderr,
    })
}

/// The log settings of both channels of `process`, AUTO names drawn now.
/// A channel whose AUTO file cannot be created logs nowhere; the error
/// text is returned for the main log.
pub fn channel_logs(
    config: &Config,
    process: &ProcessConfig,
) -> ([Option<ChildLogSpec>; 2], Vec<String>) {
    let sd = &config.supervisord;
    let mut errors = Vec::new();
    let mut channel = |log: &config::ChannelLog, name: &'static str| -> Option<ChildLogSpec> {
        let path: Option<PathBuf> = match materialize_logfile(
            &log.logfile,
            &sd.childlogdir,
            &process.name,
            name,
            &sd.identifier,
        ) {
            Ok(path) => path,
            Err(error) => {
                errors.push(format!(
                    "unable to create the {name} log of {} in {}: {error}",
                    process.name,
                    sd.childlogdir.display()
                ));
                None
            }
        };
        if path.is_none() && !log.syslog {
            return None;
        }
        Some(ChildLogSpec {
            process_name: process.name.clone(),
            channel: name,
            path,
            rotation: Rotation::from_config(log.maxbytes, log.backups),
            syslog: log.syslog,
            strip_ansi: sd.strip_ansi,
        })
    };
    let stdout = channel(&process.stdout, "stdout");
    // Redirected stderr arrives in the stdout pipe and is logged there.
    let stderr = if process.redirect_stderr {
        None
    } else {
        channel(&process.stderr, "stderr")
    };
    ([stdout, stderr], errors)
}
