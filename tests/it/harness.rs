//! Shared test helpers: where the compiled plugins are, hosts with chosen
//! settings, and events built from the fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hookgate::plugin::{
    EndpointInfo, Event, HostConfig, Invocation, LoadedPlugin, PluginContext, PluginHost,
};

/// The compiled component of a plugin crate (`livekit-summary`, `noop`, ...).
pub(crate) fn wasm(crate_name: &str) -> PathBuf {
    Path::new(env!("HOOKGATE_WASM_DIR")).join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// A fixture file from `tests/fixtures/`.
pub(crate) fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// A host shared by tests that need only the defaults.
pub(crate) fn default_host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| host(HostConfig::default()))
}

/// A host with the given configuration.
pub(crate) fn host(config: HostConfig) -> PluginHost {
    PluginHost::new(config).expect("the host starts")
}

/// Loads a plugin crate's component into `host`.
pub(crate) fn load(host: &PluginHost, crate_name: &str) -> Arc<LoadedPlugin> {
    let plugin = host
        .load_file(&wasm(crate_name))
        .unwrap_or_else(|e| panic!("{crate_name} loads: {e}"));
    Arc::new(plugin)
}

/// A plugin context with config entries and endpoints by name.
pub(crate) fn context(
    name: &str,
    config: &[(&str, &str)],
    endpoints: &[EndpointInfo],
) -> Arc<PluginContext> {
    let config: BTreeMap<String, String> = config
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Arc::new(PluginContext::new(name, config, endpoints.to_vec()))
}

/// An endpoint as plugins see it.
pub(crate) fn endpoint(name: &str, event_types: &[&str], tags: &[&str]) -> EndpointInfo {
    EndpointInfo {
        name: name.into(),
        event_types: event_types.iter().map(|s| (*s).to_owned()).collect(),
        tags: tags.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// An event of a type with a body.
pub(crate) fn event(event_type: &str, body: impl Into<Vec<u8>>) -> Event {
    Event {
        id: "msg_test_1".into(),
        source: "test".into(),
        event_type: event_type.into(),
        received_at: 1_700_000_000_000,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into(),
    }
}

/// Runs a plugin once on the current thread with an empty context.
pub(crate) fn run(host: &PluginHost, plugin: &LoadedPlugin, event: &Event) -> Invocation {
    host.invoke_blocking(plugin, &context("test", &[], &[]), event)
}
