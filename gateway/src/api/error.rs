//! The one HTTP error boundary: a status, a stable machine `code`, and a
//! message a person can act on, as JSON `{code, message}`.
//!
//! A 5xx body never carries internal detail; the detail goes to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `Retry-After` of a `storage_unavailable` answer, in seconds.
const STORAGE_RETRY_AFTER: u64 = 1;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code, for example `payload_too_large`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// Seconds to send as `Retry-After`, for a refusal that passes.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

/// Every error's body, as the OpenAPI document describes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code, for example `not_found`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client to retry after `secs` seconds.
    pub fn retry_after(self, secs: u64) -> Self {
        Self {
            retry_after: Some(secs),
            ..self
        }
    }

    /// 503: the store does not take writes now; nothing was stored.
    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the gateway cannot store events right now (its storage refuses writes); nothing was stored, send it again shortly",
        )
        .retry_after(STORAGE_RETRY_AFTER)
    }

    /// A 500 whose detail is logged, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the gateway failed to handle the request; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(Body {
            code: self.code,
            message: &self.message,
        });
        let mut response = (self.status, body).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<crate::registry::RegistryError> for ApiError {
    fn from(error: crate::registry::RegistryError) -> Self {
        use crate::registry::RegistryError as E;
        let message = error.to_string();
        match error {
            E::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_field", message),
            E::Plugin(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_plugin", message),
            E::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            E::Exists { .. } => Self::new(StatusCode::CONFLICT, "already_exists", message),
            E::ManagedByConfig { .. } => {
                Self::new(StatusCode::CONFLICT, "managed_by_config", message)
            }
            E::InUse { .. } => Self::new(StatusCode::CONFLICT, "in_use", message),
            E::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            E::Store(e) => Self::internal(&e),
        }
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(error: crate::store::Error) -> Self {
        Self::internal(&error)
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            rejection.body_text(),
        )
    }
}
