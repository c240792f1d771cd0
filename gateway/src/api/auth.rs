//! The management API's authentication: `Authorization: Bearer <token>`,
//! compared in constant time. Without a configured token every request is
//! refused, so the API is never open by accident.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::Code;
use crate::config::Secret;
use crate::signing::constant_time_eq;

pub(super) async fn require_token(
    State(token): State<Arc<Option<Secret>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token.as_ref() else {
        return ApiError::new(
            Code::AdminApiDisabled,
            "the management API needs a token: set admin.token in the config file",
        )
        .into_response();
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if constant_time_eq(given.trim().as_bytes(), expected.expose().as_bytes()) => {
            next.run(request).await
        }
        Some(_) => ApiError::new(
            Code::Unauthorized,
            "the bearer token is not the admin token",
        )
        .into_response(),
        None => ApiError::new(
            Code::Unauthorized,
            "send the admin token as `Authorization: Bearer <token>`",
        )
        .into_response(),
    }
}
