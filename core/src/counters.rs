//! The daemon's counters for monitoring (bundled plugins such as metrics
//! read them through `supervisor_sdk::counters`): RPC calls and faults by method,
//! starts per process, events buffered in listener pools and dropped
//! when a buffer was full, and bytes of child output per channel.
//!
//! Process-wide, like the daemon they count (a restart in the same pid
//! keeps counting). Each is bumped where the counted thing happens with
//! one relaxed atomic add; the keyed tables are read-locked maps of
//! shared atomics, so a hot path looks its counter up once (an output
//! pump per child) or takes a read lock per event (an RPC call). This
//! module imports nothing else from core, so any module may count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use supervisor_sdk::value::Value;

/// Events waiting in every listener pool's buffer.
static EVENTS_BUFFERED: AtomicI64 = AtomicI64::new(0);
/// Events dropped because a pool's buffer was full.
static EVENT_OVERFLOWS: AtomicU64 = AtomicU64::new(0);

/// A table of counters by key, each an `Arc` so a caller may keep its own.
struct Table<K, const N: usize> {
    map: LazyLock<RwLock<HashMap<K, Arc<[AtomicU64; N]>>>>,
}

impl<K: std::hash::Hash + Eq + Clone, const N: usize> Table<K, N> {
    const fn new() -> Self {
        Table {
            map: LazyLock::new(|| RwLock::new(HashMap::new())),
        }
    }

    /// The counters of `key`, made on first use.
    fn get<Q>(&self, key: &Q, owned: impl FnOnce() -> K) -> Arc<[AtomicU64; N]>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        // A poisoned lock only means a panic elsewhere while inserting:
        // the map itself is whole.
        if let Some(found) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Arc::clone(found);
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            map.entry(owned())
                .or_insert_with(|| Arc::new(std::array::from_fn(|_| AtomicU64::new(0)))),
        )
    }

    fn entries(&self) -> Vec<(K, [u64; N])> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .map(|(key, counts)| {
                (
                    key.clone(),
                    std::array::from_fn(|i| counts[i].load(Ordering::Relaxed)),
                )
            })
            .collect()
    }
}

/// Calls and faults by method name.
static RPC: Table<Box<str>, 2> = Table::new();
/// Starts by `(group, name)`.
static STARTS: Table<(Arc<str>, Arc<str>), 1> = Table::new();
/// Output bytes by `(group, name, channel)`.
static OUTPUT: Table<(Arc<str>, Arc<str>, &'static str), 1> = Table::new();

/// One call of `method` answered, with a fault or not.
pub fn rpc_call(method: &str, fault: bool) {
    let counts = RPC.get(method, || method.into());
    counts[0].fetch_add(1, Ordering::Relaxed);
    if fault {
        counts[1].fetch_add(1, Ordering::Relaxed);
    }
}

/// A child of `group:name` is being spawned.
pub fn process_started(group: &Arc<str>, name: &Arc<str>) {
    let key = (Arc::clone(group), Arc::clone(name));
    STARTS.get(&key, || key.clone())[0].fetch_add(1, Ordering::Relaxed);
}

/// The counter of bytes read from `group:name`'s `channel` (`stdout`,
/// `stderr`): an output pump takes it once and adds each chunk.
pub fn output_bytes(group: &Arc<str>, name: &Arc<str>, channel: &'static str) -> OutputCounter {
    let key = (Arc::clone(group), Arc::clone(name), channel);
    OutputCounter(OUTPUT.get(&key, || key.clone()))
}

/// One channel's output byte counter.
#[derive(Debug, Clone)]
pub struct OutputCounter(Arc<[AtomicU64; 1]>);

impl OutputCounter {
    /// `bytes` more were read.
    pub fn add(&self, bytes: usize) {
        self.0[0].fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// `count` events entered (positive) or left (negative) pool buffers.
pub fn events_buffered(count: i64) {
    EVENTS_BUFFERED.fetch_add(count, Ordering::Relaxed);
}

/// An event was dropped from a full buffer.
pub fn event_overflow() {
    EVENT_OVERFLOWS.fetch_add(1, Ordering::Relaxed);
}

/// Every counter as `supervisor_sdk::counters::read` documents it.
pub fn snapshot() -> Value {
    // Prometheus values are doubles; a count past 2^53 is beyond any
    // daemon's life.
    let number = |n: u64| Value::double(n as f64);
    let rpc = RPC.entries().into_iter().map(|(method, [calls, faults])| {
        Value::structure([
            ("method", Value::string(&*method)),
            ("calls", number(calls)),
            ("faults", number(faults)),
        ])
    });
    let restarts = STARTS
        .entries()
        .into_iter()
        .map(|((group, name), [starts])| {
            Value::structure([
                ("group", Value::string(&*group)),
                ("name", Value::string(&*name)),
                ("restarts", number(starts.saturating_sub(1))),
            ])
        });
    let logged = OUTPUT
        .entries()
        .into_iter()
        .map(|((group, name, channel), [bytes])| {
            Value::structure([
                ("group", Value::string(&*group)),
                ("name", Value::string(&*name)),
                ("channel", Value::string(channel)),
                ("bytes", number(bytes)),
            ])
        });
    Value::structure([
        ("rpc", Value::array(rpc)),
        ("restarts", Value::array(restarts)),
        (
            "events",
            Value::structure([
                (
                    "buffered",
                    number(EVENTS_BUFFERED.load(Ordering::Relaxed).max(0) as u64),
                ),
                ("overflows", number(EVENT_OVERFLOWS.load(Ordering::Relaxed))),
            ]),
        ),
        ("logged", Value::array(logged)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(list: &'a Value, key: &str, wanted: &str) -> Option<&'a Value> {
        list.as_array()?
            .iter()
            .find(|item| item.get(key).and_then(Value::as_str) == Some(wanted))
    }

    #[test]
    fn counts_show_in_the_snapshot() {
        rpc_call("counters_test.a", false);
        rpc_call("counters_test.a", true);
        let (group, name): (Arc<str>, Arc<str>) = ("counters_g".into(), "counters_p".into());
        process_started(&group, &name);
        process_started(&group, &name);
        process_started(&group, &name);
        let out = output_bytes(&group, &name, "stderr");
        out.add(10);
        out.add(5);
        let before = EVENT_OVERFLOWS.load(Ordering::Relaxed);
        event_overflow();
        let all = snapshot();
        let rpc = find(all.get("rpc").unwrap(), "method", "counters_test.a").unwrap();
        assert_eq!(rpc.get("calls"), Some(&Value::double(2.0)));
        assert_eq!(rpc.get("faults"), Some(&Value::double(1.0)));
        let restarts = find(all.get("restarts").unwrap(), "name", "counters_p").unwrap();
        assert_eq!(restarts.get("restarts"), Some(&Value::double(2.0)));
        let logged = find(all.get("logged").unwrap(), "name", "counters_p").unwrap();
        assert_eq!(
            logged.get("channel").and_then(Value::as_str),
            Some("stderr")
        );
        assert_eq!(logged.get("bytes"), Some(&Value::double(15.0)));
        let overflows = all.get("events").and_then(|e| e.get("overflows"));
        let Some(supervisor_sdk::value::ValueKind::Double(overflows)) =
            overflows.and_then(Value::kind)
        else {
            panic!("overflows is a double: {all:?}");
        };
        // Other tests of this process may overflow too, never fewer.
        assert!(*overflows >= (before + 1) as f64);
    }
}
