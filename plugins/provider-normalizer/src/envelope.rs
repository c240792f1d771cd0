//! The canonical envelope and the pure mapping from each provider's envelope.

use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use hookgate_sdk::Error;
use serde::Serialize;
use serde_json::Value;

/// A provider whose envelope this plugin knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// `{event, version, timestamp, data}`.
    Roark,
    /// `{id, object: "analysis", created, status, ...}`.
    CallCov,
    /// `{event_type, timestamp, webhook_id, data}`.
    CallIntel,
    /// `{event, timestamp, data}`.
    VoiceKit,
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "roark" => Ok(Self::Roark),
            "callcov" => Ok(Self::CallCov),
            "callintel" => Ok(Self::CallIntel),
            "voicekit" => Ok(Self::VoiceKit),
            _ => Err(format!(
                "unknown provider {s:?}; expected roark, callcov, callintel, voicekit or auto"
            )),
        }
    }
}

/// The one envelope every provider's event is mapped onto.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Canonical {
    /// The event type, as the provider names it (`call.completed`,
    /// `call_finalized`; CallCov's become `analysis.<status>`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the provider says the event happened, RFC 3339 in UTC.
    pub occurred_at: String,
    /// Which provider sent it.
    pub provider: Provider,
    /// A key receivers can de-duplicate on: an `Idempotency-Key` or
    /// `webhook-id` header, else the provider's own id, else one derived from
    /// the event's identity, else the gateway's message id.
    pub idempotency_key: String,
    /// The provider's payload: its `data` object, or for CallCov the whole
    /// analysis object.
    pub data: Value,
}

/// Maps one provider payload onto the canonical envelope. With `provider`
/// unset, the provider is recognised from the envelope's shape.
pub fn normalize(
    payload: &Value,
    provider: Option<Provider>,
    header_key: Option<String>,
    message_id: &str,
) -> Result<Canonical, Error> {
    let provider = match provider {
        Some(p) => p,
        None => recognise(payload).ok_or_else(|| {
            Error::invalid_event(
                "the envelope is not one of Roark's, CallCov's, CallIntel's or VoiceKit's; set the `provider` config key to say which it is",
            )
        })?,
    };
    let text = |key: &str| -> Result<String, Error> {
        payload
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::invalid_event(format!("{key} is missing or not a string")))
    };
    let data = || -> Result<Value, Error> {
        match payload.get("data") {
            Some(data @ Value::Object(_)) => Ok(data.clone()),
            _ => Err(Error::invalid_event("data is missing or not an object")),
        }
    };
    let (event_type, occurred_at, data, own_key) = match provider {
        Provider::Roark => {
            let event = text("event")?;
            let data = data()?;
            let id = ["callAnalysisJobId", "callId"]
                .iter()
                .find_map(|k| data.get(k).and_then(Value::as_str))
                .map(|id| format!("roark:{event}:{id}"));
            (event, text("timestamp")?, data, id)
        }
        Provider::CallCov => {
            let status = text("status")?;
            let created = payload
                .get("created")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    Error::invalid_event("created is missing or not a Unix time in seconds")
                })?;
            let id = text("id")?;
            let occurred =
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(created));
            (
                format!("analysis.{status}"),
                occurred.to_string(),
                payload.clone(),
                Some(format!("callcov:{id}:{status}")),
            )
        }
        Provider::CallIntel => (
            text("event_type")?,
            text("timestamp")?,
            data()?,
            payload
                .get("webhook_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        Provider::VoiceKit => {
            let event = text("event")?;
            let data = data()?;
            let id = data.get("call_id").and_then(|id| match id {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            let key = id.map(|id| format!("voicekit:{event}:{id}"));
            (event, text("timestamp")?, data, key)
        }
    };
    Ok(Canonical {
        event_type,
        occurred_at,
        provider,
        idempotency_key: header_key
            .or(own_key)
            .unwrap_or_else(|| message_id.to_owned()),
        data,
    })
}

/// Recognises a provider from the envelope's keys.
fn recognise(payload: &Value) -> Option<Provider> {
    let has = |key: &str| payload.get(key).is_some();
    if has("event_type") && has("webhook_id") {
        Some(Provider::CallIntel)
    } else if payload.get("object").and_then(Value::as_str) == Some("analysis") {
        Some(Provider::CallCov)
    } else if has("event") && has("version") && has("data") {
        Some(Provider::Roark)
    } else if has("event") && has("timestamp") && has("data") {
        Some(Provider::VoiceKit)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(path: &str) -> Value {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");
        let text = std::fs::read_to_string(format!("{root}{path}")).expect("fixture exists");
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    fn canonical(path: &str) -> Value {
        let canonical = normalize(&fixture(path), None, None, "msg_1").expect("normalizes");
        serde_json::to_value(canonical).expect("serialises")
    }

    #[test]
    fn roark() {
        let c = canonical("roark/call.analysis.completed.json");
        assert_eq!(c["type"], "call.analysis.completed");
        assert_eq!(c["occurred_at"], "2025-11-21T10:30:00Z");
        assert_eq!(c["provider"], "roark");
        assert_eq!(
            c["idempotency_key"],
            "roark:call.analysis.completed:job_xyz789"
        );
        assert_eq!(c["data"]["callId"], "call_abc123");
    }

    #[test]
    fn callcov_status_becomes_the_type_and_created_the_time() {
        let c = canonical("callcov/analysis.completed.json");
        assert_eq!(c["type"], "analysis.completed");
        assert_eq!(c["occurred_at"], "2022-01-15T12:00:00Z");
        assert_eq!(c["provider"], "callcov");
        assert_eq!(
            c["idempotency_key"],
            "callcov:550e8400-e29b-41d4-a716-446655440000:completed"
        );
        assert_eq!(c["data"]["audio"]["duration_seconds"], 125.5);
        let failed = canonical("callcov/analysis.failed.json");
        assert_eq!(failed["type"], "analysis.failed");
    }

    #[test]
    fn callintel_webhook_id_is_the_key() {
        let c = canonical("callintel/batch.completed.json");
        assert_eq!(c["type"], "batch.completed");
        assert_eq!(c["occurred_at"], "2024-12-16T11:45:00Z");
        assert_eq!(c["provider"], "callintel");
        assert_eq!(c["idempotency_key"], "wh_1a2b3c4d60");
        assert_eq!(c["data"]["id"], "batch_987654321");
    }

    #[test]
    fn voicekit() {
        let c = canonical("voicekit/call_finalized.json");
        assert_eq!(c["type"], "call_finalized");
        assert_eq!(c["occurred_at"], "2024-01-15T10:33:00.000Z");
        assert_eq!(c["provider"], "voicekit");
        assert_eq!(c["idempotency_key"], "voicekit:call_finalized:123");
        assert_eq!(c["data"]["egress_info"]["file_type"], "ogg");
    }

    #[test]
    fn a_forced_provider_reports_the_missing_field() {
        let payload = json!({"event": "x", "data": {}});
        let err = normalize(&payload, Some(Provider::Roark), None, "m").expect_err("fails");
        assert_eq!(
            err,
            Error::invalid_event("timestamp is missing or not a string")
        );
    }

    #[test]
    fn without_any_key_the_message_id_is_used() {
        let payload = json!({"event": "x", "version": "1", "timestamp": "t", "data": {}});
        let c = normalize(&payload, None, None, "msg_9").expect("normalizes");
        assert_eq!(c.idempotency_key, "msg_9");
    }
}
