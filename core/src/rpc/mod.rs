//! XML-RPC dispatch: the run-time method table ([`Registry`]) that
//! namespaces join and leave while the daemon runs, the `system` namespace,
//! the [`Fault`] (the SDK's) with Supervisor's codes, and the [`ticket`] hub
//! that carries command outcomes to the calls waiting on them. It knows nothing of
//! HTTP (that is [`crate::http`]) nor of plugins' ABI (the bridge adapts
//! SDK namespaces to [`RpcNamespace`]).

mod decode;
mod direct;
mod encode;
mod registry;
pub(crate) mod scan;
mod system;
pub mod ticket;

pub use decode::parse_call;
pub use direct::{BuiltinAnswers, ResponsePieces};
pub use encode::{
    fault_response, method_response, write_fault_response, write_method_response, write_value,
};
pub use registry::{
    Access, AnswerPieces, BoxFuture, CallResult, MethodInfo, Registry, RegistryError, RpcNamespace,
};
/// Supervisor's fault codes (`code::BAD_NAME`): the SDK's public table,
/// which plugins use too, so core and plugins cannot disagree on a number.
pub use supervisor_sdk::fault as code;
/// Core's one fault type is the SDK's: a plugin's fault reaches the client
/// as it was built, with no conversion on the way.
pub use supervisor_sdk::fault::{Fault, fault_name};
pub use system::CallError;

#[cfg(test)]
mod tests;
