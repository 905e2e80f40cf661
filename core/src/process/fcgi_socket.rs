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
//! crosses an exec. This module never forks or spawns: it owns the socket,
//! logs the reference's two main-log lines (`Creating socket <url>`,
//! `Closing socket <url>`), and leaves what a failure means to the process
//! engine (the reference's spawn error; other groups carry on).
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
use std::path::Path;
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
    crate::pyrepr::os_error(errno as i32)
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
                tracing::info!("Creating socket {}", shared.socket.url());
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
            tracing::info!("Closing socket {}", shared.socket.url());
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
    /// and exec that may only make raw syscalls. It is always above 2, so
    /// `dup2(raw_fd, 0)` before or after the pipes' `dup2`s onto 1 and 2
    /// both work, and the copy on fd 0 is not close-on-exec.
    pub fn raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }

    /// The socket as the spawner takes it (`StdinSource::Socket`), so it
    /// stays open until the fork is done even if the lease went meanwhile.
    /// Hand this clone to one spawn only: the lease, not the clone, is the
    /// process's hold, and a clone kept past the lease would keep a socket
    /// open that the manager has already let go of.
    pub fn shared_fd(&self) -> Arc<OwnedFd> {
        Arc::clone(
            self.fd
                .as_ref()
                .expect("a lease holds its descriptor until it is dropped"),
        )
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

/// A blocking, close-on-exec stream socket numbered above the standard
/// streams.
fn stream_socket(family: AddressFamily) -> Result<OwnedFd, String> {
    let fd =
        socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(os_error)?;
    above_stdio(fd)
}

/// The spawner puts the pipes on fds 1 and 2 and the socket on fd 0: a
/// socket that itself sits on 0, 1 or 2 (supervisord started with a standard
/// stream closed) would be clobbered or stay close-on-exec (`dup2(0, 0)`
/// changes nothing), so move it above them.
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, String> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let moved =
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(os_error)?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else
    // owns; wrapping it makes us its only owner.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(moved) })
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

fn create_unix(
    path: &Path,
    owner: Option<(u32, Option<u32>)>,
    mode: u32,
) -> Result<OwnedFd, String> {
    clear_stale_socket_file(path)?;
    let addr = UnixAddr::new(path).map_err(|e| match e {
        Errno::ENAMETOOLONG => "AF_UNIX path too long".to_owned(),
        other => os_error(other),
    })?;
    let fd = stream_socket(AddressFamily::Unix)?;
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
    let fd = stream_socket(AddressFamily::Inet)?;
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
        .map_err(|e| lookup_error(&e))?
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(_) => None,
        });
    found.ok_or_else(|| {
        format!("[Errno {EAI_ADDRFAMILY}] Address family for hostname not supported")
    })
}

/// glibc's codes that the libc crate does not export.
const EAI_NODATA: i32 = -5;
const EAI_ADDRFAMILY: i32 = -9;

