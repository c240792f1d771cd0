//! The HTTP surface shared by every route: the error type and the health
//! check. Ingest's own routes live in [`crate::ingest`].

mod error;

pub use error::ApiError;

use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};

/// `GET /healthz`: the process is up and serving.
pub fn health_routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
