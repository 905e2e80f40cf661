//! Turning the configuration model into what the process machinery needs:
//! a [`Policy`] for the state machine, a [`SpawnSpec`] for the spawner, and
//! the log settings and route of each output channel (the route itself is
//! decided in `logs::route`; this gathers its inputs). Pure apart from
//! materializing AUTO log names (which creates the files, as the reference
//! does when it creates a group).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{self, Config, GroupConfig, GroupKind, ProcessConfig};
use crate::logs::route::{Listener, Route, RouteInputs, route};
use crate::logs::{ChildLogSpec, LogLevel, MainLog, Rotation, materialize_logfile};
use crate::process::Policy;
use crate::process::spawn::{SpawnSpec, StdinSource};

/// The state machine's view of a process's options; `name` is the
/// process's name, shared with the daemon's other records of it.
pub fn policy(process: &ProcessConfig, name: Arc<str>) -> Policy {
    Policy {
        name,
        autostart: process.autostart,
        startsecs: u64::try_from(process.startsecs).unwrap_or(0),
        startretries: u32::try_from(process.startretries).unwrap_or(0),
        autorestart: process.autorestart,
        exitcodes: Arc::clone(&process.exitcodes),
        stopsignal: process.stopsignal,
        stopwaitsecs: u64::try_from(process.stopwaitsecs).unwrap_or(0),
        stopasgroup: process.stopasgroup,
        killasgroup: process.killasgroup,
        backoff: process.backoff,
        shutdown_on: process.shutdown_on,
        ready_check: process.ready_check.is_some(),
        ready_timeout: u64::try_from(process.ready_timeout).unwrap_or(0),
    }
}

/// Give back the spare capacity the loader's growing vectors left in
/// `config`: the daemon keeps its configuration for as long as it runs,
/// and a group of one process would otherwise hold room for four
/// (half a kilobyte each).
pub fn compact(config: &mut Config) {
    config.groups.shrink_to_fit();
    for group in &mut config.groups {
        group.processes.shrink_to_fit();
    }
}

/// The names a process is known by, shared by every record of it.
#[derive(Debug, Clone)]
pub struct Names {
    /// The group's name.
    pub group: Arc<str>,
    /// The process's name.
    pub process: Arc<str>,
}

/// What the spawner needs to start `process`. Its environment and server
/// URL are `previous`'s when equal, so that processes built one after
/// another with the same ones (a numprocs program; programs with only
/// `[supervisord] environment`) share one copy. Both output channels are
/// pipes: the caller decides which to discard.
pub fn spawn_spec(
    config: &Config,
    names: &Names,
    process: &ProcessConfig,
    previous: Option<&SpawnSpec>,
) -> SpawnSpec {
    let same_environment = |shared: &&Arc<[(String, String)]>| {
        shared.len() == process.environment.len()
            && shared
                .iter()
                .zip(&process.environment)
                .all(|((k, v), (pk, pv))| k == pk && v == pv)
    };
    let environment = match previous.map(|p| &p.environment).filter(same_environment) {
        Some(shared) => Arc::clone(shared),
        None => process
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    SpawnSpec {
        process_name: Arc::clone(&names.process),
        group_name: Arc::clone(&names.group),
        command: process.command.clone(),
        directory: process.directory.clone(),
        umask: process.umask,
        uid: process.user.as_ref().map(|u| u.uid),
        environment,
        server_url: match (
            process
                .serverurl
                .clone()
                .or_else(|| config.default_serverurl()),
            previous.and_then(|p| p.server_url.as_ref()),
        ) {
            (Some(url), Some(shared)) if **shared == *url => Some(Arc::clone(shared)),
            (url, _) => url.map(Arc::from),
        },
        stdin: StdinSource::Pipe,
        redirect_stderr: process.redirect_stderr,
        discard_stdout: false,
        discard_stderr: false,
    }
}

/// What the daemon knows of a process's surroundings, beside its own
/// section, when it routes the process's output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Surroundings {
    /// Whether the group is an event listener pool, and whether its pool
    /// runs (for the stdout of its processes).
    pub listener: Listener,
    /// Whether an output hook sees every chunk.
    pub hook: bool,
    /// Whether the main log echoes child output now.
    pub main_log_echoes: bool,
}

