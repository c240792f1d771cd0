//! Endpoint operations beyond create/update/delete: secret rotation with a
//! grace period. (Disabling and enabling are delivery's: run-time state,
//! not configuration.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::model::Origin;
use super::objects::{Endpoints, Kind, parse};
use super::{Persist, Registry, RegistryError};
use crate::config::validate::Invalid;
use crate::config::{EndpointConfig, EndpointSigning};

/// The answer to a secret rotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rotated {
    /// The new secret: shown this once.
    pub secret: String,
    /// Until when the previous secrets keep signing beside it (RFC 3339).
    pub previous_until: String,
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Registry {
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
            None => crate::signing::SigningSecret::generate().to_whsec(),
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
