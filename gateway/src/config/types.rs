//! The configuration's shape: what each section holds, with serde defaults.
//! Checks that span sections live in `validate.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Secret;
use crate::plugin::{Limits, MaxLimits, PluginLimits};
use crate::signing::hmac_header::Encoding;
use crate::targets::TargetPolicy;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening, storage, logging, shutdown and target rules.
    pub server: ServerConfig,
    /// The plugin host's pool and limits.
    pub plugin_host: PluginHostConfig,
    /// Where events come from.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Deployed plugins.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<PluginConfig>,
    /// Where events go.
    #[serde(default, rename = "endpoint")]
    pub endpoints: Vec<EndpointConfig>,
    /// Which plugins each source's events run through.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// The management API and operator notifications.
    #[serde(default)]
    pub admin: AdminConfig,
    /// How long payloads and attempt logs are kept.
    pub retention: RetentionConfig,
    /// Which engine stores the data.
    #[serde(default)]
    pub storage: StorageConfig,
}

/// `[storage]`: an embedded engine under `server.data_dir`, or the
/// PostgreSQL database every node of a cluster shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `fjall`, `sled` or `postgres`; unset, a data directory keeps the
    /// engine it was created with, and a new one gets fjall.
    #[serde(default)]
    pub engine: Option<crate::store::Engine>,
    /// With `postgres`: the database, `postgres://user:pass@host:5432/db`
    /// (a secret: `{ env = "HOOKGATE_DATABASE_URL" }` works).
    #[serde(default)]
    pub url: Option<Secret>,
    /// With `postgres`: the schema hookgate's tables live in.
    #[serde(default)]
    pub schema: Option<String>,
    /// With `postgres`: connections this node keeps open.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// With `postgres`: how long to wait for a connection before a request
    /// fails with 503 (and between tries at start).
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
}

fn default_pool_size() -> usize {
    16
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            engine: None,
            url: None,
            schema: None,
            pool_size: default_pool_size(),
            connect_timeout: default_connect_timeout(),
        }
    }
}

impl StorageConfig {
    /// The database's options, when the engine is PostgreSQL and its URL
    /// is set.
    pub fn postgres(&self) -> Option<crate::store::PostgresOptions> {
        let url = self.url.as_ref()?;
        Some(crate::store::PostgresOptions {
            url: url.expose().to_owned(),
            schema: self.schema.clone(),
            pool_size: self.pool_size,
            connect_timeout: self.connect_timeout,
        })
    }
}

/// `[admin]`: the management API under `/v1` (everything but ingest).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The bearer token the management API requires; without one, the API
    /// answers 401 to everything.
    #[serde(default)]
    pub token: Option<Secret>,
    /// The endpoint that receives operator events (`endpoint.disabled`).
    #[serde(default)]
    pub operator_endpoint: Option<String>,
}

/// `[retention]`: a background task prunes finished messages (payloads,
/// deliveries, attempt logs) older than `max_age`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Age after which finished messages are pruned.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// How often the pruner runs.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the store and the plugin cache.
    pub data_dir: PathBuf,
    /// Log output format.
    pub log_format: LogFormat,
    /// How long in-flight attempts may take to finish on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Time a client has to send a request's head, from when the connection
    /// waits for one (so also the longest idle keep-alive).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Connections open at once; past it a connection gets 503.
    pub max_connections: usize,
    /// Which delivery targets are allowed.
    pub targets: TargetPolicy,
    /// This node's id in the claims it takes; stable across restarts, so
    /// a restarted node releases its own claims at once (a peer's lapse
    /// with their leases). Default: the host name.
    #[serde(default)]
    pub node_id: Option<String>,
    /// How much longer than the slowest endpoint's timeout a claim on a
    /// delivery lasts: a dead node's attempts are taken over after that.
    /// Renewed every third of the lease while an attempt runs.
    #[serde(with = "humantime_serde")]
    pub lease_margin: Duration,
    /// How long a message's lease in the pipeline queue lasts: a dead
    /// node's queued messages are run by another node after that. Longer
    /// than the slowest plugin chain takes.
    #[serde(with = "humantime_serde")]
    pub pipeline_lease: Duration,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers say which
    /// client a request came from (for `allow_ips`); a request from any
    /// other address is taken to come from that address. Default: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// HTTPS on the listener; unset, plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[server.tls]`: the listener's certificate chain and private key, PEM
