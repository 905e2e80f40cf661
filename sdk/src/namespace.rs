//! RPC namespaces: what a `[rpcinterface:x]` factory returns. A namespace
//! lists its methods (name, help, signature) and answers calls with a
//! [`Reply`]: a value, a fault, or a [`Deferred`] reply that waits on host
//! tickets without holding a thread. The daemon routes `prefix.method` to
//! the namespace registered under the section's name.
//!
//! Plugin authors implement the plain Rust trait [`RpcNamespace`] and wrap
//! it with [`namespace_box`]; the wrapper
//! catches panics on the plugin's side of the boundary. The ABI-stable
//! traits [`Namespace`] and [`Continuation`] are what crosses the boundary;
//! only the SDK's adapters implement them.

use crate::fault::{Fault, INCORRECT_PARAMETERS};
use crate::guard::{guarded, panic_fault};
use crate::host::{Outcome, Ticket};
use crate::value::Value;
use abi_stable::StableAbi;
use abi_stable::sabi_trait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RBox, ROption, RStr, RString, RVec};

/// One method of a namespace, as `system.listMethods`, `methodHelp` and
/// `methodSignature` report it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct MethodInfo {
    /// The name without the namespace prefix (`getState`).
    pub name: RString,
    /// The help text.
    pub help: RString,
    /// `[return type, parameter types...]` in XML-RPC type names (`string`,
    /// `int`, `boolean`, `array`, `struct`, ...); empty when unknown.
    pub signature: RVec<RString>,
    /// True when a call may wait (on a lock, the network, a slow disk, a
    /// child process): the daemon then calls it off its runtime threads.
    /// False promises that the method returns at once (it computes, reads
    /// the host's snapshot, reads `/proc`, issues commands and defers): the
    /// daemon then calls it inline, as cheaply as a builtin method. A
    /// method that breaks the promise (takes longer than the daemon's
    /// budget for an inline call) is logged and called off the runtime
    /// threads from then on.
    pub may_block: bool,
    /// True when a call may change anything (start, stop, signal, write,
    /// clear, reload, add, remove): a read-only HTTP user is refused it.
    /// The safe default; declare a method that only reads with
    /// [`MethodInfo::reads_only`].
    pub changes_state: bool,
}

impl MethodInfo {
    /// A method with its help text and `[return, params...]` signature,
    /// which may block (the safe default; see [`MethodInfo::returns_at_once`]).
    pub fn new(name: &str, help: &str, signature: &[&str]) -> MethodInfo {
        MethodInfo {
            name: name.into(),
            help: help.into(),
            signature: signature.iter().map(|s| RString::from(*s)).collect(),
            may_block: true,
            changes_state: true,
        }
    }

    /// Declare that this method changes nothing (it reports state, reads
    /// logs or configuration), so users with the read-only role may call
    /// it (see [`MethodInfo::changes_state`]).
    pub fn reads_only(mut self) -> MethodInfo {
        self.changes_state = false;
        self
    }

    /// Promise that this method never waits, so the daemon calls it inline
    /// (see [`MethodInfo::may_block`]). Its deferred replies' continuations
    /// must not wait either.
    pub fn returns_at_once(mut self) -> MethodInfo {
        self.may_block = false;
        self
    }
}

/// The answer to a call.
#[repr(u8)]
#[derive(StableAbi)]
pub enum Reply {
    /// The result.
    Value(Value),
    /// An XML-RPC fault.
    Fault(Fault),
    /// Not known yet: the daemon waits for tickets and asks the
    /// continuation.
    Deferred(Deferred),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Value(value) => f.debug_tuple("Value").field(value).finish(),
            Reply::Fault(fault) => f.debug_tuple("Fault").field(fault).finish(),
            Reply::Deferred(deferred) => f.debug_tuple("Deferred").field(deferred).finish(),
        }
    }
}

impl From<Result<Value, Fault>> for Reply {
    fn from(result: Result<Value, Fault>) -> Reply {
        match result {
            Ok(value) => Reply::Value(value),
            Err(fault) => Reply::Fault(fault),
        }
    }
}

impl From<Fault> for Reply {
    fn from(fault: Fault) -> Reply {
        Reply::Fault(fault)
    }
}

impl From<Value> for Reply {
    fn from(value: Value) -> Reply {
        Reply::Value(value)
    }
}

