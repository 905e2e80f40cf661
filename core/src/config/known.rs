//! The names supervisord.conf may use: every kind of section and the
//! options each kind reads (the reference's, then ours). The loader's
//! `[program-defaults]` takes only program options from here, and the
//! unknown-name check (`config::unknown`) measures every name in a file
//! against these lists. A new option is added here and in its reader.

/// `[program-defaults]`: program options every `[program:x]` and
/// `[fcgi-program:x]` uses unless it sets them itself (ours).
pub const PROGRAM_DEFAULTS: &str = "program-defaults";

/// The options of `[program:x]` (and, with [`FCGI_ONLY`], of
/// `[fcgi-program:x]`), as the reference's `processes_from_section` reads
/// them, then ours.
pub const PROGRAM: &[&str] = &[
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
    // ours
    "environment_file",
    "forward_output",
    // start order and restart policy (issue 16)
    "depends_on",
    "backoff",
    "backoff_max",
    "backoff_jitter",
    "retry_forever",
    "shutdown_on",
    // readiness and health (issue 16)
    "ready_check",
    "ready_timeout",
    "watchdog_secs",
    "health_check",
    "health_interval",
    "health_timeout",
    "health_retries",
];

/// What `[fcgi-program:x]` reads beyond the program options.
pub const FCGI_ONLY: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];

/// What `[eventlistener:x]` reads beyond the program options (a third-party
/// result handler takes any other key as its own config).
pub const EVENTLISTENER_ONLY: &[&str] = &["buffer_size", "events", "result_handler"];

/// `[supervisord]`'s options, the reference's then ours.
pub const SUPERVISORD: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
    // ours
    "environment_file",
    "forward_output",
    "forward_format",
    "forward_timestamps",
    "plugin_call_timeout",
];

/// `[supervisorctl]`'s options.
pub const SUPERVISORCTL: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
    // ours
    "tls_ca",
    "tls_insecure_skip_verify",
    "tls_cert",
    "tls_key",
];

/// `[unix_http_server]`'s options.
pub const UNIX_HTTP_SERVER: &[&str] = &["file", "chmod", "chown", "username", "password"];

/// What every server section reads beyond the reference's (ours).
pub const SERVER_OURS: &[&str] = &[
    "users",
    "max_connections",
    "max_request_bytes",
    "header_timeout",
    "idle_timeout",
];

/// What `[inet_http_server]` reads for TLS (ours).
pub const INET_TLS: &[&str] = &["tls_cert", "tls_key", "tls_client_ca"];

/// `[http_user:NAME]`'s options (ours).
pub const HTTP_USER: &[&str] = &["password", "role"];

/// `[inet_http_server]`'s options.
pub const INET_HTTP_SERVER: &[&str] = &["port", "username", "password"];

/// `[group:x]`'s options.
pub const GROUP: &[&str] = &["programs", "priority"];

/// `[include]`'s options.
pub const INCLUDE: &[&str] = &["files"];

/// A kind of section: how its name is written and what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// `[supervisord]`.
    Supervisord,
    /// `[supervisorctl]`.
    Supervisorctl,
    /// `[unix_http_server]` or `[unix_http_server:x]`.
    UnixHttpServer,
    /// `[inet_http_server]` or `[inet_http_server:x]`.
    InetHttpServer,
    /// `[include]`.
    Include,
    /// `[program:x]`.
    Program,
    /// `[fcgi-program:x]`.
    FcgiProgram,
    /// `[eventlistener:x]`.
    EventListener,
    /// `[group:x]`.
    Group,
    /// `[rpcinterface:x]`: any key is the plugin's config.
    RpcInterface,
    /// `[ctlplugin:x]`: any key is the plugin's config.
    CtlPlugin,
    /// `[program-defaults]` (ours).
    ProgramDefaults,
    /// `[http_user:NAME]` (ours).
    HttpUser,
}

