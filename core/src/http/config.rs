//! What one HTTP server needs to know, in a small struct of its own until
//! the configuration model feeds it: where to listen, who may call, and the
//! limits that keep one client from hurting the others.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One `[unix_http_server]` or `[inet_http_server]` section. See
/// [`prepare`](super::prepare) for what supervisord does with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The section's name (`unix_http_server`, `inet_http_server:x`),
    /// used in log lines.
    pub section: String,
    /// Where the server listens.
    pub listen: Listen,
    /// Basic-auth user name; `None` or empty means no authentication.
    pub username: Option<String>,
    /// Basic-auth password, plain or `{SHA}` + lowercase hex SHA-1.
    pub password: Option<String>,
    /// The section's limits (ours: `max_connections`, `max_request_bytes`,
    /// `header_timeout`, `idle_timeout`).
    pub limits: Limits,
    /// The users its `users` key accepts besides `username` (ours).
    pub users: Vec<crate::config::model::HttpUser>,
    /// TLS on an inet server (ours: `tls_cert`, `tls_key`,
    /// `tls_client_ca`).
    pub tls: Option<super::tls::TlsFiles>,
}

/// A listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A unix domain socket file.
    Unix(UnixSocket),
    /// A TCP address.
    Inet(InetAddr),
}

/// A unix socket file with the mode and owner it is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    /// Absolute path of the socket file.
    pub path: PathBuf,
    /// Permission bits (`chmod`, default 0700).
    pub mode: u32,
    /// `chown` uid, `None` to leave it.
    pub uid: Option<u32>,
    /// `chown` gid, `None` to leave it.
    pub gid: Option<u32>,
}

impl UnixSocket {
    /// A socket at `path` with the reference's defaults (mode 0700, owner
    /// unchanged).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        UnixSocket {
            path: path.into(),
            mode: 0o700,
            uid: None,
            gid: None,
        }
    }
}

/// `[inet_http_server] port`: `host:port`, `:port` or `*:port`; an empty
/// host or `*` means every IPv4 interface, as in the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetAddr {
    /// Host name or address; `None` for all interfaces.
    pub host: Option<String>,
    /// TCP port.
    pub port: u16,
}

/// Why a `port` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port value {value:?}: {reason}")]
pub struct InetAddrError {
    /// The text as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl InetAddr {
    /// Read `host:port`, `:port`, `*:port` or a bare `port`.
    pub fn parse(value: &str) -> Result<Self, InetAddrError> {
        let error = |reason| InetAddrError {
            value: value.to_owned(),
            reason,
        };
        let trimmed = value.trim();
        let (host, port) = match trimmed.rsplit_once(':') {
            Some((host, port)) => (host.trim(), port.trim()),
            None => ("", trimmed),
        };
        let port: u16 = port
            .parse()
            .map_err(|_| error("the port must be a number from 0 to 65535"))?;
        let host = match host {
            "" | "*" => None,
            host => Some(host.to_owned()),
        };
        Ok(InetAddr { host, port })
    }
}

impl fmt::Display for InetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host.as_deref().unwrap_or("*"), self.port)
    }
}

/// Protection against slow, stalled or greedy clients. None of these exist
/// in the reference; the defaults are generous enough that no well-behaved
/// client notices them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for a request's headers to arrive. hyper arms it as
    /// soon as it waits for a request, so it also closes keep-alive
    /// connections that stay idle this long.
    pub header_read_timeout: Duration,
    /// Time allowed to receive a request body, and for a response write to
    /// make progress; past it the request is refused (408) or the
    /// connection dropped.
    pub idle_timeout: Duration,
    /// Connections this server serves at once (at least 1); `None`: the
    /// daemon's budget for its kind, derived from the open-files limit
    /// (see [`super::gate::Budgets`]). Past it a unix client waits in the
    /// listen backlog; a TCP newcomer displaces the oldest connection that
    /// has not authenticated, or is closed.
    pub max_connections: Option<usize>,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
}

impl Limits {
    /// The limits a server section set, the defaults for the rest.
    pub fn from_section(section: &crate::config::model::ServerLimits) -> Limits {
        let default = Limits::default();
        Limits {
            header_read_timeout: section
                .header_timeout
                .map_or(default.header_read_timeout, Duration::from_secs),
            idle_timeout: section
                .idle_timeout
                .map_or(default.idle_timeout, Duration::from_secs),
            max_connections: section.max_connections.or(default.max_connections),
            max_body_bytes: section
                .max_request_bytes
                .map_or(default.max_body_bytes, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_forms() {
        let all = |port| InetAddr { host: None, port };
        assert_eq!(InetAddr::parse("9001").unwrap(), all(9001));
        assert_eq!(InetAddr::parse(":9001").unwrap(), all(9001));
        assert_eq!(InetAddr::parse("*:9001").unwrap(), all(9001));
        assert_eq!(
            InetAddr::parse("127.0.0.1:9001").unwrap(),
            InetAddr {
                host: Some("127.0.0.1".into()),
                port: 9001
            }
        );
        assert_eq!(
            InetAddr::parse("localhost:1").unwrap().host.as_deref(),
            Some("localhost")
        );
        for bad in ["", "host:", "host:x", "1:70000", "-1"] {
            assert!(InetAddr::parse(bad).is_err(), "{bad}");
        }
    }
}
