//! `GET /api/v1/events`: process state changes as server-sent events, for
//! a live page. Each change is one `event: state` whose data is
//! `{"name", "group", "from", "to", "pid", "time"}` (`time` in UNIX
//! seconds) and the columns a page shows beside the state, as
//! `getProcessInfo` has them: `description`, `exitstatus`, `spawnerr`,
//! `start`, `now`. The stream opens with one such event per process, `from`
//! null, so a page starts from the current states. A watcher task per
//! client reads `supervisor.getAllProcessInfo` through the registry each
//! time the daemon publishes a change (the change feed of
//! [`Hooks::with_change_feed`]: the supervisor task's snapshot ticks) and
//! sends what changed since the last look, so a change arrives at once
//! and an idle daemon does no work for its streams but a keepalive every
//! [`KEEPALIVE`]; with no subscriber, nothing runs at all. A router with
//! no feed (tests without a daemon) looks every [`POLL`] instead. A
//! process that passes through several states between two looks yields
//! one event from the last state seen to the current one (and one for a
//! new pid in the same state). It reads the registry only; it owns
//! nothing but its clients' watchers, which end when the client goes or
//! the server stops.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use serde_json::json;
use supervisor_sdk::value::Value;
use tokio::sync::{mpsc, watch};

use crate::http::{Hooks, ServerStopping};
use crate::rpc::Registry;

impl Hooks {
    /// Let `/api/v1/events` wait on `changes`, which ticks each time the
    /// daemon publishes a change, instead of polling.
    pub fn with_change_feed(mut self, changes: watch::Receiver<()>) -> Self {
        self.changes = Some(changes);
        self
    }
}

/// How often a watcher looks at the processes when it has no change feed.
pub(super) const POLL: Duration = Duration::from_millis(250);

/// The longest a quiet stream goes without writing.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Start a watcher for this client and answer with its stream.
pub(super) fn stream(
    registry: &Arc<Registry>,
    changes: Option<watch::Receiver<()>>,
    request: &Request,
) -> Response {
    let (sender, receiver) = mpsc::channel(64);
    let stopping = request.extensions().get::<ServerStopping>().cloned();
    tokio::spawn(follow(Arc::clone(registry), changes, sender, stopping));
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

/// What a page shows of one process: its state, and the other members
/// sent with a change of it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Shown {
    state: String,
    members: serde_json::Map<String, serde_json::Value>,
}

impl Shown {
    fn pid(&self) -> Option<&serde_json::Value> {
        self.members.get("pid")
    }
}

/// What a page shows of each process, by (group, name).
type Seen = HashMap<(String, String), Shown>;

/// The members of `getProcessInfo` an event carries beside the state.
const MEMBERS: [&str; 6] = [
    "pid",
    "description",
    "exitstatus",
    "spawnerr",
    "start",
    "now",
];

/// What wakes a watcher: the change feed, or a poll without one.
enum Wake {
    Feed(watch::Receiver<()>),
    Poll(tokio::time::Interval),
}

impl Wake {
    /// The next reason to look; `None` once the feed is gone (the daemon's
    /// life ended: the browser reconnects to the next).
    async fn next(&mut self) -> Option<()> {
        match self {
            Wake::Feed(changes) => changes.changed().await.ok(),
            Wake::Poll(ticker) => {
                ticker.tick().await;
                Some(())
            }
        }
    }
}

async fn follow(
    registry: Arc<Registry>,
    feed: Option<watch::Receiver<()>>,
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
    let mut wake = match feed {
        Some(mut feed) => {
            // The first look is now, whatever the feed last said.
            feed.mark_changed();
            Wake::Feed(feed)
        }
        None => Wake::Poll(tokio::time::interval(POLL)),
    };
    // A write is how a client that went away is noticed.
    let mut last_write = tokio::time::Instant::now();
    loop {
        tokio::select! {
            woke = wake.next() => if woke.is_none() { return },
            () = tokio::time::sleep_until(last_write + KEEPALIVE) => {
                if sender.send(Bytes::from_static(b": keepalive\n\n")).await.is_err() {
                    return;
                }
                last_write = tokio::time::Instant::now();
                continue;
            }
            () = sender.closed() => return,
            () = &mut stopping => return,
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
        if !out.is_empty() {
            if sender.send(Bytes::from(out)).await.is_err() {
                return;
            }
            last_write = tokio::time::Instant::now();
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
            let members = MEMBERS
                .iter()
                .filter_map(|m| Some(((*m).to_owned(), super::json::to_json(p.get(m)?))))
                .collect();
            let shown = Shown {
                state: text(p, "statename"),
                members,
            };
            ((text(p, "group"), text(p, "name")), shown)
        })
        .collect()
}

/// Append one event per process whose state differs between the looks
/// (a process new since `before` comes `from` null).
pub(super) fn changes(before: &Seen, now: &Seen, time: f64, out: &mut String) {
    let mut changed: Vec<_> = now
        .iter()
        .filter_map(|(key, shown)| {
            let before = before.get(key);
            // A new pid in the same state is news too: a restart quicker
            // than one look.
            let same = before.is_some_and(|b| b.state == shown.state && b.pid() == shown.pid());
            (!same).then_some((key, before.map(|b| b.state.as_str()), shown))
        })
        .collect();
    changed.sort_by(|a, b| a.0.cmp(b.0));
    for ((group, name), from, shown) in changed {
        let mut data = shown.members.clone();
        for (key, value) in [
            ("name", json!(name)),
            ("group", json!(group)),
            ("from", json!(from)),
            ("to", json!(shown.state)),
            ("time", json!(time)),
        ] {
            data.insert(key.to_owned(), value);
        }
        out.push_str("event: state\ndata: ");
        out.push_str(&serde_json::Value::Object(data).to_string());
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
                let mut members = serde_json::Map::new();
                members.insert("pid".into(), json!(pid));
                let shown = Shown {
                    state: (*state).to_owned(),
                    members,
                };
                (((*name).to_owned(), (*name).to_owned()), shown)
            })
            .collect()
    }

    #[test]
    fn an_event_carries_the_columns_a_page_shows() {
        let list = Value::array(vec![Value::structure(vec![
            ("name", "a".into()),
            ("group", "g".into()),
            ("statename", "EXITED".into()),
            ("pid", Value::int(0)),
            ("exitstatus", Value::int(3)),
            ("spawnerr", "".into()),
            ("description", "Dec 7 04:00 PM".into()),
            ("start", Value::int(10)),
            ("now", Value::int(20)),
        ])]);
        let mut out = String::new();
        changes(&Seen::new(), &current(&list), 1.0, &mut out);
        let data: serde_json::Value =
            serde_json::from_str(out.trim().strip_prefix("event: state\ndata: ").unwrap()).unwrap();
        assert_eq!(
            data,
            json!({"name": "a", "group": "g", "from": null, "to": "EXITED", "pid": 0,
                   "exitstatus": 3, "spawnerr": "", "description": "Dec 7 04:00 PM",
                   "start": 10, "now": 20, "time": 1.0})
        );
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
        let mut restarted = String::new();
        changes(&now, &seen(&[("a", "RUNNING", 2)]), 7.0, &mut restarted);
        assert!(
            restarted.contains("\"from\":\"RUNNING\",\"group\":\"a\",\"name\":\"a\",\"pid\":2"),
            "{restarted}"
        );
    }
}