/// A reply that waits for host commands.
///
/// The daemon calls the continuation once per ticket, in the order the
/// tickets complete, with that ticket's outcome. The continuation answers
/// `None` to keep waiting or `Some(reply)` to finish (the remaining
/// tickets' outcomes are then dropped; a `Deferred` reply waits again on
/// new tickets). If every ticket completed and the continuation still said
/// `None`, the daemon answers `FAILED`. With no tickets at all, the daemon
/// calls [`Continuation::finish`] at once.
#[repr(C)]
#[derive(StableAbi)]
pub struct Deferred {
    /// The tickets to wait for.
    pub tickets: RVec<Ticket>,
    /// What to do with their outcomes.
    pub continuation: ContinuationBox,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("tickets", &self.tickets)
            .finish_non_exhaustive()
    }
}

impl Deferred {
    /// Wait for `tickets`, calling `on_outcome` for each as it completes.
    /// `on_finish` answers when there were no tickets at all.
    pub fn new<F, G>(tickets: Vec<Ticket>, on_outcome: F, on_finish: G) -> Deferred
    where
        F: FnMut(Ticket, Outcome) -> Option<Reply> + Send + 'static,
        G: FnOnce() -> Reply + Send + 'static,
    {
        let adapter = ClosureContinuation {
            on_outcome,
            on_finish: Some(on_finish),
        };
        Deferred {
            tickets: tickets.into(),
            continuation: Continuation_TO::from_value(adapter, TD_Opaque),
        }
    }

    /// Wait for one ticket and map its outcome to the final reply.
    pub fn one<F>(ticket: Ticket, then: F) -> Deferred
    where
        F: FnOnce(Outcome) -> Reply + Send + 'static,
    {
        let mut then = Some(then);
        Deferred::new(
            vec![ticket],
            move |_, outcome| then.take().map(|then| then(outcome)),
            || {
                Reply::Fault(Fault::with(
                    crate::fault::FAILED,
                    "deferred reply finished without its ticket",
                ))
            },
        )
    }
}

/// The ABI-stable side of a deferred reply's continuation. Implemented by
/// the SDK's adapter around a closure; see [`Deferred::new`].
#[sabi_trait]
pub trait Continuation: Send {
    /// Called when there were no tickets: the final reply.
    fn finish(&mut self) -> Reply;

    /// One ticket completed with `outcome`: `None` to keep waiting.
    #[sabi(last_prefix_field)]
    fn resume(&mut self, ticket: Ticket, outcome: Outcome) -> ROption<Reply>;
}

/// An owned continuation.
pub type ContinuationBox = Continuation_TO<'static, RBox<()>>;

struct ClosureContinuation<F, G> {
    on_outcome: F,
    on_finish: Option<G>,
}

impl<F, G> Continuation for ClosureContinuation<F, G>
where
    F: FnMut(Ticket, Outcome) -> Option<Reply> + Send + 'static,
    G: FnOnce() -> Reply + Send + 'static,
{
    fn finish(&mut self) -> Reply {
        let Some(on_finish) = self.on_finish.take() else {
            return Reply::Fault(Fault::with(
                crate::fault::FAILED,
                "deferred reply finished twice",
            ));
        };
        guarded(on_finish)
            .unwrap_or_else(|message| Reply::Fault(panic_fault("a deferred reply", &message)))
    }

    fn resume(&mut self, ticket: Ticket, outcome: Outcome) -> ROption<Reply> {
        match guarded(|| (self.on_outcome)(ticket, outcome)) {
            Ok(reply) => reply.into(),
            Err(message) => ROption::RSome(Reply::Fault(panic_fault("a deferred reply", &message))),
        }
    }
}

/// What a plugin author implements for an RPC namespace.
pub trait RpcNamespace: Send + Sync + 'static {
    /// The methods, in any order. Called at registration and again when the
    /// daemon lists methods; keep it cheap.
    fn methods(&self) -> Vec<MethodInfo>;

    /// Answer `method` (without the namespace prefix) with `params`. An
    /// unknown method should answer [`unknown_method`].
    fn call(&self, method: &str, params: &[Value]) -> Reply;
}

/// The fault for a method name the namespace does not have
/// (`UNKNOWN_METHOD`).
pub fn unknown_method() -> Reply {
    Reply::Fault(Fault::bare(crate::fault::UNKNOWN_METHOD))
}

/// The fault for wrong arity or types: the reference answers any Python
/// `TypeError` with exactly `INCORRECT_PARAMETERS`.
pub fn incorrect_parameters() -> Reply {
    Reply::Fault(Fault::bare(INCORRECT_PARAMETERS))
}

