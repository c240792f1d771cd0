//! `/v1/plugins`: deploy a component as a new version (`PUT` with the
//! component as the body), set the configuration, roll back, list, delete.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Code;
use super::body::{self, PageParams};
use super::views::ListPage;
use super::{AdminState, ApiError, ErrorBody};
use crate::plugin::PluginLimits;
use crate::registry::PluginView;

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin, deploy_plugin, delete_plugin))
        .routes(routes!(configure_plugin))
        .routes(routes!(rollback_plugin))
}

/// Lists plugins by name.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", params(PageParams),
    responses((status = 200, body = ListPage<PluginView>), (status = 401, body = ErrorBody)))]
async fn list_plugins(
    State(state): State<AdminState>,
    query: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ListPage<PluginView>>, ApiError> {
    let Query(page) = query?;
    let limit = page.limit()?;
    let mut after: Vec<PluginView> = state
        .registry
        .plugins()
        .await
        .into_iter()
        .filter(|p| page.cursor.as_deref().is_none_or(|c| p.name.as_str() > c))
        .collect();
    let more = after.len() > limit;
    after.truncate(limit);
    Ok(Json(ListPage::by_name(after, more, |p: &PluginView| {
        &p.name
    })))
}

/// One plugin with every version.
#[utoipa::path(get, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name")),
    responses((status = 200, body = PluginView), (status = 404, body = ErrorBody)))]
async fn get_plugin(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<PluginView>, ApiError> {
    Ok(Json(state.registry.plugin(&name).await?))
}

/// `?config=` on a deploy.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeployParams {
    /// The new version's configuration as a JSON object of strings; the
    /// current version's configuration is kept when absent.
    config: Option<String>,
    /// The plugin's own memory limit in bytes, within the operator's
    /// bound (`plugin_host.max_limits`); with `wall_time_ms` absent too,
    /// the current version's limits are kept.
    memory_bytes: Option<usize>,
    /// The plugin's own wall time per call in milliseconds, within the
    /// operator's bound.
    wall_time_ms: Option<u64>,
}

/// Deploys a component (the body, `application/wasm`) as the plugin's next
/// version. It is validated and compiled first; new events use it as soon
/// as this returns, events already in the pipeline finish on their version.
#[utoipa::path(put, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name"), DeployParams),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 200, body = PluginView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn deploy_plugin(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    query: Result<Query<DeployParams>, QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<PluginView>, ApiError> {
    let Query(params) = query?;
    let body = body.map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Code::PayloadTooLarge
        } else {
            Code::MalformedBody
        };
        ApiError::new(code, e.body_text())
    })?;
    let config = params
        .config
        .map(|text| {
            serde_json::from_str::<BTreeMap<String, String>>(&text).map_err(|e| {
                ApiError::invalid_field(
                    "config",
                    format_args!("must be a JSON object of strings: {e}"),
                )
            })
        })
        .transpose()?;
    let limits =
        (params.memory_bytes.is_some() || params.wall_time_ms.is_some()).then_some(PluginLimits {
            memory_bytes: params.memory_bytes,
            wall_time_ms: params.wall_time_ms,
        });
    Ok(Json(
        state
            .registry
            .deploy_plugin(&name, body.to_vec(), config, limits)
            .await?,
    ))
}

/// Deletes a plugin no route uses.
#[utoipa::path(delete, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_plugin(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.registry.delete_plugin(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A plugin configuration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConfigureRequest {
    /// Key/value configuration the plugin reads.
    config: BTreeMap<String, String>,
    /// The plugin's own limits, replacing the current version's; kept when
    /// absent.
    #[serde(default)]
    limits: Option<PluginLimits>,
}

/// Sets the plugin's configuration, as a new version of the same component.
#[utoipa::path(put, path = "/v1/plugins/{name}/config", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name")),
    request_body = ConfigureRequest,
    responses((status = 200, body = PluginView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn configure_plugin(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<PluginView>, ApiError> {
    let request: ConfigureRequest = body::typed(&body)?;
    Ok(Json(
        state
            .registry
            .configure_plugin(&name, request.config, request.limits)
            .await?,
    ))
}

/// A rollback target.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    /// The version to make current; the one before the current one when
    /// absent.
    #[serde(default)]
    version: Option<u32>,
}

/// Makes an earlier version current again.
#[utoipa::path(post, path = "/v1/plugins/{name}/rollback", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name")),
    request_body(content = Option<RollbackRequest>),
    responses((status = 200, body = PluginView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn rollback_plugin(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<PluginView>, ApiError> {
    let request: RollbackRequest = body::typed(&body)?;
    Ok(Json(
        state
            .registry
            .rollback_plugin(&name, request.version)
            .await?,
    ))
}
