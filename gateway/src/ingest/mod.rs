//! HTTP ingest: `POST /v1/ingest/{source}`.
//!
//! A request is checked in this order, and nothing is stored unless it passes
//! every step: known source (404), client address (403), size (413),
//! authentication (401), the source's rate limit (429), JSON (400),
//! per-message target URL (422). Then the
//! event type and idempotency key are extracted, the message is stored and
//! fsync'd, and only then is `202 {"id": ...}` sent. A source with
//! `mode = "sync"` answers instead with what its hook decided
//! ([`crate::exchange`]).
//!
//! **Invariant:** ingest answers 2xx only after the event is on disk.

mod auth;
mod client;
mod error;
mod extract;
mod limit;

pub use error::Error;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::config::{SourceConfig, SourceMode};
use crate::exchange::{Exchange, MESSAGE_ID_HEADER, Reply};
use crate::handover::Inbox;
use crate::health::StoreHealth;
use crate::http_error::{ApiError, BodyTimeout, Code};
use crate::metrics::Metrics;
use crate::registry::{Derived, Snapshot};
use crate::store::{Ingested, NewMessage, Store};
use crate::targets;
use crate::targets::TargetPolicy;

use auth::Auth;

/// Headers never stored with a message: credentials that plugins and the
/// delivery log have no business seeing.
const DROPPED_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// A source ready to take requests.
#[derive(Debug)]
pub struct Source {
    /// Its configuration.
    pub config: SourceConfig,
    /// Its authentication with parsed secrets.
    auth: Auth,
    /// Its inbound rate limit, if it has one.
    limit: Option<limit::Limit>,
}

impl Source {
    /// Parses the source's secrets.
    pub fn new(config: SourceConfig) -> Result<Self, Error> {
        let auth = Auth::from_config(&config.auth).map_err(|source| Error::Secret {
            name: config.name.clone(),
            source,
        })?;
        let limit = config.rate_limit.and_then(limit::Limit::new);
        Ok(Self {
            config,
            auth,
            limit,
        })
    }
}

/// What the ingest routes share.
#[derive(Clone)]
pub struct IngestState {
    /// Where messages go.
    store: Arc<dyn Store>,
    /// The sources in force, built from each configuration version.
    sources: Arc<Derived<Sources>>,
    /// Rules for per-message target URLs.
    targets: TargetPolicy,
    /// Takes each new message, so the pipeline starts on it at once.
    inbox: Inbox,
    /// Accepted and refused counts.
    metrics: Arc<Metrics>,
    /// Told whether each store write succeeded.
    health: Arc<StoreHealth>,
    /// Proxies whose forwarding headers name the client.
    trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Answers requests to sync sources.
    exchange: Arc<Exchange>,
}

impl std::fmt::Debug for IngestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestState").finish_non_exhaustive()
    }
}

impl IngestState {
    /// Ingest over the registry's sources; `exchange` (which answers sync
    /// sources) holds the store and the registry ingest uses too.
    pub fn new(
        exchange: Arc<Exchange>,
        targets: TargetPolicy,
        inbox: Inbox,
        metrics: Arc<Metrics>,
        health: Arc<StoreHealth>,
        trusted_proxies: Vec<ipnet::IpNet>,
    ) -> Self {
        Self {
            store: exchange.store.clone(),
            sources: Arc::new(Derived::new(exchange.registry.clone(), build_sources)),
            targets,
            inbox,
            metrics,
            health,
            trusted_proxies: trusted_proxies.into(),
            exchange,
        }
    }
}

/// Sources ready to take requests, by name.
type Sources = HashMap<String, Arc<Source>>;

/// The sources of `snapshot`, with parsed secrets.
fn build_sources(snapshot: &Snapshot) -> Sources {
    let mut sources = HashMap::with_capacity(snapshot.sources.len());
    for (name, config) in &snapshot.sources {
        match Source::new(config.as_ref().clone()) {
            Ok(source) => {
                sources.insert(name.clone(), Arc::new(source));
            }
            // Validation refuses what does not build, so this is a bug.
            Err(error) => {
                tracing::error!(source = %name, %error, "a source in force does not build; it takes nothing")
            }
        }
    }
    sources
}

/// The ingest routes.
pub fn routes(state: IngestState) -> axum::Router {
    axum::Router::new()
        .route("/v1/ingest/{source}", post(ingest))
        .with_state(state)
}

/// The label used for requests to sources that do not exist, so a request
/// path can never create a new metric series.
const UNKNOWN_SOURCE: &str = "(unknown)";

async fn ingest(
    State(state): State<IngestState>,
    Path(source_name): Path<String>,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    let arrived = tokio::time::Instant::now();
    let source = state.sources.current().get(&source_name).cloned();
    let result = accept(&state, &source_name, source.as_deref(), request).await;
    let label = if source.is_some() {
        source_name.as_str()
    } else {
        UNKNOWN_SOURCE
    };
    let message = match result {
        Ok(message) => message,
        Err(error) => {
            state.metrics.rejected(label, error.code.as_str());
            return Err(error);
        }
    };
    let Some(source) = source else {
        return Err(ApiError::internal(&"a checked request has no source"));
    };
    if source.config.mode == SourceMode::Sync {
        let now = message.received_at;
        return match state
            .exchange
            .answer(&source.config, message, arrived)
            .await
        {
            Ok(reply) => {
                state.health.ok();
                state.metrics.ingested(label);
                Ok(sync_response(reply))
            }
            Err(error) => {
                state.health.failed(now, &error);
                state
                    .metrics
                    .rejected(label, Code::StorageUnavailable.as_str());
                Err(ApiError::storage_unavailable())
            }
        };
    }
    let ingested = store(&state, &source, message).await;
    match &ingested {
        Ok(Ingested::New(_)) => state.metrics.ingested(label),
        Ok(Ingested::Duplicate(_)) => {}
        Err(error) => state.metrics.rejected(label, error.code.as_str()),
    }
    let ingested = ingested?;
    let duplicate = matches!(ingested, Ingested::Duplicate(_));
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: ingested.id().to_owned(),
            duplicate,
        }),
    )
        .into_response())
}

