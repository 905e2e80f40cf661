//! The builtin `supervisor` XML-RPC namespace (API 3.0), written against
//! the SDK only, exactly as a third-party plugin would be: the daemon links
//! it statically for `supervisor.rpcinterface:make_main_rpcinterface`, and
//! `plugins/supervisor-cdylib` exports the same module as a shared library.
//!
//! It owns the API's rules (name resolution, order of checks, faults,
//! result ordering, wait semantics); it must not reach into the daemon
//! other than through the [`HostBox`].

mod admin;
mod control;
mod lookup;
mod namespace;
mod params;
mod status;

#[cfg(test)]
mod tests;

pub use namespace::SupervisorNamespace;
pub use status::{Field, InfoFields, ProcessInfoRows, each_process_info};
use supervisor_sdk::host::HostBox;
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::{NamespaceBox, namespace_box};

/// The factory named `make_main_rpcinterface`: the namespace bound to the
/// daemon's host. The section's other keys are not used (the reference's
/// factory takes none either).
pub fn make_main_rpcinterface(
    _config: &PluginConfig<'_>,
    host: HostBox,
) -> Result<NamespaceBox, String> {
    Ok(namespace_box(SupervisorNamespace::new(host)))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("supervisor (builtin) ", env!("CARGO_PKG_VERSION")),
    namespaces: { "make_main_rpcinterface" => make_main_rpcinterface },
    result_handlers: {},
}
