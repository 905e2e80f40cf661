//! `/logtail/<namespec>[/<channel>]` and `/mainlogtail`: a process's log
//! or the main log streamed as `tail -f` streams it, for the Python
//! supervisorctl's `tail -f` and `maintail -f` and for the web UI's tail
//! links. The answer starts with the last 1024 bytes of the file, then
//! sends what is appended, looking every 0.1 s while the file is busy and
//! backing off to once a second while it is quiet, across rotation and
//! truncation ([`LogFollower`]), until the client goes away.
//!
//! This module owns the reference's parsing of the path, its status codes
//! and its headers; it does not know processes or configuration: the
//! daemon hands it a [`ProcessLogs`] resolver (namespec and channel to a
//! path) and the main log's path. It never reads a file on the runtime:
//! opening and reading run on the blocking pool, one job in flight per
//! client; only the idle tick's metadata check (two `stat` calls) and a
//! peek at the client's socket run inline. The body reads only when hyper
//! asks for the next chunk, so a client that stops reading stops costing
//! reads; a client that closes its end, or the server shutting down, ends
//! the stream, which closes the file.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use hyper::body::Frame;
use supervisor_sdk::namespec::split_namespec;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use super::response::error_page;
use super::router::{Hooks, RouteHandler};
use super::serve::{PeerSocket, ServerStopping};
use crate::logs::{Channel, LogFollower};

/// How many bytes of the log a new client gets before the new ones.
pub const TAIL_HEAD_BYTES: u64 = 1024;

/// How soon a stream looks at its file again after finding news (the
/// reference's producer delay). Each look that finds nothing doubles the
/// wait, up to [`MAX_POLL_INTERVAL`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The longest wait between two looks at a quiet file: the reference's
/// main loop wakes once a second when nothing happens, so its streams see
/// a quiet file's news within that too. Backing off cut what 200 idle
/// streams cost from about 6% of a core to about 1% (the reference: 0.3%).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The most one chunk carries: a client far behind catches up in chunks
/// of this size rather than with one huge read.
const MAX_CHUNK: u64 = 64 * 1024;

/// The process or its log does not exist (yet): the route answers 404, as
/// the reference does for an unknown name, a whole-group spec, a channel
/// without a log file, or a log file not created yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotFound;

/// Resolves a namespec naming one process (`name` or `group:name`, already
/// URL-decoded; split it with [`split_namespec`]) and a channel to the
/// path of that log file. The daemon installs one backed by its snapshot.
pub type ProcessLogs = Arc<dyn Fn(&str, Channel) -> Result<PathBuf, NotFound> + Send + Sync>;

impl Hooks {
    /// Serve `/logtail` through `process_logs` and `/mainlogtail` from
    /// `main_log` (`None` when the main log is syslog or not a file: 404).
    pub fn with_log_tails(mut self, process_logs: ProcessLogs, main_log: Option<PathBuf>) -> Self {
        self.logtail = Some(logtail_handler(process_logs));
        self.mainlogtail = Some(mainlogtail_handler(main_log));
        self
    }
}

/// The `/logtail` route handler.
pub fn logtail_handler(process_logs: ProcessLogs) -> RouteHandler {
    Arc::new(move |request: Request| {
        let process_logs = Arc::clone(&process_logs);
        Box::pin(async move {
            if request.method() != Method::GET {
                return error_page(StatusCode::BAD_REQUEST);
            }
            let Some((namespec, channel)) = parse_logtail_path(request.uri().path()) else {
                // `/logtail` with nothing after it: the reference's
                // handler raises, and medusa answers 500.
                return error_page(StatusCode::INTERNAL_SERVER_ERROR);
            };
            let Some(channel) = Channel::from_name(&channel) else {
                return error_page(StatusCode::NOT_FOUND);
            };
            if split_namespec(&namespec).process.is_none() {
                return error_page(StatusCode::NOT_FOUND);
            }
            let client = Client::of(&request);
            match process_logs(&namespec, channel) {
                Ok(path) => stream_log(path, client, true).await,
                Err(NotFound) => error_page(StatusCode::NOT_FOUND),
            }
        })
    })
}