/// A failed lookup as Python prints its `gaierror` (`[Errno -2] Name or
/// service not known`). std keeps only glibc's `gai_strerror` text, so the
/// code comes back from the text for the failures a lookup really has.
fn lookup_error(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    let code = match text {
        "Name or service not known" => Some(libc::EAI_NONAME),
        "Temporary failure in name resolution" => Some(libc::EAI_AGAIN),
        "Non-recoverable failure in name resolution" => Some(libc::EAI_FAIL),
        "No address associated with hostname" => Some(EAI_NODATA),
        _ => None,
    };
    match code {
        Some(code) => format!("[Errno {code}] {text}"),
        None => text.to_owned(),
    }
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

fn remove_if_same(path: &Path, bound: (u64, u64)) {
    let still_ours = std::fs::symlink_metadata(path)
        .map(|meta| meta.file_type().is_socket() && (meta.dev(), meta.ino()) == bound)
        .unwrap_or(false);
    if still_ours {
        // A file we cannot remove (the daemon dropped privileges since) is
        // a stale socket, what the reference always leaves: the next
        // create replaces it.
        let _ = nix::unistd::unlink(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Owner;
    use std::io::Read;
    use std::net::TcpStream;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn unix(path: &Path, mode: u32, owner: Option<Owner>) -> FcgiSocket {
        FcgiSocket::Unix {
            path: path.to_path_buf(),
            owner,
            mode,
        }
    }

    fn tcp(port: u16) -> FcgiSocket {
        FcgiSocket::Tcp {
            host: "127.0.0.1".to_owned(),
            port,
        }
    }

    /// The port the kernel gave a socket bound to port 0.
    fn local_port(lease: &SocketLease) -> u16 {
        let addr: SockaddrIn = socket::getsockname(lease.raw_fd()).unwrap();
        addr.port()
    }

    fn is_listening(lease: &SocketLease) -> bool {
        socket::getsockopt(lease, sockopt::AcceptConn).unwrap()
    }

    /// Accept one connection on the shared socket and answer it, as a
    /// process of the group would.
    fn serve_one(lease: &SocketLease, reply: &[u8]) {
        let conn = socket::accept(lease.raw_fd()).unwrap();
        socket::send(conn, reply, socket::MsgFlags::empty()).unwrap();
        nix::unistd::close(conn).unwrap();
    }

    #[test]
    fn first_acquire_creates_a_listening_unix_socket_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.sock");
        let manager = SocketManager::new("app", &unix(&path, 0o660, None), None);
        assert!(
            !path.exists(),
            "nothing is created before the first acquire"
        );
        assert!(!manager.is_open());

        let lease = manager.acquire().unwrap();
        assert!(is_listening(&lease));
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o660);

        let mut client = UnixStream::connect(&path).unwrap();
        serve_one(&lease, b"hello");
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "hello");
    }

    #[test]
    fn mode_is_exact_even_with_bits_the_umask_would_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open.sock");
        let manager = SocketManager::new("open", &unix(&path, 0o777, None), None);
        let _lease = manager.acquire().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o777);
    }

    #[test]
    fn leases_share_one_socket_and_the_last_release_closes_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.sock");
        let manager = SocketManager::new("shared", &unix(&path, 0o700, None), None);

        let first = manager.acquire().unwrap();
        let second = manager.acquire().unwrap();
        let third = manager.acquire().unwrap();
        assert_eq!(manager.lease_count(), 3);
        assert!(Arc::ptr_eq(&first.shared_fd(), &third.shared_fd()));
        assert_eq!(first.raw_fd(), second.raw_fd());
        assert_eq!(first.raw_fd(), third.raw_fd());
        let inode = std::fs::symlink_metadata(&path).unwrap().ino();

        // One process restarting: the socket stays, the same file too.
        drop(second);
        assert_eq!(manager.lease_count(), 2);
        assert!(is_listening(&first));
        assert_eq!(std::fs::symlink_metadata(&path).unwrap().ino(), inode);
        let again = manager.acquire().unwrap();
        assert_eq!(again.raw_fd(), first.raw_fd());
        let _client = UnixStream::connect(&path).unwrap();

        drop(first);
        third.release();
        assert!(manager.is_open());
        drop(again);
        assert_eq!(manager.lease_count(), 0);
        assert!(!manager.is_open());
        assert!(!path.exists(), "the socket file goes with the socket");
        assert!(UnixStream::connect(&path).is_err());

        // The next start recreates it.
        let reborn = manager.acquire().unwrap();
        assert!(is_listening(&reborn));
        assert!(path.exists());
        let _client = UnixStream::connect(&path).unwrap();
    }

    #[test]
    fn the_socket_is_close_on_exec_and_blocking_until_dup2_onto_fd_0() {
        let dir = tempfile::tempdir().unwrap();
        let manager = SocketManager::new(
            "flags",
            &unix(&dir.path().join("f.sock"), 0o700, None),
            None,
        );
        let lease = manager.acquire().unwrap();
        let fd_flags = nix::fcntl::fcntl(&lease, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
        let status = nix::fcntl::fcntl(&lease, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        assert_eq!(status & libc::O_NONBLOCK, 0, "children accept() blocking");
    }

    /// How many non-blocking connects a unix socket queues before it
    /// refuses with EAGAIN (its backlog plus one on Linux), up to `limit`.
    fn queued_connects(path: &Path, limit: usize) -> usize {
        let addr = UnixAddr::new(path).unwrap();
        let mut held = Vec::new();
        while held.len() < limit {
            let client = socket::socket(
                AddressFamily::Unix,
                SockType::Stream,
                SockFlag::SOCK_NONBLOCK,
                None,
            )
            .unwrap();
            match socket::connect(client.as_raw_fd(), &addr) {
                Ok(()) => held.push(client),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("connect: {e}"),
            }
        }
        held.len()
    }

    #[test]
    fn socket_backlog_bounds_the_accept_queue_and_defaults_to_somaxconn() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.sock");
        let manager = SocketManager::new("small", &unix(&small, 0o700, None), Some(2));
        let _lease = manager.acquire().unwrap();
        assert_eq!(queued_connects(&small, 100), 3);

        let default = dir.path().join("default.sock");
        let manager = SocketManager::new("default", &unix(&default, 0o700, None), None);
        let _lease = manager.acquire().unwrap();
        assert_eq!(
            queued_connects(&default, 100),
            100,
            "SOMAXCONN is far above 2"
        );
    }

    /// Set in the child run of the test below, which closes its fd 0
    /// (Rust's runtime reopens closed standard streams at start, so the
    /// child closes it itself, as daemonizing code might).
    const STDIN_CLOSED_CHILD: &str = "SUPERVISOR_RS_FCGI_TEST_STDIN_CLOSED";

    #[test]
    fn the_socket_never_lands_on_a_standard_stream() {
        if std::env::var_os(STDIN_CLOSED_CHILD).is_some() {
            // SAFETY: (test) this process runs only this test, on one
            // thread; nothing else reads stdin or holds fd 0.
            assert_eq!(unsafe { libc::close(0) }, 0);
            let manager = SocketManager::new("stdio", &tcp(0), None);
            let lease = manager.acquire().unwrap();
            assert!(lease.raw_fd() > 2, "got fd {}", lease.raw_fd());
            assert!(is_listening(&lease));
            // The lowest free descriptor really was 0.
            let probe = socket::socket(
                AddressFamily::Unix,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .unwrap();
            assert_eq!(probe.as_raw_fd(), 0);
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "process::fcgi_socket::tests::the_socket_never_lands_on_a_standard_stream",
                "--test-threads=1",
            ])
            .env(STDIN_CLOSED_CHILD, "1")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report.contains("1 passed"), "{report}");
    }

    #[test]
    fn tcp_socket_is_shared_and_closed_with_the_last_lease() {
        let manager = SocketManager::new("web", &tcp(0), Some(7));
        let first = manager.acquire().unwrap();
        let second = manager.acquire().unwrap();
        let port = local_port(&first);
        assert!(is_listening(&first));
        assert_eq!(first.raw_fd(), second.raw_fd());

        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        serve_one(&second, b"from the group");
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "from the group");

        drop(first);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        drop(second);
        assert!(!manager.is_open());
        // Another test of this binary forking at this moment holds a copy
        // of the listening socket until its child execs (close-on-exec
        // closes it only then), so poll for the refusal with a deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Err(refused) => {
                    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
                    break;
                }
                Ok(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Ok(stream) => panic!("the port still accepts after the last lease: {stream:?}"),
            }
        }
    }

    #[test]
    fn tcp_address_in_use_names_group_url_and_cause_as_the_reference() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let manager = SocketManager::new("busy", &tcp(port), None);
        let err = manager.acquire().unwrap_err();
        assert_eq!(err.group(), "busy");
        assert_eq!(err.url(), format!("tcp://127.0.0.1:{port}"));
        assert_eq!(err.cause(), "[Errno 98] Address already in use");
        assert_eq!(
            err.to_string(),
            format!(
                "Could not create FastCGI socket tcp://127.0.0.1:{port} for group busy: \
                 [Errno 98] Address already in use"
            )
        );
        assert_eq!(manager.lease_count(), 0, "a failed acquire holds nothing");
        assert!(manager.check().is_err());

        // Once the address is free the same manager succeeds.
        drop(taken);
        let lease = manager.acquire().unwrap();
        assert_eq!(local_port(&lease), port);
    }

    #[test]
    fn tcp_host_names_resolve_to_ipv4_and_unknown_ones_fail_as_the_reference() {
        let named = FcgiSocket::Tcp {
            host: "localhost".to_owned(),
            port: 0,
        };
        let lease = SocketManager::new("named", &named, None).acquire().unwrap();
        let addr: SockaddrIn = socket::getsockname(lease.raw_fd()).unwrap();
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);

        let unknown = FcgiSocket::Tcp {
            host: "no-such-host.invalid".to_owned(),
            port: 9000,
        };
        let err = SocketManager::new("unknown", &unknown, None)
            .acquire()
            .unwrap_err();
        // What Python's bind(('no-such-host.invalid', 9000)) raises.
        assert_eq!(err.cause(), "[Errno -2] Name or service not known");
    }

    #[test]
    fn unix_socket_in_a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/x.sock");
        let manager = SocketManager::new("lost", &unix(&path, 0o700, None), None);
        let err = manager.acquire().unwrap_err();
        assert_eq!(err.cause(), "[Errno 2] No such file or directory");
        assert_eq!(err.url(), format!("unix://{}", path.display()));
        assert!(err.to_string().contains("for group lost"), "{err}");
    }

    #[test]
    fn unix_path_too_long_is_a_clear_error() {
        let long = format!("/tmp/{}.sock", "x".repeat(200));
        let manager = SocketManager::new("long", &unix(Path::new(&long), 0o700, None), None);
        assert_eq!(
            manager.acquire().unwrap_err().cause(),
            "AF_UNIX path too long"
        );
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a closed listener leaves its file behind");
        let manager = SocketManager::new("stale", &unix(&path, 0o700, None), None);
        let lease = manager.acquire().unwrap();
        assert!(is_listening(&lease));
        let _client = UnixStream::connect(&path).unwrap();
    }

    #[test]
    fn a_socket_file_with_a_live_listener_is_not_stolen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.sock");
        let live = UnixListener::bind(&path).unwrap();
        let manager = SocketManager::new("thief", &unix(&path, 0o700, None), None);
        let err = manager.acquire().unwrap_err();
        assert!(
            err.cause().starts_with("[Errno 98] Address already in use"),
            "{err}"
        );
        // The live server still owns its address.
        let _client = UnixStream::connect(&path).unwrap();
        assert!(live.accept().is_ok());
    }

    #[test]
    fn a_path_that_is_not_a_socket_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.txt");
        std::fs::write(&path, "precious").unwrap();
        let manager = SocketManager::new("typo", &unix(&path, 0o700, None), None);
        let err = manager.acquire().unwrap_err();
        assert!(err.cause().contains("is not a socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn closing_leaves_a_file_that_replaced_ours_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swapped.sock");
        let manager = SocketManager::new("swap", &unix(&path, 0o700, None), None);
        let lease = manager.acquire().unwrap();
        std::fs::remove_file(&path).unwrap();
        let newcomer = UnixListener::bind(&path).unwrap();
        drop(lease);
        assert!(path.exists(), "somebody else's socket file stays");
        let _client = UnixStream::connect(&path).unwrap();
        drop(newcomer);
    }

    #[test]
    fn check_creates_then_closes_like_the_reference_group_constructor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sock");
        let manager = SocketManager::new("check", &unix(&path, 0o700, None), None);
        manager.check().unwrap();
        assert!(!manager.is_open());
        assert!(!path.exists());
        // With a process holding it, check leaves it open.
        let lease = manager.acquire().unwrap();
        manager.check().unwrap();
        assert!(is_listening(&lease));
        assert_eq!(manager.lease_count(), 1);
    }

    #[test]
    fn a_lease_may_be_released_on_another_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thread.sock");
        let manager = SocketManager::new("thread", &unix(&path, 0o700, None), None);
        let lease = manager.acquire().unwrap();
        std::thread::spawn(move || drop(lease)).join().unwrap();
        assert!(!manager.is_open());
        assert!(!path.exists());
    }

    /// Collects the messages of tracing events, as the main log would
    /// print them.
    #[derive(Clone, Default)]
    struct Messages(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Messages {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Message<'a>(&'a mut String);
            impl tracing::field::Visit for Message<'_> {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                    if field.name() == "message" {
                        *self.0 = format!("{value:?}");
                    }
                }
            }
            let mut text = String::new();
            event.record(&mut Message(&mut text));
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {text}", event.metadata().level()));
        }
    }

    #[test]
    fn creating_and_closing_are_logged_as_the_reference_does() {
        use tracing_subscriber::layer::SubscriberExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let url = format!("unix://{}", path.display());
        let messages = Messages::default();
        let subscriber = tracing_subscriber::registry().with(messages.clone());
        tracing::subscriber::with_default(subscriber, || {
            // Another test thread may have hit these callsites first, with
            // no subscriber, and cached "never interested": recompute now
            // that this thread's subscriber exists.
            tracing::callsite::rebuild_interest_cache();
            let manager = SocketManager::new("log", &unix(&path, 0o700, None), None);
            let first = manager.acquire().unwrap();
            let second = manager.acquire().unwrap();
            drop(first);
            drop(second);
        });
        assert_eq!(
            *messages.0.lock().unwrap(),
            [
                format!("INFO Creating socket {url}"),
                format!("INFO Closing socket {url}")
            ]
        );
    }

    #[test]
    fn for_group_only_for_fcgi_groups() {
        let fcgi = GroupConfig {
            name: "f".to_owned(),
            priority: 999,
            kind: GroupKind::FastCgi {
                socket: tcp(9000),
                backlog: None,
            },
            processes: Vec::new(),
        };
        let manager = SocketManager::for_group(&fcgi).unwrap();
        assert_eq!(manager.url(), "tcp://127.0.0.1:9000");
        assert_eq!(manager.group(), "f");
        let plain = GroupConfig {
            kind: GroupKind::Program,
            ..fcgi
        };
        assert!(SocketManager::for_group(&plain).is_none());
    }

    #[test]
    fn owner_is_set_when_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: chown of the socket file needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owned.sock");
        let owner = Owner {
            uid: 65534,
            gid: Some(65534),
        };
        let manager = SocketManager::new("owned", &unix(&path, 0o600, Some(owner)), None);
        let _lease = manager.acquire().unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);

        // `user` alone leaves the group as it was.
        drop(_lease);
        let user_only = Owner {
            uid: 65534,
            gid: None,
        };
        let manager = SocketManager::new("owned", &unix(&path, 0o600, Some(user_only)), None);
        let _lease = manager.acquire().unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, nix::unistd::getegid().as_raw())
        );
    }

    #[test]
    fn an_owner_that_cannot_be_set_is_an_error_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let path = dir.path().join("bad.sock");
        let owner = Owner { uid: 0, gid: None };
        let manager = SocketManager::new("bad", &unix(&path, 0o700, Some(owner)), None);
        let attempt = std::thread::spawn(move || {
            if nix::unistd::geteuid().is_root() {
                // Linux credentials are per thread at the syscall level
                // (libc's setuid syncs all threads; the raw syscall does
                // not), so this thread alone becomes `nobody`.
                // SAFETY: setresuid takes three integers and changes only
                // the calling thread's credentials; this thread ends here.
                let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
                assert_eq!(rc, 0);
            }
            manager.acquire().map(drop)
        });
        let err = attempt.join().unwrap().unwrap_err();
        assert!(
            err.cause().starts_with(
                "Could not change ownership of socket file: [Errno 1] Operation not permitted"
            ),
            "{err}"
        );
        assert!(
            !path.exists(),
            "a socket that could not be set up leaves no file"
        );
    }
}
