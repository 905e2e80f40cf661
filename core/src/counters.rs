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
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use supervisor_sdk::value::Value;

/// Events waiting in every listener pool's buffer.
static EVENTS_BUFFERED: AtomicI64 = AtomicI64::new(0);
/// Events dropped because a pool's buffer was full.
static EVENT_OVERFLOWS: AtomicU64 = AtomicU64::new(0);

/// A table of counters by key, each an `Arc` so a caller may keep its own.
struct Table<K, V> {
    map: LazyLock<RwLock<HashMap<K, Arc<V>>>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Default> Table<K, V> {
    const fn new() -> Self {
        Table {
            map: LazyLock::new(|| RwLock::new(HashMap::new())),
        }
    }

    /// The counters of `key`, made on first use.
    fn get<Q>(&self, key: &Q, owned: impl FnOnce() -> K) -> Arc<V>
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
        Arc::clone(map.entry(owned()).or_default())
    }

    fn entries<T>(&self, read: impl Fn(&K, &V) -> Option<T>) -> Vec<T> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter_map(|(key, counts)| read(key, counts))
            .collect()
    }
}

/// Calls and faults by method name.
static RPC: Table<Box<str>, [AtomicU64; 2]> = Table::new();

/// One process's counters: starts and output bytes in one entry, which
/// holds its own key, so a program costs one pointer-sized slot of one
/// table (issue 22's memory per program).
#[derive(Debug)]
struct ProcessCounts {
    group: Arc<str>,
    name: Arc<str>,
    starts: AtomicU64,
    /// Bytes read from stdout, stderr.
    output: [AtomicU64; 2],
    /// Which of those the snapshot lists: [`STARTED`], [`STDOUT_SEEN`],
    /// [`STDERR_SEEN`] (a channel is listed once a pump counts it, even
    /// before its first byte).
    seen: AtomicU8,
}

const STARTED: u8 = 1;
const STDOUT_SEEN: u8 = 2;
const STDERR_SEEN: u8 = 4;

/// Every process's counters by `(group, name)`, until it is removed.
static PROCESSES: LazyLock<RwLock<Processes>> = LazyLock::new(RwLock::default);

#[derive(Default)]
struct Processes {
    hasher: std::hash::RandomState,
    table: hashbrown::HashTable<Arc<ProcessCounts>>,
}

impl Processes {
    fn hash(&self, group: &str, name: &str) -> u64 {
        use std::hash::BuildHasher as _;
        self.hasher.hash_one((group, name))
    }

    fn find(&self, group: &str, name: &str) -> Option<&Arc<ProcessCounts>> {
        self.table.find(self.hash(group, name), |c| {
            *c.group == *group && *c.name == *name
        })
    }
}

fn processes() -> std::sync::RwLockReadGuard<'static, Processes> {
    // A poisoned lock only means a panic elsewhere while inserting: the
    // table itself is whole.
    PROCESSES.read().unwrap_or_else(|p| p.into_inner())
}

fn processes_mut() -> std::sync::RwLockWriteGuard<'static, Processes> {
    PROCESSES.write().unwrap_or_else(|p| p.into_inner())
}

/// One call of `method` answered, with a fault or not.
pub fn rpc_call(method: &str, fault: bool) {
    let counts = RPC.get(method, || method.into());
    counts[0].fetch_add(1, Ordering::Relaxed);
    if fault {
        counts[1].fetch_add(1, Ordering::Relaxed);
    }
}

/// The counters of `group:name`, made on first use.
fn process(group: &Arc<str>, name: &Arc<str>) -> Arc<ProcessCounts> {
    if let Some(found) = processes().find(group, name) {
        return Arc::clone(found);
    }
    let mut all = processes_mut();
    if let Some(found) = all.find(group, name) {
        return Arc::clone(found);
    }
    let counts = Arc::new(ProcessCounts {
        group: Arc::clone(group),
        name: Arc::clone(name),
        starts: AtomicU64::new(0),
        output: [AtomicU64::new(0), AtomicU64::new(0)],
        seen: AtomicU8::new(0),
    });
    let hash = all.hash(group, name);
    let Processes { hasher, table } = &mut *all;
    table.insert_unique(hash, Arc::clone(&counts), |c| {
        use std::hash::BuildHasher as _;
        hasher.hash_one((&*c.group, &*c.name))
    });
    counts
}

