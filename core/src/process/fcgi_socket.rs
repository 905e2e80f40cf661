//! The listening socket of an `[fcgi-program:x]` group: created, bound and
//! listening before the first process of the group starts, shared by every
//! process of the group as its fd 0, and closed when the last of them is
//! reaped, as the reference's `SocketManager` does.
//!
//! One [`SocketManager`] per fcgi group. A process takes a [`SocketLease`]
//! before it is spawned and drops it once it has been reaped; the first lease
//! creates the socket, the last one closes it, so restarting one process of
//! the group never drops the listening socket and clients queue up in its
//! backlog meanwhile. The socket is close-on-exec here: the spawner `dup2`s
//! [`SocketLease::as_fd`] onto the child's fd 0, which is the only place it
//! crosses an exec. This module never forks, spawns or logs: it owns the
//! socket, and the process engine decides what a failure means (the
//! reference's spawn error; other groups carry on).
//!
//! Differences from the reference, each on purpose:
//! - when the last lease goes, the unix socket file is removed (the
//!   reference leaves a stale file behind that refuses connections); it is
//!   removed only if it is still the file this manager bound;
//! - a stale socket file is replaced as the reference does, but a socket
//!   file something else still listens on, or a path that is not a socket
//!   at all, is an error instead of being unlinked;
//! - the file is never more permissive than `socket_mode`, not even between
//!   `bind` and `chmod`: the socket's inode gets the mode before `bind`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, SockFlag, SockType, SockaddrIn, UnixAddr, setsockopt, sockopt,
};
use nix::sys::stat::{Mode, fchmod};
use nix::unistd::{Gid, Uid};

use crate::config::{FcgiSocket, GroupConfig, GroupKind};

/// Why the socket of an fcgi group could not be created.
///
/// Its text starts as the reference's (`Could not create FastCGI socket
/// <url>: <cause>`) and names the group too, so a log line or a process's
/// `spawnerr` says which group and address failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketError {
    group: String,
    url: String,
    cause: String,
}

impl SocketError {
    /// The group whose socket failed.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The socket's URL (`unix:///path` or `tcp://host:port`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What failed, in the reference's words where it has some
    /// (`[Errno 98] Address already in use`).
    pub fn cause(&self) -> &str {
        &self.cause
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Could not create FastCGI socket {} for group {}: {}",
            self.url, self.group, self.cause
        )
    }
}

impl std::error::Error for SocketError {}

/// An OS error as Python prints an `OSError`, which is what the reference
/// puts after the URL: `[Errno 98] Address already in use`.
fn os_error(errno: Errno) -> String {
    format!("[Errno {}] {}", errno as i32, errno.desc())
}

/// The same with the file name Python adds when the call had a path.
fn os_error_at(errno: Errno, path: &Path) -> String {
    format!("{}: '{}'", os_error(errno), path.display())
}

/// The socket of one fcgi group and the count of processes holding it.
///
/// Cloning gives another handle on the same socket. Leases may be dropped
/// on any thread (a spawner thread that failed to fork, the reaper's
/// owner), hence the mutex; it is held only for the few syscalls of
/// creating or closing the socket, never across an await.
#[derive(Debug, Clone)]
pub struct SocketManager {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Debug)]
struct Shared {
    group: String,
    socket: FcgiSocket,
    backlog: Option<u32>,
    /// The open socket, present exactly while `leases > 0`.
    open: Option<OpenSocket>,
    leases: usize,
}

#[derive(Debug)]
struct OpenSocket {
    fd: Arc<OwnedFd>,
    /// For a unix socket: the device and inode of the file we bound, so
    /// closing removes that file and not one somebody put there since.
    bound_file: Option<(u64, u64)>,
}

impl SocketManager {
    /// A manager for `socket` of `group`; nothing is created until the
    /// first [`acquire`](Self::acquire). `backlog` is `socket_backlog`
    /// (`None`: the system's `SOMAXCONN`, as the reference).
    pub fn new(group: &str, socket: &FcgiSocket, backlog: Option<u32>) -> Self {
        SocketManager {
            shared: Arc::new(Mutex::new(Shared {
                group: group.to_owned(),
                socket: socket.clone(),
                backlog,
                open: None,
                leases: 0,
            })),
        }
    }

    /// The manager of an `[fcgi-program:x]` group, or `None` for any other
    /// kind of group.
    pub fn for_group(group: &GroupConfig) -> Option<Self> {
        match &group.kind {
            GroupKind::FastCgi { socket, backlog } => {
                Some(SocketManager::new(&group.name, socket, *backlog))
            }
            GroupKind::Program | GroupKind::EventListener { .. } => None,
        }
    }

