//! The typed model of a loaded supervisord.conf: one struct per section
//! kind, every option with its default applied, values expanded and
//! validated, user names resolved. The process engine, the RPC namespace
//! (`getAllConfigInfo`) and supervisorctl read these; nothing here does
//! I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::ParseMessage;
use super::lifecycle::{BackoffPolicy, HealthCheck, Probe, ShutdownOn};
use super::types::{AutoRestart, LogFile, LogLevel, Owner, UserSpec};

/// Environment variables, by name.
pub type Environment = BTreeMap<String, String>;

/// A whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file as named (the `-c` value or the path found).
    pub source: PathBuf,
    /// The directory of the main config file (`%(here)s`).
    pub here: PathBuf,
    /// `[supervisord]`.
    pub supervisord: SupervisordConfig,
    /// `[unix_http_server]` and `[unix_http_server:name]` sections.
    pub unix_http_servers: Vec<UnixHttpServerConfig>,
    /// `[inet_http_server]` and suffixed forms.
    pub inet_http_servers: Vec<InetHttpServerConfig>,
    /// `[rpcinterface:x]` sections, in file order.
    pub rpcinterfaces: Vec<RpcInterfaceConfig>,
    /// Process groups, sorted as the reference sorts them (priority, then
    /// name).
    pub groups: Vec<GroupConfig>,
    /// Info and warning messages to log once the logger exists.
    pub messages: Vec<ParseMessage>,
    /// `[program-defaults]` as written (option, raw value), in file order.
    pub program_defaults: Vec<(String, String)>,
    /// Sections and options nothing reads (each also a warning in
    /// `messages`); `--test-config --strict` fails on any.
    pub unknown: Vec<super::unknown::UnknownName>,
}

impl Config {
    /// The first option that turns forwarding on (`[section] forward_output`),
    /// if any: forwarding needs a stdout, so a daemon that would daemonize
    /// refuses it by this name.
    pub fn forwarding_option(&self) -> Option<String> {
        if self.supervisord.forward_output
            && self
                .groups
                .iter()
                .flat_map(|g| &g.processes)
                .any(|p| p.forwards(&self.supervisord))
        {
            return Some("[supervisord] forward_output".to_string());
        }
        self.groups
            .iter()
            .flat_map(|g| &g.processes)
            .find(|p| p.forward_output == Some(true))
            .map(|p| format!("[{}] forward_output", p.section))
    }

    /// The URL children get as `SUPERVISOR_SERVER_URL` when their own
    /// `serverurl` is not set: the first unix socket, else the last inet
    /// server (the reference's loop over them has no `break`; `localhost`
    /// for all interfaces), else none.
    pub fn default_serverurl(&self) -> Option<String> {
        if let Some(unix) = self.unix_http_servers.first() {
            return Some(format!("unix://{}", unix.file.display()));
        }
        self.inet_http_servers.last().map(|inet| {
            let host = if inet.host.is_empty() {
                "localhost"
            } else {
                &inet.host
            };
            format!("http://{host}:{}", inet.port)
        })
    }
}

/// Where the main log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainLog {
    /// The syslog service (`logfile=syslog`).
    Syslog,
    /// A file, absolute and normalised.
    File(PathBuf),
}

/// `[supervisord]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisordConfig {
    /// `logfile` (default `supervisord.log` in the current directory).
    pub logfile: MainLog,
    /// `logfile_maxbytes` (default 50MB; 0 = never rotate).
    pub logfile_maxbytes: u64,
    /// `logfile_backups` (default 10).
    pub logfile_backups: i64,
    /// `loglevel` (default info).
    pub loglevel: LogLevel,
    /// `pidfile`, absolute and normalised (default `supervisord.pid`).
    pub pidfile: PathBuf,
    /// `umask` (default 022).
    pub umask: u32,
    /// `nodaemon` (default false).
    pub nodaemon: bool,
    /// `silent` (default false).
    pub silent: bool,
    /// `minfds` (default 1024).
    pub minfds: i64,
    /// `minprocs` (default 200).
    pub minprocs: i64,
    /// `nocleanup` (default false).
    pub nocleanup: bool,
    /// `childlogdir` (default the system temp dir).
    pub childlogdir: PathBuf,
    /// `user`: the user to switch to at start-up.
    pub user: Option<UserSpec>,
    /// `directory`: where to chdir when daemonizing.
    pub directory: Option<PathBuf>,
    /// `strip_ansi` (default false).
    pub strip_ansi: bool,
    /// `environment`, already merged into every process's environment.
    pub environment: Environment,
    /// `identifier` (default `supervisor`).
    pub identifier: String,
    /// `forward_output` (ours, default false): every program's output is
    /// copied to supervisord's stdout unless the program says otherwise.
    pub forward_output: bool,
    /// `forward_format` (ours, default text).
    pub forward_format: ForwardFormat,
    /// `forward_timestamps` (ours, default false): text lines start with
    /// the time.
    pub forward_timestamps: bool,
}

