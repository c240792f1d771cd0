//! The plugin platform's host: loads WebAssembly components written against
//! `wit/plugin.wit` and runs them, one fresh sandboxed instance per event.
//!
//! [`PluginHost`] hides the engine, linker and pre-instantiation. Loading
//! ([`PluginHost::load`]) validates a component (is a component, imports only
//! what the sandbox allows, implements the world), compiles it once (cached on
//! disk by content hash) and pre-instantiates it. Invoking creates a store and
//! an instance from the pre-instantiated component, calls `handle`, and drops
//! both: no state, and no trap, carries over from one event to the next.
//!
//! What this module is not: it does not know about sources, routes, storage or
//! delivery. The pipeline feeds it events and acts on the [`Outcome`].
//!
//! **Invariant:** the host never panics on a guest's behaviour: every guest
//! failure becomes an [`Error`] variant, and other invocations keep running.

mod bindings;
pub mod bounds;
mod cache;
mod chain;
pub mod compiler;
mod context;
mod engine;
mod error;
mod host;
mod imports;
mod invoke;
mod limits;
mod logs;
mod meter;
mod network;
mod outcome;
mod state;

pub use cache::content_hash;
pub use chain::{ChainFailure, ChainOutcome, ChainRun, Did, Step, StepReport, run_chain};
pub use context::{EndpointInfo, PluginContext};
pub use error::{Error, PluginError};
pub use host::{HostConfig, LoadedPlugin, PluginHost, default_threads};
pub use imports::Interface;
pub use invoke::Invocation;
pub use limits::{Limits, LimitsOutOfBounds, MaxLimits, PluginLimits};
pub use logs::{Level, LogLine, Logs, Stream};
pub use outcome::{Event, Header, Outcome, Response, Rewrite, Target};
