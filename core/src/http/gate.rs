//! Who gets a connection: the budgets every HTTP server of the daemon
//! shares, sized from the open-files limit, so no network client can take
//! the descriptors the unix socket, the children's pipes and the logs
//! need. TCP connections draw from one pool across every inet server;
//! unix servers count against a pool of their own that TCP never touches,
//! so a local administrator is always served. When the TCP pool (or a
//! server's own `max_connections`, or one peer's share of connections
//! that have not authenticated) is full, a newcomer is let in by closing
//! the oldest connection that failed authentication or has not
//! authenticated yet; an authenticated connection is never closed for
//! room. It owns the accounting only; serving is [`super::serve()`]'s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

/// The share of the open-files limit TCP connections may hold together.
const TCP_SHARE_DIVISOR: u64 = 2;
/// The share of the open-files limit unix connections may hold together.
const UNIX_SHARE_DIVISOR: u64 = 8;
/// Ceilings of the derived budgets: past these, more connections cost
/// memory rather than descriptors.
const TCP_CEILING: u64 = 8192;
const UNIX_CEILING: u64 = 1024;

/// How far a connection got with authentication. Set by the router on
/// each request; read by the gate when it needs room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Standing {
    /// No request judged yet.
    Pending = 0,
    /// A request passed authentication (or the server has none).
    Trusted = 1,
    /// A request failed authentication.
    Failed = 2,
}

/// The connection's standing, in each of its requests' extensions.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMark(Arc<AtomicU8>);

impl ConnectionMark {
    /// Record what the latest request earned. Failed never overrides
    /// trusted: a trusted client mistyping once keeps its connection.
    pub fn set(&self, standing: Standing) {
        match standing {
            Standing::Failed => {
                let _ = self.0.compare_exchange(
                    Standing::Pending as u8,
                    Standing::Failed as u8,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            other => self.0.store(other as u8, Ordering::Relaxed),
        }
    }

    fn get(&self) -> Standing {
        match self.0.load(Ordering::Relaxed) {
            1 => Standing::Trusted,
            2 => Standing::Failed,
            _ => Standing::Pending,
        }
    }
}

/// The descriptor budgets, derived once from the soft open-files limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// TCP connections across every inet server.
    pub tcp: usize,
    /// Unix connections per unix server.
    pub unix: usize,
    /// Connections one peer address may hold before authenticating.
    pub per_peer_pending: usize,
}

impl Budgets {
    /// The budgets for an open-files limit of `nofile`.
    pub fn for_limit(nofile: u64) -> Budgets {
        let tcp = (nofile / TCP_SHARE_DIVISOR).clamp(8, TCP_CEILING);
        let unix = (nofile / UNIX_SHARE_DIVISOR).clamp(4, UNIX_CEILING);
        Budgets {
            tcp: tcp as usize,
            unix: unix as usize,
            per_peer_pending: (tcp / 8).max(16) as usize,
        }
    }

    /// The budgets for this process's current soft limit.
    pub fn current() -> Budgets {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        Budgets::for_limit(soft)
    }
}

struct Entry {
    server: usize,
    peer: IpAddr,
    since: Instant,
    mark: ConnectionMark,
    close: Arc<Notify>,
}

/// Which connections a full budget may displace.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// One peer's: it reached its share of pending connections.
    Peer(IpAddr),
    /// One server's: it reached its `max_connections`.
    Server(usize),
    /// Any: the TCP budget is full.
    All,
}

impl Scope {
    fn holds(self, entry: &Entry) -> bool {
        match self {
            Scope::Peer(peer) => entry.peer == peer,
            Scope::Server(server) => entry.server == server,
            Scope::All => true,
        }
    }
}

#[derive(Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
}

/// The TCP connection table shared by every inet server.
pub struct Gate {
    budgets: Budgets,
    table: Mutex<Table>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("budgets", &self.budgets)
            .finish()
    }
}

/// A connection let in: it leaves the table when dropped, and
/// [`Admission::evicted`] resolves when the gate closed it for room.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<Gate>,
    id: u64,
    /// The standing the router updates.
    pub mark: ConnectionMark,
    close: Arc<Notify>,
}

impl Admission {
    /// Resolves when the gate chose this connection to make room.
    pub async fn evicted(&self) {
        self.close.notified().await;
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gate.lock().entries.remove(&self.id);
    }
}

impl Gate {
    /// A gate with `budgets`.
    pub fn new(budgets: Budgets) -> Arc<Gate> {
        Arc::new(Gate {
            budgets,
            table: Mutex::new(Table::default()),
        })
    }

