//! XML-RPC dispatch: the run-time method table ([`Registry`]) that
//! namespaces join and leave while the daemon runs, the `system` namespace,
//! the core-side [`Fault`] with Supervisor's codes, and the [`ticket`] hub
//! that carries command outcomes to the calls waiting on them. It knows nothing of
//! HTTP (that is [`crate::http`]) nor of plugins' ABI (the bridge adapts
//! SDK namespaces to [`RpcNamespace`]).

mod encode;
mod fault;
mod registry;
mod system;
pub mod ticket;

pub use encode::{
    fault_response, method_response, write_fault_response, write_method_response, write_value,
};
pub use fault::{Fault, code, fault_name};
pub use registry::{BoxFuture, CallResult, MethodInfo, Registry, RegistryError, RpcNamespace};
pub use system::CallError;

#[cfg(test)]
mod tests;