impl Surroundings {
    /// The surroundings of the processes of `group`: `pool_runs` says
    /// whether its listener pool was made, `hook` whether an output hook is
    /// installed.
    pub fn of(group: &GroupConfig, pool_runs: bool, hook: bool, main_log: &MainLog) -> Self {
        let listener = match (&group.kind, pool_runs) {
            (GroupKind::EventListener { .. }, true) => Listener::Attached,
            (GroupKind::EventListener { .. }, false) => Listener::Detached,
            _ => Listener::None,
        };
        Surroundings {
            listener,
            hook,
            // The reference echoes child output at `loglevel=debug` and
            // below, log file or not.
            main_log_echoes: main_log.enabled(LogLevel::Debug),
        }
    }
}

/// The log settings and the route of both channels of a process
/// (stdout, stderr).
#[derive(Debug)]
pub struct ChannelOutputs {
    /// Each channel's log, AUTO names drawn; `None` where the route keeps
    /// none. Behind an `Arc`: most channels have no log, a process record
    /// holds both, and each open log shares its record's.
    pub logs: [Option<Arc<ChildLogSpec>>; 2],
    /// Each channel's route ([`route`]).
    pub routes: [Route; 2],
}

/// Route both channels of `process` (called `process_name`, shared with
/// its other records) and draw their AUTO log names now. A
/// channel whose AUTO file cannot be created has no file; the error text
/// is returned for the main log.
pub fn channel_outputs(
    config: &Config,
    process: &ProcessConfig,
    process_name: &Arc<str>,
    around: Surroundings,
) -> (ChannelOutputs, Vec<String>) {
    let sd = &config.supervisord;
    let mut errors = Vec::new();
    let mut channel = |log: &config::ChannelLog,
                       name: &'static str,
                       listener: Listener|
     -> (Option<Arc<ChildLogSpec>>, Route) {
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
        let route = route(&RouteInputs {
            merged: false,
            file: path.is_some(),
            syslog: log.syslog,
            strip_ansi: sd.strip_ansi,
            capture_max_bytes: usize::try_from(log.capture_maxbytes).unwrap_or(usize::MAX),
            events_enabled: log.events_enabled,
            listener,
            hook: around.hook,
            main_log_echoes: around.main_log_echoes,
            // /dev/stdout already reaches supervisord's stdout.
            forward_to_stdout: process.forwards(sd)
                && !matches!(&log.logfile, config::LogFile::Path(p) if p.as_path() == std::path::Path::new("/dev/stdout")),
            forward_style: crate::logs::route::ForwardStyle {
                format: sd.forward_format,
                timestamps: sd.forward_timestamps,
            },
            line_watch: matches!(process.ready_check, Some(crate::probes::Probe::Log(_))),
        });
        let spec = route.log.then(|| {
            Arc::new(ChildLogSpec {
                process_name: Arc::clone(process_name),
                channel: name,
                path: path.map(Arc::from),
                rotation: Rotation::from_config(log.maxbytes, log.backups),
                syslog: log.syslog,
                strip_ansi: sd.strip_ansi,
            })
        });
        (spec, route)
    };
    let stdout = channel(&process.stdout, "stdout", around.listener);
    // Redirected stderr arrives in the stdout pipe and is logged there; its
    // own AUTO file is not drawn.
    let stderr = if process.redirect_stderr {
        (
            None,
            route(&RouteInputs {
                merged: true,
                ..RouteInputs::default()
            }),
        )
    } else {
        // A listener's stderr is ordinary output.
        channel(&process.stderr, "stderr", Listener::None)
    };
    (
        ChannelOutputs {
            logs: [stdout.0, stderr.0],
            routes: [stdout.1, stderr.1],
        },
        errors,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::AutoRestart;

    fn load(body: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("supervisord.conf");
        let text = format!(
            "[supervisord]\nchildlogdir={}\nidentifier=unit\n{body}",
            dir.path().display()
        );
        std::fs::write(&path, text).expect("write the config");
        let config = config::load_config(&path).expect("a valid config");
        (dir, config)
    }

    #[test]
    fn the_policy_carries_every_option_the_machine_reads() {
        let (_dir, config) = load(
            "[program:web]\ncommand=/bin/true\nstartsecs=0\nstartretries=7\nautorestart=true\n\
             exitcodes=0,3\nstopsignal=INT\nstopwaitsecs=2\nstopasgroup=true\nautostart=false\n",
        );
        let process = &config.groups[0].processes[0];
        let policy = policy(process, Arc::from("web"));
        assert_eq!(&*policy.name, "web");
        assert_eq!(policy.startsecs, 0);
        assert_eq!(policy.startretries, 7);
        assert_eq!(policy.autorestart, AutoRestart::Always);
        assert_eq!(*policy.exitcodes, [0, 3]);
        assert_eq!(policy.stopsignal, libc::SIGINT);
        assert_eq!(policy.stopwaitsecs, 2);
        assert!(
            policy.stopasgroup && policy.killasgroup,
            "killasgroup follows stopasgroup"
        );
        assert!(!policy.autostart);
    }

    #[test]
    fn auto_logs_are_drawn_in_childlogdir_and_redirected_stderr_has_none() {
        let (dir, config) = load(
            "[program:web]\ncommand=/bin/true\nredirect_stderr=true\n\
             [program:quiet]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n",
        );
        let web = config
            .groups
            .iter()
            .find(|g| g.name == "web")
            .expect("web is configured");
        let (outputs, errors) = channel_outputs(
            &config,
            &web.processes[0],
            &Arc::from("web"),
            Surroundings::default(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let [stdout, stderr] = outputs.logs;
        let stdout = stdout.expect("stdout is logged");
        let path = stdout.path.clone().expect("an AUTO file");
        assert!(path.starts_with(dir.path()), "{}", path.display());
        assert!(path.exists(), "AUTO files are created when the group is");
        assert!(stderr.is_none(), "redirected stderr arrives on stdout");

        let quiet = config
            .groups
            .iter()
            .find(|g| g.name == "quiet")
            .expect("quiet is configured");
        let (outputs, _) = channel_outputs(
            &config,
            &quiet.processes[0],
            &Arc::from("quiet"),
            Surroundings::default(),
        );
        let [stdout, stderr] = outputs.logs;
        assert!(stdout.is_none() && stderr.is_none());
        assert!(
            !outputs.routes[0].piped && !outputs.routes[1].piped,
            "output that reaches nothing goes to /dev/null"
        );
    }

    #[test]
    fn the_spawn_spec_gets_the_daemons_url_when_the_program_sets_none() {
        let (dir, config) = load(&format!(
            "[unix_http_server]\nfile={}/s.sock\n[program:web]\ncommand=/bin/true\nenvironment=A=\"1\"\n",
            "%(here)s"
        ));
        let names = Names {
            group: Arc::from("web"),
            process: Arc::from("web"),
        };
        let spec = spawn_spec(&config, &names, &config.groups[0].processes[0], None);
        assert_eq!(
            spec.server_url.as_deref(),
            Some(format!("unix://{}/s.sock", dir.path().display()).as_str())
        );
        assert!(
            spec.environment
                .contains(&("A".to_string(), "1".to_string()))
        );
        assert_eq!(&*spec.group_name, "web");
    }

    #[test]
    fn compacting_keeps_every_process_and_drops_spare_room() {
        let (_dir, mut config) = load(
            "[program:a]\ncommand=/bin/true\n[program:b]\ncommand=/bin/true\nnumprocs=2\n\
             process_name=b%(process_num)d\n",
        );
        let before = config.clone();
        compact(&mut config);
        assert_eq!(config, before);
        assert_eq!(config.groups.capacity(), config.groups.len());
        for group in &config.groups {
            assert_eq!(group.processes.capacity(), group.processes.len());
        }
    }

    #[test]
    fn processes_of_one_program_share_their_environment() {
        let (_dir, config) = load(
            "[program:web]\ncommand=/bin/true\nnumprocs=3\nprocess_name=web%(process_num)d\n\
             environment=COMMON=\"x\"\n\
             [program:other]\ncommand=/bin/true\nenvironment=OWN=\"y\"\n",
        );
        let mut previous: Option<SpawnSpec> = None;
        let mut shared = Vec::new();
        for group in &config.groups {
            for process in &group.processes {
                let names = Names {
                    group: Arc::from(group.name.as_str()),
                    process: Arc::from(process.name.as_str()),
                };
                let spec = spawn_spec(&config, &names, process, previous.as_ref());
                shared.push((process.name.clone(), Arc::clone(&spec.environment)));
                previous = Some(spec);
            }
        }
        let env_of = |name: &str| {
            &shared
                .iter()
                .find(|(n, _)| n == name)
                .expect("the process is configured")
                .1
        };
        assert!(Arc::ptr_eq(env_of("web0"), env_of("web1")));
        assert!(Arc::ptr_eq(env_of("web1"), env_of("web2")));
        assert!(!Arc::ptr_eq(env_of("web0"), env_of("other")));
        assert!(env_of("web2").contains(&("COMMON".to_string(), "x".to_string())));
        assert!(env_of("other").contains(&("OWN".to_string(), "y".to_string())));
    }

    #[test]
    fn routes_are_gathered_from_the_section_and_the_surroundings() {
        let (_dir, config) = load(
            "[program:web]\ncommand=/bin/true\nstdout_events_enabled=true\n\
             stderr_logfile=NONE\nstderr_capture_maxbytes=10\n\
             [eventlistener:pool]\ncommand=/bin/true\nevents=TICK_5\n\
             stdout_capture_maxbytes=10\nstderr_logfile=NONE\n\
             [program:plain]\ncommand=/bin/true\nstderr_logfile=NONE\n",
        );
        let group = |name: &str| {
            config
                .groups
                .iter()
                .find(|g| g.name == name)
                .expect("the group is configured")
        };
        let web = group("web");
        let (outputs, _) = channel_outputs(
            &config,
            &web.processes[0],
            &Arc::from("web"),
            Surroundings::default(),
        );
        let [stdout, stderr] = outputs.routes;
        assert!(stdout.piped && stdout.log && stdout.pump.events_enabled && !stdout.splices);
        assert!(stderr.piped && stderr.log && stderr.pump.capture_max_bytes == 10);

        let pool = group("pool");
        let main_log = MainLog::open(crate::logs::MainLogConfig {
            level: LogLevel::Info,
            target: crate::logs::MainLogTarget::Nowhere,
            echo_to_stdout: false,
        })
        .expect("a main log writing nowhere");
        let around = Surroundings::of(pool, true, false, &main_log);
        assert_eq!(around.listener, Listener::Attached);
        assert!(!around.main_log_echoes);
        let (outputs, _) = channel_outputs(&config, &pool.processes[0], &Arc::from("pool"), around);
        let [stdout, stderr] = outputs.routes;
        assert!(stdout.listener_protocol && stdout.pump.capture_max_bytes == 0);
        assert!(
            !stderr.listener_protocol && !stderr.piped,
            "a listener's stderr is ordinary"
        );
        assert_eq!(
            Surroundings::of(pool, false, false, &main_log).listener,
            Listener::Detached
        );
        assert_eq!(
            Surroundings::of(web, false, true, &main_log).listener,
            Listener::None
        );

        // At debug the main log echoes child output: a channel that logs
        // nowhere else is read, and none is spliced past the echo.
        let plain = group("plain");
        let route_at = |level| {
            main_log.set_level(level);
            let around = Surroundings::of(plain, false, false, &main_log);
            channel_outputs(&config, &plain.processes[0], &Arc::from("plain"), around)
                .0
                .routes
        };
        let [stdout, stderr] = route_at(LogLevel::Info);
        assert!(stdout.splices && !stderr.piped);
        let [stdout, stderr] = route_at(LogLevel::Debug);
        assert!(!stdout.splices && stderr.piped && !stderr.log);
    }
}
