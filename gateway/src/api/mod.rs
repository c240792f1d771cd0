//! The HTTP surface shared by every route (the error type, the health check)
//! and the management API under `/v1`: endpoints, sources, routes, plugins,
//! messages, deliveries and replay, behind an admin bearer token, with its
//! OpenAPI document at `/v1/openapi.json` generated from the handlers.
//! Ingest's own route lives in [`crate::ingest`].

mod auth;
mod body;
mod deliveries;
mod endpoints;
mod error_map;
mod messages;
mod objects;
mod openapi;
mod plugins;
pub mod session;
mod stats;
mod views;

use std::sync::Arc;

pub use crate::http_error::{ApiError, Code, ErrorBody};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;

use crate::config::Secret;
use crate::delivery::Deliverer;
use crate::registry::Registry;

/// `GET /healthz`: the process is up and serving.
pub fn health_routes(health: HealthState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// What the health routes read: the store's write health, and the catalog
/// for a readiness check's own write.
#[derive(Clone)]
pub struct HealthState {
    /// Whether writes fail.
    pub health: Arc<crate::health::StoreHealth>,
    /// Where a readiness check writes while they do.
    pub catalog: Arc<dyn crate::store::Catalog>,
    /// Wall time.
    pub clock: crate::clock::Clock,
}

impl std::fmt::Debug for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthState").finish_non_exhaustive()
    }
}

/// Liveness: the process answers; `status` is `degraded` while the store
/// refuses writes, with why.
async fn healthz(State(state): State<HealthState>) -> Json<Value> {
    Json(match state.health.failing() {
        None => json!({"status": "ok"}),
        Some(failing) => json!({
            "status": "degraded",
            "store": {"writable": false, "since": failing.since, "error": failing.error},
        }),
    })
}

/// Readiness, for load balancers: 200 while the store takes writes, 503
/// while it does not. While it does not, each check tries a small durable
/// write itself, so the node comes back without ingest traffic; while it
/// does, each check asks a shared store (a database) whether it answers,
/// so an idle node notices a lost database too (an embedded store answers
/// without any I/O).
async fn readyz(State(state): State<HealthState>) -> (StatusCode, Json<Value>) {
    if state.health.failing().is_none()
        && let Err(error) = state.catalog.objects_version().await
    {
        state.health.failed(state.clock.now_millis(), &error);
    }
    if state.health.failing().is_some() {
        let now = state.clock.now_millis();
        match state
            .catalog
            .put_object(READINESS_KIND, "probe", now.to_string().into_bytes())
            .await
        {
            Ok(()) => state.health.ok(),
            Err(error) => state.health.failed(now, &error),
        }
    }
    match state.health.failing() {
        None => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Some(failing) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "store": {"writable": false, "since": failing.since, "error": failing.error},
            })),
        ),
    }
}

/// The catalog kind a readiness check writes; no API lists it.
const READINESS_KIND: &str = "(readiness)";

/// The largest management request body (a plugin component): 64 MiB.
const MAX_BODY: usize = 64 << 20;

/// What the management handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The live configuration.
    pub registry: Arc<Registry>,
    /// Endpoint state, replay, recovery and test events.
    pub deliverer: Arc<Deliverer>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState").finish_non_exhaustive()
    }
}

/// The management API, behind `token` (every request gets 401 without it),
/// and its OpenAPI document at `/v1/openapi.json` (public).
pub fn management_routes(state: AdminState, token: Option<Secret>) -> axum::Router {
    let (router, api) = OpenApiRouter::with_openapi(openapi::document())
        .merge(endpoints::routes())
        .merge(objects::routes())
        .merge(plugins::routes())
        .merge(messages::routes())
        .merge(deliveries::routes())
        .merge(stats::routes())
        .split_for_parts();
    let api = Arc::new(openapi::finish(&api));
    router
        // Plugin components can be larger than axum's 2 MiB default.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            auth::require_token,
        ))
        // The document is public: it describes the API, it holds no data.
        .route(
            "/v1/openapi.json",
            get(move || {
                let api = api.clone();
                async move { Json(api.as_ref().clone()) }
            }),
        )
        .with_state(state)
}
