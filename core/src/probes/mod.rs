//! Readiness and health checks (`ready_check`, `health_check`, issue 16):
//! running one [`Probe`] once, with a time limit, and saying why it
//! failed. `tcp:` connects; `http://` sends a minimal HTTP/1.0 GET written
//! here (one request line and a Host header; no client crate is worth its
//! weight for reading one status line) and wants a 2xx status; `https://`
//! does the same over TLS with supervisorctl's connector (`ctl::tls`),
//! the certificate verified. Also the vocabulary the daemon's check tasks
//! share: the sd_notify socket and its messages, the `log:` line matcher,
//! [`CheckNews`] and the [`Notes`] shown beside a description. It owns no
//! process and no state: `exec:` commands are the daemon's children
//! (`daemon/execs.rs`), and the daemon decides when to run a check and
//! what its outcome does (`daemon/probes.rs`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::config::ctl::ClientTls;
pub use crate::config::lifecycle::{HealthCheck, LinePattern, Probe};
use crate::config::types::Channel;

/// The socket a `notify` child reports to: an abstract unix datagram
/// socket (no file to clean up), bound when its process is created so no
/// early `READY=1` is lost, named in the child's `NOTIFY_SOCKET` as
/// `@NAME`, as sd_notify(3) reads it.
#[derive(Debug)]
pub struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    /// The value of `NOTIFY_SOCKET`.
    pub address: String,
    /// `watchdog_secs`: the longest a ready child may go without sending
    /// `WATCHDOG=1`.
    pub watchdog: Option<u64>,
}

impl NotifySocket {
    /// Bind the abstract name `name` for a child pinging every `watchdog`
    /// seconds, if set.
    pub fn bind(name: &str, watchdog: Option<u64>) -> std::io::Result<NotifySocket> {
        use std::os::linux::net::SocketAddrExt as _;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        let socket = std::os::unix::net::UnixDatagram::bind_addr(&address)?;
        socket.set_nonblocking(true)?;
        Ok(NotifySocket {
            socket,
            address: format!("@{name}"),
            watchdog,
        })
    }

    /// Drop what earlier children sent (before a new child is spawned).
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        while self.socket.recv(&mut buf).is_ok() {}
    }

    /// A receiving handle on the runtime (for a task that reads the
    /// child's messages).
    pub fn receiver(&self) -> std::io::Result<tokio::net::UnixDatagram> {
        tokio::net::UnixDatagram::from_std(self.socket.try_clone()?)
    }
}

/// What one sd_notify datagram says, as far as we act on it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NotifyMessage {
    /// `READY=1`.
    pub ready: bool,
    /// `WATCHDOG=1`.
    pub watchdog: bool,
    /// The last `STATUS=` text.
    pub status: Option<String>,
}

impl NotifyMessage {
    /// Read one datagram as systemd reads one: `KEY=VALUE` assignments
    /// separated by `\n` or `\r`, the others (`MAINPID=`, `ERRNO=`, ...)
    /// ignored, and a datagram with a NUL byte in it ignored whole.
    pub fn parse(data: &[u8]) -> NotifyMessage {
        let mut message = NotifyMessage::default();
        if data.contains(&0) {
            return message;
        }
        let text = String::from_utf8_lossy(data);
        for line in text.split(['\n', '\r']) {
            match line.split_once('=') {
                Some(("READY", "1")) => message.ready = true,
                Some(("WATCHDOG", "1")) => message.watchdog = true,
                Some(("STATUS", text)) => message.status = Some(text.to_string()),
                _ => {}
            }
        }
        message
    }
}

/// What a check task tells the supervisor task about one child
/// (`daemon/probes.rs` sends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckNews {
    /// The child sent `STATUS=` this text.
    Status(String),
    /// A health check's outcome: `failures` in a row (0: it passed), and
    /// why the last one failed. Sent at the first pass and at every
    /// failure; the task ends after `health_retries` failures.
    Health {
        /// Failures in a row.
        failures: u32,
        /// Why the last check failed (`None`: it passed).
        why: Option<String>,
    },
    /// A `notify` child sent no `WATCHDOG=1` for `watchdog_secs`.
    WatchdogMissed(u64),
    /// A ready `notify` child sent its first `WATCHDOG=1` (as a health
    /// check's first pass, it resets the count of restarts in a row).
    Pinged,
    /// The delay before a health restart is over.
    RestartDue,
}

