//! The summary itself: a pure function from the `call_finalized` payload to
//! the summary JSON, with errors that name the offending field.

use hookgate_sdk::Error;
use serde_json::{Map, Value, json};

const NANOS_PER_SECOND: f64 = 1e9;
const BYTES_PER_MB: f64 = 1e6;

/// Builds the call summary from a VoiceKit `call_finalized` payload.
///
/// Durations are in seconds rounded to milliseconds: the recording duration
/// from the egress `duration` (nanoseconds), the wall time from
/// `ended_at - started_at`. The size is given in bytes and in MB (10^6
/// bytes, two decimals).
pub fn summarize(payload: &Value) -> Result<Value, Error> {
    let data = object(payload, "data", "")?;
    let egress = object(data, "egress_info", "data.")?;
    let field = |name: &str| format!("data.egress_info.{name}");

    let started_at = nanos(egress, "started_at", &field("started_at"))?;
    let ended_at = nanos(egress, "ended_at", &field("ended_at"))?;
    let duration = nanos(egress, "duration", &field("duration"))?;
    let size = nanos(egress, "file_size", &field("file_size"))?;
    let wall = ended_at.checked_sub(started_at).ok_or_else(|| {
        Error::invalid_event("data.egress_info.ended_at is before data.egress_info.started_at")
    })?;

    Ok(json!({
        "call_id": required(data, "call_id", "data.call_id")?,
        "call_slug": optional(data, "call_slug"),
        "workflow_id": optional(data, "workflow_id"),
        "organization_id": optional(data, "organization_id"),
        "recording_url": optional(data, "recording_url"),
        "file_type": string(egress, "file_type", &field("file_type"))?,
        "egress_id": optional(egress, "egress_id"),
        "egress_status": string(egress, "status", &field("status"))?,
        "room_name": string(egress, "room_name", &field("room_name"))?,
        "recording_duration_seconds": round(duration as f64 / NANOS_PER_SECOND, 3),
        "wall_time_seconds": round(wall as f64 / NANOS_PER_SECOND, 3),
        "size_bytes": size,
        "size_mb": round(size as f64 / BYTES_PER_MB, 2),
        "finalized_at": optional(payload, "timestamp"),
    }))
}

fn object<'a>(
    parent: &'a (impl Lookup + ?Sized),
    key: &str,
    prefix: &str,
) -> Result<&'a Map<String, Value>, Error> {
    match parent.lookup(key) {
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(Error::invalid_event(format!(
            "{prefix}{key} must be an object, found {}",
            kind(other)
        ))),
        None => Err(Error::invalid_event(format!("{prefix}{key} is missing"))),
    }
}

fn required<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, Error> {
    match map.get(key) {
        Some(Value::Null) | None => Err(Error::invalid_event(format!("{path} is missing"))),
        Some(value) => Ok(value),
    }
}

fn optional(parent: &(impl Lookup + ?Sized), key: &str) -> Value {
    parent.lookup(key).cloned().unwrap_or(Value::Null)
}

fn string<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, Error> {
    match required(map, key, path)? {
        Value::String(s) => Ok(s),
        other => Err(Error::invalid_event(format!(
            "{path} must be a string, found {}",
            kind(other)
        ))),
    }
}

/// A non-negative integer given as a decimal string (LiveKit's style) or a
/// JSON number.
fn nanos(map: &Map<String, Value>, key: &str, path: &str) -> Result<u64, Error> {
    let value = required(map, key, path)?;
    let parsed = match value {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        Error::invalid_event(format!(
            "{path} must be a non-negative integer (as a string or number), found {value}"
        ))
    })
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Key lookup over both a JSON value and a JSON object.
trait Lookup {
    fn lookup(&self, key: &str) -> Option<&Value>;
}

impl Lookup for Value {
    fn lookup(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

impl Lookup for Map<String, Value> {
    fn lookup(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/voicekit/call_finalized.json");

    fn fixture() -> Value {
        serde_json::from_str(FIXTURE).expect("fixture is JSON")
    }

    fn error_for(edit: impl FnOnce(&mut Value)) -> String {
        let mut payload = fixture();
        edit(&mut payload);
        match summarize(&payload) {
            Err(Error::InvalidEvent(message)) => message,
            other => panic!("expected an invalid-event error, got {other:?}"),
        }
    }

    #[test]
    fn fixture_summary_has_every_field_with_the_documented_values() {
        let summary = summarize(&fixture()).expect("fixture summarises");
        assert_eq!(
            summary,
            json!({
                "call_id": 123,
                "call_slug": "abc12345",
                "workflow_id": 456,
                "organization_id": 789,
                "recording_url": "https://recordings.example.com/path/to/audio.ogg",
                "file_type": "ogg",
                "egress_id": "EG_dmi8xHQYNX6r",
                "egress_status": "EGRESS_COMPLETE",
                "room_name": "VOICEKIT_workflow_abc12345_8453",
                "recording_duration_seconds": 88.757,
                "wall_time_seconds": 91.422,
                "size_bytes": 1442477,
                "size_mb": 1.44,
                "finalized_at": "2024-01-15T10:33:00.000Z",
            })
        );
    }

    #[test]
    fn numeric_egress_fields_are_accepted_as_numbers_too() {
        let mut payload = fixture();
        payload["data"]["egress_info"]["duration"] = json!(2_000_000_000u64);
        let summary = summarize(&payload).expect("summarises");
        assert_eq!(summary["recording_duration_seconds"], 2.0);
    }

    #[test]
    fn missing_duration_names_the_field() {
        let message = error_for(|p| {
            p["data"]["egress_info"]
                .as_object_mut()
                .expect("object")
                .remove("duration");
        });
        assert_eq!(message, "data.egress_info.duration is missing");
    }

    #[test]
    fn malformed_file_size_names_the_field_and_value() {
        let message = error_for(|p| p["data"]["egress_info"]["file_size"] = json!("12kb"));
        assert_eq!(
            message,
            "data.egress_info.file_size must be a non-negative integer (as a string or number), found \"12kb\""
        );
    }

    #[test]
    fn missing_egress_info_names_the_field() {
        let message = error_for(|p| {
            p["data"]
                .as_object_mut()
                .expect("object")
                .remove("egress_info");
        });
        assert_eq!(message, "data.egress_info is missing");
    }

    #[test]
    fn egress_info_of_the_wrong_type_is_named() {
        let message = error_for(|p| p["data"]["egress_info"] = json!("oops"));
        assert_eq!(
            message,
            "data.egress_info must be an object, found a string"
        );
    }

    #[test]
    fn end_before_start_is_rejected() {
        let message = error_for(|p| p["data"]["egress_info"]["ended_at"] = json!("1"));
        assert_eq!(
            message,
            "data.egress_info.ended_at is before data.egress_info.started_at"
        );
    }

    #[test]
    fn missing_data_is_named() {
        let message = error_for(|p| *p = json!({"event": "call_finalized"}));
        assert_eq!(message, "data is missing");
    }
}
