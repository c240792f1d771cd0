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

/// The compiled component of a Python plugin file (`livekit_summary` of
/// the SDK's examples, `raises` of `tests/python-plugins`, ...).
pub(crate) fn python_wasm(module: &str) -> PathBuf {
    Path::new(env!("HOOKGATE_PYTHON_WASM_DIR")).join(format!("{module}.wasm"))
}

/// The compiled component of a JavaScript or TypeScript plugin file
/// (`call_filter` of the SDK's examples, `raises` of `tests/js-plugins`).
pub(crate) fn javascript_wasm(module: &str) -> PathBuf {
    Path::new(env!("HOOKGATE_JAVASCRIPT_WASM_DIR")).join(format!("{module}.wasm"))
}

/// The compiled component of a Go plugin package (`call_filter` of the
/// SDK's examples, `raises` of `tests/go-plugins`).
pub(crate) fn go_wasm(package: &str) -> PathBuf {
    Path::new(env!("HOOKGATE_GO_WASM_DIR")).join(format!("{package}.wasm"))
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
        Self::start_on(toml, dir, crate::process::named_engine()).await
    }

    /// Starts a gateway on an existing data directory with `engine` (or,
    /// with `None`, the engine the directory holds or the default).
    pub(crate) async fn start_on(
        toml: &str,
        dir: tempfile::TempDir,
        engine: Option<hookgate::store::Engine>,
    ) -> Self {
        let mut config = hookgate::config::Config::from_toml("test.toml", toml, dir.path())
            .expect("the test config is valid");
        config.server.data_dir = dir.path().to_owned();
        // Deployed components compile in a child process, as under
        // `hookgate serve`: the gateway's own binary, built for the tests.
        config.plugin_host.compiler = Some(env!("CARGO_BIN_EXE_hookgate-it").into());
        // The suite runs on every engine (the default's unless told); CI
        // runs it on all three. On postgres each gateway has a schema of
        // its own, named for its data directory.
        config.storage.engine = engine;
        // A test that names its own database (through a proxy, say) or
        // schema (nodes of one cluster) keeps it.
        if config.storage.engine == Some(hookgate::store::Engine::Postgres) {
            if config.storage.url.is_none() {
                config.storage.url = Some(hookgate::config::Secret::new(
                    crate::process::test_database(),
                ));
            }
            if config.storage.schema.is_none() {
                config.storage.schema = Some(crate::process::test_schema(dir.path()));
            }
        }
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
    pub(crate) fn store(&self) -> &dyn hookgate::store::Backend {
        &*self.gateway.as_ref().expect("running").store
    }

    /// The delivery worker, to run due deliveries at an injected time.
    pub(crate) fn deliverer(&self) -> &hookgate::delivery::Deliverer {
        &self.gateway.as_ref().expect("running").deliverer
    }

    /// Stops the gateway gracefully and returns its data directory.
    pub(crate) async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        if let Some(gateway) = self.gateway.take() {
            gateway.stopped().await.expect("stops cleanly");
        }
        self.dir
    }

    /// Stops the gateway and returns its data directory and whether it
    /// stopped cleanly (a store that refused writes may not flush).
    pub(crate) async fn stop_reporting(mut self) -> (tempfile::TempDir, Result<(), String>) {
        self.shutdown.cancel();
        let stopped = match self.gateway.take() {
            Some(gateway) => gateway.stopped().await.map_err(|e| e.to_string()),
            None => Ok(()),
        };
        (self.dir, stopped)
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

/// The admin token the management-API tests configure.
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token";

/// The management-API tests' config: loopback targets allowed, the admin
/// token with `admin` (more `[admin]` keys), a source `calls` whose event
/// type is the body's `/type`, then `rest`.
pub(crate) fn admin_config(admin: &str, rest: &str) -> String {
    format!(
        r#"
[server.targets]
allow_http = true
allow_loopback = true

[admin]
token = "{ADMIN_TOKEN}"
{admin}

[[source]]
name = "calls"
event_type = {{ pointer = "/type" }}

{rest}
"#
    )
}

impl TestGateway {
    /// What `/metrics` answers now.
    pub(crate) async fn metrics_text(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .expect("scrapes")
            .text()
            .await
            .expect("text")
    }

    /// The gateway's live configuration.
    pub(crate) fn registry(&self) -> &hookgate::registry::Registry {
        &self.gateway.as_ref().expect("running").registry
    }

    /// A management API call with the admin token: method, path, JSON body.
    pub(crate) async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = http::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the request completes");
        let status = response.status().as_u16();
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// `GET /v1/deliveries?{query}`: the first page's items.
    pub(crate) async fn deliveries(&self, query: &str) -> Vec<serde_json::Value> {
        let (status, page) = self
            .admin("GET", &format!("/v1/deliveries?{query}"), None)
            .await;
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().expect("items").clone()
    }

    /// Every item of a listing, following `next_cursor` page by page;
    /// returns the items and how many pages it took.
    pub(crate) async fn all_pages(&self, path: &str) -> (Vec<serde_json::Value>, usize) {
        let separator = if path.contains('?') { '&' } else { '?' };
        let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{separator}cursor={c}"),
                None => path.to_owned(),
            };
            let (status, page) = self.admin("GET", &url, None).await;
            assert_eq!(status, 200, "{page}");
            pages += 1;
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (items, pages),
            }
        }
    }

    /// `PUT /v1/plugins/{name}` with a component file and a configuration.
    pub(crate) async fn deploy(
        &self,
        name: &str,
        component: &std::path::Path,
        config: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let config: std::collections::BTreeMap<&str, &str> = config.iter().copied().collect();
        let config = serde_json::to_string(&config).expect("serializes");
        let bytes = std::fs::read(component).expect("the component was built");
        let response = reqwest::Client::new()
            .put(format!("{}/v1/plugins/{name}", self.url))
            .query(&[("config", config)])
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("the request completes");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}