/// What a STARTING or RUNNING process shows beside the reference's
/// description (issue 16), carried in its spawn error, which the
/// reference always leaves empty in those states: the last failed health
/// check, else the child's last `STATUS=` text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notes {
    /// The `STATUS=` text.
    pub status: Option<Box<str>>,
    /// The last health check's failure: failures in a row, the limit, why.
    pub health: Option<(u32, u32, Box<str>)>,
}

impl Notes {
    /// The spawn error to report, if any.
    pub fn spawnerr(&self) -> Option<String> {
        use supervisor_sdk::describe::{HEALTH_FAILED, STATUS};
        if let Some((failures, limit, why)) = &self.health {
            return Some(format!("{HEALTH_FAILED} ({failures} of {limit}): {why}"));
        }
        self.status.as_ref().map(|text| format!("{STATUS}{text}"))
    }
}

/// Whether a notify datagram says `READY=1` ([`NotifyMessage::parse`]).
pub fn says_ready(datagram: &[u8]) -> bool {
    NotifyMessage::parse(datagram).ready
}

/// What a passed check calls (the daemon sends itself a message).
pub type ReadySignal = Arc<dyn Fn() + Send + Sync>;

/// The longest partial line kept while waiting for its end: a longer one
/// is matched on its first part only.
const LONGEST_LINE: usize = 64 * 1024;

/// A `log:REGEX` check on one child: fed the chunks of its stdout and
/// stderr as they are read, it signals once, at the first complete line
/// that matches, and costs one flag test per chunk after that.
pub struct LineWatch {
    pattern: LinePattern,
    signal: ReadySignal,
    state: Mutex<LineState>,
}

#[derive(Default)]
struct LineState {
    done: bool,
    /// The unfinished last line of each channel.
    partial: [Vec<u8>; 2],
}

impl LineWatch {
    /// Watch for `pattern`; call `signal` at the first match.
    pub fn new(pattern: LinePattern, signal: ReadySignal) -> LineWatch {
        LineWatch {
            pattern,
            signal,
            state: Mutex::new(LineState::default()),
        }
    }

    /// Take the next chunk of `channel`.
    pub fn feed(&self, channel: Channel, data: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.done {
            return;
        }
        let index = usize::from(channel != Channel::Stdout);
        let mut rest = data;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let partial = &mut state.partial[index];
            let room = LONGEST_LINE.saturating_sub(partial.len());
            partial.extend_from_slice(&rest[..end.min(room)]);
            let line = std::mem::take(partial);
            rest = &rest[end + 1..];
            if self.pattern.0.is_match(&String::from_utf8_lossy(&line)) {
                state.done = true;
                state.partial = Default::default();
                drop(state);
                (self.signal)();
                return;
            }
        }
        let partial = &mut state.partial[index];
        let room = LONGEST_LINE.saturating_sub(partial.len());
        partial.extend_from_slice(&rest[..rest.len().min(room)]);
    }
}

/// Run `probe` once; `Err` says why it did not pass.
pub async fn check(probe: &Probe, limit: Duration) -> Result<(), String> {
    match tokio::time::timeout(limit, run(probe)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
    }
}

async fn run(probe: &Probe) -> Result<(), String> {
    match probe {
        Probe::Tcp { host, port } => connect(host, *port).await.map(drop),
        // Matched on the child's output as it is read (`LineWatch`), or
        // told through the notify socket (`NotifySocket`).
        // Run by the daemon, which owns every child (`daemon/execs.rs`).
        Probe::Log(_) | Probe::Notify | Probe::Exec(_) => Err("not a polled check".to_string()),
        Probe::Http {
            tls,
            host,
            port,
            path,
        } => {
            let stream = connect(host, *port).await?;
            let request =
                format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
            let status = if *tls {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("not a TLS server name {host:?}: {e}"))?;
                let mut stream = tls_connector()?
                    .connect(name, stream)
                    .await
                    .map_err(|e| format!("no TLS with {host}:{port}: {e}"))?;
                exchange(&mut stream, &request).await?
            } else {
                exchange(&mut { stream }, &request).await?
            };
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(format!("HTTP status {status}"))
            }
        }
    }
}

async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))
}

/// The connector of `https://` checks: supervisorctl's (`ctl::tls`),
/// certificates verified against the system's CA bundle, or the bundle
/// `SSL_CERT_FILE` names (as OpenSSL reads it), built once.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    static CONNECTOR: OnceLock<Result<tokio_rustls::TlsConnector, String>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let tls = ClientTls {
                ca: std::env::var_os("SSL_CERT_FILE").map(Into::into),
                insecure: false,
                client_cert: None,
            };
            crate::ctl::tls::connector(&tls)
        })
        .clone()
}

