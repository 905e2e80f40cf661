//! `GET /api/v1/events`: process state changes as server-sent events, for
//! a live page. Each change is one `event: state` whose data is
//! `{"name", "group", "from", "to", "pid", "time"}` (`time` in UNIX
//! seconds). The stream opens with one such event per process, `from`
//! null, so a page starts from the current states. A watcher task per client reads `supervisor.getAllProcessInfo`
//! through the registry every [`POLL`] and sends what changed since the
//! last look, so a page sees a change within that (the goal is 1 s); a
//! process that passes through several states between two looks yields
//! one event from the last state seen to the current one. It reads the
//! registry only; it owns nothing but its clients' watchers, which end
//! when the client goes (noticed at the next write; a comment line every
//! [`KEEPALIVE`] makes one) or the server stops.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use serde_json::json;
use supervisor_sdk::value::Value;
use tokio::sync::mpsc;

use crate::http::ServerStopping;
use crate::rpc::Registry;

/// How often a watcher looks at the processes.
pub(super) const POLL: Duration = Duration::from_millis(250);

/// The longest a quiet stream goes without writing.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Start a watcher for this client and answer with its stream.
pub(super) fn stream(registry: &Arc<Registry>, request: &Request) -> Response {
    let (sender, receiver) = mpsc::channel(64);
    let stopping = request.extensions().get::<ServerStopping>().cloned();
    tokio::spawn(watch(Arc::clone(registry), sender, stopping));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // nginx would otherwise hold the events back.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::new(EventBody(receiver)),
    )
        .into_response()
}

/// State and pid of each process, by (group, name).
type Seen = HashMap<(String, String), (String, i32)>;

async fn watch(
    registry: Arc<Registry>,
    sender: mpsc::Sender<Bytes>,
    stopping: Option<ServerStopping>,
) {
    let stopping = async move {
        match stopping {
            Some(stopping) => stopping.wait().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stopping);
    // Browsers reconnect after this many milliseconds when the stream ends.
    if sender
        .send(Bytes::from_static(b"retry: 1000\n\n"))
        .await
        .is_err()
    {
        return;
    }
    // Empty: the first look announces every process.
    let mut seen = Seen::new();
    let mut last_write = Instant::now();
    let mut ticker = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = &mut stopping => return,
        }
        if sender.is_closed() {
            return;
        }
        let Ok(list) = registry
            .dispatch("supervisor.getAllProcessInfo", Vec::new())
            .await
        else {
            continue;
        };
        let now = current(&list);
        let mut out = String::new();
        changes(&seen, &now, unix_now(), &mut out);
        seen = now;
        if out.is_empty() && last_write.elapsed() >= KEEPALIVE {
            out.push_str(": keepalive\n\n");
        }
        if !out.is_empty() {
            if sender.send(Bytes::from(out)).await.is_err() {
                return;
            }
            last_write = Instant::now();
        }
    }
}

fn current(list: &Value) -> Seen {
    let text = |p: &Value, member: &str| {
        p.get(member)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    list.as_array()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let pid = p.get("pid").and_then(Value::as_int).unwrap_or(0);
            (
                (text(p, "group"), text(p, "name")),
                (text(p, "statename"), pid),
            )
        })
        .collect()
}

/// Append one event per process whose state differs between the looks
/// (a process new since `before` comes `from` null).
pub(super) fn changes(before: &Seen, now: &Seen, time: f64, out: &mut String) {
    let mut changed: Vec<_> = now
        .iter()
        .filter_map(|(key, (state, pid))| {
            let from = before.get(key).map(|(state, _)| state.as_str());
            (from != Some(state.as_str())).then_some((key, from, state, pid))
        })
        .collect();
    changed.sort_by(|a, b| a.0.cmp(b.0));
    for ((group, name), from, to, pid) in changed {
        let data = json!({"name": name, "group": group, "from": from, "to": to,
                          "pid": pid, "time": time});
        out.push_str("event: state\ndata: ");
        out.push_str(&data.to_string());
        out.push_str("\n\n");
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The response body: what the watcher sends, as it comes.
struct EventBody(mpsc::Receiver<Bytes>);

impl HttpBody for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rows: &[(&str, &str, i32)]) -> Seen {
        rows.iter()
            .map(|(name, state, pid)| {
                (
                    ((*name).to_owned(), (*name).to_owned()),
                    ((*state).to_owned(), *pid),
                )
            })
            .collect()
    }

    #[test]
    fn one_event_per_changed_process() {
        let before = seen(&[("a", "RUNNING", 1), ("b", "STOPPED", 0)]);
        let now = seen(&[
            ("a", "RUNNING", 1),
            ("b", "STARTING", 7),
            ("c", "STOPPED", 0),
        ]);
        let mut out = String::new();
        changes(&before, &now, 5.5, &mut out);
        assert_eq!(
            out,
            "event: state\ndata: {\"from\":\"STOPPED\",\"group\":\"b\",\"name\":\"b\",\"pid\":7,\"time\":5.5,\"to\":\"STARTING\"}\n\n\
             event: state\ndata: {\"from\":null,\"group\":\"c\",\"name\":\"c\",\"pid\":0,\"time\":5.5,\"to\":\"STOPPED\"}\n\n"
        );
        let mut none = String::new();
        changes(&now, &now, 6.0, &mut none);
        assert!(none.is_empty());
    }
}