/// The `/mainlogtail` route handler.
pub fn mainlogtail_handler(main_log: Option<PathBuf>) -> RouteHandler {
    let main_log = main_log.map(Arc::<Path>::from);
    Arc::new(move |request: Request| {
        let main_log = main_log.clone();
        Box::pin(async move {
            if request.method() != Method::GET {
                return error_page(StatusCode::BAD_REQUEST);
            }
            let client = Client::of(&request);
            match main_log {
                Some(path) => stream_log(path.to_path_buf(), client, false).await,
                None => error_page(StatusCode::NOT_FOUND),
            }
        })
    })
}

/// Split a `/logtail...` path as the reference does: drop `;params`,
/// URL-decode if it holds a `%`, strip leading slashes, drop the first
/// segment (whatever it is: the route matched on a prefix), then
/// `<namespec>[/<channel>]` with `stdout` as the default channel. `None`
/// when there is no second segment at all.
fn parse_logtail_path(path: &str) -> Option<(String, String)> {
    let path = path.split(';').next().unwrap_or_default();
    let path = if path.contains('%') {
        unquote(path)
    } else {
        path.to_owned()
    };
    let (_route, rest) = path.trim_start_matches('/').split_once('/')?;
    Some(match rest.split_once('/') {
        Some((namespec, channel)) => (namespec.to_owned(), channel.to_owned()),
        None => (rest.to_owned(), Channel::Stdout.name().to_owned()),
    })
}