/// A sync source's reply as HTTP; every one names its message.
fn sync_response(reply: Reply) -> Response {
    let (mut response, id) = match reply {
        Reply::Relay {
            status,
            headers,
            body,
            message_id,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let map = response.headers_mut();
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    header::HeaderValue::from_str(&value),
                ) {
                    map.append(name, value);
                }
            }
            (response, message_id)
        }
        Reply::Dropped { message_id } => (StatusCode::NO_CONTENT.into_response(), message_id),
        Reply::Error { error, message_id } => (error.into_response(), message_id),
    };
    if let Ok(id) = header::HeaderValue::from_str(&id) {
        response.headers_mut().insert(MESSAGE_ID_HEADER, id);
    }
    response
}

/// The answer to an accepted event.
#[derive(Debug, serde::Serialize)]
pub struct Accepted {
    /// The message id (the first message's, for a repeat).
    id: String,
    /// Whether it repeated an earlier message's idempotency key.
    duplicate: bool,
}

/// Checks one request and makes the message it carries.
async fn accept(
    state: &IngestState,
    source_name: &str,
    source: Option<&Source>,
    request: Request<Body>,
) -> Result<NewMessage, ApiError> {
    let source = source.ok_or_else(|| {
        ApiError::new(
            Code::UnknownSource,
            format!("no source is named {source_name:?}"),
        )
    })?;
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .and_then(|ConnectInfo(addr)| {
            client::client_address(addr.ip(), request.headers(), &state.trusted_proxies)
        });
    auth::ip_allowed(&source.config.allow_ips, client)?;

    let (parts, body) = request.into_parts();
    let limit = source.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("the body is larger than this source's limit of {limit} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, limit).await.map_err(|error| {
        if caused_by::<http_body_util::LengthLimitError>(&error) {
            too_large()
        } else if caused_by::<BodyTimeout>(&error) {
            ApiError::new(
                Code::BodyTimeout,
                format!("{error}; send the body faster or in one piece"),
            )
        } else {
            ApiError::new(
                Code::MalformedBody,
                format!("the request body could not be read: {error}"),
            )
        }
    })?;

    let now = crate::clock::system_millis();
    let now_secs = i64::try_from(now / 1_000).unwrap_or(i64::MAX);
    source.auth.check(&parts.headers, &body, now_secs)?;
    // After authentication: requests without the source's credentials do
    // not use up its senders' allowance.
    if let Some(limit) = &source.limit
        && let Err(wait) = limit.take()
    {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Err(ApiError::new(
            Code::RateLimited,
            format!(
                "source {source_name:?} takes at most {} requests a second; nothing was stored, send it again in {secs} s",
                limit.rate()
            ),
        )
        .retry_after(secs.max(1)));
    }

    let json = if source.config.json {
        extract::check_json(&body).map_err(|e| {
            ApiError::new(
                Code::InvalidJson,
                format!("the body is not valid JSON: {e}"),
            )
        })?;
        Some(&body[..])
    } else {
        None
    };
    let pick = |rule: &Option<crate::config::Extract>| {
        rule.as_ref()
            .and_then(|r| extract::extract(r, &parts.headers, json))
    };
    let target_url = match pick(&source.config.target_url) {
        Some(raw) => {
            let url = targets::check_url(&raw, state.targets).map_err(target_refused)?;
            targets::resolve(&url, state.targets)
                .await
                .map_err(target_refused)?;
            Some(url.to_string())
        }
        None => None,
    };
    let message = NewMessage {
        source: source_name.to_owned(),
        event_type: pick(&source.config.event_type).unwrap_or_default(),
        received_at: now,
        headers: stored_headers(&parts.headers, source.auth.credential_header()),
        body: body.to_vec(),
        idempotency_key: pick(&source.config.idempotency_key),
        target_url,
    };
    Ok(message)
}

/// Stores and fsyncs a message and hands it to the pipeline; only then
/// does ingest answer.
async fn store(
    state: &IngestState,
    source: &Source,
    message: NewMessage,
) -> Result<Ingested, ApiError> {
    let now = message.received_at;
    let name = message.source.clone();
    let ingested = match state
        .inbox
        .ingest(state.store.as_ref(), message, source.config.dedup_window)
        .await
    {
        Ok(ingested) => {
            state.health.ok();
            ingested
        }
        Err(error) => {
            state.health.failed(now, &error);
            return Err(ApiError::storage_unavailable());
        }
    };
    tracing::debug!(source = %name, id = ingested.id(), "ingested");
    Ok(ingested)
}

fn target_refused(error: targets::TargetError) -> ApiError {
    ApiError::new(
        Code::TargetNotAllowed,
        format!("the message's target URL is refused: {error}"),
    )
}

fn stored_headers(headers: &HeaderMap, credential: Option<&str>) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            !DROPPED_HEADERS.contains(&name.as_str())
                && credential.is_none_or(|c| !name.as_str().eq_ignore_ascii_case(c))
        })
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Whether reading a body failed because of an `E` (past the size limit, past
/// the deadline) rather than because it was malformed (a broken chunked
/// encoding) or cut off.
fn caused_by<E: std::error::Error + 'static>(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error.is::<E>() {
            return true;
        }
        cause = error.source();
    }
    false
}