/// The section names as written: exact ones, then `type:name` prefixes.
pub const SECTION_NAMES: &[(&str, SectionKind)] = &[
    ("supervisord", SectionKind::Supervisord),
    ("supervisorctl", SectionKind::Supervisorctl),
    ("unix_http_server", SectionKind::UnixHttpServer),
    ("inet_http_server", SectionKind::InetHttpServer),
    ("include", SectionKind::Include),
    (PROGRAM_DEFAULTS, SectionKind::ProgramDefaults),
    ("program:", SectionKind::Program),
    ("fcgi-program:", SectionKind::FcgiProgram),
    ("eventlistener:", SectionKind::EventListener),
    ("group:", SectionKind::Group),
    ("rpcinterface:", SectionKind::RpcInterface),
    ("ctlplugin:", SectionKind::CtlPlugin),
    ("http_user:", SectionKind::HttpUser),
];

impl SectionKind {
    /// The kind of a section name, as the reference matches it (`type:`
    /// prefixes; the server sections by prefix alone); None for a section
    /// the reference (and we) ignore.
    pub fn of(name: &str) -> Option<SectionKind> {
        SECTION_NAMES.iter().find_map(|(written, kind)| {
            let matches = match kind {
                SectionKind::UnixHttpServer | SectionKind::InetHttpServer => {
                    name.starts_with(written)
                }
                _ if written.ends_with(':') => name.starts_with(written),
                _ => name == *written,
            };
            matches.then_some(*kind)
        })
    }

    /// Whether an option is one this kind reads. Plugin sections take any
    /// key.
    pub fn knows(self, option: &str) -> bool {
        matches!(self, SectionKind::RpcInterface | SectionKind::CtlPlugin)
            || self.options().contains(&option)
    }

    /// Every option this kind reads (empty for plugin sections).
    pub fn options(self) -> Vec<&'static str> {
        let lists: &[&[&'static str]] = match self {
            SectionKind::Supervisord => &[SUPERVISORD],
            SectionKind::Supervisorctl => &[SUPERVISORCTL],
            SectionKind::UnixHttpServer => &[UNIX_HTTP_SERVER, SERVER_OURS],
            SectionKind::InetHttpServer => &[INET_HTTP_SERVER, SERVER_OURS, INET_TLS],
            SectionKind::HttpUser => &[HTTP_USER],
            SectionKind::Include => &[INCLUDE],
            SectionKind::Program | SectionKind::ProgramDefaults => &[PROGRAM],
            SectionKind::FcgiProgram => &[PROGRAM, FCGI_ONLY],
            SectionKind::EventListener => &[PROGRAM, EVENTLISTENER_ONLY],
            SectionKind::Group => &[GROUP],
            SectionKind::RpcInterface | SectionKind::CtlPlugin => &[],
        };
        lists.iter().flat_map(|l| l.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_matched_as_the_reference_matches_them() {
        assert_eq!(SectionKind::of("program:web"), Some(SectionKind::Program));
        assert_eq!(SectionKind::of("progam:web"), None);
        assert_eq!(SectionKind::of("program"), None);
        assert_eq!(
            SectionKind::of("inet_http_server:x"),
            Some(SectionKind::InetHttpServer)
        );
        assert_eq!(
            SectionKind::of("program-defaults"),
            Some(SectionKind::ProgramDefaults)
        );
        assert!(SectionKind::FcgiProgram.knows("socket"));
        assert!(!SectionKind::Program.knows("socket"));
        assert!(SectionKind::RpcInterface.knows("anything"));
    }

    #[test]
    fn the_security_keys_are_known() {
        assert_eq!(
            SectionKind::of("http_user:viewer"),
            Some(SectionKind::HttpUser)
        );
        assert!(SectionKind::HttpUser.knows("role"));
        for key in ["users", "max_connections", "tls_cert", "tls_client_ca"] {
            assert!(SectionKind::InetHttpServer.knows(key), "{key}");
        }
        assert!(SectionKind::UnixHttpServer.knows("idle_timeout"));
        assert!(!SectionKind::UnixHttpServer.knows("tls_cert"));
        assert!(SectionKind::Supervisord.knows("plugin_call_timeout"));
        assert!(SectionKind::Supervisorctl.knows("tls_ca"));
    }
}
