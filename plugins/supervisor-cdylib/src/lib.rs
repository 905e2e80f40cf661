//! Exports the builtin plugin as a shared library.
