//! Dispatch of `namespace.method` names and the `system` namespace
//! (`listMethods`, `methodHelp`, `methodSignature`, `multicall`), with the
//! reference's resolution rules, faults and result shapes
//! (`supervisor/xmlrpc.py`: `traverse`, `SystemNamespaceRPCInterface`).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use supervisor_sdk::value::{Value, ValueKind};

use super::direct::ResponsePieces;
use super::registry::{Access, BoxFuture, CallResult, Registry};
use supervisor_sdk::fault::{self as code, Fault};

/// How a call ended when it did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// A Supervisor fault: sent to the client as an XML-RPC fault.
    Fault(Fault),
    /// The method panicked (the reference's "unexpected exception"): the
    /// top-level call answers HTTP 500, as the reference does, and
    /// `system.multicall` reports it as a `FAILED` fault struct.
    Internal(String),
}

impl From<Fault> for CallError {
    fn from(fault: Fault) -> Self {
        CallError::Fault(fault)
    }
}

/// A static description of a `system` method.
pub(super) struct SystemMethod {
    pub(super) name: &'static str,
    pub(super) help: &'static str,
    pub(super) signature: &'static [&'static str],
}

/// The `system` namespace; help texts are ours, with the `@param` and
/// `@return` tags that tools parse in the reference's.
pub(super) const METHODS: &[SystemMethod] = &[
    SystemMethod {
        name: "listMethods",
        help: "List the names of every method this server publishes, sorted.\n\n\
               @return array result  The method names (strings).",
        signature: &["array"],
    },
    SystemMethod {
        name: "methodHelp",
        help: "Show the documentation of one method.\n\n\
               @param string name  The method's full name, e.g. system.listMethods.\n\
               @return string result  Its documentation.",
        signature: &["string", "string"],
    },
    SystemMethod {
        name: "methodSignature",
        help: "Describe one method's types as [return type, parameter types...].\n\n\
               @param string name  The method's full name.\n\
               @return array result  The type names.",
        signature: &["array", "string"],
    },
    SystemMethod {
        name: "multicall",
        help: "Run several calls in one request, one after the other. Each call is a\n\
               struct {'methodName': string, 'params': array}; each result is the\n\
               call's value, or a struct {'faultCode': int, 'faultString': string}.\n\n\
               @param array calls  The calls to make.\n\
               @return array result  One result per call, in order.",
        signature: &["array", "array"],
    },
];

/// A resolved call: either answered already, or a namespace's future.
enum Resolved {
    Ready(Result<Value, CallError>),
    Running(BoxFuture<CallResult>),
}

impl Registry {
    /// Run the XML-RPC method `method` with `params`, as the reference's
    /// `/RPC2` handler does: `system.*` here, everything else in the
    /// namespace that registered it.
    pub async fn dispatch(&self, method: &str, params: Vec<Value>) -> Result<Value, CallError> {
        self.dispatch_as(&Access::Full, method, params).await
    }