/// How forwarded lines are written on supervisord's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardFormat {
    /// `NAME | line` (stderr: `NAME ! line`).
    #[default]
    Text,
    /// One JSON object a line: time, process, group, stream, line.
    Json,
}

/// Basic-auth credentials of an HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password: plain, or `{SHA}` followed by a hex SHA-1.
    pub password: String,
}

/// `[unix_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServerConfig {
    /// The section name (`unix_http_server` or `unix_http_server:x`).
    pub section: String,
    /// `file`: the socket path, absolute and normalised.
    pub file: PathBuf,
    /// `chmod` (default 0700).
    pub chmod: u32,
    /// `chown`, if set.
    pub chown: Option<Owner>,
    /// `username` and `password`, both or neither.
    pub credentials: Option<Credentials>,
    /// Our limits (absent from the reference).
    pub limits: ServerLimits,
    /// `users`: the `[http_user:NAME]` sections this server accepts
    /// besides its own `username` (ours).
    pub users: Vec<HttpUser>,
}

/// An inet server's TLS files (ours), absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// `tls_cert`: certificate and chain, PEM.
    pub cert: PathBuf,
    /// `tls_key`: private key, PEM.
    pub key: PathBuf,
    /// `tls_client_ca`: CA certificates client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

/// `[http_user:NAME]` (ours): a user a server accepts when its `users`
/// key names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUser {
    /// The name after the colon: the Basic-auth user name.
    pub name: String,
    /// `password`: plain, `{SHA}` hex, or an argon2id PHC string.
    pub password: String,
    /// `role = read-only` (the default) rather than `admin`.
    pub read_only: bool,
}

/// The limits a server section may set (ours; the reference ignores these
/// keys). `None`: the daemon's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerLimits {
    /// `max_connections`: connections served at once.
    pub max_connections: Option<usize>,
    /// `max_request_bytes`: the largest request body.
    pub max_request_bytes: Option<u64>,
    /// `header_timeout`: seconds for a request's headers to arrive (and
    /// for an idle keep-alive connection to stay open).
    pub header_timeout: Option<u64>,
    /// `idle_timeout`: seconds a body read or response write may make no
    /// progress.
    pub idle_timeout: Option<u64>,
}

/// `[inet_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServerConfig {
    /// The section name.
    pub section: String,
    /// The host to bind (lower-cased); empty means all interfaces.
    pub host: String,
    /// The port.
    pub port: u16,
    /// `tls_cert`, `tls_key` and `tls_client_ca` (ours): TLS when set.
    pub tls: Option<TlsPaths>,
    /// `username` and `password`, both or neither.
    pub credentials: Option<Credentials>,
    /// Our limits (absent from the reference).
    pub limits: ServerLimits,
    /// `users`: the `[http_user:NAME]` sections this server accepts
    /// besides its own `username` (ours).
    pub users: Vec<HttpUser>,
}

/// `[rpcinterface:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInterfaceConfig {
    /// The name after the colon.
    pub name: String,
    /// `supervisor.rpcinterface_factory` (`LIBRARY:FACTORY`).
    pub factory: String,
    /// Every other option, expanded, passed to the factory in the file's
    /// order (the reference passes them as keyword arguments in that
    /// order; a key only in `[DEFAULT]` comes after the section's own).
    pub extras: Vec<(String, String)>,
    /// The directory of the file holding the section (relative library
    /// paths resolve against it).
    pub dir: PathBuf,
    /// How long a call of this namespace (its deferred reply included) may
    /// take (ours): `supervisor.call_timeout` in the section, else
    /// `[supervisord] plugin_call_timeout` (300 s); `None` for the builtin
    /// `supervisor` namespace, whose waits have their own bounds.
    pub call_timeout: Option<std::time::Duration>,
}

impl RpcInterfaceConfig {
    /// `rpcinterface:NAME`, as the loader's messages name the section.
    pub fn section(&self) -> String {
        format!("rpcinterface:{}", self.name)
    }

    /// The extra keys as the factory receives them.
    pub fn factory_config(&self) -> Vec<(String, String)> {
        self.extras.clone()
    }
}

