//! `/v1/endpoints`: create, read, list, update (merge patch), delete;
//! enable and disable; rotate the signing secret; send a test event; and
//! recover failed deliveries in bulk.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{self, PageParams};
use super::views::{AttemptView, EndpointView, ListPage};
use super::{AdminState, ApiError, ErrorBody};
use crate::config::EndpointConfig;
use crate::registry::{Endpoints, Rotated};

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(disable_endpoint))
        .routes(routes!(enable_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_endpoint))
        .routes(routes!(list_samples))
        .routes(routes!(recover_endpoint))
}

fn view(
    state: &AdminState,
    (endpoint, origin): (EndpointConfig, crate::registry::Origin),
) -> EndpointView {
    let runtime = state.deliverer.endpoint_state(&endpoint.name);
    EndpointView::new(endpoint, origin, runtime)
}

/// Lists endpoints by name.
#[utoipa::path(get, path = "/v1/endpoints", tag = "endpoints", params(PageParams),
    responses((status = 200, body = ListPage<EndpointView>), (status = 401, body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AdminState>,
    query: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<EndpointView>>, ApiError> {
    let Query(page) = query?;
    let limit = page.limit()?;
    let (items, more) = state
        .registry
        .list::<Endpoints>(page.cursor.as_deref(), limit)
        .await;
    let items = items.into_iter().map(|e| view(&state, e)).collect();
    Ok(Json(ListPage::by_name(items, more, |e: &EndpointView| {
        &e.endpoint.name
    })))
}

/// Creates an endpoint. One that signs with Standard Webhooks (the
/// default) and is given no secret gets a generated one, answered this
/// once as `secret`.
#[utoipa::path(post, path = "/v1/endpoints", tag = "endpoints", request_body = EndpointConfig,
    responses((status = 201, body = EndpointView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    let mut raw = body::json_object(&body)?;
    let generated = give_secret(&mut raw);
    let created = state.registry.create::<Endpoints>(raw).await?;
    let mut shown = view(&state, created);
    shown.secret = generated;
    Ok((StatusCode::CREATED, Json(shown)))
}

/// Gives a new endpoint that signs with Standard Webhooks but names no
/// secret (nor one being retired) a generated secret; returns it. Anything
/// else is left as it is, for validation to judge.
fn give_secret(raw: &mut Value) -> Option<String> {
    let object = raw.as_object_mut()?;
    let signing = object
        .entry("signing")
        .or_insert_with(|| json!({"scheme": "standard-webhooks"}))
        .as_object_mut()?;
    let standard = signing.get("scheme").and_then(Value::as_str) == Some("standard-webhooks");
    let empty = |key: &str| {
        signing
            .get(key)
            .is_none_or(|v| v.as_array().is_some_and(Vec::is_empty))
    };
    if !standard || !empty("secrets") || !empty("retiring") {
        return None;
    }
    let secret = crate::signing::SigningSecret::generate().to_whsec();
    signing.insert("secrets".into(), json!([secret]));
    Some(secret)
}

/// One endpoint with its state.
#[utoipa::path(get, path = "/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    let found = state.registry.get::<Endpoints>(&name).await?;
    Ok(Json(view(&state, found)))
}

/// Changes an endpoint: the body is a JSON merge patch (RFC 7396).
#[utoipa::path(patch, path = "/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    request_body(content = Object, description = "A JSON merge patch of the endpoint's fields"),
    responses((status = 200, body = EndpointView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<EndpointView>, ApiError> {
    let patch = body::json_object(&body)?;
    let updated = state.registry.update::<Endpoints>(&name, patch).await?;
    Ok(Json(view(&state, updated)))
}

/// Deletes an endpoint; its pending deliveries are dead-lettered when due.
#[utoipa::path(delete, path = "/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.registry.delete::<Endpoints>(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Why an operator disables an endpoint.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DisableRequest {
    /// Shown with the endpoint and in dead-lettered deliveries.
    #[serde(default)]
    reason: Option<String>,
}

/// Stops deliveries to an endpoint (durably) until it is enabled.
#[utoipa::path(post, path = "/v1/endpoints/{name}/disable", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    request_body(content = Option<DisableRequest>),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn disable_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<EndpointView>, ApiError> {
    let request: DisableRequest = body::typed(&body)?;
    let reason = request
        .reason
        .unwrap_or_else(|| "disabled by an operator".to_owned());
    state
        .deliverer
        .disable_endpoint(&name, &reason, false)
        .await?;
    get_endpoint(State(state), Path(name)).await
}

/// Lets deliveries to an endpoint go again and closes its circuit.
#[utoipa::path(post, path = "/v1/endpoints/{name}/enable", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn enable_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    state.deliverer.enable_endpoint(&name).await?;
    get_endpoint(State(state), Path(name)).await
}

/// The longest a rotated-out secret keeps signing.
const MAX_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// A secret rotation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    /// The new `whsec_` secret; generated when absent.
    #[serde(default)]
    #[schema(pattern = "^whsec_[A-Za-z0-9+/=]{24,}$")]
    secret: Option<String>,
    /// How long the previous secrets keep signing beside the new one.
    #[serde(default, with = "humantime_serde::option")]
    #[schema(value_type = Option<String>, pattern = r"^([1-9][0-9]{0,2}(ns|us|ms|s|m|h|d|w|nsec|usec|msec|sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days|week|weeks))+$", example = "24h")]
    grace: Option<Duration>,
}

