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

/// A gateway started in-process on `127.0.0.1:0` with a temporary data
/// directory, from a TOML config laid over the defaults.
pub(crate) struct TestGateway {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The running gateway, until `stop`.
    gateway: Option<hookgate::server::Gateway>,
    /// Fires the gateway's shutdown.
    shutdown: tokio_util::sync::CancellationToken,
    /// The data directory, kept for restarts.
    pub(crate) dir: tempfile::TempDir,
    /// The config text, kept for restarts.
    toml: String,
}

impl TestGateway {
    /// Starts a gateway on a new data directory.
    pub(crate) async fn start(toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(toml, dir).await
    }

    /// Starts a gateway on an existing data directory.
    pub(crate) async fn start_in(toml: &str, dir: tempfile::TempDir) -> Self {
        let mut config = hookgate::config::Config::from_toml("test.toml", toml, dir.path())
            .expect("the test config is valid");
        config.server.data_dir = dir.path().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let gateway = hookgate::server::Gateway::start(config, listener, shutdown.clone())
            .await
            .expect("the gateway starts");
        Self {
            url: format!("http://{}", gateway.addr),
            gateway: Some(gateway),
            shutdown,
            dir,
            toml: toml.to_owned(),
        }
    }

    /// The gateway's store.
    pub(crate) fn store(&self) -> &hookgate::store::SledStore {
        &self.gateway.as_ref().expect("running").store
    }

    /// Stops the gateway gracefully and returns its data directory.
    pub(crate) async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        if let Some(gateway) = self.gateway.take() {
            gateway.stopped().await.expect("stops cleanly");
        }
        self.dir
    }

    /// Stops and starts again on the same data directory and config.
    pub(crate) async fn restart(self) -> Self {
        let toml = self.toml.clone();
        let dir = self.stop().await;
        Self::start_in(&toml, dir).await
    }

    /// `POST /v1/ingest/{source}` with a body and headers.
    pub(crate) async fn post(
        &self,
        source: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/ingest/{source}", self.url))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the request completes");
        let status = response.status().as_u16();
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}
