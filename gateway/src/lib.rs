//! hookgate: a WebAssembly-extensible webhook gateway.
//!
//! Events come in through [`ingest`], are stored in [`store`], run through
//! plugins ([`plugin`]) by the [`pipeline`], and are signed ([`signing`]) and
//! sent by [`delivery`]. The [`registry`] holds the live configuration the
//! management API ([`api`]) changes; [`retention`] prunes old messages.
//! [`server`] wires them together; [`cli`] is the command line. See `ARCHITECTURE.md` at the repository root for the map.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod delivery;
pub mod exchange;
pub mod handover;
pub mod health;
pub mod http_error;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod plugin;
pub mod registry;
pub mod retention;
pub mod server;
pub mod signing;
pub mod store;
pub mod targets;