/// Rotates a Standard Webhooks endpoint's secret; the previous ones keep
/// signing for the grace period (default 24 hours).
#[utoipa::path(post, path = "/v1/endpoints/{name}/rotate-secret", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    request_body(content = Option<RotateRequest>),
    responses((status = 200, body = Rotated), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Rotated>, ApiError> {
    let request: RotateRequest = body::typed(&body)?;
    let grace = request.grace.unwrap_or(Duration::from_secs(24 * 3600));
    if grace > MAX_GRACE {
        return Err(ApiError::invalid_field("grace", "at most 30 days"));
    }
    let rotated = state
        .registry
        .rotate_secret(&name, request.secret, grace)
        .await?;
    Ok(Json(rotated))
}

/// A test event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// The event type to send.
    #[schema(min_length = 1, max_length = 200)]
    event_type: String,
    /// The payload; when absent, the provider sample of the event type
    /// (`GET /v1/samples`), or a small payload naming the type.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    payload: Option<Value>,
}

/// The result of a test event.
#[derive(Debug, Serialize, ToSchema)]
struct TestResult {
    /// The test event's message (its source is `(test)`).
    message_id: String,
    /// Its delivery, shown in the delivery log with `test: true`.
    delivery_id: Option<String>,
    /// Whether the endpoint accepted the first attempt (2xx).
    delivered: bool,
    /// The first attempt; absent (with 202) when it was not made within
    /// the endpoint's timeout and a margin: it is still on its way.
    attempt: Option<AttemptView>,
}

/// Sends a test event to the endpoint alone: stored, signed, logged and
/// retried like any delivery (marked as a test, and its request carries
/// `hookgate-test: true`); answers with the first attempt.
#[utoipa::path(post, path = "/v1/endpoints/{name}/test", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    request_body = TestRequest,
    responses((status = 200, body = TestResult), (status = 202, body = TestResult),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TestResult>), ApiError> {
    let request: TestRequest = body::typed(&body)?;
    if request.event_type.is_empty() {
        return Err(ApiError::invalid_field(
            "event_type",
            "name the event type to send",
        ));
    }
    let body = match (
        &request.payload,
        crate::delivery::sample(&request.event_type),
    ) {
        (Some(payload), _) => serde_json::to_vec(payload).unwrap_or_default(),
        (None, Some(sample)) => sample.payload.as_bytes().to_vec(),
        (None, None) => serde_json::to_vec(
            &serde_json::json!({"type": request.event_type, "data": {"test": true}}),
        )
        .unwrap_or_default(),
    };
    let sent = state
        .deliverer
        .send_test(&name, &request.event_type, body)
        .await?;
    let delivered = sent
        .attempt
        .as_ref()
        .and_then(|a| a.status)
        .is_some_and(|s| (200..300).contains(&s));
    let status = if sent.attempt.is_some() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(TestResult {
            message_id: sent.message_id,
            delivery_id: sent.delivery_id,
            delivered,
            attempt: sent.attempt.map(AttemptView::from),
        }),
    ))
}

/// A provider event's sample payload, which a test event of its type
/// carries.
#[derive(Debug, Serialize, ToSchema)]
struct SampleView {
    /// The provider whose document it comes from.
    provider: &'static str,
    /// The event type.
    event_type: &'static str,
    /// The payload.
    #[schema(value_type = Object)]
    payload: Value,
}

/// The provider sample payloads test events use, by provider.
#[utoipa::path(get, path = "/v1/samples", tag = "endpoints",
    responses((status = 200, body = Vec<SampleView>)))]
async fn list_samples() -> Json<Vec<SampleView>> {
    Json(
        crate::delivery::SAMPLES
            .iter()
            .map(|s| SampleView {
                provider: s.provider,
                event_type: s.event_type,
                payload: serde_json::from_str(s.payload).unwrap_or(Value::Null),
            })
            .collect(),
    )
}

/// Which deliveries to recover.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RecoverRequest {
    /// Deliveries created at or after (Unix ms or RFC 3339).
    #[schema(value_type = String, example = "2026-11-22T00:00:00Z")]
    since: Value,
    /// Deliveries created before (default: now).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    until: Option<Value>,
}

/// What a recovery rescheduled.
#[derive(Debug, Serialize, ToSchema)]
struct Recovered {
    /// How many deliveries were scheduled again.
    recovered: usize,
    /// Their ids.
    deliveries: Vec<String>,
}

fn time_value(field: &str, value: Option<&Value>) -> Result<Option<u64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            ApiError::invalid_field(
                field,
                format_args!("{n} is not a whole number of Unix milliseconds"),
            )
        }),
        Some(Value::String(s)) => body::time(field, Some(s)),
        Some(other) => body::time(field, Some(&other.to_string())),
    }
}

/// Schedules again, now, every failed (retrying) or dead-lettered delivery
/// of the endpoint created in the time range. A disabled or inactive
/// endpoint gets 409: enable it first.
#[utoipa::path(post, path = "/v1/endpoints/{name}/recover", tag = "endpoints",
    params(("name" = String, Path, description = "The endpoint's name")),
    request_body = RecoverRequest,
    responses((status = 200, body = Recovered), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn recover_endpoint(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Recovered>, ApiError> {
    let request: RecoverRequest = body::typed(&body)?;
    let since = time_value("since", Some(&request.since))?;
    let until = time_value("until", request.until.as_ref())?;
    let ids = state.deliverer.recover(&name, since, until).await?;
    Ok(Json(Recovered {
        recovered: ids.len(),
        deliveries: ids,
    }))
}
