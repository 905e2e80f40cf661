//! The stable ABI every supervisor-rs plugin is built against, and the pure
//! helpers that the daemon and plugins share so nothing is written twice.
//!
//! A plugin library exports one root module ([`module`]) listing factories
//! that build RPC namespaces ([`namespace`]) and event result handlers
//! ([`handler`]). Namespaces reach the daemon through a [`host`] handle:
//! snapshot reads, and commands that return tickets whose outcomes feed
//! deferred replies. A namespace may also serve HTTP GET routes
//! ([`routes`]). Every entry point into a plugin catches panics on the
//! plugin's side (the internal `guard` module).
//!
//! This crate names no tokio, axum, dxr, nix or tracing type: a plugin links
//! only this (and abi_stable, whose export attribute it needs).

#![allow(non_local_definitions)] // every #[sabi_trait] triggers it on Rust 1.95; harmless

pub mod counters;
pub mod describe;
pub mod extras;
pub mod fault;
mod guard;
pub mod handler;
pub mod host;
pub mod logs;
pub mod module;
pub mod namespace;
pub mod namespec;
pub mod routes;
pub mod signal;
pub mod state;
pub mod testing;
pub mod value;

pub use fault::Fault;
pub use handler::{EventRef, HandleResults, ResultHandlerBox, Verdict, result_handler_box};
pub use host::{HostBox, LogLevel, Outcome, ProcessInfo, Ticket};
pub use module::{PluginConfig, PluginModuleRef};
pub use namespace::{Deferred, MethodInfo, NamespaceBox, Reply, RpcNamespace, namespace_box};
pub use routes::{HttpResponse, HttpRoutes, RoutesBox, routes_box};
pub use value::{Value, ValueKind};

/// Items the SDK's macros name; not part of the API.
#[doc(hidden)]
pub mod reexports {
    pub use abi_stable::StableAbi;
    pub use abi_stable::export_root_module;
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RSlice, RStr, RVec};
    pub use abi_stable::type_layout::TypeLayout;
}