/// files (relative to the config file's directory), read again when they
/// change or on SIGHUP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl ServerConfig {
    /// [`ServerConfig::node_id`], or the host name.
    pub fn node_id(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        })
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[plugin_host]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginHostConfig {
    /// Invocations that may run at once.
    pub pool_size: u32,
    /// How long an event waits for a slot.
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
    /// Threads for expensive plugins (unset: half the cores, at least one).
    #[serde(default)]
    pub threads: Option<usize>,
    /// The largest component accepted, in bytes.
    pub max_component_bytes: usize,
    /// How long compiling a deployed component may take.
    #[serde(with = "humantime_serde")]
    pub compile_timeout: Duration,
    /// The most memory compiling a deployed component may use, in bytes.
    pub compile_memory_bytes: u64,
    /// The executable that compiles deployed components in a child process
    /// (`hookgate compile-plugin`): set by `hookgate serve` to itself, never
    /// read from the file. Unset, compiles run in this process, unbounded
    /// in memory.
    #[serde(skip)]
    pub compiler: Option<std::path::PathBuf>,
    /// Per-invocation limits.
    pub limits: Limits,
    /// How far a deployment may raise its own limits.
    #[serde(default)]
    pub max_limits: MaxLimits,
}

/// `[[source]]`: an ingest path, `POST /v1/ingest/{name}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The path segment and the name in logs and metrics.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    pub name: String,
    /// Largest accepted body.
    #[serde(default = "default_max_body")]
    #[schema(minimum = 1)]
    pub max_body_bytes: usize,
    /// Whether bodies must be JSON (malformed JSON gets 400).
    #[serde(default = "yes")]
    pub json: bool,
    /// Where the event type is.
    #[serde(default)]
    pub event_type: Option<Extract>,
    /// Where the idempotency key is; repeats within the window are not
    /// processed twice.
    #[serde(default)]
    pub idempotency_key: Option<Extract>,
    /// How long an idempotency key is remembered.
    #[serde(default = "default_dedup_window", with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([1-9][0-9]{0,5}(ns|us|ms|s|m|h|d|w|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days|week|weeks))+$", example = "24h")]
    pub dedup_window: Duration,
    /// How requests are authenticated.
    #[serde(default)]
    pub auth: SourceAuth,
    /// Client addresses allowed (CIDR); empty allows all.
    #[serde(default)]
    #[schema(value_type = Vec<String>, example = json!(["203.0.113.0/24"]))]
    pub allow_ips: Vec<ipnet::IpNet>,
    /// Where a per-message target URL is (CallCov's `webhook_url`); unset
    /// means messages cannot choose their target.
    #[serde(default)]
    pub target_url: Option<Extract>,
    /// Requests per second this source takes at most, in bursts of up to
    /// one second's worth; past it a request gets 429 `rate_limited` with
    /// `Retry-After` and nothing is stored. Each node counts its own
    /// requests. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0.0, example = 100.0)]
    pub rate_limit: Option<f64>,
    /// `async` (the default): the caller gets `202` once the event is
    /// stored, and deliveries follow in the background, retried. `sync`: a
    /// request/response hook: the caller waits while the plugin chain runs
    /// and the one endpoint it routes to is called (or a plugin answers
    /// itself), and gets that answer. A sync call is never retried.
    #[serde(default)]
    pub mode: SourceMode,
    /// For `mode = "sync"`: how long the caller waits for its answer, from
    /// when its request arrived; past it, `504 hook_timeout`.
    #[serde(default = "default_response_timeout", with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([1-9][0-9]{0,5}(ns|us|ms|s|m|h|d|w|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days|week|weeks))+$", example = "5s")]
    pub response_timeout: Duration,
    /// For `mode = "sync"`: the endpoint's response headers passed on to the
    /// caller, besides `content-type` (always passed).
    #[serde(default)]
    #[schema(example = json!(["x-voicekit-action"]))]
    pub response_headers: Vec<String>,
}

/// How a source answers its caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    /// `202` once stored; delivered in the background.
    #[default]
    Async,
    /// The caller gets the hook's answer.
    Sync,
}

fn default_response_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Where a value is taken from: a JSON pointer into the body, or a header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Extract {
    /// A JSON pointer, for example `/event_type`.
    Pointer(String),
    /// A header name, for example `Idempotency-Key`.
    Header(String),
}

/// `[source.auth]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceAuth {
    /// No authentication.
    #[default]
    None,
    /// HMAC-SHA256 of the raw body in a header.
    Hmac {
        /// The header, for example `X-Callintel-Signature`.
        header: String,
        /// Hex or base64.
        #[serde(default)]
        encoding: Encoding,
        /// Text before the MAC, for example `sha256=`.
        #[serde(default)]
        prefix: String,
        /// Accepted secrets (several during rotation).
        secrets: Vec<Secret>,
    },
    /// Standard Webhooks headers.
    StandardWebhooks {
        /// `whsec_` secrets accepted.
        secrets: Vec<Secret>,
    },
    /// A key in a header.
    ApiKey {
        /// The header, for example `X-Api-Key`.
        header: String,
        /// Accepted keys.
        keys: Vec<Secret>,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Accepted tokens.
        tokens: Vec<Secret>,
    },
    /// `Authorization: Basic ...`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

