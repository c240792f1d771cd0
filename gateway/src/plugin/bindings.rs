//! The host's generated bindings for the `hookgate:plugin` world, in both
//! versions the host runs: 0.2.0 (`wit/plugin.wit`, with `respond`) and
//! 0.1.0 (`wit/v0.1/plugin.wit`).
//!
//! **Invariant:** this is the only place that runs `bindgen!`; everything else
//! goes through [`super::PluginHost`] and the types re-exported from here.
//! The rest of the host works on 0.2.0's types: a 0.1.0 component's event
//! and action are converted here, and its every action is also a 0.2.0
//! action.

/// `hookgate:plugin@0.2.0`, the current contract.
pub(crate) mod current {
    wasmtime::component::bindgen!({
        path: "../wit/plugin.wit",
        world: "plugin",
        anyhow: false,
        // `handle` is called with `call_async`: the guest runs on a fiber, so
        // WASI host calls that wait can await (see `invoke.rs`). The plugin's
        // own imports (log, config, endpoints) stay plain functions.
        exports: { default: async },
    });
}

/// `hookgate:plugin@0.1.0`, kept so that components built against it run
/// unchanged.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1/plugin.wit",
        world: "plugin",
        anyhow: false,
        exports: { default: async },
    });
}

pub(crate) use self::current::hookgate::plugin::types as wit;
use self::v0_1::hookgate::plugin::types as old;

impl From<&wit::Event> for old::Event {
    fn from(event: &wit::Event) -> Self {
        Self {
            id: event.id.clone(),
            source: event.source.clone(),
            event_type: event.event_type.clone(),
            received_at: event.received_at,
            headers: event.headers.iter().map(old_header).collect(),
            body: event.body.clone(),
        }
    }
}

fn old_header(header: &wit::Header) -> old::Header {
    old::Header {
        name: header.name.clone(),
        value: header.value.clone(),
    }
}

fn header(header: old::Header) -> wit::Header {
    wit::Header {
        name: header.name,
        value: header.value,
    }
}

impl From<old::Action> for wit::Action {
    fn from(action: old::Action) -> Self {
        match action {
            old::Action::Drop(reason) => Self::Drop(reason),
            old::Action::Continue(rewrite) => Self::Continue(wit::Rewrite {
                event_type: rewrite.event_type,
                headers: rewrite
                    .headers
                    .map(|headers| headers.into_iter().map(header).collect()),
                body: rewrite.body,
            }),
            old::Action::Deliver(targets) => Self::Deliver(
                targets
                    .into_iter()
                    .map(|t| wit::Target {
                        endpoint: t.endpoint,
                        body: t.body,
                        headers: t.headers.into_iter().map(header).collect(),
                    })
                    .collect(),
            ),
        }
    }
}

impl From<old::PluginError> for wit::PluginError {
    fn from(error: old::PluginError) -> Self {
        match error {
            old::PluginError::InvalidEvent(m) => Self::InvalidEvent(m),
            old::PluginError::InvalidConfig(m) => Self::InvalidConfig(m),
            old::PluginError::Failed(m) => Self::Failed(m),
        }
    }
}