/// One request the test receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// Its headers.
    pub(crate) headers: http::HeaderMap,
    /// Its body.
    pub(crate) body: Vec<u8>,
    /// When it arrived.
    pub(crate) at: std::time::Instant,
}

/// An HTTP receiver on `127.0.0.1:0` that records every request and answers
/// with a status the test can flip (and an optional `Retry-After`).
#[derive(Clone)]
pub(crate) struct TestReceiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub(crate) url: String,
    /// What it got, in order.
    received: Arc<std::sync::Mutex<Vec<Received>>>,
    /// The status it answers with.
    status: Arc<std::sync::atomic::AtomicU16>,
    /// The `Retry-After` it sends, if any.
    retry_after: Arc<std::sync::Mutex<Option<String>>>,
    /// Woken on every request.
    arrived: Arc<tokio::sync::Notify>,
    /// While false, requests are recorded but not answered.
    open: Arc<tokio::sync::watch::Sender<bool>>,
}

impl TestReceiver {
    /// Starts a receiver answering 200.
    pub(crate) async fn start() -> Self {
        let receiver = Self {
            url: String::new(),
            received: Arc::default(),
            status: Arc::new(std::sync::atomic::AtomicU16::new(200)),
            retry_after: Arc::default(),
            arrived: Arc::default(),
            open: Arc::new(tokio::sync::watch::channel(true).0),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(state): axum::extract::State<TestReceiver>,
                 headers: http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    state.received.lock().expect("lock").push(Received {
                        headers,
                        body: body.to_vec(),
                        at: std::time::Instant::now(),
                    });
                    state.arrived.notify_waiters();
                    let mut open = state.open.subscribe();
                    let _ = open.wait_for(|open| *open).await;
                    let status = state.status.load(std::sync::atomic::Ordering::SeqCst);
                    let mut response = http::Response::builder().status(status);
                    if let Some(after) = state.retry_after.lock().expect("lock").clone() {
                        response = response.header("retry-after", after);
                    }
                    response
                        .body(axum::body::Body::from("ok"))
                        .expect("response")
                },
            ),
        );
        tokio::spawn(async move {
            axum::serve(listener, app.with_state(state))
                .await
                .expect("serves");
        });
        Self { url, ..receiver }
    }

    /// Answers with this status from now on.
    pub(crate) fn answer(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }

    /// Holds every request from now on (recorded, not answered) until
    /// [`Self::release`].
    pub(crate) fn hold(&self) {
        self.open.send_replace(false);
    }

    /// Answers the held requests and every one after.
    pub(crate) fn release(&self) {
        self.open.send_replace(true);
    }

    /// Sends this `Retry-After` from now on.
    pub(crate) fn retry_after(&self, value: &str) {
        *self.retry_after.lock().expect("lock") = Some(value.to_owned());
    }

    /// How many times each `webhook-id` (the message id) arrived so far.
    pub(crate) fn arrivals(&self) -> std::collections::HashMap<String, usize> {
        let mut seen = std::collections::HashMap::new();
        for r in self.received() {
            if let Some(id) = r.headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                *seen.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
        seen
    }

    /// Waits, up to `within`, until every message in `ids` arrived; the
    /// ones that did not.
    pub(crate) async fn missing_after(
        &self,
        ids: &std::collections::HashSet<String>,
        within: std::time::Duration,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Counted before the check, so an arrival between the two ends
            // the wait at once instead of waiting for one more.
            let seen = self.received().len();
            let arrived = self.arrivals();
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !arrived.contains_key(*id))
                .cloned()
                .collect();
            if missing.is_empty() || tokio::time::Instant::now() >= deadline {
                return missing;
            }
            let more = self.wait_for(seen + 1);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), more).await;
        }
    }

    /// Waits, up to `within`, until every message in `ids` arrived, and
    /// fails the test with how many did not.
    pub(crate) async fn assert_all_arrive(
        &self,
        ids: &std::collections::HashSet<String>,
        within: std::time::Duration,
    ) {
        let missing = self.missing_after(ids, within).await;
        assert!(
            missing.is_empty(),
            "{} of {} acknowledged events never arrived",
            missing.len(),
            ids.len()
        );
    }

    /// Everything received so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits (up to 10 s) until at least `n` requests arrived.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let notified = self.arrived.notified();
                if self.received.lock().expect("lock").len() >= n {
                    return;
                }
                notified.await;
            }
        })
        .await;
        let got = self.received();
        assert!(waited.is_ok(), "expected {n} requests, got {}", got.len());
        got
    }
}

/// Waits (up to 10 s) until `check` yields a value, re-checking every few
/// milliseconds: the store has no change notification to wait on.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Hex HMAC-SHA256 of a body, computed independently of the gateway's signer.
pub(crate) fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Unix milliseconds now, from the system clock, as the gateway stamps
/// messages.
pub(crate) fn now_millis() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(now.as_millis()).expect("fits")
}

/// Held by the tests that measure a rate and by the one that generates
/// load for a minute, so that neither runs beside the other: the load
/// stalls the process for a second at a time on two cores, which a rate
/// measured over five seconds cannot tell from a limiter wasting turns.
pub(crate) async fn timing() -> tokio::sync::MutexGuard<'static, ()> {
    static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TIMING.lock().await
}
