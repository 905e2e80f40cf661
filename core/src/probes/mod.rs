//! Readiness checks (`ready_check`, issue 16): running one [`Probe`] once,
//! with a time limit, and saying why it failed. `tcp:` connects; `http://`
//! sends a minimal HTTP/1.0 GET written here (one request line and a Host
//! header; no client crate is worth its weight for reading one status
//! line) and wants a 2xx status. It owns no process and no state: the
//! daemon decides when to run a check and what its outcome does
//! (`daemon/probes.rs`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use std::sync::{Arc, Mutex, PoisonError};

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
}

impl NotifySocket {
    /// Bind the abstract name `name`.
    pub fn bind(name: &str) -> std::io::Result<NotifySocket> {
        use std::os::linux::net::SocketAddrExt as _;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        let socket = std::os::unix::net::UnixDatagram::bind_addr(&address)?;
        socket.set_nonblocking(true)?;
        Ok(NotifySocket {
            socket,
            address: format!("@{name}"),
        })
    }

    /// Drop what earlier children sent (before a new child is spawned).
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        while self.socket.recv(&mut buf).is_ok() {}
    }

    /// Wait for a message with a `READY=1` line.
    pub async fn ready(&self) -> std::io::Result<()> {
        let socket = tokio::net::UnixDatagram::from_std(self.socket.try_clone()?)?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = socket.recv(&mut buf).await?;
            if says_ready(&buf[..n]) {
                return Ok(());
            }
        }
    }
}

/// Whether a notify datagram says `READY=1`, read as systemd reads one:
/// assignments separated by `\n` or `\r`, and a datagram with a NUL byte
/// in it ignored whole.
pub fn says_ready(datagram: &[u8]) -> bool {
    !datagram.contains(&0)
        && datagram
            .split(|b| *b == b'\n' || *b == b'\r')
            .any(|line| line == b"READY=1")
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
        Probe::Log(_) | Probe::Notify => Err("not a polled check".to_string()),
        Probe::Http { host, port, path } => {
            let mut stream = connect(host, *port).await?;
            let request =
                format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(|e| format!("cannot send the request: {e}"))?;
            let status = status_code(&mut stream).await?;
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

/// The status of the answer's first line (`HTTP/1.1 204 No Content`).
async fn status_code(stream: &mut TcpStream) -> Result<u16, String> {
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
                host: "127.0.0.1".into(),
                port,
                path: "/health".into(),
            };
            assert_eq!(check(&probe, LIMIT).await, want);
        }
    }
}