/// `[[plugin]]`: a component and its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The name routes refer to.
    pub name: String,
    /// The component file, relative to the config file's directory.
    pub file: PathBuf,
    /// Key/value configuration the plugin reads.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Its own wall time and memory, within `[plugin_host.max_limits]`.
    #[serde(default)]
    pub limits: PluginLimits,
}

/// `[[route]]`: a source's plugin chain.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The source.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    pub source: String,
    /// Plugins in order.
    pub plugins: Vec<String>,
}

/// `[[endpoint]]`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Unique name.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    pub name: String,
    /// Where deliveries go.
    #[schema(value_type = String, pattern = "^https?://", example = "https://example.com/webhooks")]
    pub url: url::Url,
    /// Subscribed event types (`call.*`, `*`). Absent: every event type;
    /// `[]`: none (only what a routing plugin sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Which payloads it receives, of the event types it subscribes to
    /// (checked on the payload as routed, after the source's plugins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<super::Filter>,
    /// Tags for routing plugins.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Inactive endpoints receive nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// Per-attempt timeout.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([1-9][0-9]{0,5}(ns|us|ms|s|m|h|d|w|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days|week|weeks))+$", example = "10s")]
    pub timeout: Duration,
    /// Attempts to this endpoint in flight at once.
    #[serde(default = "default_in_flight")]
    #[schema(minimum = 1, maximum = 10_000)]
    pub max_in_flight: usize,
    /// How requests are signed.
    #[serde(default)]
    pub signing: EndpointSigning,
    /// Static headers (API keys, bearer tokens).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// When failed attempts are retried.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Deliveries per second at most; more are held back, not failed.
    #[serde(default)]
    pub rate_limit: Option<f64>,
    /// When a failing endpoint is paused, probed, and disabled.
    #[serde(default)]
    pub circuit_breaker: BreakerConfig,
    /// Tell the operator endpoint (`endpoint.failure_rate`) when this share
    /// of attempts fails within a window. Unset: no such alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_alert: Option<FailureAlert>,
    /// Free-form operator data, returned as given.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Plugins run, in order, on each event routed to this endpoint, after
    /// the source's chain and the routing: they shape what this endpoint
    /// alone receives. A `drop` skips only this endpoint's delivery
    /// (recorded as `skipped`); a failure dead-letters the message, as one
    /// in the source's chain does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<String>,
    /// Send deliveries in batches: one signed request whose body is a JSON
    /// array of events, each keeping its message id. Unset: one event per
    /// request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
}

/// `[endpoint.batch]`: up to `max_events` deliveries in one request; a
/// batch goes when it is full or `max_wait` after its first event joined,
/// whichever comes first (later if the endpoint has no free slot, while it
/// keeps filling).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Events per request at most, 1 to 1000.
    #[schema(minimum = 1, maximum = 1000, example = 100)]
    pub max_events: usize,
    /// How long a batch waits for more events, at most 1h.
    #[serde(default = "default_batch_wait", with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([0-9]{1,6}(ns|us|ms|s|m|h|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours))+$", example = "1s")]
    pub max_wait: Duration,
}

fn default_batch_wait() -> Duration {
    Duration::from_secs(1)
}

impl EndpointConfig {
    /// Whether it subscribes to an event type (its patterns, `*` and
    /// `prefix.*` included; without `event_types`, every type).
    pub fn subscribed(&self, event_type: &str) -> bool {
        self.event_types.as_ref().is_none_or(|patterns| {
            patterns
                .iter()
                .any(|pattern| hookgate_sdk::event_type_matches(pattern, event_type))
        })
    }
}

/// `[endpoint.circuit_breaker]`: after `failures` failed attempts in a row
/// the endpoint is paused and one delivery is let through every
/// `probe_interval`; if it keeps failing for `disable_after`, it is
/// disabled and the operator is told.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Failed attempts in a row that open the breaker; 0 turns it off.
    pub failures: u32,
    /// Time between probes while open.
    #[serde(with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([1-9][0-9]{0,5}(ns|us|ms|s|m|h|d|w|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days|week|weeks))+$", example = "1m")]
    pub probe_interval: Duration,
    /// How long an endpoint may fail before it is disabled.
    #[serde(with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([1-9][0-9]{0,5}(ns|us|ms|s|m|h|d|w|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days|week|weeks))+$", example = "5days")]
    pub disable_after: Duration,
    /// Whether an open circuit may hold back deliveries whose retry policy
    /// is a fixed `schedule`. Off by default: a fixed schedule is a promise
    /// of when attempts go, so the breaker only counts and disables such an
    /// endpoint; exponential backoff is always held while the circuit is
    /// open.
    pub hold_schedule: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            probe_interval: Duration::from_secs(60),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            hold_schedule: false,
        }
    }
}

