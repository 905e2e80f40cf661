//! Serving a router on an open socket: one task per connection through
//! hyper's HTTP/1 builder (HTTP/1.1 with keep-alive; HTTP/1 only, so
//! hyper-util's auto builder, which links all of h2, is not used), connections let in by
//! the daemon's gate (TCP) or a per-server cap (unix), accept errors
//! backed off and logged once, a header-read timeout, and a stall timeout on response writes, so a slow
//! or stalled client only ever holds its own connection. Shutdown stops
//! accepting, lets requests in flight finish (within a grace period), and
//! removes the unix socket file.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Sleep;
use tower::ServiceExt;

use super::auth::PeerAddr;
use super::config::Limits;
use super::gate::{self, ConnectionMark, Gate};
use super::listen::Bound;
use super::tls;

/// How long requests in flight may take to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serve `router` on `bound` until `shutdown` completes. Must run inside a
/// tokio runtime (the listener is registered with it here). TCP
/// connections are let in by the daemon's gate (module `gate`); a unix server caps its
/// own connections (clients past the cap wait in the listen backlog).
pub async fn serve(
    bound: Bound,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let (listener, _socket_file) = Listener::from_bound(bound)?;
    let gate = Gate::shared();
    let server = gate::server_id();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let cap = limits
        .max_connections
        .unwrap_or(match listener {
            Listener::Unix(_) => gate.budgets().unix,
            Listener::Tcp(_) | Listener::Tls(..) => gate.budgets().tcp,
        })
        .max(1);
    let unix_permits = Arc::new(Semaphore::new(cap));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; `recv` ends once all are gone.
    let (alive, mut all_gone) = mpsc::channel::<()>(1);
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);

    loop {
        // A unix server takes a slot before accepting: at its cap, clients
        // wait in the kernel's backlog instead of costing us memory.
        let unix_permit = match listener {
            Listener::Unix(_) => tokio::select! {
                permit = Arc::clone(&unix_permits).acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_closed) => break,
                },
                () = &mut shutdown => break,
            },
            Listener::Tcp(_) | Listener::Tls(..) => None,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.recovered();
                accepted
            }
            Err(error) => {
                // Out of descriptors or a connection reset before accept:
                // keep serving, give a descriptor back if an unproven
                // client holds one, and wait longer each time in a row.
                let out_of_files =
                    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
                if out_of_files {
                    gate.shed_one();
                }
                let pause = backoff.failed(&error);
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        let admission = match &peer {
            Peer::Tcp(address) => match gate.admit(server, cap, address.ip()) {
                Some(admission) => Some(admission),
                // Every place is held by authenticated clients: close it.
                None => continue,
            },
            Peer::Unix => None,
        };
        let mark = admission
            .as_ref()
            .map_or_else(ConnectionMark::default, |a| a.mark.clone());
        let peer_socket = PeerSocket(stream.raw_fd());
        let stopping = ServerStopping(stop_rx.clone());
        let tls = listener.tls().cloned();
        let peer_name: Arc<str> = Arc::from(peer.to_string());
        let service = hyper::service::service_fn({
            let router = router.clone();
            move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(peer_socket);
                request.extensions_mut().insert(stopping.clone());
                request.extensions_mut().insert(mark.clone());
                if let Peer::Tcp(address) = peer {
                    request.extensions_mut().insert(PeerAddr(address.ip()));
                }
                let router = router.clone();
                let peer = peer_name.clone();
                async move {
                    let line = tracing::enabled!(tracing::Level::TRACE).then(|| {
                        let version = request.version();
                        (request.method().clone(), request.uri().clone(), version)
                    });
                    let response = router.oneshot(request).await;
                    if let (Some((method, uri, version)), Ok(response)) = (line, &response) {
                        log_access(&peer, &method, &uri, version, response);
                    }
                    response
                }
            }
        });
        let builder = Arc::clone(&builder);
        let mut stop = stop_rx.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            // The handshake runs here, not in the accept loop, so a slow
            // client delays only itself; it must finish within the header
            // timeout.
            let stream = match tls {
                None => Some(stream),
                Some(acceptor) => {
                    let handshake = handshake(acceptor, stream);
                    tokio::time::timeout(limits.header_read_timeout, handshake)
                        .await
                        .ok()
                        .flatten()
                }
            };
            let Some(stream) = stream else {
                drop((unix_permit, admission, alive));
                return;
            };
            let io = TokioIo::new(WriteDeadline::new(stream, limits.idle_timeout));
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            let evicted = async {
                match &admission {
                    Some(admission) => admission.evicted().await,
                    None => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                // Closed for room: drop it at once.
                () = evicted => Ok(()),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = outcome {
                tracing::trace!(%error, "HTTP connection ended with an error");
            }
            drop(unix_permit);
            drop(admission);
            drop(alive);
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, all_gone.recv()).await;
    if drained.is_err() {
        tracing::warn!("HTTP connections still open after the shutdown grace period");
    }
    Ok(())
}

