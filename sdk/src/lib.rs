//! The stable ABI every supervisor-rs plugin is built against, and the pure
//! helpers that the daemon and plugins share so nothing is written twice.
//!
//! This crate names no tokio, axum, dxr, nix or tracing type: a plugin links
//! only this.

#![allow(non_local_definitions)] // every #[sabi_trait] triggers it on Rust 1.95; harmless

pub mod signal;
pub mod state;