/// `[endpoint.failure_alert]`: an `endpoint.failure_rate` operator event,
/// at most once per window, when at least `min_attempts` attempts were made
/// in the window and the share `rate` of them or more failed. Windows are
/// consecutive (not sliding), and each node counts its own attempts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureAlert {
    /// The share of failed attempts that alerts, above 0 and at most 1.
    #[schema(exclusive_minimum = 0.0, maximum = 1.0, example = 0.5)]
    pub rate: f64,
    /// The window attempts are counted in.
    #[serde(default = "default_alert_window", with = "humantime_serde")]
    #[schema(value_type = String, pattern = r"^([1-9][0-9]{0,5}(s|m|h|d|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days))+$", example = "5m")]
    pub window: Duration,
    /// Fewer attempts than this in a window never alert.
    #[serde(default = "default_alert_attempts")]
    #[schema(minimum = 1, maximum = 1_000_000, example = 10)]
    pub min_attempts: u32,
}

fn default_alert_window() -> Duration {
    Duration::from_secs(300)
}

fn default_alert_attempts() -> u32 {
    10
}

/// `[endpoint.signing]`. The default is Standard Webhooks.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EndpointSigning {
    /// Standard Webhooks: `webhook-id` (the message id, stable across
    /// retries) and `webhook-timestamp` always, and `webhook-signature` with
    /// one signature per configured secret; with no secret, none.
    StandardWebhooks {
        /// Active `whsec_` secrets; each signs.
        #[serde(default)]
        #[schema(value_type = Vec<super::schema::WebhookSecret>)]
        secrets: Vec<Secret>,
        /// Secrets being rotated out: each still signs until its time.
        #[serde(default)]
        retiring: Vec<RetiringSecret>,
    },
    /// A provider-style HMAC header.
    Hmac {
        /// The header.
        #[schema(pattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", example = "X-Signature")]
        header: String,
        /// Hex or base64.
        #[serde(default)]
        encoding: Encoding,
        /// Text before the MAC.
        #[serde(default)]
        prefix: String,
        /// The secret.
        secret: Secret,
        /// The secret it replaced, which still signs until its time: one
        /// signature per request, so a rotation switches at the end of its
        /// grace period, and the receiver accepts both until then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<PreviousSecret>,
        /// The header that carries the message id (stable across retries),
        /// so a receiver can de-duplicate without parsing the body.
        #[serde(default = "default_id_header")]
        #[schema(default = "webhook-id", pattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
        id_header: String,
    },
    /// No signature.
    None,
}

fn default_id_header() -> String {
    "webhook-id".to_owned()
}

impl Default for EndpointSigning {
    fn default() -> Self {
        Self::StandardWebhooks {
            secrets: Vec::new(),
            retiring: Vec::new(),
        }
    }
}

/// A rotated-out secret that keeps signing until `until`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetiringSecret {
    /// The old `whsec_` secret.
    #[schema(value_type = super::schema::WebhookSecret)]
    pub secret: Secret,
    /// When it stops signing (RFC 3339).
    #[serde(with = "humantime_serde")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00Z")]
    pub until: std::time::SystemTime,
}

/// An HMAC endpoint's secret being rotated out: it signs until `until`,
/// then the new one does.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviousSecret {
    /// The old secret.
    #[schema(value_type = String, min_length = 1)]
    pub secret: Secret,
    /// When the new secret takes over (RFC 3339).
    #[serde(with = "humantime_serde")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00Z")]
    pub until: std::time::SystemTime,
}

/// `[endpoint.retry]`: an explicit schedule or exponential backoff. Its
/// OpenAPI schema says "one or the other" (`schema.rs`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Delays before each retry, for example `["1m", "10m", "1h"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<HumanDuration>>,
    /// Exponential: the first retry's delay.
    #[serde(
        default,
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_delay: Option<Duration>,
    /// Exponential: the factor between delays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Exponential: the longest delay.
    #[serde(
        default,
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_delay: Option<Duration>,
    /// Exponential: attempts in all, the first included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Whether each delay varies by up to 20% either way (the default), so
    /// that failed deliveries do not all come back at once; `false` keeps
    /// the delays to the millisecond, as a provider may promise them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
}

/// A duration written like `5m` or `10s`.
pub type HumanDuration = humantime_serde::Serde<Duration>;

fn yes() -> bool {
    true
}

fn default_max_body() -> usize {
    10 << 20
}

fn default_dedup_window() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_in_flight() -> usize {
    16
}