/// Send `request` and read the status of the answer.
async fn exchange<S>(stream: &mut S, request: &str) -> Result<u16, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    status_code(stream).await
}

/// The status of the answer's first line (`HTTP/1.1 204 No Content`).
async fn status_code<S>(stream: &mut S) -> Result<u16, String>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    let mut words = line.split_whitespace();
    match (words.next(), words.next().and_then(|c| c.parse().ok())) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => Ok(code),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    const LIMIT: Duration = Duration::from_secs(5);

    #[test]
    fn a_datagram_is_ready_as_systemd_reads_it() {
        for ready in [
            &b"READY=1"[..],
            b"STATUS=up\nREADY=1\n",
            b"READY=1\r\nSTATUS=x",
            b"STATUS=a\rREADY=1",
        ] {
            assert!(says_ready(ready), "{:?}", String::from_utf8_lossy(ready));
        }
        for not in [
            &b""[..],
            b"READY=0",
            b"READY=1 ",
            b" READY=1",
            b"XREADY=1",
            b"READY=1\0",
            b"STATUS=\0\nREADY=1",
        ] {
            assert!(!says_ready(not), "{:?}", String::from_utf8_lossy(not));
        }
    }

    async fn serve_once(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = socket.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"GET /health HTTP/1.0\r\n"));
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        port
    }

    #[test]
    fn a_line_watch_signals_once_at_the_first_whole_matching_line() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let pattern = LinePattern(regex::Regex::new("^ready on port \\d+$").unwrap());
        let watch = LineWatch::new(
            pattern,
            Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        watch.feed(Channel::Stdout, b"starting\nready on ");
        watch.feed(Channel::Stderr, b"port 1\n");
        assert_eq!(hits.load(Ordering::SeqCst), 0, "stderr's line is its own");
        watch.feed(Channel::Stdout, b"port 80");
        assert_eq!(hits.load(Ordering::SeqCst), 0, "not a whole line yet");
        watch.feed(Channel::Stdout, b"\nready on port 81\n");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        watch.feed(Channel::Stdout, b"ready on port 82\n");
        assert_eq!(hits.load(Ordering::SeqCst), 1, "once");
    }

    #[test]
    fn a_notify_datagram_says_ready_watchdog_and_the_last_status() {
        let m = NotifyMessage::parse(b"STATUS=one\nREADY=1\nMAINPID=4\nSTATUS=two=2\n");
        assert!(m.ready && !m.watchdog);
        assert_eq!(m.status.as_deref(), Some("two=2"));
        assert_eq!(
            NotifyMessage::parse(b"WATCHDOG=1"),
            NotifyMessage {
                watchdog: true,
                ..NotifyMessage::default()
            }
        );
        let notes = Notes {
            status: Some("serving".into()),
            health: None,
        };
        assert_eq!(notes.spawnerr().as_deref(), Some("status: serving"));
        let notes = Notes {
            health: Some((1, 3, "HTTP status 503".into())),
            ..notes
        };
        assert_eq!(
            notes.spawnerr().as_deref(),
            Some("health check failed (1 of 3): HTTP status 503")
        );
    }

    #[tokio::test]
    async fn tcp_passes_when_something_listens() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let probe = Probe::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        assert_eq!(check(&probe, LIMIT).await, Ok(()));
        drop(listener);
        let refused = check(&probe, LIMIT).await.unwrap_err();
        assert!(refused.starts_with(&format!("cannot connect to 127.0.0.1:{port}")));
    }

    #[tokio::test]
    async fn http_wants_a_2xx_status() {
        for (answer, want) in [
            ("HTTP/1.1 204 No Content\r\n\r\n", Ok(())),
            (
                "HTTP/1.0 503 Busy\r\n\r\n",
                Err("HTTP status 503".to_string()),
            ),
            (
                "nonsense\r\n",
                Err("not an HTTP answer: \"nonsense\"".to_string()),
            ),
        ] {
            let port = serve_once(answer).await;
            let probe = Probe::Http {
                tls: false,
                host: "127.0.0.1".into(),
                port,
                path: "/health".into(),
            };
            assert_eq!(check(&probe, LIMIT).await, want);
        }
    }
}
