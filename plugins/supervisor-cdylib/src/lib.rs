//! Exports the builtin `supervisor` namespace as a shared library, so it
//! can be loaded from disk like any third-party plugin (the tests do, to
//! prove the boundary). The daemon itself links the rlib statically.

supervisor_sdk::export_plugin!(supervisor_plugin::plugin_module);