/// A child of `group:name` is being spawned.
pub fn process_started(group: &Arc<str>, name: &Arc<str>) {
    let counts = process(group, name);
    counts.seen.fetch_or(STARTED, Ordering::Relaxed);
    counts.starts.fetch_add(1, Ordering::Relaxed);
}

/// `group:name` left the daemon (removed by an update, a group removal or
/// a scale down): its counters go with it, so churn does not grow the
/// tables. A daemon restart keeps them.
pub fn process_removed(group: &Arc<str>, name: &Arc<str>) {
    let mut all = processes_mut();
    let hash = all.hash(group, name);
    if let Ok(entry) = all
        .table
        .find_entry(hash, |c| *c.group == **group && *c.name == **name)
    {
        entry.remove();
    }
    // A scale down from thousands must not keep the table's buckets.
    if all.table.capacity() > 64 && all.table.len() < all.table.capacity() / 4 {
        let Processes { hasher, table } = &mut *all;
        table.shrink_to_fit(|c| {
            use std::hash::BuildHasher as _;
            hasher.hash_one((&*c.group, &*c.name))
        });
    }
}

/// The counter of bytes read from `group:name`'s `channel` (`stdout`,
/// `stderr`): an output pump takes it once and adds each chunk.
pub fn output_bytes(group: &Arc<str>, name: &Arc<str>, channel: &'static str) -> OutputCounter {
    let counts = process(group, name);
    let stderr = channel == "stderr";
    counts.seen.fetch_or(
        if stderr { STDERR_SEEN } else { STDOUT_SEEN },
        Ordering::Relaxed,
    );
    OutputCounter {
        counts,
        index: u8::from(stderr),
    }
}

/// One channel's output byte counter.
#[derive(Debug, Clone)]
pub struct OutputCounter {
    counts: Arc<ProcessCounts>,
    index: u8,
}

impl OutputCounter {
    /// `bytes` more were read.
    pub fn add(&self, bytes: usize) {
        self.counts.output[usize::from(self.index)].fetch_add(bytes as u64, Ordering::Relaxed);
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
    let rpc = RPC.entries(|method, counts| {
        Some(Value::structure([
            ("method", Value::string(&**method)),
            ("calls", number(counts[0].load(Ordering::Relaxed))),
            ("faults", number(counts[1].load(Ordering::Relaxed))),
        ]))
    });
    let all = processes();
    let restarts = all.table.iter().filter_map(|counts| {
        let starts = counts.starts.load(Ordering::Relaxed);
        (counts.seen.load(Ordering::Relaxed) & STARTED != 0).then(|| {
            Value::structure([
                ("group", Value::string(&*counts.group)),
                ("name", Value::string(&*counts.name)),
                ("restarts", number(starts.saturating_sub(1))),
            ])
        })
    });
    let restarts: Vec<Value> = restarts.collect();
    let logged = all.table.iter().flat_map(|counts| {
        let seen = counts.seen.load(Ordering::Relaxed);
        let channels = [("stdout", STDOUT_SEEN), ("stderr", STDERR_SEEN)];
        channels
            .into_iter()
            .zip(&counts.output)
            .filter(move |((_, bit), _)| seen & bit != 0)
            .map(|((channel, _), bytes)| {
                Value::structure([
                    ("group", Value::string(&*counts.group)),
                    ("name", Value::string(&*counts.name)),
                    ("channel", Value::string(channel)),
                    ("bytes", number(bytes.load(Ordering::Relaxed))),
                ])
            })
    });
    let logged: Vec<Value> = logged.collect();
    drop(all);
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

    /// Update, group removal and scale churn must not grow the tables: a
    /// removed process's counters go (they leaked before, issue 22).
    #[test]
    fn a_removed_process_leaves_the_tables() {
        let (group, name): (Arc<str>, Arc<str>) = ("removed_g".into(), "removed_p".into());
        process_started(&group, &name);
        let out = output_bytes(&group, &name, "stdout");
        out.add(3);
        assert!(processes().find(&group, &name).is_some());
        let listed =
            |all: &Value, list: &str| find(all.get(list).unwrap(), "name", "removed_p").is_some();
        let all = snapshot();
        assert!(listed(&all, "restarts") && listed(&all, "logged"));
        process_removed(&group, &name);
        assert!(processes().find(&group, &name).is_none());
        // A pump still draining the last child counts into its own copy.
        out.add(1);
        let all = snapshot();
        assert!(
            !listed(&all, "restarts") && !listed(&all, "logged"),
            "{all:?}"
        );
    }
}
