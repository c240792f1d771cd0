//! Request parsing with the API's own errors: JSON bodies (400
//! `invalid_json`), times in query strings, and page sizes.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};

use super::ApiError;
use super::Code;

/// The largest page.
pub(super) const MAX_LIMIT: usize = 500;
/// The page size when none is asked for.
pub(super) const DEFAULT_LIMIT: usize = 50;

/// A JSON object body.
pub(super) fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            Code::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            Code::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    Ok(value)
}

/// A typed JSON body of options; an empty body, or JSON `null`, is `{}`.
pub(super) fn typed<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    let value = if trimmed.is_empty() || trimmed == b"null" {
        Value::Object(serde_json::Map::new())
    } else {
        json_object(body)?
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid_field(&path, e.into_inner())
    })
}

/// A time given as Unix milliseconds or RFC 3339 (with `Z` or an offset);
/// a time before 1970 is 0.
pub(super) fn time(field: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Past u64's range is later than anything stored.
        return Ok(Some(text.parse::<u64>().unwrap_or(u64::MAX)));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| Some(u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)))
        .map_err(|_| {
            ApiError::invalid_field(
                field,
                format_args!("{text:?} is neither Unix milliseconds nor an RFC 3339 time"),
            )
        })
}

/// The schema of a time parameter, as [`time`] reads it.
pub(super) fn time_schema() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some("Unix milliseconds")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some("RFC 3339")),
        )
        .into()
}

/// `?limit=&cursor=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub(super) limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub(super) cursor: Option<String>,
}

impl PageParams {
    pub(super) fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid_field(
                "limit",
                format_args!("{n} is not between 1 and {MAX_LIMIT}"),
            )),
        }
    }
}