/// The ABI-stable namespace object. Implemented by the SDK's adapter; see
/// [`namespace_box`].
#[sabi_trait]
pub trait Namespace: Send + Sync {
    /// The methods.
    fn methods(&self) -> RVec<MethodInfo>;

    /// Answer a call.
    #[sabi(last_prefix_field)]
    fn call(&self, method: RStr<'_>, params: RVec<Value>) -> Reply;
}

/// An owned namespace object, as a factory returns it.
pub type NamespaceBox = Namespace_TO<'static, RBox<()>>;

struct GuardedNamespace<T>(T);

impl<T: RpcNamespace> Namespace for GuardedNamespace<T> {
    fn methods(&self) -> RVec<MethodInfo> {
        // A namespace that panics while listing has no methods rather than
        // taking the daemon down.
        guarded(|| self.0.methods()).unwrap_or_default().into()
    }

    fn call(&self, method: RStr<'_>, params: RVec<Value>) -> Reply {
        let name = method.as_str();
        guarded(|| self.0.call(name, params.as_slice()))
            .unwrap_or_else(|message| Reply::Fault(panic_fault(name, &message)))
    }
}

/// Wrap a namespace for the boundary, catching its panics.
pub fn namespace_box(namespace: impl RpcNamespace) -> NamespaceBox {
    Namespace_TO::from_value(GuardedNamespace(namespace), TD_Opaque)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FAILED;
    use crate::host::HostBox;
    use crate::state::ProcessState;
    use crate::testing::{TestHost, process_info};

    /// Starts the process named by its first parameter and waits for it.
    struct Starter {
        host: HostBox,
    }

    impl RpcNamespace for Starter {
        fn methods(&self) -> Vec<MethodInfo> {
            vec![
                MethodInfo::new("start", "Start and wait.", &["boolean", "string"]),
                MethodInfo::new("boom", "Panics.", &["boolean"]),
            ]
        }

        fn call(&self, method: &str, params: &[Value]) -> Reply {
            match (method, params) {
                ("start", [name]) => {
                    let name = name.as_str().unwrap_or_default();
                    let ticket = self.host.start_process(name.into(), name.into(), true);
                    Reply::Deferred(Deferred::one(ticket, |outcome| match outcome.fault {
                        ROption::RSome(fault) => Reply::Fault(fault),
                        ROption::RNone => Reply::Value(Value::bool(true)),
                    }))
                }
                ("boom", _) => panic!("boom on purpose"),
                _ => unknown_method(),
            }
        }
    }

    #[test]
    fn a_deferred_reply_waits_on_the_hosts_ticket() {
        let host = TestHost::with_processes(vec![process_info("web", ProcessState::Stopped, 0)]);
        let namespace = namespace_box(Starter {
            host: host.handle(),
        });
        let Reply::Deferred(deferred) =
            namespace.call("start".into(), vec![Value::string("web")].into())
        else {
            panic!("start defers");
        };
        assert_eq!(host.state().commands, ["start_process web:web wait=true"]);
        assert_eq!(deferred.tickets.as_slice(), [Ticket(1)]);
        let mut continuation = deferred.continuation;
        let ROption::RSome(Reply::Value(value)) = continuation.resume(Ticket(1), Outcome::done())
        else {
            panic!("one ticket settles it");
        };
        assert_eq!(value, Value::bool(true));
    }

    #[test]
    fn a_panicking_method_becomes_a_fault_across_the_boundary() {
        let namespace = namespace_box(Starter {
            host: TestHost::default().handle(),
        });
        let Reply::Fault(fault) = namespace.call("boom".into(), RVec::new()) else {
            panic!("a panic is a fault");
        };
        assert_eq!(fault.code, FAILED);
        assert_eq!(
            fault.string.as_str(),
            "FAILED: plugin panicked in boom: boom on purpose"
        );
        // The object is still usable.
        assert_eq!(namespace.methods().len(), 2);
        assert!(
            matches!(namespace.call("nope".into(), RVec::new()), Reply::Fault(f) if f.code == 1)
        );
    }

    #[test]
    fn a_continuation_without_tickets_finishes_once() {
        let deferred = Deferred::new(vec![], |_, _| None, || Reply::Value(Value::int(3)));
        let mut continuation = deferred.continuation;
        assert!(matches!(continuation.finish(), Reply::Value(v) if v == Value::int(3)));
        assert!(matches!(continuation.finish(), Reply::Fault(f) if f.code == FAILED));
    }
}
