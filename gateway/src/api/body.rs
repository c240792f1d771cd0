//! Request parsing with the API's own errors: JSON bodies (400
//! `invalid_json`), times in query strings, and page sizes.

use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::IntoParams;

use super::ApiError;

/// The largest page.
pub(super) const MAX_LIMIT: usize = 500;
/// The page size when none is asked for.
pub(super) const DEFAULT_LIMIT: usize = 50;

/// A JSON object body.
pub(super) fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    Ok(value)
}

/// A typed JSON body; an empty body is `{}`.
pub(super) fn typed<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        json_object(body)?
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!("`{path}`: {}", e.into_inner()),
        )
    })
}

/// A time given as Unix milliseconds or RFC 3339.
pub(super) fn time(field: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    if let Ok(millis) = text.parse::<u64>() {
        return Ok(Some(millis));
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_millis()).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                format!("`{field}`: {text:?} is neither Unix milliseconds nor an RFC 3339 time"),
            )
        })
}

/// `?limit=&cursor=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    pub(super) limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub(super) cursor: Option<String>,
}

impl PageParams {
    pub(super) fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                format!("`limit`: {n} is not between 1 and {MAX_LIMIT}"),
            )),
        }
    }
}
