//! `/v1/sources` and `/v1/routes`: create, read, list, update (merge patch)
//! and delete, checked against what exists (a route needs its source and
//! plugins; a source with a route cannot be deleted).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{self, PageParams};
use super::views::{ListPage, RouteView, SourceView};
use super::{AdminState, ApiError, ErrorBody};
use crate::config::{RouteConfig, SourceConfig};
use crate::registry::{Routes, Sources};

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(list_routes, create_route))
        .routes(routes!(get_route, update_route, delete_route))
}

/// Lists sources by name.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", params(PageParams),
    responses((status = 200, body = ListPage<SourceView>), (status = 401, body = ErrorBody)))]
async fn list_sources(
    State(state): State<AdminState>,
    query: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<SourceView>>, ApiError> {
    let Query(page) = query?;
    let (items, more) = state
        .registry
        .list::<Sources>(page.cursor.as_deref(), page.limit()?)
        .await;
    let items = items
        .into_iter()
        .map(|(source, origin)| SourceView { source, origin })
        .collect();
    Ok(Json(ListPage::by_name(items, more, |s: &SourceView| {
        &s.source.name
    })))
}

/// Creates a source: `POST /v1/ingest/{name}` accepts events at once.
#[utoipa::path(post, path = "/v1/sources", tag = "sources", request_body = SourceConfig,
    responses((status = 201, body = SourceView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_source(
    State(state): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let (source, origin) = state
        .registry
        .create::<Sources>(body::json_object(&body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(SourceView { source, origin })))
}

/// One source.
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "The source's name")),
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<SourceView>, ApiError> {
    let (source, origin) = state.registry.get::<Sources>(&name).await?;
    Ok(Json(SourceView { source, origin }))
}

/// Changes a source: the body is a JSON merge patch (RFC 7396).
#[utoipa::path(patch, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "The source's name")),
    request_body(content = Object, description = "A JSON merge patch of the source's fields"),
    responses((status = 200, body = SourceView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_source(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<SourceView>, ApiError> {
    let (source, origin) = state
        .registry
        .update::<Sources>(&name, body::json_object(&body)?)
        .await?;
    Ok(Json(SourceView { source, origin }))
}

/// Deletes a source that has no route.
#[utoipa::path(delete, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "The source's name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_source(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.registry.delete::<Sources>(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists routes by source.
#[utoipa::path(get, path = "/v1/routes", tag = "routes", params(PageParams),
    responses((status = 200, body = ListPage<RouteView>), (status = 401, body = ErrorBody)))]
async fn list_routes(
    State(state): State<AdminState>,
    query: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<RouteView>>, ApiError> {
    let Query(page) = query?;
    let (items, more) = state
        .registry
        .list::<Routes>(page.cursor.as_deref(), page.limit()?)
        .await;
    let items = items
        .into_iter()
        .map(|(route, origin)| RouteView { route, origin })
        .collect();
    Ok(Json(ListPage::by_name(items, more, |r: &RouteView| {
        &r.route.source
    })))
}

/// Creates a source's route (its plugin chain).
#[utoipa::path(post, path = "/v1/routes", tag = "routes", request_body = RouteConfig,
    responses((status = 201, body = RouteView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_route(
    State(state): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<RouteView>), ApiError> {
    let (route, origin) = state
        .registry
        .create::<Routes>(body::json_object(&body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(RouteView { route, origin })))
}

/// One source's route.
#[utoipa::path(get, path = "/v1/routes/{source}", tag = "routes",
    params(("source" = String, Path, description = "The route's source")),
    responses((status = 200, body = RouteView), (status = 404, body = ErrorBody)))]
async fn get_route(
    State(state): State<AdminState>,
    Path(source): Path<String>,
) -> Result<Json<RouteView>, ApiError> {
    let (route, origin) = state.registry.get::<Routes>(&source).await?;
    Ok(Json(RouteView { route, origin }))
}

/// Changes a route: the body is a JSON merge patch (RFC 7396); a new
/// `plugins` list replaces the chain.
#[utoipa::path(patch, path = "/v1/routes/{source}", tag = "routes",
    params(("source" = String, Path, description = "The route's source")),
    request_body(content = Object, description = "A JSON merge patch of the route's fields"),
    responses((status = 200, body = RouteView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_route(
    State(state): State<AdminState>,
    Path(source): Path<String>,
    body: Bytes,
) -> Result<Json<RouteView>, ApiError> {
    let (route, origin) = state
        .registry
        .update::<Routes>(&source, body::json_object(&body)?)
        .await?;
    Ok(Json(RouteView { route, origin }))
}

/// Deletes a route: the source's events then run through no plugin.
#[utoipa::path(delete, path = "/v1/routes/{source}", tag = "routes",
    params(("source" = String, Path, description = "The route's source")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_route(
    State(state): State<AdminState>,
    Path(source): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.registry.delete::<Routes>(&source).await?;
    Ok(StatusCode::NO_CONTENT)
}