/// Failed accepts in a row: each waits twice as long as the one before (up
/// to a second), and one log line stands for all of them until an accept
/// succeeds again, so running out of descriptors never floods the log.
#[derive(Debug, Default)]
struct AcceptBackoff {
    in_a_row: u32,
}

/// The first pause after a failed accept, and the longest.
const ACCEPT_PAUSE_FIRST: Duration = Duration::from_millis(10);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

impl AcceptBackoff {
    fn failed(&mut self, error: &io::Error) -> Duration {
        if self.in_a_row == 0 {
            tracing::warn!(
                %error,
                "accepting an HTTP connection failed (retrying with a growing pause; logged once until an accept succeeds)"
            );
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        ACCEPT_PAUSE_FIRST
            .saturating_mul(1 << self.in_a_row.min(10).saturating_sub(1))
            .min(ACCEPT_PAUSE_MAX)
    }

    fn recovered(&mut self) {
        if self.in_a_row > 1 {
            tracing::info!(
                failures = self.in_a_row,
                "accepting HTTP connections again after {} failed attempts",
                self.in_a_row
            );
        }
        self.in_a_row = 0;
    }
}

/// The reference's access line, at trace level: `<host>:<port> - -
/// [<date>] "<request line>" <status> <bytes>`. The byte count is the
/// body's length (medusa counts the headers too).
fn log_access(
    peer: &str,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    version: axum::http::Version,
    response: &axum::response::Response,
) {
    let bytes = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0");
    let date = chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S +0000");
    tracing::trace!(
        "{peer} - - [{date}] \"{method} {uri} {version:?}\" {} {bytes}",
        response.status().as_u16()
    );
}

/// Answer a client that speaks plain HTTP to a TLS port, or make the TLS
/// handshake; `None` when the connection is over.
async fn handshake(acceptor: tokio_rustls::TlsAcceptor, stream: Stream) -> Option<Stream> {
    use tokio::io::AsyncWriteExt as _;
    let Stream::Tcp(tcp) = stream else {
        return Some(stream);
    };
    let mut first = [0u8; 1];
    match tcp.peek(&mut first).await {
        Ok(1) if first[0] == tls::HANDSHAKE_RECORD => {}
        Ok(1) => {
            let mut tcp = tcp;
            let _ = tcp.write_all(tls::PLAIN_HTTP_ANSWER).await;
            let _ = tcp.shutdown().await;
            return None;
        }
        _ => return None,
    }
    match acceptor.accept(tcp).await {
        Ok(tls) => Some(Stream::Tls(Box::new(tls))),
        Err(error) => {
            tracing::debug!(%error, "TLS handshake failed");
            None
        }
    }
}

/// A listener of either family, registered with the runtime.
enum Listener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
    /// TCP whose connections speak TLS once accepted.
    Tls(tokio::net::TcpListener, tokio_rustls::TlsAcceptor),
}

