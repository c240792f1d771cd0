//! The host's generated bindings for the `hookgate:plugin` world.
//!
//! **Invariant:** this is the only place that runs `bindgen!`; everything else
//! goes through [`super::PluginHost`] and the types re-exported from here.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    anyhow: false,
});

pub(crate) use self::hookgate::plugin::types as wit;
