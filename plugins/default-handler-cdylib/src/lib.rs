//! Exports the builtin default result handler as a shared library, so the
//! tests can load it from disk like a third-party handler. The daemon
//! links the rlib statically.

supervisor_sdk::export_plugin!(default_handler::plugin_module);
