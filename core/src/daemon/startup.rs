//! supervisord's start-up, run and restarts, in the reference's order.
//! Each *life* (the first start, and every restart after SIGHUP or
//! `supervisor.restart`) runs the same code from a fresh configuration:
//! read the file again with the command line applied over it, switch user,
//! raise rlimits (first life only), point the main log at the new
//! `[supervisord]` settings and write the parse messages, clean up old
//! AUTO logs, build a new supervisor task, load the `[rpcinterface:x]`
//! plugins into a new registry, open the HTTP sockets, daemonize (first
//! life only, a fork while no thread exists yet), write the pidfile, serve
//! until shutdown or restart, then close the servers and remove the
//! pidfile and the unix sockets. What outlives a life: the tokio runtime,
//! the signal handlers and the reaper (so no SIGCHLD is missed between
//! lives), the main log's handle (reconfigured in place, so the tracing
//! layer follows it) and the plugin loader (a library stays mapped).
//! As in the reference, `umask` and `directory` are applied only when
//! daemonizing, so a restart does not change them.
//!
//! Errors a user must fix (bad config, bad user, rlimits, a port in use, a
//! plugin that does not load) come back as [`StartError::Usage`]; in the
//! first life before daemonizing, so they reach the terminal; in a later
//! life they end the daemon the same way (and are also written to the main
//! log, since the terminal is usually gone). The binary turns them into
//! exit status 2.

use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::args::{self, DaemonArgs};
use super::host::DaemonHost;
use super::mode::RunEnd;
use super::notify::Notifier;
use super::signals::{Signals, start_reaper};
use super::supervisor::{Setup, Supervisor};
use crate::config::{self, Config, LoadOptions, MessageLevel};
use crate::http::{self, Limits, Listen, ServerConfig};
use crate::logs::{self, MainLog, MainLogConfig, MainLogLayer, StartupMessages};
use crate::plugins::handler::result_handlers_for;
use crate::plugins::{PluginLoader, bridge, routes};
use crate::process::reaper;
use crate::rpc::Registry;

/// Why supervisord could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A problem the user must fix: printed as `Error: <text>` with the
    /// usage hint, exit status 2 (the reference's `usage()`).
    #[error("{}", .0.join("\n"))]
    Usage(Vec<String>),
    /// Anything else that stops start-up.
    #[error("{0}")]
    Fatal(String),
}

/// The reference's wording when `minfds`/`minprocs` cannot be met.
fn rlimit_message(name: &str, min: i64, hard: String) -> String {
    if name == "RLIMIT_NOFILE" {
        format!(
            "The minimum number of file descriptors required to run this process is {min} as per the \"minfds\" command-line argument or config file setting. The current environment will only allow you to open {hard} file descriptors.  Either raise the number of usable file descriptors in your environment (see README.rst) or lower the minfds setting in the config file to allow the process to start."
        )
    } else {
        format!(
            "The minimum number of available processes required to run this program is {min} as per the \"minprocs\" command-line argument or config file setting. The current environment will only allow you to open {hard} processes.  Either raise the number of usable processes in your environment (see README.rst) or lower the minprocs setting in the config file to allow the program to start."
        )
    }
}

/// Raise RLIMIT_NOFILE and RLIMIT_NPROC to `minfds`/`minprocs` when the
/// soft limit is lower, as the reference does. Returns the info lines.
pub fn raise_rlimits(minfds: i64, minprocs: i64) -> Result<Vec<String>, StartError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const INFINITY: u64 = libc::RLIM_INFINITY;
    let mut infos = Vec::new();
    for (resource, name, min) in [
        (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE", minfds),
        (Resource::RLIMIT_NPROC, "RLIMIT_NPROC", minprocs),
    ] {
        let min_limit = u64::try_from(min).unwrap_or(0);
        let (soft, hard) =
            getrlimit(resource).map_err(|e| StartError::Fatal(format!("getrlimit {name}: {e}")))?;
        if soft >= min_limit || soft == INFINITY {
            continue;
        }
        let new_hard = if hard < min_limit && hard != INFINITY {
            min_limit
        } else {
            hard
        };
        if setrlimit(resource, min_limit, new_hard).is_err() {
            // The limit the environment allows is the hard limit we found;
            // the reference prints the one it asked for (`minfds` twice).
            let shown = if hard == INFINITY {
                "-1".to_string()
            } else {
                hard.to_string()
            };
            return Err(StartError::Usage(vec![rlimit_message(name, min, shown)]));
        }
        infos.push(format!("Increased {name} limit to {min}"));
    }
    Ok(infos)
}

