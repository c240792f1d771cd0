//! The host's generated bindings for the `hookgate:plugin` world.
//!
//! **Invariant:** this is the only place that runs `bindgen!`; everything else
//! goes through [`super::PluginHost`] and the types re-exported from here.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    anyhow: false,
    // `handle` is called with `call_async`: the guest runs on a fiber, so
    // WASI host calls that wait can await (see `invoke.rs`). The plugin's
    // own imports (log, config, endpoints) stay plain functions.
    exports: { default: async },
});

pub(crate) use self::hookgate::plugin::types as wit;