    /// Take a reference on the socket for one process about to be spawned,
    /// creating, binding and listening first if no process holds it. Keep
    /// the lease until the process has been reaped (or its spawn failed).
    pub fn acquire(&self) -> Result<SocketLease, SocketError> {
        let mut shared = self.lock();
        let fd = match &shared.open {
            Some(open) => Arc::clone(&open.fd),
            None => {
                let open = create(&shared.socket, shared.backlog).map_err(|cause| SocketError {
                    group: shared.group.clone(),
                    url: shared.socket.url(),
                    cause,
                })?;
                let fd = Arc::clone(&open.fd);
                shared.open = Some(open);
                fd
            }
        };
        shared.leases += 1;
        Ok(SocketLease {
            fd: Some(fd),
            manager: self.clone(),
        })
    }

    /// Create the socket and close it again, as the reference does when it
    /// builds the group, so a socket that cannot be bound is reported when
    /// the group is added rather than at its first start. If processes
    /// already hold the socket it is left alone and this succeeds.
    pub fn check(&self) -> Result<(), SocketError> {
        self.acquire().map(drop)
    }

    /// How many processes hold the socket now.
    pub fn lease_count(&self) -> usize {
        self.lock().leases
    }

    /// Whether the socket is open (some process holds it).
    pub fn is_open(&self) -> bool {
        self.lock().open.is_some()
    }

    /// The socket's URL, as the reference prints it in its log lines
    /// (`Creating socket unix:///run/x.sock`).
    pub fn url(&self) -> String {
        self.lock().socket.url()
    }

    /// The group this socket belongs to.
    pub fn group(&self) -> String {
        self.lock().group.clone()
    }

    fn release_one(&self) {
        let mut shared = self.lock();
        shared.leases = shared.leases.saturating_sub(1);
        if shared.leases == 0
            && let Some(open) = shared.open.take()
        {
            close(&shared.socket, open);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while the lock was held cannot leave the count and the
        // socket inconsistent (each is updated by one statement after the
        // syscalls), so a poisoned lock is still good to use.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One process's hold on its group's listening socket. Dropping it (or
/// [`release`](Self::release)) gives the hold back; the last one closes the
/// socket.
#[derive(Debug)]
pub struct SocketLease {
    /// Always `Some` until `drop` takes it, so the descriptor is closed
    /// before the count that may remove the socket file goes down.
    fd: Option<Arc<OwnedFd>>,
    manager: SocketManager,
}

impl SocketLease {
    /// The listening socket, for the spawner to `dup2` onto the child's
    /// fd 0. It is close-on-exec, blocking, and stays open while this lease
    /// lives.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd().as_fd()
    }

    /// The raw descriptor of [`as_fd`](Self::as_fd), for code between fork
    /// and exec that may only make raw syscalls.
    pub fn raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }

    fn fd(&self) -> &OwnedFd {
        self.fd
            .as_deref()
            .expect("a lease holds its descriptor until it is dropped")
    }

    /// Give the hold back now; the same as dropping the lease.
    pub fn release(self) {}
}

impl AsFd for SocketLease {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd().as_fd()
    }
}

impl Drop for SocketLease {
    fn drop(&mut self) {
        drop(self.fd.take());
        self.manager.release_one();
    }
}

/// Create, bind and listen, the reference's `create_and_bind` then
/// `listen`. The error is the cause only; the caller adds group and URL.
fn create(socket: &FcgiSocket, backlog: Option<u32>) -> Result<OpenSocket, String> {
    let open = match socket {
        FcgiSocket::Unix { path, owner, mode } => {
            let fd = create_unix(path, owner.map(|o| (o.uid, o.gid)), *mode)?;
            let bound_file = std::fs::symlink_metadata(path)
                .ok()
                .map(|meta| (meta.dev(), meta.ino()));
            OpenSocket {
                fd: Arc::new(fd),
                bound_file,
            }
        }
        FcgiSocket::Tcp { host, port } => OpenSocket {
            fd: Arc::new(create_tcp(host, *port)?),
            bound_file: None,
        },
    };
    if let Err(e) = listen(&open.fd, backlog) {
        close(socket, open);
        return Err(os_error(e));
    }
    Ok(open)
}

/// `listen(2)` with `socket_backlog`, or `SOMAXCONN` as the reference.
/// Called directly because nix refuses a backlog above `SOMAXCONN`, which
/// the reference passes on (the kernel caps it at `net.core.somaxconn`).
fn listen(fd: &OwnedFd, backlog: Option<u32>) -> Result<(), Errno> {
    let backlog = backlog.map_or(libc::SOMAXCONN, |b| {
        libc::c_int::try_from(b).unwrap_or(libc::c_int::MAX)
    });
    // SAFETY: listen(2) only reads its two integer arguments; `fd` is an
    // open socket owned by the caller for the duration of the call.
    let rc = unsafe { libc::listen(fd.as_raw_fd(), backlog) };
    Errno::result(rc).map(drop)
}

