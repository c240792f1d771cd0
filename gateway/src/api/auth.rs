//! The management API's authentication: `Authorization: Bearer <token>`,
//! compared in constant time, or the console's session cookie
//! (`session.rs`), with which a change also needs the console's header.
//! Without a configured token every request is refused, so the API is never
//! open by accident.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::Code;
use super::session;
use crate::clock::system_millis;
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
    if given.is_none()
        && let Some(cookie) = request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(session::from_header)
            .map(str::to_owned)
    {
        return with_session(expected, &cookie, request, next).await;
    }
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

/// A request authenticated by the console's session cookie: let through if
/// the session is live and, for a change, the console's header is there.
async fn with_session(expected: &Secret, cookie: &str, request: Request, next: Next) -> Response {
    if !session::valid(expected.expose(), cookie, system_millis()) {
        return ApiError::new(
            Code::Unauthorized,
            "the console session has ended or is not valid: sign in again at /console",
        )
        .into_response();
    }
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !reads && !request.headers().contains_key(session::CSRF_HEADER) {
        return ApiError::new(
            Code::CsrfRequired,
            format!(
                "a change made with the console's session needs the `{}` header",
                session::CSRF_HEADER
            ),
        )
        .into_response();
    }
    next.run(request).await
}
