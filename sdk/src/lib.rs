//! The stable ABI every supervisor-rs plugin is built against.