fn create_unix(path: &Path, owner: Option<(u32, Option<u32>)>, mode: u32) -> Result<OwnedFd, String> {
    clear_stale_socket_file(path)?;
    let addr = UnixAddr::new(path).map_err(|e| match e {
        Errno::ENAMETOOLONG => "AF_UNIX path too long".to_owned(),
        other => os_error(other),
    })?;
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(os_error)?;
    // Linux creates the socket file with the socket inode's mode minus the
    // umask: setting it first means the file never exists with looser
    // permissions than asked, not even before the chmod below.
    let wanted = Mode::from_bits_truncate(mode & 0o7777);
    fchmod(&fd, wanted).map_err(os_error)?;
    socket::bind(fd.as_raw_fd(), &addr).map_err(os_error)?;
    let finish = || -> Result<(), String> {
        if let Some((uid, gid)) = owner {
            nix::unistd::chown(path, Some(Uid::from_raw(uid)), gid.map(Gid::from_raw)).map_err(
                |e| {
                    format!(
                        "Could not change ownership of socket file: {}",
                        os_error_at(e, path)
                    )
                },
            )?;
        }
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            wanted,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| {
            format!(
                "Could not change permissions of socket file: {}",
                os_error_at(e, path)
            )
        })
    };
    if let Err(cause) = finish() {
        // As the reference: a socket we could not set up leaves no file.
        drop(fd);
        let _ = nix::unistd::unlink(path);
        return Err(cause);
    }
    Ok(fd)
}

/// Make room for the socket file. The reference unlinks whatever is at the
/// path; we unlink a socket file nobody listens on (a previous run's), and
/// refuse one that still answers or anything that is not a socket, so a
/// typo in `socket=` cannot delete a user's file or steal a live server's
/// address.
fn clear_stale_socket_file(path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            return Err(os_error_at(errno, path));
        }
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} exists and is not a socket; not removing it",
            path.display()
        ));
    }
    if someone_listens_on(path) {
        return Err(format!(
            "{}: another process is listening on {}",
            os_error(Errno::EADDRINUSE),
            path.display()
        ));
    }
    match nix::unistd::unlink(path) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(os_error_at(e, path)),
    }
}

/// Whether a unix socket file has a live listener: a non-blocking connect
/// is accepted (or finds the backlog full) rather than refused.
fn someone_listens_on(path: &Path) -> bool {
    let Ok(addr) = UnixAddr::new(path) else {
        return false;
    };
    let Ok(probe) = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    ) else {
        return false;
    };
    matches!(
        socket::connect(probe.as_raw_fd(), &addr),
        Ok(()) | Err(Errno::EAGAIN | Errno::EINPROGRESS)
    )
}

fn create_tcp(host: &str, port: u16) -> Result<OwnedFd, String> {
    let addr = resolve_ipv4(host, port)?;
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(os_error)?;
    // As the reference: a restart may rebind while old connections linger
    // in TIME_WAIT.
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(os_error)?;
    socket::bind(fd.as_raw_fd(), &SockaddrIn::from(addr)).map_err(os_error)?;
    Ok(fd)
}

/// The reference binds an `AF_INET` socket, so a name resolves to its first
/// IPv4 address. A literal address needs no lookup; a name does one
/// (blocking, like the reference's).
fn resolve_ipv4(host: &str, port: u16) -> Result<SocketAddrV4, String> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(SocketAddrV4::new(ip, port));
    }
    let found = (host, port)
        .to_socket_addrs()
        .map_err(|_| "[Errno -2] Name or service not known".to_owned())?
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(_) => None,
        });
    found.ok_or_else(|| "[Errno -9] Address family for hostname not supported".to_owned())
}

/// Close the socket; for a unix socket, remove its file if it is still the
/// one we bound.
fn close(socket: &FcgiSocket, open: OpenSocket) {
    let OpenSocket { fd, bound_file } = open;
    drop(fd);
    if let (FcgiSocket::Unix { path, .. }, Some(bound)) = (socket, bound_file) {
        remove_if_same(path, bound);
    }
}

fn remove_if_same(path: &PathBuf, bound: (u64, u64)) {
    let still_ours = std::fs::symlink_metadata(path)
        .map(|meta| meta.file_type().is_socket() && (meta.dev(), meta.ino()) == bound)
        .unwrap_or(false);
    if still_ours {
        let _ = nix::unistd::unlink(path.as_path());
    }
}