/// One output channel's logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLog {
    /// `*_logfile` (default AUTO).
    pub logfile: LogFile,
    /// `*_logfile_maxbytes` (default 50MB).
    pub maxbytes: u64,
    /// `*_logfile_backups` (default 10).
    pub backups: i64,
    /// `*_capture_maxbytes` (default 0).
    pub capture_maxbytes: u64,
    /// `*_events_enabled` (default false).
    pub events_enabled: bool,
    /// `*_syslog` (default false; `*_logfile=syslog` sets it).
    pub syslog: bool,
}

/// One concrete process, with everything expanded for its process number:
/// the options that differ between the processes of a program (name,
/// number, command, logs, resolved dependencies) are its own, the rest
/// ([`ProcessOptions`], read through `Deref`) is shared with the other
/// processes of its program whenever they are equal. The daemon keeps its
/// configuration while it runs, and a copy of every option for each of a
/// thousand `numprocs` processes was a fifth of its memory per program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The process name (`process_name` expanded).
    pub name: String,
    /// Its process number.
    pub process_num: i64,
    /// `command`, expanded (empty is accepted here and fails at spawn).
    pub command: String,
    /// stdout logging.
    pub stdout: ChannelLog,
    /// stderr logging (`logfile` is None when `redirect_stderr`).
    pub stderr: ChannelLog,
    /// The processes `depends_on` names, resolved when the whole file was
    /// read (a group or program name stands for each of its processes).
    pub requires: Vec<ProcessRef>,
    /// Every other option, shared with the program's other processes
    /// when equal ([`ProcessOptions::shared_with`]).
    pub options: Arc<ProcessOptions>,
}

impl std::ops::Deref for ProcessConfig {
    type Target = ProcessOptions;

    /// The options are read as if they were the process's own fields.
    fn deref(&self) -> &ProcessOptions {
        &self.options
    }
}

/// The options of a process that its program's other processes usually
/// have too (those expanded per process may still differ: a
/// `%(process_num)d` in `environment` or a check's port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOptions {
    /// The section it came from (`program:web`).
    pub section: String,
    /// The section's name after the colon.
    pub program_name: String,
    /// `directory`, expanded, not checked (the reference checks at spawn).
    pub directory: Option<String>,
    /// `umask`.
    pub umask: Option<u32>,
    /// `priority` (default 999).
    pub priority: i64,
    /// `autostart` (default true).
    pub autostart: bool,
    /// `autorestart` (default unexpected).
    pub autorestart: AutoRestart,
    /// `startsecs` (default 1).
    pub startsecs: i64,
    /// `startretries` (default 3).
    pub startretries: i64,
    /// `user`, resolved.
    pub user: Option<UserSpec>,
    /// `stopsignal` number (default TERM).
    pub stopsignal: i32,
    /// `stopwaitsecs` (default 10).
    pub stopwaitsecs: i64,
    /// `stopasgroup` (default false).
    pub stopasgroup: bool,
    /// `killasgroup` (default = stopasgroup).
    pub killasgroup: bool,
    /// `exitcodes` (default 0); shared with each process's state machine.
    pub exitcodes: Arc<[i32]>,
    /// `redirect_stderr` (default false).
    pub redirect_stderr: bool,
    /// The environment to add: `[supervisord] environment` with the
    /// program's own on top.
    pub environment: Environment,
    /// `serverurl` (`AUTO` is None: the daemon's own URL is used).
    pub serverurl: Option<String>,
    // ---- start order (issue 16) ----
    /// `depends_on`, the names as written (expanded), empty by default.
    pub depends_on: Vec<String>,
    /// `backoff`, `backoff_max`, `backoff_jitter`, `retry_forever`.
    pub backoff: BackoffPolicy,
    /// `shutdown_on` (default never).
    pub shutdown_on: Option<ShutdownOn>,
    /// `forward_output` as the program sets it (ours); None: the
    /// `[supervisord]` value.
    pub forward_output: Option<bool>,
    /// `ready_check` (default none: RUNNING after startsecs, as the
    /// reference).
    pub ready_check: Option<Probe>,
    /// `ready_timeout` in seconds (default 60).
    pub ready_timeout: i64,
    /// `watchdog_secs` (only with `ready_check = notify`; default none).
    pub watchdog_secs: Option<u64>,
    /// `health_check` and its settings (default none).
    pub health_check: Option<HealthCheck>,
}

