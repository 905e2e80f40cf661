//! Builtin plugin.
