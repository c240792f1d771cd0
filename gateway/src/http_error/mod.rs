//! The one HTTP error boundary: a status, a stable machine `code`, and a
//! message a person can act on, as JSON `{code, message}`; and the error a
//! request body gives when it arrives too slowly.
//!
//! A leaf: ingest and the management API both answer through it, and it
//! imports neither (how the registry's and the store's errors are answered
//! is the API's, in `api/error_map.rs`). A 5xx body never carries internal
//! detail; the detail goes to the log.

mod code;

pub use code::Code;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `Retry-After` of a `storage_unavailable` answer, in seconds.
const STORAGE_RETRY_AFTER: u64 = 1;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (the code's).
    pub status: StatusCode,
    /// A stable, machine-readable code, for example `payload_too_large`.
    pub code: Code,
    /// What went wrong, for a person.
    pub message: String,
    /// Seconds to send as `Retry-After`, for a refusal that passes.
    pub retry_after: Option<u64>,
    /// The request field an `invalid_field` error is about, as a path
    /// (`url`, `retry.multiplier`), when it names one.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// Every error's body, as the OpenAPI document describes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code, for example `not_found`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field it is about (`url`, `retry.multiplier`), for an
    /// `invalid_field` error that names one: a form shows the message
    /// beside that field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with a code (which gives its status) and a message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            retry_after: None,
            field: None,
        }
    }

    /// 400 `invalid_field` about `field` (a path such as `retry.multiplier`):
    /// the message is `` `field`: problem ``.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self {
            field: (!field.is_empty() && field != ".").then(|| field.to_owned()),
            ..Self::new(Code::InvalidField, format!("`{field}`: {problem}"))
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
        Self::new(Code::StorageUnavailable,
            "the gateway cannot store events right now (its storage refuses writes); nothing was stored, send it again shortly",
        )
        .retry_after(STORAGE_RETRY_AFTER)
    }

    /// A 500 whose detail is logged, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            Code::Internal,
            "the gateway failed to handle the request; it has been logged",
        )
    }
}

impl ApiError {
    /// Its body, `{"code": ..., "message": ...}`, as bytes.
    pub fn body_json(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            code: self.code.as_str(),
            message: &self.message,
            field: self.field.as_deref(),
        })
        .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(Body {
            code: self.code.as_str(),
            message: &self.message,
            field: self.field.as_deref(),
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

/// The answer to a path no operation has: 404 `no_route`.
pub async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        Code::NoRoute,
        format!(
            "no operation at {method} {}: events are posted to /v1/ingest/{{source}}, the management API is under /v1 (see /v1/openapi.json)",
            uri.path()
        ),
    )
}

/// The answer to a known path with a method it does not take: 405
/// `method_not_allowed` (axum adds the `Allow` header naming the methods
/// it takes).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        format!(
            "{} does not take {method}; the Allow header lists the methods it takes",
            uri.path()
        ),
    )
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(Code::InvalidField, rejection.body_text())
    }
}

/// A request body that did not arrive within its deadline (the body
/// stream's error, which ingest answers 408 `body_timeout`).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub std::time::Duration);