/// Switch to the configured user, as the reference's `set_uid_or_exit`.
/// Returns the messages to log (critical, info).
pub fn switch_user(config: &Config) -> Result<StartupMessages, StartError> {
    let mut messages = StartupMessages::default();
    let current = nix::unistd::getuid();
    match &config.supervisord.user {
        None => {
            if current.is_root() {
                messages.criticals.push(
                    "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message."
                        .into(),
                );
            }
        }
        Some(user) => {
            if current.as_raw() != user.uid {
                if !current.is_root() {
                    return Err(StartError::Usage(vec![
                        "Can't drop privilege as nonroot user".into(),
                    ]));
                }
                let groups: Vec<nix::unistd::Gid> = user
                    .groups
                    .iter()
                    .map(|g| nix::unistd::Gid::from_raw(*g))
                    .collect();
                nix::unistd::setgroups(&groups).map_err(|_| {
                    StartError::Usage(vec!["Could not set groups of effective user".into()])
                })?;
                nix::unistd::setgid(nix::unistd::Gid::from_raw(user.gid)).map_err(|_| {
                    StartError::Usage(vec!["Could not set group id of effective user".into()])
                })?;
                nix::unistd::setuid(nix::unistd::Uid::from_raw(user.uid)).map_err(|_| {
                    StartError::Usage(vec!["Could not set user id of effective user".into()])
                })?;
            }
            messages
                .infos
                .push(format!("Set uid to user {} succeeded", user.uid));
        }
    }
    Ok(messages)
}

/// The config's parse messages, sorted by level.
fn parse_messages(config: &Config, into: &mut StartupMessages) {
    for message in &config.messages {
        let list = match message.level {
            MessageLevel::Critical => &mut into.criticals,
            MessageLevel::Warn => &mut into.warnings,
            MessageLevel::Info => &mut into.infos,
        };
        list.push(message.text.clone());
    }
}

/// The HTTP server sections as the http module describes them: every
/// `[inet_http_server]` first, then every `[unix_http_server]`, whatever
/// their order in the file, as the reference's parser lists them (its log
/// lines for the servers come in that order).
pub fn server_configs(config: &Config) -> Vec<ServerConfig> {
    let mut servers = Vec::new();
    for inet in &config.inet_http_servers {
        servers.push(ServerConfig {
            section: inet.section.clone(),
            listen: Listen::Inet(http::InetAddr {
                host: (!inet.host.is_empty() && inet.host != "*").then(|| inet.host.clone()),
                port: inet.port,
            }),
            username: inet.credentials.as_ref().map(|c| c.username.clone()),
            password: inet.credentials.as_ref().map(|c| c.password.clone()),
            limits: Limits::from_section(&inet.limits),
            users: inet.users.clone(),
            tls: inet.tls.as_ref().map(|tls| http::TlsFiles {
                cert: tls.cert.clone(),
                key: tls.key.clone(),
                client_ca: tls.client_ca.clone(),
            }),
        });
    }
    for unix in &config.unix_http_servers {
        servers.push(ServerConfig {
            section: unix.section.clone(),
            listen: Listen::Unix(http::UnixSocket {
                path: unix.file.clone(),
                mode: unix.chmod,
                uid: unix.chown.as_ref().map(|o| o.uid),
                gid: unix.chown.as_ref().and_then(|o| o.gid),
            }),
            username: unix.credentials.as_ref().map(|c| c.username.clone()),
            password: unix.credentials.as_ref().map(|c| c.password.clone()),
            limits: Limits::from_section(&unix.limits),
            users: unix.users.clone(),
            tls: None,
        });
    }
    servers
}

