//! The WebAssembly side of the SDK: the generated bindings and the
//! conversions between them and the SDK's types. Not public API: plugin code
//! uses [`crate::export_plugin!`] and never names anything here.

use crate::{Endpoint, Error, Event, Level, Outcome, Plugin};

pub use wit_bindgen;

/// The generated bindings; only this module runs `generate!`.
#[allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/plugin.wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_plugin_world",
        default_bindings_module: "hookgate_sdk::wasm::bindings",
        runtime_path: "hookgate_sdk::wasm::wit_bindgen::rt",
    });
}

use bindings::hookgate::plugin::{config, endpoints as wit_endpoints, log as wit_log, types};

/// Runs `P` on one event: the body of the exported `handle`.
pub fn handle<P: Plugin>(event: types::Event) -> Result<types::Action, types::PluginError> {
    install_panic_hook();
    let headers = event
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let event = Event::from_parts(
        event.id,
        event.source,
        event.event_type,
        event.received_at,
        headers,
        event.body,
    );
    P::handle(event).map(into_action).map_err(into_error)
}

/// Routes panics to the host as readable messages before the instance traps.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload_as_str()
                .unwrap_or("panic with a non-string payload");
            let text = match info.location() {
                Some(at) => format!("{message} (at {}:{}:{})", at.file(), at.line(), at.column()),
                None => message.to_owned(),
            };
            wit_log::report_panic(&text);
        }));
    });
}

fn wit_headers(headers: Vec<(String, String)>) -> Vec<types::Header> {
    headers
        .into_iter()
        .map(|(name, value)| types::Header { name, value })
        .collect()
}

fn into_action(outcome: Outcome) -> types::Action {
    match outcome {
        Outcome::Drop { reason } => types::Action::Drop(reason),
        Outcome::Continue(event) => {
            let (event_type, headers, body, changed) = event.into_parts();
            types::Action::Continue(types::Rewrite {
                event_type: changed.event_type.then_some(event_type),
                headers: changed.headers.then(|| wit_headers(headers)),
                body: changed.body.then_some(body),
            })
        }
        Outcome::Deliver(targets) => types::Action::Deliver(
            targets
                .into_iter()
                .map(|t| types::Target {
                    endpoint: t.endpoint,
                    body: t.body,
                    headers: wit_headers(t.headers),
                })
                .collect(),
        ),
        Outcome::Respond(response) => types::Action::Respond(types::Response {
            status: response.status,
            headers: wit_headers(response.headers),
            body: response.body,
        }),
    }
}

fn into_error(error: Error) -> types::PluginError {
    match error {
        Error::InvalidEvent(m) => types::PluginError::InvalidEvent(m),
        Error::InvalidConfig(m) => types::PluginError::InvalidConfig(m),
        Error::Failed(m) => types::PluginError::Failed(m),
    }
}

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wit_log::Level::Trace,
        Level::Debug => wit_log::Level::Debug,
        Level::Info => wit_log::Level::Info,
        Level::Warn => wit_log::Level::Warn,
        Level::Error => wit_log::Level::Error,
    };
    wit_log::log(level, message);
}

pub(crate) fn config_get(key: &str) -> Option<String> {
    config::get(key)
}

pub(crate) fn config_entries() -> Vec<(String, String)> {
    config::entries()
}

pub(crate) fn endpoints() -> Vec<Endpoint> {
    wit_endpoints::all()
        .into_iter()
        .map(|e| Endpoint {
            name: e.name,
            event_types: e.event_types,
            tags: e.tags,
        })
        .collect()
}