/// Python's `urllib.parse.unquote`: `%XX` becomes that byte, a `%` not
/// followed by two hex digits stays as it is, and the bytes are read as
/// UTF-8 with U+FFFD for what is not.
fn unquote(text: &str) -> String {
    fn hex(digit: u8) -> Option<u8> {
        char::from(digit)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a stream watches besides its file; both absent when the router
/// is driven in process rather than by [`serve`](super::serve()).
struct Client {
    /// The client's socket, looked at while the log is quiet.
    peer: Option<PeerSocket>,
    /// Fires when the server shuts down: the stream then ends.
    stopping: Option<Stopping>,
}

type Stopping = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Client {
    fn of(request: &Request) -> Self {
        let extensions = request.extensions();
        Client {
            peer: extensions.get::<PeerSocket>().copied(),
            stopping: extensions
                .get::<ServerStopping>()
                .cloned()
                .map(|stopping| -> Stopping { Box::pin(stopping.wait()) }),
        }
    }
}

/// Open `path` on the blocking pool and answer with its tail, then its
/// growth. 404 when the file does not exist, as the reference checks
/// `os.path.exists` first; 500 for any other failure to open it.
async fn stream_log(path: PathBuf, client: Client, no_proxy_buffering: bool) -> Response {
    let target = path.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let follower = LogFollower::open(&target, TAIL_HEAD_BYTES, MAX_CHUNK)?;
        let modified = follower.modified()?;
        Ok::<_, io::Error>((follower, modified))
    })
    .await;
    let (follower, modified) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => {
            return error_page(StatusCode::NOT_FOUND);
        }
        Ok(Err(error)) => {
            tracing::warn!(path = %path.display(), %error, "unable to open log file to tail it");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Err(_cancelled) => return error_page(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut response = Response::new(Body::new(TailBody::new(follower, client)));
    let headers = response.headers_mut();
    if let Ok(date) = HeaderValue::from_str(&http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, date);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    if no_proxy_buffering {
        // Tells a reverse proxy such as nginx to pass chunks on at once.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    response
}

/// An HTTP date (`Tue, 24 Nov 2026 02:21:58 GMT`).
fn http_date(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A body that never ends on its own: each frame is what the follower
/// found appended. Its size is unknown, so HTTP/1.1 clients get chunked
/// encoding and HTTP/1.0 clients a close-delimited body, both streamed.
struct TailBody {
    /// The follower, when no read is in flight.
    follower: Option<LogFollower>,
    /// The read in flight on the blocking pool (it owns the follower).
    reading: Option<JoinHandle<(LogFollower, io::Result<Vec<u8>>)>>,
    /// The tick an idle stream waits for; one timer, reset each time.
    tick: Pin<Box<Sleep>>,
    /// Whether `tick` is armed (the last look found nothing).
    idle: bool,
    /// The next wait: [`POLL_INTERVAL`] after news, doubling while quiet.
    interval: Duration,
    /// The client's socket and the server's shutdown.
    client: Client,
}

impl TailBody {
    /// Must be called inside the runtime (it creates the timer).
    fn new(follower: LogFollower, client: Client) -> Self {
        TailBody {
            client,
            follower: Some(follower),
            reading: None,
            tick: Box::pin(tokio::time::sleep(POLL_INTERVAL)),
            idle: false,
            interval: POLL_INTERVAL,
        }
    }

    fn wait_a_tick(&mut self) {
        let next = tokio::time::Instant::now() + self.interval;
        self.tick.as_mut().reset(next);
        self.idle = true;
        self.interval = (self.interval * 2).min(MAX_POLL_INTERVAL);
    }
}

impl HttpBody for TailBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let stopping = this.client.stopping.as_mut();
        if stopping.is_some_and(|stopping| stopping.as_mut().poll(cx).is_ready()) {
            // The server is shutting down: end the stream cleanly so the
            // connection closes within the shutdown, not after its grace
            // period.
            return Poll::Ready(None);
        }
        loop {
            if let Some(reading) = this.reading.as_mut() {
                let joined = ready!(Pin::new(reading).poll(cx));
                this.reading = None;
                let Ok((follower, polled)) = joined else {
                    return Poll::Ready(None);
                };
                this.follower = Some(follower);
                match polled {
                    Ok(data) if !data.is_empty() => {
                        this.interval = POLL_INTERVAL;
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(data)))));
                    }
                    Ok(_) => this.wait_a_tick(),
                    // The reference's producer ends its stream when the
                    // file can no longer be read; so does this one.
                    Err(_) => return Poll::Ready(None),
                }
            }
            if this.idle {
                ready!(this.tick.as_mut().poll(cx));
                this.idle = false;
            }
            let Some(mut follower) = this.follower.take() else {
                return Poll::Ready(None);
            };
            if this.client.peer.is_some_and(PeerSocket::is_closed) {
                // Gone while the log was quiet: an error, so hyper drops
                // the connection (and this body, closing the log) at once.
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the client closed its end of a log tail",
                ))));
            }
            // The cheap check runs here; only a read goes to the pool, so
            // an idle stream costs two `stat` calls per tick and no hop.
            match follower.has_news() {
                Ok(false) => {
                    this.follower = Some(follower);
                    this.wait_a_tick();
                    continue;
                }
                Ok(true) => {}
                Err(_) => return Poll::Ready(None),
            }
            this.reading = Some(tokio::task::spawn_blocking(move || {
                let polled = follower.poll();
                (follower, polled)
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_as_the_reference_splits_them() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("/logtail/cat", Some(("cat", "stdout"))),
            ("/logtail/cat/stderr", Some(("cat", "stderr"))),
            ("/logtail/g:cat/stdout", Some(("g:cat", "stdout"))),
            ("/logtail/cat/stderr/x", Some(("cat", "stderr/x"))),
            ("/logtail/", Some(("", "stdout"))),
            ("//logtail/cat", Some(("cat", "stdout"))),
            ("/logtailxyz/cat", Some(("cat", "stdout"))),
            ("/logtail/c%61t/std%65rr", Some(("cat", "stderr"))),
            ("/logtail/a%2Fb", Some(("a", "b"))),
            ("/logtail/cat;type=a", Some(("cat", "stdout"))),
            ("/logtail/100%", Some(("100%", "stdout"))),
            ("/logtail", None),
            ("/logtail%2Fcat", Some(("cat", "stdout"))),
        ];
        for &(path, expected) in cases {
            let got = parse_logtail_path(path);
            let got = got.as_ref().map(|(n, c)| (n.as_str(), c.as_str()));
            assert_eq!(got, expected, "{path}");
        }
    }

    #[test]
    fn unquote_matches_python() {
        assert_eq!(unquote("a%20b"), "a b");
        assert_eq!(unquote("%zz%4"), "%zz%4");
        assert_eq!(unquote("%C3%A9"), "é");
        assert_eq!(unquote("%ff"), "\u{fffd}");
    }

    #[test]
    fn http_dates_are_rfc_1123() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_486_918);
        assert_eq!(http_date(time), "Tue, 24 Nov 2026 02:21:58 GMT");
    }

    /// In-process router tests: a resolver over temp files, requests
    /// through `oneshot`, bodies read frame by frame with a deadline.
    mod routes {
        use std::collections::HashMap;

        use axum::http::Request as HttpRequest;
        use http_body_util::BodyExt;
        use tower::ServiceExt;

        use super::super::*;
        use crate::http::{AppState, router};
        use crate::logs::{RotatingFile, Rotation, TRUNCATED_MARKER};
        use crate::rpc::Registry;

        const DEADLINE: Duration = Duration::from_secs(10);

        struct Fixture {
            dir: tempfile::TempDir,
            stdout: PathBuf,
            main: PathBuf,
        }

        impl Fixture {
            fn new() -> Self {
                let dir = tempfile::tempdir().unwrap();
                let stdout = dir.path().join("cat.out");
                let main = dir.path().join("main.log");
                Fixture { dir, stdout, main }
            }

            /// `cat` has both logs (stderr's file not created yet), `dir`
            /// a directory for a log, anything else none.
            fn state(&self, main_log: Option<PathBuf>) -> AppState {
                let mut logs = HashMap::new();
                logs.insert(("cat", Channel::Stdout), self.stdout.clone());
                logs.insert(("cat", Channel::Stderr), self.dir.path().join("cat.err"));
                // A log path that names a directory: the reference's open
                // raises, and medusa answers 500.
                logs.insert(("dir", Channel::Stdout), self.dir.path().to_path_buf());
                let logs = Arc::new(logs);
                let resolve: ProcessLogs = Arc::new(move |namespec: &str, channel| {
                    let spec = split_namespec(namespec);
                    let process = spec.process.expect("whole-group specs never get here");
                    if spec.group != process {
                        return Err(NotFound);
                    }
                    logs.get(&(process, channel)).cloned().ok_or(NotFound)
                });
                let mut state = AppState::new(Arc::new(Registry::new()));
                state.hooks = Hooks::default().with_log_tails(resolve, main_log);
                state
            }
        }

        fn request(method: Method, path: &str) -> HttpRequest<Body> {
            HttpRequest::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap()
        }

        async fn get(state: AppState, path: &str) -> Response {
            router(state)
                .oneshot(request(Method::GET, path))
                .await
                .unwrap()
        }

        async fn next_bytes(body: &mut Body) -> Bytes {
            let frame = tokio::time::timeout(DEADLINE, body.frame())
                .await
                .expect("a chunk within the deadline")
                .expect("the stream goes on")
                .expect("no error");
            frame.into_data().expect("a data frame")
        }

        /// Read until `expected` bytes have come (or fail at the deadline).
        async fn read_exactly(body: &mut Body, expected: &[u8]) {
            let mut seen = Vec::new();
            while seen.len() < expected.len() {
                seen.extend_from_slice(&next_bytes(body).await);
            }
            assert_eq!(
                String::from_utf8_lossy(&seen),
                String::from_utf8_lossy(expected)
            );
        }

        async fn error_status(state: AppState, method: Method, path: &str) -> StatusCode {
            let head = method == Method::HEAD;
            let response = router(state).oneshot(request(method, path)).await.unwrap();
            let status = response.status();
            assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8_lossy(&body);
            // axum drops the body of a HEAD answer.
            let expected = format!("<p>Error code {}.", status.as_u16());
            assert!(head || body.contains(&expected), "{path}: {body}");
            status
        }

        #[tokio::test]
        async fn errors_are_the_references() {
            let fixture = Fixture::new();
            std::fs::write(&fixture.stdout, b"x").unwrap();
            let state = fixture.state(None);
            let cases = [
                (Method::GET, "/logtail", StatusCode::INTERNAL_SERVER_ERROR),
                (Method::GET, "/logtail/", StatusCode::NOT_FOUND),
                (Method::GET, "/logtail/nope", StatusCode::NOT_FOUND),
                (Method::GET, "/logtail/cat:*", StatusCode::NOT_FOUND),
                (Method::GET, "/logtail/cat:", StatusCode::NOT_FOUND),
                (Method::GET, "/logtail/cat/foo", StatusCode::NOT_FOUND),
                (Method::GET, "/logtail/cat/stdout/x", StatusCode::NOT_FOUND),
                // Configured, but the file does not exist yet.
                (Method::GET, "/logtail/cat/stderr", StatusCode::NOT_FOUND),
                (
                    Method::GET,
                    "/logtail/dir",
                    StatusCode::INTERNAL_SERVER_ERROR,
                ),
                (Method::POST, "/logtail/cat", StatusCode::BAD_REQUEST),
                (Method::HEAD, "/logtail/cat", StatusCode::BAD_REQUEST),
                // No main log file (syslog, or none configured).
                (Method::GET, "/mainlogtail", StatusCode::NOT_FOUND),
                (Method::POST, "/mainlogtail", StatusCode::BAD_REQUEST),
            ];
            for (method, path, expected) in cases {
                let status = error_status(state.clone(), method.clone(), path).await;
                assert_eq!(status, expected, "{method} {path}");
            }
            // A main log configured but not created yet.
            let missing = fixture.state(Some(fixture.main.clone()));
            let status = error_status(missing, Method::GET, "/mainlogtail").await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }

        #[tokio::test]
        async fn a_tail_starts_with_the_last_1024_bytes_and_the_references_headers() {
            let fixture = Fixture::new();
            let text: String = (0..400).map(|i| format!("line {i}\n")).collect();
            std::fs::write(&fixture.stdout, &text).unwrap();
            std::fs::write(&fixture.main, b"short main log\n").unwrap();
            let state = fixture.state(Some(fixture.main.clone()));

            for path in ["/logtail/cat", "/logtail/cat:cat/stdout", "/logtail/c%61t"] {
                let response = get(state.clone(), path).await;
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                let headers = response.headers();
                assert_eq!(headers[header::CONTENT_TYPE], "text/plain;charset=utf-8");
                assert_eq!(headers["x-accel-buffering"], "no");
                assert!(headers.get(header::CONTENT_LENGTH).is_none());
                let modified = std::fs::metadata(&fixture.stdout)
                    .unwrap()
                    .modified()
                    .unwrap();
                assert_eq!(headers[header::LAST_MODIFIED], http_date(modified).as_str());
                assert_eq!(response.body().size_hint().exact(), None);
                let mut body = response.into_body();
                read_exactly(&mut body, &text.as_bytes()[text.len() - 1024..]).await;
            }

            let response = get(state, "/mainlogtail").await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(response.headers().get("x-accel-buffering").is_none());
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/plain;charset=utf-8"
            );
            let mut body = response.into_body();
            read_exactly(&mut body, b"short main log\n").await;
        }

        #[tokio::test]
        async fn a_tail_follows_appends_rotations_and_truncation() {
            let fixture = Fixture::new();
            let rotation = Rotation {
                max_bytes: 300,
                backups: 3,
            };
            let mut log = RotatingFile::open(&fixture.stdout, rotation).unwrap();
            log.write_all(b"before\n").unwrap();
            let response = get(fixture.state(None), "/logtail/cat").await;
            let mut body = response.into_body();
            read_exactly(&mut body, b"before\n").await;

            // Enough lines to rotate several times; each one must arrive.
            for i in 0..60 {
                let line = format!("appended line {i:03}\n");
                log.write_all(line.as_bytes()).unwrap();
                read_exactly(&mut body, line.as_bytes()).await;
            }
            assert!(crate::logs::backup_path(&fixture.stdout, 3).exists());

            drop(log);
            std::fs::write(&fixture.stdout, b"").unwrap();
            read_exactly(&mut body, TRUNCATED_MARKER).await;
            std::fs::write(&fixture.stdout, b"again\n").unwrap();
            read_exactly(&mut body, b"again\n").await;
        }

        /// With the clock paused (idle looks need no blocking pool, so
        /// time advances as soon as the stream only waits): a quiet log is
        /// looked at no less than once a second, and a busy one every 0.1 s.
        #[tokio::test(start_paused = true)]
        async fn a_quiet_stream_backs_off_to_a_second_and_a_busy_one_comes_back() {
            let fixture = Fixture::new();
            std::fs::write(&fixture.stdout, b"head\n").unwrap();
            let mut body = get(fixture.state(None), "/logtail/cat").await.into_body();
            read_exactly(&mut body, b"head\n").await;
            let quiet = tokio::time::timeout(Duration::from_secs(60), body.frame()).await;
            assert!(quiet.is_err(), "nothing was appended, nothing may come");

            let append = |text: &[u8]| {
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&fixture.stdout)
                    .unwrap();
                std::io::Write::write_all(&mut file, text).unwrap();
            };
            append(b"after a quiet minute\n");
            let asked = tokio::time::Instant::now();
            assert_eq!(next_bytes(&mut body).await, "after a quiet minute\n");
            assert!(
                asked.elapsed() <= MAX_POLL_INTERVAL,
                "{:?}",
                asked.elapsed()
            );

            append(b"right after\n");
            let asked = tokio::time::Instant::now();
            assert_eq!(next_bytes(&mut body).await, "right after\n");
            assert!(asked.elapsed() <= POLL_INTERVAL, "{:?}", asked.elapsed());
        }

        #[tokio::test]
        async fn tails_are_behind_auth() {
            let fixture = Fixture::new();
            std::fs::write(&fixture.stdout, b"secret\n").unwrap();
            std::fs::write(&fixture.main, b"main secret\n").unwrap();
            let state = fixture
                .state(Some(fixture.main.clone()))
                .with_auth(Some("user"), Some("123"));
            for path in ["/logtail/cat", "/mainlogtail"] {
                let response = get(state.clone(), path).await;
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
                let request = HttpRequest::get(path)
                    .header(header::AUTHORIZATION, "Basic dXNlcjoxMjM=") // user:123
                    .body(Body::empty())
                    .unwrap();
                let response = router(state.clone()).oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                let mut body = response.into_body();
                assert!(next_bytes(&mut body).await.ends_with(b"secret\n"));
            }
        }

        /// Descriptors of this process open on `path`.
        fn open_descriptors(path: &Path) -> usize {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(Result::ok)
                .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
                .count()
        }

        #[tokio::test]
        async fn a_client_that_goes_away_closes_the_file() {
            let fixture = Fixture::new();
            std::fs::write(&fixture.stdout, b"hello\n").unwrap();
            let response = get(fixture.state(None), "/logtail/cat").await;
            let mut body = response.into_body();
            read_exactly(&mut body, b"hello\n").await;
            // Let an idle poll be in flight or pending, then go away.
            let more = tokio::time::timeout(POLL_INTERVAL * 3, body.frame()).await;
            assert!(more.is_err(), "nothing was appended, nothing may come");
            assert_eq!(open_descriptors(&fixture.stdout), 1);
            drop(body);
            let deadline = tokio::time::Instant::now() + DEADLINE;
            while open_descriptors(&fixture.stdout) > 0 {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the log stayed open after its client went away"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