fn clean_auto_logs(config: &Config, log: &MainLog) {
    if config.supervisord.nocleanup {
        return;
    }
    let cleanup = logs::clear_auto_logs(
        &config.supervisord.childlogdir,
        &config.supervisord.identifier,
    );
    for warning in &cleanup.warnings {
        log.warn(warning);
    }
}

/// Fork into the background as the reference does: the parent exits at
/// once; the child changes directory, puts /dev/null on 0/1/2, starts a
/// new session and sets the umask. Must run before any thread exists.
fn daemonize(config: &Config, log: &MainLog) -> Result<(), StartError> {
    // SAFETY: called from the main thread before any other thread was
    // started (the runtime and the spawner threads come later), so the
    // child is a complete copy and may go on running ordinary code.
    let fork = unsafe { nix::unistd::fork() };
    match fork {
        Err(error) => return Err(StartError::Fatal(format!("unable to fork: {error}"))),
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            log.blather("supervisord forked; parent exiting");
            // SAFETY: _exit ends the parent without running destructors
            // that would remove the child's sockets and files.
            unsafe { libc::_exit(0) };
        }
        Ok(nix::unistd::ForkResult::Child) => {}
    }
    log.info("daemonizing the supervisord process");
    if let Some(directory) = &config.supervisord.directory {
        let shown = crate::pyrepr::py_repr(&directory.to_string_lossy());
        match std::env::set_current_dir(directory) {
            Ok(()) => log.info(&format!("set current directory: {shown}")),
            Err(error) => log.critical(&format!("can't chdir into {shown}: {error}")),
        }
    }
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors, which we own.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let _ = nix::unistd::setsid();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        config.supervisord.umask,
    ));
    Ok(())
}

fn write_pidfile(path: &Path, log: &MainLog) -> bool {
    let pid = std::process::id();
    match std::fs::write(path, format!("{pid}\n")) {
        Ok(()) => {
            log.info(&format!("supervisord started with pid {pid}"));
            true
        }
        Err(_) => {
            log.critical(&format!("could not write pidfile {}", path.display()));
            false
        }
    }
}

/// `/logtail`'s resolver: a namespec and channel to the log file, from the
/// latest snapshot; not found until the file exists.
fn process_logs(handle: super::Handle) -> http::ProcessLogs {
    Arc::new(move |namespec: &str, channel: logs::Channel| {
        let spec = supervisor_sdk::namespec::split_namespec(namespec);
        let process = spec.process.ok_or(http::NotFound)?;
        let snapshot = handle.snapshot();
        let info = snapshot
            .processes
            .iter()
            .find(|p| p.group.as_str() == spec.group && p.name.as_str() == process)
            .ok_or(http::NotFound)?;
        super::snapshot::log_path(info, channel == logs::Channel::Stderr)
            .filter(|path| path.exists())
            .ok_or(http::NotFound)
    })
}

/// Read the configuration a life runs with: the file `-c` names (or the
/// first one found), with the command line's values applied over it, as
/// the reference's `realize` does at every start.
pub fn load(args: &DaemonArgs, argv0: &Path) -> Result<(Config, LoadOptions), StartError> {
    let path = args::config_path(args, argv0).map_err(|e| StartError::Usage(vec![e.0]))?;
    let mut options = LoadOptions::from_process();
    options.cli_user = args.user.clone();
    let mut config = config::load_config_with(&path, &options)
        .map_err(|errors| StartError::Usage(errors.0.iter().map(ToString::to_string).collect()))?;
    args.apply(&mut config);
    if !config.supervisord.nodaemon
        && let Some(option) = config.forwarding_option()
    {
        return Err(StartError::Usage(vec![format!(
            "{option} = true copies output to supervisord's stdout, which a daemon \
             does not have: run in the foreground (-n, or nodaemon = true)"
        )]));
    }
    Ok((config, options))
}

