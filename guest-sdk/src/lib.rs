//! Write [hookgate] plugins in Rust.
//!
//! A plugin is a WebAssembly component that hookgate runs once per event, in
//! a fresh sandboxed instance, to filter the event, rewrite it, or choose the
//! endpoints it goes to. This crate hides the generated WIT bindings behind a
//! small API: implement [`Plugin`] and export it with [`export_plugin!`].
//!
//! ```
//! use hookgate_sdk::{export_plugin, Event, Outcome, Plugin, Error};
//!
//! struct OnlyCalls;
//!
//! impl Plugin for OnlyCalls {
//!     fn handle(event: Event) -> Result<Outcome, Error> {
//!         if event.event_type().starts_with("call.") {
//!             Ok(Outcome::pass(event))
//!         } else {
//!             Ok(Outcome::drop(format!("{} is not a call event", event.event_type())))
//!         }
//!     }
//! }
//!
//! export_plugin!(OnlyCalls);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`. On any other
//! target the same code compiles against an in-process host (see [`testing`]),
//! so a plugin's unit tests run natively with plain `cargo test`.
//!
//! What this crate is not: a way to reach the network, files or the
//! environment. The host gives a plugin logging, its configuration and the
//! endpoint list, and nothing more.
//!
//! [hookgate]: https://github.com/hookgate/hookgate
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
extern crate self as hookgate_sdk;

pub mod config;
mod endpoint;
mod error;
mod event;
mod host;
mod log;
mod matching;
mod outcome;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use endpoint::{Endpoint, endpoints};
pub use error::Error;
pub use event::Event;
pub use log::{Level, log};
pub use matching::event_type_matches;
pub use outcome::{Outcome, Response, Target};

/// A hookgate plugin: one function from an event to what should happen to it.
///
/// The gateway calls `handle` once per event, in a fresh instance, so a plugin
/// keeps no state between events. Return `Err` for failures you detect on
/// purpose (a missing field, a bad configuration value); they are recorded
/// with the event and not retried. A panic is reported too, with its message,
/// but as a crash rather than an error.
pub trait Plugin {
    /// Decides what happens to one event.
    fn handle(event: Event) -> Result<Outcome, Error>;
}

/// Exports a type implementing [`Plugin`] as the component's `handle`.
///
/// Use it once per plugin crate, at the crate root. On non-wasm targets it
/// only checks that the type implements [`Plugin`].
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct HookgateExport;
            impl $crate::wasm::bindings::Guest for HookgateExport {
                fn handle(
                    event: $crate::wasm::bindings::hookgate::plugin::types::Event,
                ) -> ::core::result::Result<
                    $crate::wasm::bindings::hookgate::plugin::types::Action,
                    $crate::wasm::bindings::hookgate::plugin::types::PluginError,
                > {
                    $crate::wasm::handle::<$plugin>(event)
                }
            }
            $crate::wasm::bindings::export_plugin_world!(
                HookgateExport with_types_in $crate::wasm::bindings
            );
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            const fn assert_plugin<P: $crate::Plugin>() {}
            assert_plugin::<$plugin>();
        };
    };
}
