//! `/logtail/<namespec>[/<channel>]` and `/mainlogtail`: a process's log
//! or the main log streamed as `tail -f` streams it, for the Python
//! supervisorctl's `tail -f` and `maintail -f` and for the web UI's tail
//! links. The answer starts with the last 1024 bytes of the file, then
//! sends what is appended, polled every 0.1 s, across rotation and
//! truncation ([`LogFollower`]), until the client goes away.
//!
//! This module owns the reference's parsing of the path, its status codes
//! and its headers; it does not know processes or configuration: the
//! daemon hands it a [`ProcessLogs`] resolver (namespec and channel to a
//! path) and the main log's path. It never blocks the runtime: every file
//! access runs on the blocking pool, one job in flight per client, and the
//! body reads only when hyper asks for the next chunk, so a client that
//! stops reading stops costing reads, and one that disconnects drops its
//! body, which closes the file.

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

use super::router::{Hooks, RouteHandler, error_page};
use crate::logs::{Channel, LogFollower};

/// How many bytes of the log a new client gets before the new ones.
pub const TAIL_HEAD_BYTES: u64 = 1024;

/// How often an idle stream looks at its file again (the reference's
/// producer delay).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

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
            match process_logs(&namespec, channel) {
                Ok(path) => stream_log(path, true).await,
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
            match main_log {
                Some(path) => stream_log(path.to_path_buf(), false).await,
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

/// Open `path` on the blocking pool and answer with its tail, then its
/// growth. 404 when the file does not exist, as the reference checks
/// `os.path.exists` first; 500 for any other failure to open it.
async fn stream_log(path: PathBuf, no_proxy_buffering: bool) -> Response {
    let opened = tokio::task::spawn_blocking(move || {
        let follower = LogFollower::open(&path, TAIL_HEAD_BYTES, MAX_CHUNK)?;
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
            tracing::warn!(%error, "cannot open a log to tail it");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Err(_cancelled) => return error_page(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut response = Response::new(Body::new(TailBody::new(follower)));
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
    /// Armed after a poll that found nothing.
    idle: Option<Pin<Box<Sleep>>>,
}

impl TailBody {
    fn new(follower: LogFollower) -> Self {
        TailBody {
            follower: Some(follower),
            reading: None,
            idle: None,
        }
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
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(data)))));
                    }
                    Ok(_) => {
                        this.idle = Some(Box::pin(tokio::time::sleep(POLL_INTERVAL)));
                    }
                    // The reference's producer ends its stream when the
                    // file can no longer be read; so does this one.
                    Err(_) => return Poll::Ready(None),
                }
            }
            if let Some(idle) = this.idle.as_mut() {
                ready!(idle.as_mut().poll(cx));
                this.idle = None;
            }
            let Some(mut follower) = this.follower.take() else {
                return Poll::Ready(None);
            };
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
}
