//! hookgate: a WebAssembly-extensible webhook gateway.
//!
//! This crate is the gateway: the plugin host ([`plugin`]) and the command
//! line ([`cli`]). See `ARCHITECTURE.md` at the repository root for the map.

pub mod api;
pub mod cli;
pub mod config;
pub mod ingest;
pub mod plugin;
pub mod server;
pub mod signing;
pub mod store;
pub mod targets;