/// Every `result_handler` built once, each failure a line of its own.
fn check_result_handlers(config: &Config, loader: &mut PluginLoader) -> Result<(), StartError> {
    result_handlers_for(config, loader)
        .map(drop)
        .map_err(|errors| StartError::Usage(errors.iter().map(ToString::to_string).collect()))
}

/// What `--test-config` checks beyond the file: every plugin loaded and
/// built (library, factory, SDK version, the section's keys) as start-up
/// would, so a bad plugin fails the check rather than the start. Nothing
/// is started: the namespaces get the host of a supervisor task that never
/// runs (factories must not call the host, see the SDK's `host` module).
pub fn check_plugins(config: &Config, load_options: &LoadOptions) -> Result<(), StartError> {
    let mut loader = PluginLoader::from_environment();
    let mut errors = match check_result_handlers(config, &mut loader) {
        Err(StartError::Usage(lines)) => lines,
        _ => Vec::new(),
    };
    let main_log = MainLog::open(MainLogConfig {
        level: logs::LogLevel::Critical,
        target: logs::MainLogTarget::Nowhere,
        echo_to_stdout: false,
    })
    .map_err(|e| StartError::Fatal(e.to_string()))?;
    let (_idle, handle) = Supervisor::new(Setup {
        config: config.clone(),
        load_options: load_options.clone(),
        main_log: Arc::new(main_log),
        output_hook: None,
    });
    let host = DaemonHost::boxed(handle.clone());
    match bridge::register_rpcinterfaces(
        &mut loader,
        &config.rpcinterfaces,
        &host,
        &handle.shared().hub,
        &Registry::new(),
    ) {
        Ok(_) => {
            if let Err(failed) = routes::build_routes(&mut loader, &config.rpcinterfaces, &host) {
                errors.extend(failed);
            }
        }
        Err(failed) => errors.extend(failed.iter().map(ToString::to_string)),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StartError::Usage(errors))
    }
}

/// What outlives one life of the daemon: made in the first life, after
/// daemonizing.
struct Lasting {
    runtime: tokio::runtime::Runtime,
    signals: Signals,
    reaped: tokio::sync::mpsc::UnboundedReceiver<reaper::Reaped>,
}

/// The daemon across its lives; see the module docs.
struct Daemon {
    /// Made at the first life's main log; reconfigured by later lives.
    main_log: Option<Arc<MainLog>>,
    /// Made once the first life has daemonized.
    lasting: Option<Lasting>,
    /// Keeps loaded libraries across lives.
    plugins: PluginLoader,
    /// systemd's notify socket, when started under `Type=notify`.
    notifier: Option<Arc<Notifier>>,
}

/// Run supervisord until it shuts down, starting a new life on each
/// restart. `args` is the parsed command line; `argv0` the program name
/// (for the config file search). The exit status: 0, or what a program's
/// `shutdown_on` asked for.
pub fn run(args: &DaemonArgs, argv0: &Path) -> Result<u8, StartError> {
    super::memory::one_malloc_arena();
    // As Python does at start-up, and so the reference: a log write past
    // RLIMIT_FSIZE then fails with EFBIG, which the log writers report and
    // survive, instead of SIGXFSZ ending the daemon and orphaning every
    // child. (Children get it ignored too, in `process::child`.)
    // SAFETY: SIG_IGN for a signal nothing of ours catches; no handler runs.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        );
    }
    // Before anything is spawned, and while this is the only thread: the
    // notify variables are ours, not our children's.
    let notifier = Notifier::from_environment().map(Arc::new);
    // A restart reads the same file even when the first life changed
    // directory (`directory=` when daemonizing).
    let mut args = args.clone();
    if let Some(path) = &mut args.configuration
        && let Ok(absolute) = std::path::absolute(&*path)
    {
        *path = absolute;
    }
    let mut daemon = Daemon {
        main_log: None,
        lasting: None,
        plugins: PluginLoader::from_environment(),
        notifier,
    };
    let outcome = loop {
        let life = load(&args, argv0).and_then(|(config, options)| daemon.life(config, options));
        match life {
            Ok(RunEnd::Restart) => continue,
            Ok(RunEnd::Shutdown) => break Ok(0),
            Ok(RunEnd::Exit(status)) => break Ok(status),
            Err(error) => {
                // After the first life the terminal is usually gone: say
                // why the daemon ends where its user will look.
                if let (Some(log), Some(_)) = (&daemon.main_log, &daemon.lasting) {
                    let lines = match &error {
                        StartError::Usage(lines) => lines.clone(),
                        StartError::Fatal(text) => vec![text.clone()],
                    };
                    for line in lines {
                        log.critical(&format!("Error: {line}"));
                    }
                }
                break Err(error);
            }
        }
    };
    if let Some(lasting) = daemon.lasting {
        // Children still alive here would be a bug of ours; never leave one.
        for exit in reaper::reap_now() {
            if let Some(log) = &daemon.main_log {
                log.debug(&format!("reaped pid {} at exit", exit.pid));
            }
        }
        lasting.runtime.shutdown_background();
    }
    outcome
}

