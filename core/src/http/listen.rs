//! Opening the listening sockets, before the runtime exists (the reference
//! opens its servers before it daemonizes, so errors reach the terminal).
//! A unix socket is created as the reference creates it: bound under a
//! temporary name, chmod-ed, then hard-linked into place so it never exists
//! with the wrong mode; a stale file is replaced only when nothing answers
//! on it; the file is removed when the server goes away.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, UnixAddr, bind, listen,
    setsockopt, socket, sockopt,
};

use super::config::{InetAddr, Listen, UnixSocket};
use crate::pyrepr::errno_name;

/// The reference's listen backlog.
const BACKLOG: i32 = 1024;

/// How often a stale socket file is replaced before giving up (the
/// reference retries forever; a file that keeps reappearing means another
/// daemon is starting at the same time).
const STALE_SOCKET_ATTEMPTS: usize = 5;

/// Why a server socket could not be opened. The texts are the reference's
/// usage errors, so scripts that match them keep working.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Something already listens there.
    #[error(
        "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord."
    )]
    AddressInUse,
    /// chown of the socket file was refused.
    #[error(
        "Not permitted to chown {path} to uid/gid ({uid}, {gid}); adjust \"sockchown\" value in config file or on command line to values that the current user ({user}) can successfully chown"
    )]
    ChownNotPermitted {
        /// The socket file.
        path: String,
        /// Requested uid (-1: unchanged).
        uid: i64,
        /// Requested gid (-1: unchanged).
        gid: i64,
        /// The effective user's name.
        user: String,
    },
    /// The host name does not resolve.
    #[error("Cannot resolve the host of [inet_http_server] port {addr}: {reason}")]
    Resolve {
        /// The configured address.
        addr: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The TLS files of the section are not usable.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    /// Any other socket error, reported as the reference reports it.
    #[error("Cannot open an HTTP server: socket.error reported errno.{} ({}) while trying to {action}", errno_name(*.errno as i32), *.errno as i32)]
    Os {
        /// What was being done.
        action: String,
        /// The error.
        errno: Errno,
    },
}

fn os_error(action: impl Into<String>) -> impl FnOnce(Errno) -> BindError {
    let action = action.into();
    move |errno| {
        if errno == Errno::EADDRINUSE {
            BindError::AddressInUse
        } else {
            BindError::Os { action, errno }
        }
    }
}

fn io_errno(error: &io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

/// An open listening socket, not yet attached to a runtime.
pub enum Bound {
    /// A unix socket, with the guard that removes its file.
    Unix(UnixListener, SocketFile),
    /// A TCP socket.
    Tcp(TcpListener),
    /// A TCP socket whose connections speak TLS.
    Tls(TcpListener, tokio_rustls::TlsAcceptor),
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Unix(listener, file) => {
                f.debug_tuple("Unix").field(listener).field(file).finish()
            }
            Bound::Tcp(listener) => f.debug_tuple("Tcp").field(listener).finish(),
            Bound::Tls(listener, _) => f.debug_tuple("Tls").field(listener).finish(),
        }
    }
}

impl Bound {
    /// Open the socket `listen` describes.
    pub fn open(listen: &Listen) -> Result<Bound, BindError> {
        match listen {
            Listen::Unix(config) => {
                let (listener, file) = bind_unix(config)?;
                Ok(Bound::Unix(listener, file))
            }
            Listen::Inet(addr) => Ok(Bound::Tcp(bind_inet(addr)?)),
        }
    }

    /// The TCP address actually bound (useful with port 0), if TCP.
    pub fn local_tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Bound::Tcp(listener) | Bound::Tls(listener, _) => listener.local_addr().ok(),
            Bound::Unix(..) => None,
        }
    }

    /// Speak TLS with `acceptor` on a TCP socket (a unix socket stays as
    /// it is: it is never configured with TLS).
    pub fn with_tls(self, acceptor: tokio_rustls::TlsAcceptor) -> Bound {
        match self {
            Bound::Tcp(listener) | Bound::Tls(listener, _) => Bound::Tls(listener, acceptor),
            unix => unix,
        }
    }
}

/// Bind and listen on TCP with SO_REUSEADDR and the reference's backlog.
/// An absent host binds every IPv4 interface, as the reference's AF_INET
/// socket does; a name binds its first address (IPv4 preferred).
pub fn bind_inet(addr: &InetAddr) -> Result<TcpListener, BindError> {
    let target: SocketAddr = match &addr.host {
        None => SocketAddr::from(([0, 0, 0, 0], addr.port)),
        Some(host) => {
            let resolved: Vec<SocketAddr> = (host.as_str(), addr.port)
                .to_socket_addrs()
                .map_err(|e| BindError::Resolve {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?
                .collect();
            resolved
                .iter()
                .find(|a| a.is_ipv4())
                .or_else(|| resolved.first())
                .copied()
                .ok_or_else(|| BindError::Resolve {
                    addr: addr.to_string(),
                    reason: "no address found".into(),
                })?
        }
    };
    let action = format!("listen on {target}");
    let family = if target.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .map_err(os_error(&action))?;
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(os_error(&action))?;
    match target {
        SocketAddr::V4(v4) => bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(v4)),
        SocketAddr::V6(v6) => bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn6::from(v6)),
    }
    .map_err(os_error(&action))?;
    listen_on(&fd, &action)?;
    Ok(TcpListener::from(fd))
}

