//! Prometheus metrics: what happened (counters and latency histograms,
//! updated where it happens) and how much is waiting (gauges read from the
//! store at scrape time). Served at `GET /metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::clock::Clock;
use crate::store::Store;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    source: String,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    endpoint: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginNameLabels {
    plugin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    ingested: Family<SourceLabels, Counter>,
    pipeline_runs: Family<SourceLabels, Counter>,
    rejected: Family<RejectLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    attempt_latency: Histograms<EndpointLabels>,
    held_back: Family<EndpointLabels, Counter>,
    stale_outcomes: Family<EndpointLabels, Counter>,
    plugin_invocations: Family<PluginLabels, Counter>,
    plugin_latency: Histograms<PluginNameLabels>,
    queue_depth: Family<QueueLabels, Gauge>,
    oldest_due: Gauge,
    /// Invocations and errors by plugin name, for the management API.
    plugin_totals: std::sync::Mutex<std::collections::HashMap<String, (u64, u64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hookgate");
        let ingested = Family::<SourceLabels, Counter>::default();
        registry.register(
            "ingested",
            "Events accepted (202), by source",
            ingested.clone(),
        );
        let pipeline_runs = Family::<SourceLabels, Counter>::default();
        registry.register(
            "pipeline_runs",
            "Messages the pipeline started to run, by source (a message run again, after a crash or a failure of the host, counts again)",
            pipeline_runs.clone(),
        );
        let rejected = Family::<RejectLabels, Counter>::default();
        registry.register(
            "ingest_rejected",
            "Requests refused, by source and error code",
            rejected.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts, by endpoint and outcome (delivered, retry, dead)",
            deliveries.clone(),
        );
        let attempt_latency: Histograms<EndpointLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "delivery_attempt_seconds",
            "Delivery attempt latency",
            attempt_latency.clone(),
        );
        let held_back = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "deliveries_held_back",
            "Deliveries moved later by an endpoint's rate limit or open circuit",
            held_back.clone(),
        );
        let stale_outcomes = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "delivery_stale_outcomes",
            "Attempt outcomes dropped because the attempt's claim had lapsed and been taken over (the new holder records its own)",
            stale_outcomes.clone(),
        );
        let plugin_invocations = Family::<PluginLabels, Counter>::default();
        registry.register(
            "plugin_invocations",
            "Plugin invocations, by plugin and outcome (ok or the error kind)",
            plugin_invocations.clone(),
        );
        let plugin_latency: Histograms<PluginNameLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "plugin_invocation_seconds",
            "Plugin invocation latency",
            plugin_latency.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Items waiting: messages for the pipeline, deliveries in the schedule",
            queue_depth.clone(),
        );
        let oldest_due = Gauge::default();
        registry.register(
            "oldest_due_seconds",
            "How overdue the earliest scheduled delivery is (0 if none is overdue)",
            oldest_due.clone(),
        );
        Self {
            registry,
            ingested,
            pipeline_runs,
            rejected,
            deliveries,
            attempt_latency,
            held_back,
            stale_outcomes,
            plugin_invocations,
            plugin_latency,
            queue_depth,
            oldest_due,
            plugin_totals: std::sync::Mutex::default(),
        }
    }

    /// An event was accepted.
    pub fn ingested(&self, source: &str) {
        self.ingested
            .get_or_create(&SourceLabels {
                source: source.into(),
            })
            .inc();
    }

    /// The pipeline started to run a message of `source`.
    pub fn pipeline_run(&self, source: &str) {
        self.pipeline_runs
            .get_or_create(&SourceLabels {
                source: source.into(),
            })
            .inc();
    }

    /// How many messages of `source` the pipeline started to run.
    pub fn pipeline_runs(&self, source: &str) -> u64 {
        self.pipeline_runs
            .get_or_create(&SourceLabels {
                source: source.into(),
            })
            .get()
    }

    /// A request was refused with `code`.
    pub fn rejected(&self, source: &str, code: &str) {
        let labels = RejectLabels {
            source: source.into(),
            reason: code.into(),
        };
        self.rejected.get_or_create(&labels).inc();
    }

    /// A delivery attempt ended with `outcome`.
    pub fn attempt(&self, endpoint: &str, outcome: &str, latency: Duration) {
        let labels = DeliveryLabels {
            endpoint: endpoint.into(),
            outcome: outcome.into(),
        };
        self.deliveries.get_or_create(&labels).inc();
        self.attempt_latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .observe(latency.as_secs_f64());
    }

    /// A plugin ran; `outcome` is `ok` or the error's kind.
    pub fn plugin(&self, plugin: &str, outcome: &str, latency: Duration) {
        let labels = PluginLabels {
            plugin: plugin.into(),
            outcome: outcome.into(),
        };
        self.plugin_invocations.get_or_create(&labels).inc();
        {
            let mut totals = self
                .plugin_totals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = totals.entry(plugin.to_owned()).or_default();
            entry.0 += 1;
            if outcome != "ok" {
                entry.1 += 1;
            }
        }
        self.plugin_latency
            .get_or_create(&PluginNameLabels {
                plugin: plugin.into(),
            })
            .observe(latency.as_secs_f64());
    }

    /// An attempt's outcome was dropped: its claim had been taken over.
    pub fn stale_outcome(&self, endpoint: &str) {
        self.stale_outcomes
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .inc();
    }

    /// Outcomes dropped for `endpoint` so far.
    pub fn stale_outcomes(&self, endpoint: &str) -> u64 {
        self.stale_outcomes
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .get()
    }

    /// A delivery was held back by a rate limit or an open circuit.
    pub fn held_back(&self, endpoint: &str) {
        self.held_back
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .inc();
    }

    /// A plugin's invocations and errors since the process started.
    pub fn plugin_totals(&self, plugin: &str) -> (u64, u64) {
        self.plugin_totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(plugin)
            .copied()
            .unwrap_or_default()
    }

    fn set_depth(&self, queue: &str, depth: usize) {
        self.queue_depth
            .get_or_create(&QueueLabels {
                queue: queue.into(),
            })
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }
}

/// What `/metrics` needs.
#[derive(Clone)]
pub struct MetricsState {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// For the gauges.
    pub store: Arc<dyn Store>,
    /// For how overdue the schedule is.
    pub clock: Clock,
}

impl std::fmt::Debug for MetricsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsState").finish_non_exhaustive()
    }
}

/// `GET /metrics`.
pub fn routes(state: MetricsState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>) -> impl IntoResponse {
    let MetricsState {
        metrics,
        store,
        clock,
    } = state;
    if let Ok(depth) = store.pipeline_count().await {
        metrics.set_depth("pipeline", depth);
    }
    if let Ok(depth) = store.scheduled_count().await {
        metrics.set_depth("deliveries", depth);
    }
    if let Ok(next) = store.next_due().await {
        let overdue_ms = next.map_or(0, |at| clock.now_millis().saturating_sub(at));
        metrics
            .oldest_due
            .set(i64::try_from(overdue_ms / 1000).unwrap_or(i64::MAX));
    }
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &metrics.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "cannot encode metrics".to_owned(),
        ),
    }
}
