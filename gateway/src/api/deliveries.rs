//! `/v1/deliveries` and `/v1/dead-letter`: the delivery log across endpoints
//! with filters, one delivery with its attempts, and replay.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Code;
use super::body::{self, PageParams};
use super::views::{DeliveryView, ListPage};
use super::{AdminState, ApiError, ErrorBody};
use crate::store::{DeliveryQuery, DeliveryStatusKind};

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(dead_letter))
        .routes(routes!(get_delivery))
        .routes(routes!(replay_delivery))
        .routes(routes!(replay_selected))
}

/// The most ids one bulk replay takes.
const MAX_SELECTED: usize = 500;

/// What to replay from the dead letter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Selection {
    /// Delivery ids (`dlv_...`) to send again, and ids of messages a plugin
    /// failed on (`msg_...`) to run through their chain again; 1 to 500.
    #[schema(min_items = 1, max_items = 500, example = json!(["dlv_01J00000000000000000000000"]))]
    ids: Vec<String>,
}

/// What became of one selected id.
#[derive(Debug, Serialize, ToSchema)]
struct Replayed {
    /// The id, as given.
    id: String,
    /// Whether it was queued again.
    replayed: bool,
    /// Why not, as the single replay would answer: `not_found`,
    /// `conflict`, `endpoint_disabled`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    /// Why not, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// The outcome of a bulk replay, one entry per id, in order.
#[derive(Debug, Serialize, ToSchema)]
struct ReplayResults {
    /// How many were queued again.
    replayed: usize,
    /// Each id's outcome.
    results: Vec<Replayed>,
}

/// Replays several dead-letter entries at once: each delivery id is sent
/// again now (as `POST /v1/deliveries/{id}/replay`), each plugin-failed
/// message id runs again (as `POST /v1/messages/{id}/reprocess`). One that
/// cannot be replayed is reported with its code and does not stop the rest.
#[utoipa::path(post, path = "/v1/dead-letter/replay", tag = "deliveries",
    request_body = Selection,
    responses((status = 200, body = ReplayResults), (status = 400, body = ErrorBody)))]
async fn replay_selected(
    State(state): State<AdminState>,
    body: Bytes,
) -> Result<Json<ReplayResults>, ApiError> {
    let selection: Selection = body::typed(&body)?;
    if selection.ids.is_empty() || selection.ids.len() > MAX_SELECTED {
        return Err(ApiError::invalid_field(
            "ids",
            format_args!("name 1 to {MAX_SELECTED} delivery or message ids"),
        ));
    }
    let mut results = Vec::with_capacity(selection.ids.len());
    for id in selection.ids {
        let outcome = if id.starts_with("msg_") {
            state.deliverer.reprocess(&id).await
        } else {
            state.deliverer.replay(&id).await.map(|_| ())
        };
        results.push(match outcome.map_err(ApiError::from) {
            Ok(()) => Replayed {
                id,
                replayed: true,
                code: None,
                message: None,
            },
            Err(error) if error.code == Code::Internal => return Err(error),
            Err(error) => Replayed {
                id,
                replayed: false,
                code: Some(error.code.as_str().to_owned()),
                message: Some(error.message),
            },
        });
    }
    Ok(Json(ReplayResults {
        replayed: results.iter().filter(|r| r.replayed).count(),
        results,
    }))
}

/// Delivery log filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryFilters {
    /// Only to this endpoint.
    endpoint: Option<String>,
    /// Only of this event type.
    event_type: Option<String>,
    /// Only in this status.
    status: Option<DeliveryStatusKind>,
    /// Only those whose last attempt got this HTTP status (`503`) or one of
    /// this class (`5xx`).
    #[param(value_type = Option<String>, pattern = r"^([1-5][0-9][0-9]|[1-5]xx)$", example = "5xx")]
    response_code: Option<String>,
    /// Created at or after (Unix ms or RFC 3339).
    #[param(schema_with = body::time_schema)]
    since: Option<String>,
    /// Created before (Unix ms or RFC 3339).
    #[param(schema_with = body::time_schema)]
    until: Option<String>,
}

