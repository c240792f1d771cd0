//! `/v1/deliveries` and `/v1/dead-letter`: the delivery log across endpoints
//! with filters, one delivery with its attempts, and replay.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
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
    /// Only those whose last attempt got this HTTP status.
    #[param(minimum = 100, maximum = 599)]
    response_code: Option<u16>,
    /// Created at or after (Unix ms or RFC 3339).
    #[param(schema_with = body::time_schema)]
    since: Option<String>,
    /// Created before (Unix ms or RFC 3339).
    #[param(schema_with = body::time_schema)]
    until: Option<String>,
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
            .map(|code| {
                (100..=599).contains(&code).then_some(code).ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidField,
                        format!("`response_code`: {code} is not an HTTP status (100 to 599)"),
                    )
                })
            })
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