impl Listener {
    fn from_bound(bound: Bound) -> io::Result<(Listener, Option<super::listen::SocketFile>)> {
        Ok(match bound {
            Bound::Unix(listener, file) => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::UnixListener::from_std(listener)?;
                (Listener::Unix(listener), Some(file))
            }
            Bound::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                (
                    Listener::Tcp(tokio::net::TcpListener::from_std(listener)?),
                    None,
                )
            }
            Bound::Tls(listener, acceptor) => {
                listener.set_nonblocking(true)?;
                (
                    Listener::Tls(tokio::net::TcpListener::from_std(listener)?, acceptor),
                    None,
                )
            }
        })
    }

    fn tls(&self) -> Option<&tokio_rustls::TlsAcceptor> {
        match self {
            Listener::Tls(_, acceptor) => Some(acceptor),
            _ => None,
        }
    }

    /// The next connection and its peer.
    async fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Unix(listener) => {
                let (stream, _) = listener.accept().await?;
                Ok((Stream::Unix(stream), Peer::Unix))
            }
            Listener::Tcp(listener) | Listener::Tls(listener, _) => {
                let (stream, peer) = listener.accept().await?;
                // Small request/response pairs: do not wait for Nagle.
                stream.set_nodelay(true)?;
                Ok((Stream::Tcp(stream), Peer::Tcp(peer)))
            }
        }
    }
}

/// Who connected.
#[derive(Debug, Clone, Copy)]
enum Peer {
    Unix,
    Tcp(std::net::SocketAddr),
}

/// As the access log names it: `host:port`, `localhost:0` on a unix socket
/// (as medusa writes it).
impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Unix => f.write_str("localhost:0"),
            Peer::Tcp(address) => write!(f, "{address}"),
        }
    }
}

/// An accepted connection of either family, TLS or not.
enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

impl Stream {
    fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Unix(stream) => stream.as_raw_fd(),
            Stream::Tcp(stream) => stream.as_raw_fd(),
            Stream::Tls(stream) => stream.get_ref().0.as_raw_fd(),
        }
    }
}

/// In every request's extensions: resolves once the server begins to shut
/// down. Requests in flight get a grace period to finish, which a response
/// that never ends on its own (a log tail) would use up entirely; such a
/// response ends itself when this fires.
#[derive(Debug, Clone)]
pub struct ServerStopping(watch::Receiver<bool>);

impl ServerStopping {
    /// Resolves when the server is shutting down (at once if it already
    /// is, or if the server is gone).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// The client's socket, in every request's extensions, for responses that
/// stream for long (log tails): hyper reads nothing more from a client
/// that sent bytes past its request (the Python tail client sends a stray
/// CRLF) until the response ends, and notices a closed client only at its
/// next write, which a quiet log never makes. Such a response asks
/// [`PeerSocket::is_closed`] while it waits.
#[derive(Debug, Clone, Copy)]
pub struct PeerSocket(std::os::fd::RawFd);

impl PeerSocket {
    /// True when the client has closed its end or the connection failed
    /// (a peek, so nothing the client sent is consumed). Meaningful only
    /// while the connection serves this request, which holds whenever
    /// hyper polls the request's response body.
    pub fn is_closed(self) -> bool {
        use nix::sys::socket::{MsgFlags, recv};
        let mut byte = [0u8; 1];
        match recv(
            self.0,
            &mut byte,
            MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => true,
            Ok(_) | Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => false,
            Err(_) => true,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $stream:ident => $call:expr) => {
        match $self.get_mut() {
            Stream::Unix($stream) => $call,
            Stream::Tcp($stream) => $call,
            Stream::Tls($stream) => $call,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Fails a write that makes no progress for `timeout`: a client that stops
/// reading its responses loses its connection instead of pinning it
/// forever. Reads are not timed here: hyper's header-read timeout covers
/// idle connections, the RPC handler times body reads, and a long deferred
/// reply legitimately reads nothing for a while.
struct WriteDeadline {
    stream: Stream,
    timeout: Duration,
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: Stream, timeout: Duration) -> Self {
        WriteDeadline {
            stream,
            timeout,
            stalled_since: None,
        }
    }

    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled_since = None;
            return poll;
        }
        let timeout = self.timeout;
        let deadline = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading its response",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