impl ProcessOptions {
    /// These options, as `previous` (the program's previous process's)
    /// when they are equal, so that a program's processes hold one copy.
    pub fn shared_with(self, previous: Option<&Arc<ProcessOptions>>) -> Arc<ProcessOptions> {
        match previous {
            Some(previous) if **previous == self => Arc::clone(previous),
            _ => Arc::new(self),
        }
    }
}

/// Put `base` (`[supervisord] environment`) under the environment of each
/// of `processes` (their own names win), once per set of shared options,
/// so processes that shared their options still do.
pub fn environment_under(processes: &mut [ProcessConfig], base: &Environment) {
    // The options before and after, of the last process changed.
    let mut last: Option<(Arc<ProcessOptions>, Arc<ProcessOptions>)> = None;
    for process in processes {
        if let Some((before, after)) = &last
            && Arc::ptr_eq(before, &process.options)
        {
            process.options = Arc::clone(after);
            continue;
        }
        let before = Arc::clone(&process.options);
        let options = Arc::make_mut(&mut process.options);
        let mut environment = base.clone();
        environment.append(&mut options.environment);
        options.environment = environment;
        last = Some((before, Arc::clone(&process.options)));
    }
}

/// One process named by group and process name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessRef {
    /// The group's name.
    pub group: String,
    /// The process's name.
    pub name: String,
}

impl std::fmt::Display for ProcessRef {
    /// `group:name`, or the bare name when the group has its name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group == self.name {
            f.write_str(&self.name)
        } else {
            write!(f, "{}:{}", self.group, self.name)
        }
    }
}

impl ProcessConfig {
    /// The reference's `ProcessConfig.__eq__`, which decides whether a
    /// group changed on reload: every option counts, except that a logfile
    /// that is AUTO on either side compares equal to anything.
    pub fn same_as(&self, other: &ProcessConfig) -> bool {
        fn logs_equal(a: &ChannelLog, b: &ChannelLog) -> bool {
            let files =
                a.logfile == LogFile::Auto || b.logfile == LogFile::Auto || a.logfile == b.logfile;
            files
                && a.maxbytes == b.maxbytes
                && a.backups == b.backups
                && a.capture_maxbytes == b.capture_maxbytes
                && a.events_enabled == b.events_enabled
                && a.syslog == b.syslog
        }
        self.name == other.name
            && self.user.as_ref().map(|u| u.uid) == other.user.as_ref().map(|u| u.uid)
            && self.command == other.command
            && self.directory == other.directory
            && self.umask == other.umask
            && self.priority == other.priority
            && self.autostart == other.autostart
            && self.autorestart == other.autorestart
            && self.startsecs == other.startsecs
            && self.startretries == other.startretries
            && logs_equal(&self.stdout, &other.stdout)
            && logs_equal(&self.stderr, &other.stderr)
            && self.stopsignal == other.stopsignal
            && self.stopwaitsecs == other.stopwaitsecs
            && self.stopasgroup == other.stopasgroup
            && self.killasgroup == other.killasgroup
            && self.exitcodes == other.exitcodes
            && self.redirect_stderr == other.redirect_stderr
            && self.environment == other.environment
            && self.serverurl == other.serverurl
            && self.depends_on == other.depends_on
            && self.backoff == other.backoff
            && self.shutdown_on == other.shutdown_on
            && self.forward_output == other.forward_output
            && self.ready_check == other.ready_check
            && self.ready_timeout == other.ready_timeout
            && self.watchdog_secs == other.watchdog_secs
            && self.health_check == other.health_check
    }

    /// Whether this process's output is forwarded to supervisord's stdout:
    /// its own `forward_output`, else `[supervisord]`'s.
    pub fn forwards(&self, supervisord: &SupervisordConfig) -> bool {
        self.forward_output.unwrap_or(supervisord.forward_output)
    }
}

/// The socket of a FastCGI program group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcgiSocket {
    /// `unix:///abs/path`.
    Unix {
        /// The path, normalised.
        path: PathBuf,
        /// Owner to set; defaults to the program's user when it differs
        /// from the daemon's.
        owner: Option<Owner>,
        /// Mode (default 0700).
        mode: u32,
    },
    /// `tcp://host:port`.
    Tcp {
        /// Host, lower-cased.
        host: String,
        /// Port.
        port: u16,
    },
}

impl FcgiSocket {
    /// The socket's URL; the reference compares fcgi sockets by it alone.
    pub fn url(&self) -> String {
        match self {
            FcgiSocket::Unix { path, .. } => format!("unix://{}", path.display()),
            FcgiSocket::Tcp { host, port } => format!("tcp://{host}:{port}"),
        }
    }
}

