//! `/v1/messages`: list with filters and cursor pagination, one message
//! with its payload, plugin outcome and delivery plan, and its attempts.

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
use super::views::{DeliveryView, ListPage, MessageView};
use super::{AdminState, ApiError, ErrorBody};
use crate::store::{MessageQuery, MessageStatusKind};

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages))
        .routes(routes!(get_message))
        .routes(routes!(message_attempts))
        .routes(routes!(reprocess_message))
}

/// Message filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MessageFilters {
    /// Only from this source.
    source: Option<String>,
    /// Only of this event type.
    event_type: Option<String>,
    /// Only in this status.
    status: Option<MessageStatusKind>,
    /// Only with this idempotency key.
    idempotency_key: Option<String>,
    /// Received at or after (Unix ms or RFC 3339).
    #[param(schema_with = body::time_schema)]
    since: Option<String>,
    /// Received before (Unix ms or RFC 3339).
    #[param(schema_with = body::time_schema)]
    until: Option<String>,
}

/// Lists messages, newest first.
#[utoipa::path(get, path = "/v1/messages", tag = "messages", params(MessageFilters, PageParams),
    responses((status = 200, body = ListPage<MessageView>), (status = 400, body = ErrorBody)))]
async fn list_messages(
    State(state): State<AdminState>,
    filters: Result<Query<MessageFilters>, QueryRejection>,
    page: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<MessageView>>, ApiError> {
    let (Query(filters), Query(page)) = (filters?, page?);
    let query = MessageQuery {
        source: filters.source,
        event_type: filters.event_type,
        status: filters.status,
        idempotency_key: filters.idempotency_key,
        since: body::time("since", filters.since.as_deref())?,
        until: body::time("until", filters.until.as_deref())?,
        before: page.cursor.clone(),
        limit: page.limit()?,
    };
    let found = state.registry.catalog().list_messages(&query).await?;
    Ok(Json(ListPage {
        items: found
            .items
            .into_iter()
            .map(|m| MessageView::new(m, Vec::new()))
            .collect(),
        next_cursor: found.next,
    }))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("no message has id {id:?}"))
}

/// One message: payload, what each plugin of the chain did, the outcome,
/// and the deliveries.
#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "The message id")),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)))]
async fn get_message(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let store = state.registry.store();
    let message = store.message(&id).await?.ok_or_else(|| not_found(&id))?;
    let deliveries = store.deliveries_of(&id).await?;
    let steps = store.message_steps(&id).await?;
    Ok(Json(
        MessageView::new(message, deliveries).with_steps(steps),
    ))
}

/// Runs a message a plugin failed on again, through its source's chain on
/// the plugin versions in force now; its new outcome replaces the failure.
/// A message that did not fail in a plugin gets 409.
#[utoipa::path(post, path = "/v1/messages/{id}/reprocess", tag = "messages",
    params(("id" = String, Path, description = "The message id")),
    responses((status = 202, body = MessageView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn reprocess_message(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    state.deliverer.reprocess(&id).await?;
    let store = state.registry.store();
    let message = store.message(&id).await?.ok_or_else(|| not_found(&id))?;
    let deliveries = store.deliveries_of(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageView::new(message, deliveries)),
    ))
}

/// A message's deliveries with every attempt.
#[utoipa::path(get, path = "/v1/messages/{id}/attempts", tag = "messages",
    params(("id" = String, Path, description = "The message id")),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)))]
async fn message_attempts(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let store = state.registry.store();
    store.message(&id).await?.ok_or_else(|| not_found(&id))?;
    let deliveries = store.deliveries_of(&id).await?;
    Ok(Json(
        deliveries
            .into_iter()
            .map(|d| DeliveryView::new(d, true))
            .collect(),
    ))
}