    /// [`Registry::dispatch`] for a caller with `access`: a method it may
    /// not call is refused (see [`Registry::permits`]), and so is each such
    /// call inside a `system.multicall`.
    pub async fn dispatch_as(
        &self,
        access: &Access,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Value, CallError> {
        let result = self.permitted(access, method, params).await;
        count_call(method, &result);
        result
    }

    /// [`Registry::dispatch_as`], the answer appended to `out` as a whole
    /// `methodResponse`; a fault is returned (and `out` left as it was),
    /// for the caller to write. A method whose namespace can write its
    /// answer in place ([`super::RpcNamespace::answer_in_place`]) skips the
    /// [`Value`] of it: `out` gets the response's opening and the rest is
    /// returned, to be written piece by piece as it is sent.
    pub async fn dispatch_into(
        &self,
        access: &Access,
        method: &str,
        params: Vec<Value>,
        out: &mut String,
    ) -> Result<Option<ResponsePieces>, CallError> {
        if let Some(rest) = self.answer_in_place(access, method, &params, out) {
            crate::counters::rpc_call(method, false);
            return Ok(Some(rest));
        }
        let value = self.dispatch_as(access, method, params).await?;
        super::write_method_response(out, &value);
        Ok(None)
    }

    /// Start `method`'s answer in place if its namespace can and `access`
    /// may call it (a refusal takes the ordinary path, which logs it): the
    /// `methodResponse`'s opening in `out`, the rest to follow.
    fn answer_in_place(
        &self,
        access: &Access,
        method: &str,
        params: &[Value],
        out: &mut String,
    ) -> Option<ResponsePieces> {
        let (namespace, name) = method.split_once('.')?;
        let table = self.table.load();
        let entry = table.namespaces.get(namespace)?;
        let info = entry.methods.get(name)?;
        if info.changes_state && *access != Access::Full {
            return None;
        }
        let pieces = entry.namespace.answer_in_place(name, params)?;
        super::encode::begin_method_response(out);
        Some(ResponsePieces::new(pieces))
    }

    async fn permitted(
        &self,
        access: &Access,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Value, CallError> {
        self.permits(access, method)?;
        if method == "system.multicall" {
            return self.multicall(access, params).await;
        }
        match self.resolve(method, params) {
            Resolved::Ready(result) => result,
            Resolved::Running(future) => CatchPanic(future).await,
        }
    }

    /// Whether `access` may call `method`: a read-only caller is refused a
    /// method that changes state with `FAILED` naming the user and the
    /// method, logged once here. The `system` methods change nothing
    /// themselves (multicall's inner calls are checked one by one); a name
    /// that resolves to nothing is left to answer `UNKNOWN_METHOD`.
    pub fn permits(&self, access: &Access, method: &str) -> Result<(), Fault> {
        let Access::ReadOnly(user) = access else {
            return Ok(());
        };
        let Some((namespace, name)) = method.split_once('.') else {
            return Ok(());
        };
        if namespace == "system" {
            return Ok(());
        }
        let changes = self
            .table
            .load()
            .namespaces
            .get(namespace)
            .and_then(|entry| entry.methods.get(name))
            .is_some_and(|info| info.changes_state);
        if !changes {
            return Ok(());
        }
        tracing::warn!(
            user = %user,
            method,
            "refused {method} to HTTP user '{user}': the read-only role may not change state"
        );
        Err(Fault::with(
            code::FAILED,
            format!("user '{user}' has the read-only role and may not call {method}"),
        ))
    }

    /// Everything but `system.multicall`: the reference's `traverse`.
    fn resolve(&self, method: &str, params: Vec<Value>) -> Resolved {
        let unknown = || Resolved::Ready(Err(Fault::bare(code::UNKNOWN_METHOD).into()));
        // Exactly `namespace.method`: no deeper walk (CVE-2017-11610).
        let Some((namespace, name)) = method.split_once('.') else {
            return unknown();
        };
        if name.contains('.') || name.starts_with('_') {
            return unknown();
        }
        if namespace == "system" {
            return Resolved::Ready(self.system_call(name, params));
        }
        let entry = {
            let table = self.table.load();
            match table.namespaces.get(namespace) {
                Some(entry) if entry.methods.contains_key(name) => Arc::clone(entry),
                _ => return unknown(),
            }
        };
        // The synchronous part of a namespace's call may panic too.
        let namespace = &entry.namespace;
        match std::panic::catch_unwind(AssertUnwindSafe(|| namespace.call(name, params))) {
            Ok(future) => Resolved::Running(future),
            Err(payload) => Resolved::Ready(Err(CallError::Internal(panic_text(&*payload)))),
        }
    }

    /// `system.listMethods`, `methodHelp`, `methodSignature`. Arity errors
    /// are `INCORRECT_PARAMETERS`, the reference's answer to a TypeError.
    fn system_call(&self, name: &str, params: Vec<Value>) -> Result<Value, CallError> {
        let wrong_arity = || Err(Fault::bare(code::INCORRECT_PARAMETERS).into());
        match name {
            "listMethods" => {
                if !params.is_empty() {
                    return wrong_arity();
                }
                let table = self.table.load();
                let system = METHODS.iter().map(|m| format!("system.{}", m.name));
                let registered = table.sorted_names.iter().map(String::clone);
                Ok(Value::array(
                    merge_sorted(registered, system).map(Value::string),
                ))
            }
            "methodHelp" | "methodSignature" => {
                let [asked] = params.as_slice() else {
                    return wrong_arity();
                };
                // A non-string name matches nothing, as in the reference.
                let Some(asked) = asked.as_str() else {
                    return Err(Fault::bare(code::SIGNATURE_UNSUPPORTED).into());
                };
                let Some((help, signature)) = self.describe(asked) else {
                    return Err(Fault::bare(code::SIGNATURE_UNSUPPORTED).into());
                };
                if name == "methodHelp" {
                    Ok(Value::string(help))
                } else {
                    signature
                        .map(|types| Value::array(types.into_iter().map(Value::string)))
                        .ok_or_else(|| Fault::bare(code::SIGNATURE_UNSUPPORTED).into())
                }
            }
            _ => Err(Fault::bare(code::UNKNOWN_METHOD).into()),
        }
    }

    /// Help text and signature of a published `ns.method` name.
    fn describe(&self, full_name: &str) -> Option<(String, Option<Vec<String>>)> {
        let (namespace, name) = full_name.split_once('.')?;
        if namespace == "system" {
            return METHODS.iter().find(|m| m.name == name).map(|m| {
                let signature = m.signature.iter().map(|s| (*s).to_owned()).collect();
                (m.help.to_owned(), Some(signature))
            });
        }
        let table = self.table.load();
        let info = table.namespaces.get(namespace)?.methods.get(name)?;
        Some((info.help.clone(), info.signature.clone()))
    }

    /// `system.multicall(calls)`: the calls run one after the other, each
    /// awaited before the next; results are bare values or fault structs.
    async fn multicall(&self, access: &Access, params: Vec<Value>) -> Result<Value, CallError> {
        let mut params = params.into_iter();
        let (Some(calls), None) = (params.next(), params.next()) else {
            return Err(Fault::bare(code::INCORRECT_PARAMETERS).into());
        };
        let calls = match calls.kind() {
            Some(ValueKind::Array(calls)) => calls.as_slice(),
            // The reference slices what it got: a string yields its
            // characters, none of which is a struct (so HTTP 500, see
            // `multicall_entry`), or nothing at all when empty.
            Some(ValueKind::String(text)) if text.is_empty() => &[],
            Some(ValueKind::String(_)) => {
                return Err(CallError::Internal(attribute_error(&calls, "get")));
            }
            _ => return Err(Fault::bare(code::INCORRECT_PARAMETERS).into()),
        };
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            let outcome = match self.multicall_entry(access, call)? {
                Resolved::Ready(result) => result,
                Resolved::Running(future) => CatchPanic(future).await,
            };
            if let Some(method) = call.get("methodName").and_then(Value::as_str) {
                count_call(method, &outcome);
            }
            results.push(match outcome {
                Ok(value) => value,
                Err(CallError::Fault(fault)) => fault_struct(&fault),
                Err(CallError::Internal(message)) => {
                    fault_struct(&Fault::verbatim(code::FAILED, format!("FAILED: {message}")))
                }
            });
        }
        Ok(Value::array(results))
    }

    /// Validate one `{methodName, params}` entry of a multicall and start
    /// it. Malformed entries get the faults the reference's Python produces
    /// for them, `AttributeError` texts included; `Err` fails the whole
    /// multicall.
    fn multicall_entry(&self, access: &Access, call: &Value) -> Result<Resolved, CallError> {
        let ready_fault = |fault: Fault| Ok(Resolved::Ready(Err(fault.into())));
        // The reference reads the entry's keys outside its error handling,
        // so an entry that is not a struct fails the whole request (HTTP
        // 500); so does ours.
        if call.as_struct().is_none() {
            return Err(CallError::Internal(attribute_error(call, "get")));
        }
        // Request structs carry each name once (the request parser keeps
        // one member per name), so `get` sees the one the client sent.
        let name = match call.get("methodName").map(|name| (name, name.kind())) {
            None | Some((_, Some(ValueKind::Nil))) => {
                return ready_fault(Fault::with(code::INCORRECT_PARAMETERS, "No methodName"));
            }
            Some((_, Some(ValueKind::String(name)))) => name.as_str(),
            Some((other, _)) => {
                let text = format!("FAILED: {}", attribute_error(other, "split"));
                return ready_fault(Fault::verbatim(code::FAILED, text));
            }
        };
        if name == "system.multicall" {
            return ready_fault(Fault::with(
                code::INCORRECT_PARAMETERS,
                "Recursive system.multicall forbidden",
            ));
        }
        let params = match call.get("params").map(Value::kind) {
            None => Vec::new(),
            Some(Some(ValueKind::Array(params))) => params.to_vec(),
            // The reference calls `method(*params)`: a string spreads into
            // its characters and a struct into its keys; anything else is
            // a TypeError, i.e. INCORRECT_PARAMETERS once the method is
            // known to exist.
            Some(Some(ValueKind::String(text))) => {
                text.chars().map(|c| Value::string(c.to_string())).collect()
            }
            Some(Some(ValueKind::Struct(members))) => members
                .iter()
                .map(|member| Value::string(member.name.clone()))
                .collect(),
            Some(_) if self.describe(name).is_none() => {
                return ready_fault(Fault::bare(code::UNKNOWN_METHOD));
            }
            Some(_) => return ready_fault(Fault::bare(code::INCORRECT_PARAMETERS)),
        };
        if let Err(refused) = self.permits(access, name) {
            return ready_fault(refused);
        }
        Ok(self.resolve(name, params))
    }
}

/// Two sorted lists of names as one sorted list.
fn merge_sorted(
    left: impl Iterator<Item = String>,
    right: impl Iterator<Item = String>,
) -> impl Iterator<Item = String> {
    let (mut left, mut right) = (left.peekable(), right.peekable());
    std::iter::from_fn(move || match (left.peek(), right.peek()) {
        (Some(l), Some(r)) if r < l => right.next(),
        (Some(_), _) => left.next(),
        (None, _) => right.next(),
    })
}

/// The `{faultCode, faultString}` struct that `system.multicall` puts in
/// its result array in place of a value.
pub(super) fn fault_struct(fault: &Fault) -> Value {
    Value::structure([
        ("faultCode", Value::int(fault.code)),
        ("faultString", Value::string(fault.string.as_str())),
    ])
}

/// The message of Python's AttributeError for `value.attribute`, which is
/// what the reference reports for a malformed multicall entry.
fn attribute_error(value: &Value, attribute: &str) -> String {
    format!(
        "<class 'AttributeError'>:'{}' object has no attribute '{attribute}'",
        python_type_name(value)
    )
}

/// The Python type the reference's unmarshaller makes of an XML-RPC value.
fn python_type_name(value: &Value) -> &'static str {
    match value.kind() {
        Some(ValueKind::Int(_)) => "int",
        Some(ValueKind::Bool(_)) => "bool",
        Some(ValueKind::String(_) | ValueKind::Base64(_)) => "str",
        Some(ValueKind::Double(_)) => "float",
        Some(ValueKind::DateTime(_)) => "datetime.datetime",
        Some(ValueKind::Struct(_)) => "dict",
        Some(ValueKind::Array(_)) => "list",
        Some(ValueKind::Nil) => "NoneType",
        _ => "object",
    }
}

/// The text of a panic payload (`panic!` with a literal or a format).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("panic: {message}")
}

/// Polls a namespace's future, turning a panic into
/// [`CallError::Internal`] so that one bad method cannot take a connection
/// (or a whole multicall) down with it.
struct CatchPanic(BoxFuture<CallResult>);

impl Future for CatchPanic {
    type Output = Result<Value, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(result)) => Poll::Ready(result.map_err(CallError::Fault)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(CallError::Internal(panic_text(&*payload)))),
        }
    }
}

/// Count a call for monitoring (`crate::counters`). Names that resolve to
/// no method are counted together as `unknown`, so a client inventing
/// names cannot grow the table.
fn count_call(method: &str, result: &Result<Value, CallError>) {
    let unknown =
        matches!(result, Err(CallError::Fault(fault)) if fault.code == code::UNKNOWN_METHOD);
    crate::counters::rpc_call(if unknown { "unknown" } else { method }, result.is_err());
}