/// What kind of group, with the options only that kind has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKind {
    /// `[program:x]` or `[group:x]`.
    Program,
    /// `[fcgi-program:x]`.
    FastCgi {
        /// `socket` and its options.
        socket: FcgiSocket,
        /// `socket_backlog`.
        backlog: Option<u32>,
    },
    /// `[eventlistener:x]`.
    EventListener {
        /// `buffer_size` (default 10).
        buffer_size: i64,
        /// `events`, upper-cased, sorted, without duplicates.
        events: Vec<String>,
        /// `result_handler` (`LIBRARY:FACTORY`).
        result_handler: String,
        /// The section's keys that are no option of ours, passed to a
        /// third-party result handler's factory as its config (the
        /// reference ignores such keys, so they are never expanded or
        /// checked here), in file order.
        handler_config: Vec<(String, String)>,
        /// The directory of the file holding the section: a relative
        /// handler library path resolves against it.
        handler_dir: PathBuf,
    },
}

/// A process group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// The group name.
    pub name: String,
    /// The group priority (start order; eventlistener pools default to -1).
    pub priority: i64,
    /// The kind.
    pub kind: GroupKind,
    /// Processes: per program sorted by (priority, name); a `[group:x]`
    /// keeps its programs in the order listed.
    pub processes: Vec<ProcessConfig>,
}

impl GroupConfig {
    /// The reference's `__eq__` of the new group against the old one,
    /// which decides whether `update` restarts it. Like the reference, a
    /// program group equals an fcgi group with the same processes (it
    /// compares as its base class).
    pub fn same_as(&self, old: &GroupConfig) -> bool {
        let kinds = match (&self.kind, &old.kind) {
            (GroupKind::Program, GroupKind::Program | GroupKind::FastCgi { .. }) => true,
            (GroupKind::FastCgi { socket: a, .. }, GroupKind::FastCgi { socket: b, .. }) => {
                a.url() == b.url()
            }
            (
                GroupKind::EventListener {
                    buffer_size: a_size,
                    events: a_events,
                    result_handler: a_handler,
                    ..
                },
                GroupKind::EventListener {
                    buffer_size: b_size,
                    events: b_events,
                    result_handler: b_handler,
                    ..
                },
            ) => a_size == b_size && a_events == b_events && a_handler == b_handler,
            _ => false,
        };
        kinds
            && self.name == old.name
            && self.priority == old.priority
            && self.processes.len() == old.processes.len()
            && self
                .processes
                .iter()
                .zip(&old.processes)
                .all(|(a, b)| a.same_as(b))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::config::{Config, LoadOptions, load_config_with};

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).expect("the config written");
        let options = LoadOptions {
            environ: Default::default(),
            host_node_name: "node1".into(),
            cli_user: None,
            numprocs: None,
        };
        load_config_with(&path, &options).expect("a valid config")
    }

    /// The daemon keeps its configuration while it runs: the processes
    /// of a numprocs program hold one copy of the options they share,
    /// `[supervisord] environment` included, and their own of the rest.
    #[test]
    fn a_programs_processes_share_their_equal_options() {
        let config = load(
            "[supervisord]\nenvironment=A=1\n\
             [program:same]\ncommand=/bin/sleep %(process_num)d\nnumprocs=3\n\
             process_name=%(program_name)s_%(process_num)d\nenvironment=B=2\n\
             [program:own]\ncommand=/bin/true\nnumprocs=2\n\
             process_name=%(program_name)s_%(process_num)d\nenvironment=PORT=80%(process_num)d\n",
        );
        let group = |name: &str| {
            let group = config.groups.iter().find(|g| g.name == name);
            &group.expect("the group").processes
        };
        let same = group("same");
        assert_eq!(same.len(), 3);
        assert!(
            same.iter()
                .all(|p| Arc::ptr_eq(&p.options, &same[0].options))
        );
        let commands: Vec<&str> = same.iter().map(|p| p.command.as_str()).collect();
        assert_eq!(commands, ["/bin/sleep 0", "/bin/sleep 1", "/bin/sleep 2"]);
        let env: Vec<(&str, &str)> = same[2]
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("B", "2")]);
        let own = group("own");
        assert!(!Arc::ptr_eq(&own[0].options, &own[1].options));
        assert_eq!(
            own[0].environment.get("PORT").map(String::as_str),
            Some("800")
        );
        assert_eq!(
            own[1].environment.get("PORT").map(String::as_str),
            Some("801")
        );
        assert_eq!(own[1].environment.get("A").map(String::as_str), Some("1"));
    }
}