    /// The daemon's gate, sized from the open-files limit when first used
    /// (after supervisord raised it to `minfds`).
    pub fn shared() -> Arc<Gate> {
        static SHARED: OnceLock<Arc<Gate>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(|| Gate::new(Budgets::current())))
    }

    /// Its budgets.
    pub fn budgets(&self) -> Budgets {
        self.budgets
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Entries are inserted and removed whole: a panic cannot leave the
        // table half-changed.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Let in a TCP connection from `peer` to server `server` (which takes
    /// at most `server_cap`), closing a connection that has not earned its
    /// place if one is needed for room; `None` when every place is held by
    /// trusted connections (the newcomer is then closed).
    pub fn admit(
        self: &Arc<Gate>,
        server: usize,
        server_cap: usize,
        peer: IpAddr,
    ) -> Option<Admission> {
        let mut table = self.lock();
        let pending_of_peer = table
            .entries
            .values()
            .filter(|e| e.peer == peer && e.mark.get() != Standing::Trusted)
            .count();
        let of_server = table
            .entries
            .values()
            .filter(|e| e.server == server)
            .count();
        let needs_room = if pending_of_peer >= self.budgets.per_peer_pending {
            Some(Scope::Peer(peer))
        } else if of_server >= server_cap.max(1) {
            Some(Scope::Server(server))
        } else if table.entries.len() >= self.budgets.tcp {
            Some(Scope::All)
        } else {
            None
        };
        if let Some(scope) = needs_room {
            let victim = table
                .entries
                .iter()
                .filter(|(_, e)| scope.holds(e) && e.mark.get() != Standing::Trusted)
                // Failed ones first, then the longest waiting.
                .min_by_key(|(_, e)| (e.mark.get() != Standing::Failed, e.since))
                .map(|(id, _)| *id);
            let victim = victim?;
            if let Some(entry) = table.entries.remove(&victim) {
                entry.close.notify_one();
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let mark = ConnectionMark::default();
        let close = Arc::new(Notify::new());
        table.entries.insert(
            id,
            Entry {
                server,
                peer,
                since: Instant::now(),
                mark: mark.clone(),
                close: Arc::clone(&close),
            },
        );
        Some(Admission {
            gate: Arc::clone(self),
            id,
            mark,
            close,
        })
    }

    /// Close the oldest connection that has not earned its place, if any
    /// (to get a descriptor back when accept ran out of them).
    pub fn shed_one(&self) -> bool {
        let mut table = self.lock();
        let victim = table
            .entries
            .iter()
            .filter(|(_, e)| e.mark.get() != Standing::Trusted)
            .min_by_key(|(_, e)| (e.mark.get() != Standing::Failed, e.since))
            .map(|(id, _)| *id);
        match victim.and_then(|id| table.entries.remove(&id)) {
            Some(entry) => {
                entry.close.notify_one();
                true
            }
            None => false,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

/// A fresh server id, so per-server caps count each server's own.
pub fn server_id() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn gate(tcp: usize, per_peer_pending: usize) -> Arc<Gate> {
        Gate::new(Budgets {
            tcp,
            unix: 4,
            per_peer_pending,
        })
    }

    #[test]
    fn budgets_follow_the_open_files_limit() {
        let small = Budgets::for_limit(1024);
        assert_eq!(
            (small.tcp, small.unix, small.per_peer_pending),
            (512, 128, 64)
        );
        let tiny = Budgets::for_limit(10);
        assert_eq!((tiny.tcp, tiny.unix, tiny.per_peer_pending), (8, 4, 16));
        let huge = Budgets::for_limit(1 << 20);
        assert_eq!((huge.tcp, huge.unix), (8192, 1024));
    }

    #[test]
    fn a_full_pool_closes_the_oldest_pending_connection_never_a_trusted_one() {
        let gate = gate(3, 100);
        let trusted = gate.admit(0, 100, A).unwrap();
        trusted.mark.set(Standing::Trusted);
        let old = gate.admit(0, 100, B).unwrap();
        let young = gate.admit(0, 100, B).unwrap();
        let newcomer = gate.admit(0, 100, A).expect("room is made");
        assert_eq!(gate.len(), 3);
        // The oldest pending one was told to close; the others were not.
        let now = std::task::Context::from_waker(std::task::Waker::noop());
        let mut cx = now;
        let mut closed = |a: &Admission| {
            let mut wait = std::pin::pin!(a.evicted());
            wait.as_mut().poll(&mut cx).is_ready()
        };
        use std::future::Future as _;
        assert!(closed(&old));
        assert!(!closed(&young));
        assert!(!closed(&trusted));
        assert!(!closed(&newcomer));
        drop(old);
        assert_eq!(gate.len(), 3);
        for admission in [&young, &newcomer] {
            admission.mark.set(Standing::Trusted);
        }
        assert!(gate.admit(0, 100, B).is_none(), "only trusted ones left");
    }

    #[test]
    fn failed_connections_go_before_pending_ones_and_stay_failed() {
        let gate = gate(2, 100);
        let pending = gate.admit(0, 100, A).unwrap();
        let failed = gate.admit(0, 100, B).unwrap();
        failed.mark.set(Standing::Failed);
        let _new = gate.admit(0, 100, A).unwrap();
        assert_eq!(gate.len(), 2);
        drop(failed);
        assert_eq!(gate.len(), 2, "the failed one had already left the table");
        let trusted = ConnectionMark::default();
        trusted.set(Standing::Trusted);
        trusted.set(Standing::Failed);
        assert_eq!(trusted.get(), Standing::Trusted);
        drop(pending);
    }

    #[test]
    fn one_peer_only_displaces_its_own_pending_connections() {
        let gate = gate(100, 2);
        let b = gate.admit(0, 100, B).unwrap();
        let _a1 = gate.admit(0, 100, A).unwrap();
        let _a2 = gate.admit(0, 100, A).unwrap();
        let _a3 = gate.admit(0, 100, A).unwrap();
        assert_eq!(gate.len(), 3);
        assert!(gate.lock().entries.contains_key(&b.id));
    }

    #[test]
    fn a_server_cap_counts_only_that_server() {
        let gate = gate(100, 100);
        let _one = gate.admit(1, 1, A).unwrap();
        let _other = gate.admit(2, 1, A).unwrap();
        assert_eq!(gate.len(), 2);
        let _again = gate.admit(1, 1, A).unwrap();
        assert_eq!(gate.len(), 2);
        assert!(gate.shed_one());
        assert_eq!(gate.len(), 1);
    }
}