/// The statuses a `response_code` filter keeps: one code (`503`) or a
/// class (`5xx`).
fn response_codes(text: &str) -> Result<std::ops::RangeInclusive<u16>, ApiError> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let class = text
        .strip_suffix("xx")
        .filter(|digit| digit.len() == 1 && digits(digit))
        .and_then(|digit| digit.parse::<u16>().ok())
        .filter(|digit| (1..=5).contains(digit));
    let code = Some(text)
        .filter(|t| digits(t))
        .and_then(|t| t.parse::<u16>().ok());
    let codes = match (class, code) {
        (Some(digit), _) => digit * 100..=digit * 100 + 99,
        (None, Some(code)) if (100..=599).contains(&code) => code..=code,
        _ => {
            return Err(ApiError::invalid_field(
                "response_code",
                format_args!(
                    "{text:?} is neither an HTTP status (100 to 599) nor a class such as 5xx"
                ),
            ));
        }
    };
    Ok(codes)
}

async fn search(
    state: &AdminState,
    filters: DeliveryFilters,
    page: &PageParams,
) -> Result<ListPage<DeliveryView>, ApiError> {
    let query = DeliveryQuery {
        endpoint: filters.endpoint,
        event_type: filters.event_type,
        status: filters.status,
        response_code: filters
            .response_code
            .as_deref()
            .map(response_codes)
            .transpose()?,
        since: body::time("since", filters.since.as_deref())?,
        until: body::time("until", filters.until.as_deref())?,
        before: page.cursor.clone(),
        limit: page.limit()?,
    };
    let found = state.registry.catalog().list_deliveries(&query).await?;
    Ok(ListPage {
        items: found
            .items
            .into_iter()
            .map(|d| DeliveryView::new(d, false))
            .collect(),
        next_cursor: found.next,
    })
}

/// Searches the delivery log across endpoints, newest first.
#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries",
    params(DeliveryFilters, PageParams),
    responses((status = 200, body = ListPage<DeliveryView>), (status = 400, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AdminState>,
    filters: Result<Query<DeliveryFilters>, QueryRejection>,
    page: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<DeliveryView>>, ApiError> {
    let (Query(filters), Query(page)) = (filters?, page?);
    Ok(Json(search(&state, filters, &page).await?))
}

/// Dead-letter filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeadLetterFilters {
    /// Only to this endpoint.
    endpoint: Option<String>,
}

/// The dead letter: deliveries given up on, newest first. (Messages a plugin
/// failed on are `GET /v1/messages?status=failed`.)
#[utoipa::path(get, path = "/v1/dead-letter", tag = "deliveries",
    params(DeadLetterFilters, PageParams),
    responses((status = 200, body = ListPage<DeliveryView>), (status = 400, body = ErrorBody)))]
async fn dead_letter(
    State(state): State<AdminState>,
    filters: Result<Query<DeadLetterFilters>, QueryRejection>,
    page: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<DeliveryView>>, ApiError> {
    let (Query(filters), Query(page)) = (filters?, page?);
    let filters = DeliveryFilters {
        endpoint: filters.endpoint,
        event_type: None,
        status: Some(DeliveryStatusKind::Dead),
        response_code: None,
        since: None,
        until: None,
    };
    Ok(Json(search(&state, filters, &page).await?))
}

/// 409 unless the endpoint would attempt a delivery now: sending again to
/// a disabled or inactive endpoint would only dead-letter it at once.
fn not_found(id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("no delivery has id {id:?}"))
}

/// One delivery with every attempt.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id")),
    responses((status = 200, body = DeliveryView), (status = 404, body = ErrorBody)))]
async fn get_delivery(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    let delivery = state
        .registry
        .store()
        .delivery(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(DeliveryView::new(delivery, true)))
}

/// Sends a delivery again now, whatever its state; its attempt history is
/// kept. A delivery to a disabled or inactive endpoint gets 409: enable the
/// endpoint first.
#[utoipa::path(post, path = "/v1/deliveries/{id}/replay", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id")),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn replay_delivery(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let delivery = state.deliverer.replay(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeliveryView::new(delivery, true)),
    ))
}
