//! The HTTP surface shared by every route (the error type, the health check)
//! and the management API under `/v1`: endpoints, sources, routes, plugins,
//! messages, deliveries and replay, behind an admin bearer token, with its
//! OpenAPI document at `/v1/openapi.json` generated from the handlers.
//! Ingest's own route lives in [`crate::ingest`].

mod auth;
mod body;
mod deliveries;
mod endpoints;
mod error;
mod messages;
mod objects;
mod openapi;
mod plugins;
mod views;

use std::sync::Arc;

pub use error::{ApiError, ErrorBody};

use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Secret;
use crate::delivery::Deliverer;
use crate::registry::Registry;

/// `GET /healthz`: the process is up and serving.
pub fn health_routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The largest management request body (a plugin component): 64 MiB.
const MAX_BODY: usize = 64 << 20;

/// What the management handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The live configuration.
    pub registry: Arc<Registry>,
    /// For test events.
    pub deliverer: Arc<Deliverer>,
    /// Woken after a replay.
    pub new_delivery: Arc<Notify>,
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
        .split_for_parts();
    let api = Arc::new(api);
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
