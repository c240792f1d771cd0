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
    /// Replaces an endpoint's signing secret. Standard Webhooks: the
    /// previous ones keep signing beside it for `grace`. HMAC (one signature
    /// per request): the previous one keeps signing until `grace` ends, then
    /// the new one does. `secret` is generated when not given.
    pub async fn rotate_secret(
        &self,
        name: &str,
        secret: Option<String>,
        grace: Duration,
    ) -> Result<Rotated, RegistryError> {
        // Generated when not given: `whsec_` for Standard Webhooks, and for
        // HMAC a plain random string (its bytes are the key as given).
        let given = secret;
        let whsec = given
            .clone()
            .unwrap_or_else(|| crate::signing::SigningSecret::generate().to_whsec());
        let plain = given.unwrap_or_else(|| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
        });
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(self.clock.now_millis());
        let until = now.checked_add(grace).ok_or_else(|| {
            RegistryError::Invalid(Invalid {
                field: "grace".into(),
                message: "is too long".into(),
            })
        })?;
        let until_text = humantime::format_rfc3339_millis(until).to_string();
        let secret = self.mutate(|model| {
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
            let retiring = match &entry.spec.signing {
                EndpointSigning::StandardWebhooks { retiring, .. } => retiring,
                EndpointSigning::Hmac { previous, .. } => {
                    let raw =
                        rotate_hmac(&entry.raw, previous.as_ref(), &plain, now, &until_text)?;
                    let spec: EndpointConfig = parse(&raw)?;
                    let json = serde_json::to_vec(&raw).unwrap_or_default();
                    entry.raw = raw;
                    entry.spec = spec;
                    let persist = vec![Persist::Put(Endpoints::KIND, name.to_owned(), json)];
                    return Ok((plain.clone(), persist));
                }
                EndpointSigning::None => {
                    return Err(RegistryError::Conflict(format!(
                        "endpoint {name} does not sign its requests; give it a signing scheme first"
                    )));
                }
            };
            let mut raw = entry.raw.clone();
            let signing = raw
                .as_object_mut()
                .map(|o| {
                    o.entry("signing")
                        .or_insert_with(|| json!({"scheme": "standard-webhooks"}))
                })
                .and_then(Value::as_object_mut)
                .ok_or_else(|| {
                    RegistryError::Conflict("the stored endpoint is not an object".into())
                })?;
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
            signing.insert("secrets".into(), json!([whsec]));
            signing.insert("retiring".into(), Value::Array(kept));
            let spec: EndpointConfig = parse(&raw).map_err(|e| match e {
                RegistryError::Invalid(Invalid { field, message }) => {
                    RegistryError::Invalid(Invalid {
                        field: if field.is_empty() {
                            "secret".into()
                        } else {
                            field
                        },
                        message,
                    })
                }
                other => other,
            })?;
            let json = serde_json::to_vec(&raw).unwrap_or_default();
            entry.raw = raw;
            entry.spec = spec;
            Ok((
                whsec.clone(),
                vec![Persist::Put(Endpoints::KIND, name.to_owned(), json)],
            ))
        })
        .await?;
        Ok(Rotated {
            secret,
            previous_until: until_text,
        })
    }
}

/// An HMAC endpoint's stored form with `secret` in force and the one it
/// replaces signing until `until` (one signature per request: the switch
/// is at the end of the grace period). A rotation during another's grace
/// keeps the secret that signs now as the previous one.
fn rotate_hmac(
    raw: &Value,
    previous: Option<&crate::config::PreviousSecret>,
    secret: &str,
    now: SystemTime,
    until: &str,
) -> Result<Value, RegistryError> {
    let mut raw = raw.clone();
    let signing = raw
        .get_mut("signing")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| RegistryError::Conflict("the stored endpoint has no signing".into()))?;
    let still_signing = previous.is_some_and(|p| p.until > now);
    if !still_signing {
        let current = signing.get("secret").cloned().unwrap_or(Value::Null);
        signing.insert(
            "previous".into(),
            json!({"secret": current, "until": until}),
        );
    }
    signing.insert("secret".into(), json!(secret));
    Ok(raw)
}