fn listen_on(fd: &OwnedFd, action: &str) -> Result<(), BindError> {
    let backlog = Backlog::new(BACKLOG).map_err(os_error(action))?;
    listen(fd, backlog).map_err(os_error(action))
}

/// Create the unix socket file (see the module docs for the algorithm).
pub fn bind_unix(config: &UnixSocket) -> Result<(UnixListener, SocketFile), BindError> {
    let path = &config.path;
    let temp = PathBuf::from(format!("{}.{}", path.display(), std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut attempts = 0;
    let listener = loop {
        attempts += 1;
        let bound = bind_temp(&temp, config.mode);
        let outcome = bound.and_then(|fd| match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(Some(fd)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(BindError::Os {
                action: format!("link {} to {}", temp.display(), path.display()),
                errno: io_errno(&e),
            }),
        });
        let _ = std::fs::remove_file(&temp);
        match outcome? {
            Some(fd) => break fd,
            None if socket_answers(path) || attempts >= STALE_SOCKET_ATTEMPTS => {
                return Err(BindError::AddressInUse);
            }
            None => {
                // The reference's message, on stderr, word for word.
                eprintln!("Unlinking stale socket {}", path.display());
                let _ = std::fs::remove_file(path);
            }
        }
    };
    let file = SocketFile::adopt(path.clone());
    if config.uid.is_some() || config.gid.is_some() {
        let uid = config.uid.map(nix::unistd::Uid::from_raw);
        let gid = config.gid.map(nix::unistd::Gid::from_raw);
        match nix::unistd::chown(path.as_path(), uid, gid) {
            Ok(()) => {}
            Err(Errno::EPERM) => {
                let euid = nix::unistd::geteuid();
                let user = nix::unistd::User::from_uid(euid)
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| euid.to_string());
                return Err(BindError::ChownNotPermitted {
                    path: path.display().to_string(),
                    uid: config.uid.map_or(-1, i64::from),
                    gid: config.gid.map_or(-1, i64::from),
                    user,
                });
            }
            Err(errno) => {
                return Err(BindError::Os {
                    action: format!("chown {}", path.display()),
                    errno,
                });
            }
        }
    }
    Ok((UnixListener::from(listener), file))
}

/// Bind, chmod and listen on a socket at the temporary name. Listening
/// before the link means a client never finds the final name refusing.
fn bind_temp(temp: &Path, mode: u32) -> Result<OwnedFd, BindError> {
    let action = format!("bind {}", temp.display());
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(os_error(&action))?;
    let addr = UnixAddr::new(temp).map_err(os_error(&action))?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr).map_err(os_error(&action))?;
    std::fs::set_permissions(temp, std::fs::Permissions::from_mode(mode)).map_err(|e| {
        BindError::Os {
            action: format!("chmod {}", temp.display()),
            errno: io_errno(&e),
        }
    })?;
    listen_on(&fd, &action)?;
    Ok(fd)
}

/// Whether a live server holds the socket file at `path` (the reference's
/// `checkused`: a connect that succeeds means somebody listens).
fn socket_answers(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// The socket file of a running unix server: removed on drop, but only if
/// it is still ours (same device and inode), so a daemon that lost its file
/// to a newer one never deletes the newer one's socket.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl SocketFile {
    fn adopt(path: PathBuf) -> Self {
        let identity = std::fs::symlink_metadata(&path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        SocketFile { path, identity }
    }

    /// The socket file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let current = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if current.is_some() && current == self.identity {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn unix_socket_gets_its_mode_and_is_removed_on_drop() {
        let dir = temp_dir();
        let path = dir.path().join("s.sock");
        let mut config = UnixSocket::new(&path);
        config.mode = 0o760;
        let (listener, file) = bind_unix(&config).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o760);
        // The temporary name never outlives the bind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        UnixStream::connect(&path).expect("the socket listens");
        drop(listener);
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn stale_socket_is_replaced_live_one_is_not() {
        let dir = temp_dir();
        let path = dir.path().join("s.sock");
        // A stale socket: bound, then its listener closed.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (_listener, _file) = bind_unix(&UnixSocket::new(&path)).unwrap();
        UnixStream::connect(&path).expect("the new socket listens");
        // A second server on the same live socket is refused.
        let err = bind_unix(&UnixSocket::new(&path)).unwrap_err();
        assert!(matches!(err, BindError::AddressInUse), "{err}");
        UnixStream::connect(&path).expect("the first server still listens");
    }

    #[test]
    fn socket_file_that_is_no_longer_ours_is_left_alone() {
        let dir = temp_dir();
        let path = dir.path().join("s.sock");
        let (_listener, file) = bind_unix(&UnixSocket::new(&path)).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "someone else's").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's");
    }

    #[test]
    fn inet_binds_and_refuses_a_taken_port() {
        let addr = InetAddr::parse("127.0.0.1:0").unwrap();
        let listener = bind_inet(&addr).unwrap();
        let port = listener.local_addr().unwrap().port();
        let taken = InetAddr::parse(&format!("127.0.0.1:{port}")).unwrap();
        assert!(matches!(bind_inet(&taken), Err(BindError::AddressInUse)));
        let all = bind_inet(&InetAddr::parse(":0").unwrap()).unwrap();
        assert!(all.local_addr().unwrap().ip().is_unspecified());
    }

    #[test]
    fn missing_directory_is_an_os_error_naming_errno() {
        let err = bind_unix(&UnixSocket::new("/nonexistent-dir/x.sock")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("errno.ENOENT (2)"), "{text}");
    }
}