impl Daemon {
    /// One life: from a fresh configuration to shutdown or restart.
    fn life(&mut self, config: Config, load_options: LoadOptions) -> Result<RunEnd, StartError> {
        let first = self.lasting.is_none();
        let mut messages = switch_user(&config)?;
        if first {
            let infos = raise_rlimits(config.supervisord.minfds, config.supervisord.minprocs)?;
            messages.infos.extend(infos);
        }
        parse_messages(&config, &mut messages);
        // The reference resolves every result_handler while reading the
        // config and refuses to start ("... cannot be resolved within
        // [eventlistener:x]", exit 2); a listener whose handler is missing
        // would otherwise run and drop every event.
        check_result_handlers(&config, &mut self.plugins)?;
        let main_log = self.main_log(&config)?;
        // The reference writes criticals, then warnings, then infos.
        messages.emit(&main_log);
        clean_auto_logs(&config, &main_log);

        // The configuration moves into the supervisor task; what the rest
        // of start-up needs is read through it.
        let (mut supervisor, handle) = Supervisor::new(Setup {
            config,
            load_options,
            main_log: Arc::clone(&main_log),
            output_hook: None,
        });
        let config = supervisor.config();
        let servers = self.open_servers(config, &handle, &main_log)?;
        let nodaemon = config.supervisord.nodaemon;
        let pidfile: PathBuf = config.supervisord.pidfile.clone();
        if first {
            if !nodaemon {
                daemonize(config, &main_log)?;
            }
            let lasting = start_lasting(&main_log)?;
            if let Some(notifier) = &self.notifier {
                notifier.spawn_watchdog(&lasting.runtime);
            }
            self.lasting = Some(lasting);
        }
        let lasting = self
            .lasting
            .as_mut()
            .expect("the first life made what lasts just above");
        let wrote_pidfile = write_pidfile(&pidfile, &main_log);

        let hub = Arc::clone(&handle.shared().hub);
        let notifier = self.notifier.clone();
        let notifier_at_end = self.notifier.clone();
        let shared = Arc::clone(handle.shared());
        let Lasting {
            runtime,
            signals,
            reaped,
        } = lasting;
        let end = runtime.block_on(async move {
            // The groups exist before the first request is served.
            supervisor.open();
            let (stop_servers, servers_stopped) = watch::channel(false);
            let mut serving = Vec::new();
            for (bound, state) in servers {
                let limits = state.limits;
                let mut stopped = servers_stopped.clone();
                serving.push(tokio::spawn(http::serve(
                    bound,
                    http::router(state),
                    limits,
                    async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    },
                )));
            }
            // The servers listen already (their sockets were bound above).
            let following = notifier
                .map(|notifier| tokio::spawn(async move { notifier.follow_life(shared).await }));
            let end = supervisor.run(reaped, signals).await;
            if let Some(following) = following {
                // Cancelled at a wait, or done having said how the life
                // ends; if it had not seen the end yet, say it now.
                following.abort();
                if following.await.is_err()
                    && let Some(notifier) = &notifier_at_end
                {
                    notifier.life_ends(end);
                }
            }
            // Calls still waiting on a command answer FAILED, not hang.
            hub.close();
            // The sockets close (and unix socket files go) before the next
            // life opens its own, which may be the same ones.
            let _ = stop_servers.send(true);
            for server in serving {
                let _ = server.await;
            }
            end
        });
        if wrote_pidfile {
            let _ = std::fs::remove_file(&pidfile);
        }
        Ok(end)
    }

    /// The main log as `config` describes it: opened in the first life
    /// (and given to tracing), reconfigured in place in later ones.
    fn main_log(&mut self, config: &Config) -> Result<Arc<MainLog>, StartError> {
        let wanted = MainLogConfig::from_config(&config.supervisord);
        let unusable = |e: logs::LogFileError| StartError::Usage(vec![e.to_string()]);
        if let Some(log) = &self.main_log {
            log.reconfigure(wanted).map_err(unusable)?;
            return Ok(Arc::clone(log));
        }
        let log = Arc::new(MainLog::open(wanted).map_err(unusable)?);
        use tracing_subscriber::layer::SubscriberExt as _;
        let subscriber = tracing_subscriber::registry().with(MainLogLayer::new(Arc::clone(&log)));
        let _ = tracing::subscriber::set_global_default(subscriber);
        self.main_log = Some(Arc::clone(&log));
        Ok(log)
    }

    /// Load the plugins into a new registry and open every HTTP server's
    /// socket, with the reference's log lines.
    fn open_servers(
        &mut self,
        config: &Config,
        handle: &super::Handle,
        main_log: &MainLog,
    ) -> Result<Vec<(http::Bound, http::AppState)>, StartError> {
        let host = DaemonHost::boxed(handle.clone());
        let registry = Arc::new(Registry::new());
        let namespaces = bridge::register_rpcinterfaces(
            &mut self.plugins,
            &config.rpcinterfaces,
            &host,
            &handle.shared().hub,
            &registry,
        )
        .map_err(|errors| StartError::Usage(errors.iter().map(ToString::to_string).collect()))?;
        let routes = routes::build_routes(&mut self.plugins, &config.rpcinterfaces, &host)
            .map_err(StartError::Usage)?;
        let plugin_hook = routes::http_hook(Arc::new(routes));
        let mut servers = Vec::new();
        for server in server_configs(config) {
            // The reference logs this once per server and namespace, before
            // the server's own lines.
            for name in &namespaces {
                main_log.info(&format!("RPC interface '{name}' initialized"));
            }
            let (bound, mut state) = http::prepare(&server, Arc::clone(&registry))
                .map_err(|e| StartError::Usage(vec![e.to_string()]))?;
            state.hooks = std::mem::take(&mut state.hooks)
                .with_log_tails(process_logs(handle.clone()), main_log.file_path())
                .with_change_feed(handle.shared().published.subscribe());
            state.hooks.plugins = plugin_hook.clone();
            servers.push((bound, state));
        }
        Ok(servers)
    }
}

/// After the first life daemonized: become the subreaper, build the
/// runtime, install the signal handlers and start the reaper, all of which
/// serve every later life.
fn start_lasting(main_log: &MainLog) -> Result<Lasting, StartError> {
    // Orphaned grandchildren re-parent to us, so the reaper collects them.
    if let Err(error) = reaper::become_subreaper() {
        main_log.warn(&format!("unable to become a child subreaper: {error}"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(512 * 1024)
        .enable_all()
        .build()
        .map_err(|e| StartError::Fatal(format!("unable to start the runtime: {e}")))?;
    // Signal handlers and the reaper exist before the pidfile announces
    // the daemon: a TERM sent the moment it appears is a clean shutdown.
    let (signals, reaped) = {
        let _inside = runtime.enter();
        let signals = Signals::install()
            .map_err(|e| StartError::Fatal(format!("unable to install signal handlers: {e}")))?;
        let reaped = start_reaper()
            .map_err(|e| StartError::Fatal(format!("unable to watch SIGCHLD: {e}")))?;
        (signals, reaped)
    };
    Ok(Lasting {
        runtime,
        signals,
        reaped,
    })
}
