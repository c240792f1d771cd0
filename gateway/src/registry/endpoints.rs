//! Endpoint operations beyond create/update/delete: disable and enable
//! (recorded in the store), secret rotation with a grace period, and the
//! operator event sent when the gateway disables an endpoint by itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::model::Origin;
use super::objects::{Endpoints, Kind, parse};
use super::{Persist, Registry, RegistryError};
use crate::config::validate::Invalid;
use crate::config::{EndpointConfig, EndpointSigning};
use crate::delivery::protection::{BreakerView, Disabled};
use crate::store::NewMessage;

/// The source name operator events are stored under; not a valid source
/// name, so no configured source can collide with it.
pub const OPERATOR_SOURCE: &str = "(hookgate)";

/// The answer to a secret rotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rotated {
    /// The new secret: shown this once.
    pub secret: String,
    /// Until when the previous secrets keep signing beside it (RFC 3339).
    pub previous_until: String,
}

/// An endpoint of a snapshot, or 404.
fn live_endpoint<'a>(
    snapshot: &'a super::Snapshot,
    name: &str,
) -> Result<&'a std::sync::Arc<crate::delivery::Endpoint>, RegistryError> {
    snapshot
        .endpoints
        .get(name)
        .ok_or_else(|| RegistryError::NotFound {
            kind: Endpoints::KIND,
            name: name.to_owned(),
        })
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Registry {
    /// An endpoint's run-time state: why it is disabled, and its breaker.
    pub fn endpoint_state(&self, name: &str) -> (Option<Disabled>, BreakerView) {
        self.snapshot()
            .endpoints
            .get(name)
            .map(|e| (e.state.disabled(), e.state.breaker()))
            .unwrap_or_default()
    }

    /// Stops deliveries to an endpoint, durably. When the gateway decides
    /// it (`automatic`), the operator endpoint gets an `endpoint.disabled`
    /// event. Returns false if it already was disabled.
    pub async fn disable_endpoint(
        &self,
        name: &str,
        reason: &str,
        automatic: bool,
    ) -> Result<bool, RegistryError> {
        let snapshot = self.snapshot();
        let endpoint = live_endpoint(&snapshot, name)?;
        if endpoint.state.disabled().is_some() {
            return Ok(false);
        }
        let now = self.clock.now_millis();
        // The operator event is stored first, then the disabled record, and
        // only then is the endpoint disabled in memory: a crash or a failed
        // write in between can repeat the event, never lose it, and nothing
        // is shown disabled that the store does not hold.
        if automatic && let Some(operator) = &snapshot.operator_endpoint {
            if operator == name {
                tracing::error!(endpoint = %name, "the operator endpoint itself was disabled; no operator event can be sent");
            } else {
                self.operator_event(name, reason, now).await?;
            }
        }
        self.store.disable_endpoint(name, now, reason).await?;
        if !endpoint.state.disable(now, reason) {
            return Ok(false);
        }
        tracing::warn!(endpoint = %name, %reason, "endpoint disabled");
        Ok(true)
    }

    async fn operator_event(
        &self,
        name: &str,
        reason: &str,
        now: u64,
    ) -> Result<(), RegistryError> {
        let at = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(now));
        let body = json!({
            "type": "endpoint.disabled",
            "timestamp": at.to_string(),
            "data": {"endpoint": name, "reason": reason, "disabled_at": at.to_string()},
        });
        let message = NewMessage {
            source: OPERATOR_SOURCE.into(),
            event_type: "endpoint.disabled".into(),
            received_at: now,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).unwrap_or_default(),
            idempotency_key: None,
            target_url: None,
        };
        self.inbox()
            .ingest(self.store.as_ref(), message, Duration::ZERO)
            .await?;
        Ok(())
    }

    /// Lets deliveries to an endpoint go again and closes its breaker.
    pub async fn enable_endpoint(&self, name: &str) -> Result<(), RegistryError> {
        let endpoint = live_endpoint(&self.snapshot(), name)?.clone();
        self.store.enable_endpoint(name).await?;
        endpoint.state.enable();
        Ok(())
    }

    /// Replaces a Standard Webhooks endpoint's signing secret; the previous
    /// ones keep signing beside it for `grace`. `secret` is generated when
    /// not given.
    pub async fn rotate_secret(
        &self,
        name: &str,
        secret: Option<String>,
        grace: Duration,
    ) -> Result<Rotated, RegistryError> {
        let secret = match secret {
            Some(s) => s,
            None => format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>())
            ),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(self.clock.now_millis());
        let until = now.checked_add(grace).ok_or_else(|| {
            RegistryError::Invalid(Invalid {
                field: "grace".into(),
                message: "is too long".into(),
            })
        })?;
        let until_text = humantime::format_rfc3339_millis(until).to_string();
        self.mutate(|model| {
            let Some(entry) = model.endpoints.get_mut(name) else {
                return Err(RegistryError::NotFound {
                    kind: Endpoints::KIND,
                    name: name.to_owned(),
                });
            };
            if entry.origin == Origin::Config {
                return Err(RegistryError::ManagedByConfig {
                    kind: Endpoints::KIND,
                    name: name.to_owned(),
                });
            }
            let EndpointSigning::StandardWebhooks { retiring, .. } = &entry.spec.signing else {
                return Err(RegistryError::Conflict(format!(
                    "endpoint {name} does not sign with Standard Webhooks; rotation with a grace period needs several signatures per request"
                )));
            };
            let mut raw = entry.raw.clone();
            let signing = raw
                .as_object_mut()
                .map(|o| o.entry("signing").or_insert_with(|| json!({"scheme": "standard-webhooks"})))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| RegistryError::Conflict("the stored endpoint is not an object".into()))?;
            let old: Vec<Value> = signing
                .get("secrets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let now_ms = millis(now);
            let mut kept: Vec<Value> = signing
                .get("retiring")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .zip(retiring.iter())
                .filter(|(_, parsed)| millis(parsed.until) > now_ms)
                .map(|(raw, _)| raw)
                .collect();
            kept.extend(
                old.into_iter()
                    .map(|secret| json!({"secret": secret, "until": until_text})),
            );
            signing.insert("secrets".into(), json!([secret]));
            signing.insert("retiring".into(), Value::Array(kept));
            let spec: EndpointConfig = parse(&raw).map_err(|e| match e {
                RegistryError::Invalid(Invalid { field, message }) => {
                    RegistryError::Invalid(Invalid {
                        field: if field.is_empty() { "secret".into() } else { field },
                        message,
                    })
                }
                other => other,
            })?;
            let json = serde_json::to_vec(&raw).unwrap_or_default();
            entry.raw = raw;
            entry.spec = spec;
            Ok(((), vec![Persist::Put(Endpoints::KIND, name.to_owned(), json)]))
        })
        .await?;
        Ok(Rotated {
            secret,
            previous_until: until_text,
        })
    }
}
