//! The run-time method table: namespaces register and unregister while the
//! daemon serves, and every call reads the current table without a lock
//! (an `ArcSwap`: one atomic load per call). Only the names a namespace
//! declared are reachable; nothing is looked up by walking attributes, which
//! is how the reference's CVE-2017-11610 happened. It knows nothing of the
//! `system` namespace, which reads this table (`system.rs`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arc_swap::ArcSwap;
use supervisor_sdk::value::Value;

use supervisor_sdk::fault::Fault;

/// A boxed, sendable future: what a namespace returns from a call, so that
/// replies can be deferred (a `startProcess` that waits holds no thread).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The outcome of one XML-RPC method: a value or a Supervisor fault. Values
/// are the SDK's, which every namespace answers in and the response writer
/// encodes directly.
pub type CallResult = Result<Value, Fault>;

/// What `system.listMethods`, `methodHelp` and `methodSignature` publish
/// about one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method's name inside its namespace (`getState`, not
    /// `supervisor.getState`).
    pub name: String,
    /// The text `system.methodHelp` returns.
    pub help: String,
    /// `[return type, parameter types...]` as `system.methodSignature`
    /// returns it; `None` makes that call fail with
    /// `SIGNATURE_UNSUPPORTED`, as the reference does for a method whose
    /// documentation has no `@return` tag.
    pub signature: Option<Vec<String>>,
    /// Whether a call may change anything; users with the read-only role
    /// are refused such methods (see [`Access`]).
    pub changes_state: bool,
}

impl MethodInfo {
    /// A method with help text and a signature, which may change state
    /// (the safe default; see [`MethodInfo::reads_only`]).
    pub fn new(name: impl Into<String>, help: impl Into<String>, signature: &[&str]) -> Self {
        MethodInfo {
            name: name.into(),
            help: help.into(),
            signature: Some(signature.iter().map(|s| (*s).to_owned()).collect()),
            changes_state: true,
        }
    }

    /// Declare that the method changes nothing.
    pub fn reads_only(mut self) -> Self {
        self.changes_state = false;
        self
    }
}

/// What the caller of a method may do: everything, or, for an HTTP user
/// with the read-only role, only methods that change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// Every method (the server's own user, or a server without auth).
    #[default]
    Full,
    /// Only methods that change nothing; the user's name, for the fault
    /// and the log line.
    ReadOnly(Arc<str>),
}

/// One XML-RPC namespace (`supervisor`, a plugin's `twiddler`, ...). The
/// bridge to the plugin SDK implements it; tests implement it directly.
pub trait RpcNamespace: Send + Sync + 'static {
    /// The namespace's name: the part before the dot in `name.method`.
    fn name(&self) -> &str;

    /// Every method this namespace publishes. Called once, when the
    /// namespace is registered; only these names are dispatched to it.
    fn methods(&self) -> Vec<MethodInfo>;

    /// Run `method` (one of [`RpcNamespace::methods`]) with the positional
    /// `params`. Arity and type checks are the namespace's own: it answers
    /// `INCORRECT_PARAMETERS` where the reference's Python raised a
    /// `TypeError`. The future must not borrow `self`, so a namespace can
    /// be unregistered while one of its calls is still running.
    fn call(&self, method: &str, params: Vec<Value>) -> BoxFuture<CallResult>;

    /// The `<value>` answering `method` with `params`, written in pieces
    /// without building a [`Value`]; or `None`, and the call goes through
    /// [`RpcNamespace::call`] (the default, for every method). Only for
    /// answers that need no waiting and cannot fault: the builtin
    /// namespace's `getAllProcessInfo` ([`super::BuiltinAnswers`]).
    fn answer_in_place(&self, method: &str, params: &[Value]) -> Option<Box<dyn AnswerPieces>> {
        let _ = (method, params);
        None
    }
}

/// An answer written piece by piece, its exact size known before the
/// first piece: the response goes out with its Content-Length while the
/// rest is still being encoded, so the client reads megabytes while the
/// daemon writes them (4000 processes are 4.3 MB) instead of after.
pub trait AnswerPieces: Send {
    /// The bytes still to be written, exactly.
    fn remaining(&self) -> usize;

    /// Append the next piece to `out` (about `target` bytes, more for a
    /// big row); false, `out` untouched, once everything was written.
    fn write_next(&mut self, out: &mut String, target: usize) -> bool;
}

/// Why a namespace could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is empty, contains a dot, or is the reserved `system`.
    #[error(
        "invalid XML-RPC namespace name {0:?}: it must be non-empty, without '.', and not 'system'"
    )]
    InvalidNamespaceName(String),
    /// Another namespace of that name is registered.
    #[error("an XML-RPC namespace named {0:?} is already registered")]
    DuplicateNamespace(String),
    /// A method name that clients could not call (empty, dotted, or
    /// starting with `_`, which the reference never dispatches).
    #[error("XML-RPC namespace {namespace:?} declares an invalid method name {method:?}")]
    InvalidMethodName {
        /// The namespace that declared it.
        namespace: String,
        /// The offending method name.
        method: String,
    },
    /// The same method name twice in one namespace.
    #[error("XML-RPC namespace {namespace:?} declares method {method:?} twice")]
    DuplicateMethod {
        /// The namespace that declared it.
        namespace: String,
        /// The repeated method name.
        method: String,
    },
}

/// One registered namespace with its methods indexed by name.
pub(super) struct Entry {
    pub(super) namespace: Arc<dyn RpcNamespace>,
    pub(super) methods: HashMap<String, MethodInfo>,
}

/// An immutable snapshot of every namespace; replaced whole on change.
#[derive(Default)]
pub(super) struct Table {
    pub(super) namespaces: HashMap<String, Arc<Entry>>,
    /// Every registered `ns.method` name, sorted; `system.listMethods`
    /// merges the `system.*` names in. Built once per change so the call
    /// itself does no sorting.
    pub(super) sorted_names: Arc<[String]>,
}

impl Table {
    fn rebuilt(namespaces: HashMap<String, Arc<Entry>>) -> Table {
        let mut names: Vec<String> = namespaces
            .iter()
            .flat_map(|(ns, entry)| entry.methods.keys().map(move |m| format!("{ns}.{m}")))
            .collect();
        names.sort_unstable();
        Table {
            namespaces,
            sorted_names: names.into(),
        }
    }
}

/// The set of registered namespaces, shared by every server. Cheap to read
/// on every call; namespaces can be added and removed at any time.
pub struct Registry {
    pub(super) table: ArcSwap<Table>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("namespaces", &self.namespace_names())
            .finish()
    }
}

impl Registry {
    /// A registry holding only the `system` namespace.
    pub fn new() -> Self {
        Registry {
            table: ArcSwap::from_pointee(Table::rebuilt(HashMap::new())),
        }
    }

    /// Register `namespace`. Its method list is read now, validated, and
    /// frozen until it is removed.
    pub fn add(&self, namespace: Arc<dyn RpcNamespace>) -> Result<(), RegistryError> {
        let name = namespace.name().to_owned();
        if name.is_empty() || name.contains('.') || name == "system" {
            return Err(RegistryError::InvalidNamespaceName(name));
        }
        let mut methods = HashMap::new();
        for info in namespace.methods() {
            if info.name.is_empty() || info.name.contains('.') || info.name.starts_with('_') {
                return Err(RegistryError::InvalidMethodName {
                    namespace: name,
                    method: info.name,
                });
            }
            if methods.contains_key(&info.name) {
                return Err(RegistryError::DuplicateMethod {
                    namespace: name,
                    method: info.name,
                });
            }
            methods.insert(info.name.clone(), info);
        }
        let entry = Arc::new(Entry { namespace, methods });
        // rcu: another registration racing with this one is retried on the
        // fresh table, so neither is lost.
        let mut outcome = Ok(());
        self.table.rcu(|current| {
            if current.namespaces.contains_key(&name) {
                outcome = Err(RegistryError::DuplicateNamespace(name.clone()));
                return Arc::clone(current);
            }
            outcome = Ok(());
            let mut namespaces = current.namespaces.clone();
            namespaces.insert(name.clone(), Arc::clone(&entry));
            Arc::new(Table::rebuilt(namespaces))
        });
        outcome
    }

    /// Unregister the namespace called `name` and return it. Calls already
    /// running finish; new calls get `UNKNOWN_METHOD`.
    pub fn remove(&self, name: &str) -> Option<Arc<dyn RpcNamespace>> {
        let mut removed = None;
        self.table.rcu(|current| {
            removed = current.namespaces.get(name).cloned();
            if removed.is_none() {
                return Arc::clone(current);
            }
            let mut namespaces = current.namespaces.clone();
            namespaces.remove(name);
            Arc::new(Table::rebuilt(namespaces))
        });
        removed.map(|entry| Arc::clone(&entry.namespace))
    }

    /// The names of the registered namespaces (without `system`), sorted.
    pub fn namespace_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.table.load().namespaces.keys().cloned().collect();
        names.sort_unstable();
        names
    }
}
