//! An endpoint ready to deliver to: URL, signing with parsed secrets, static
//! headers, retry policy, and its protection state (concurrency limit, rate
//! limit, circuit breaker, disabled flag).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::policy::RetryPolicy;
use super::protection::EndpointState;
use crate::config::{BatchConfig, BreakerConfig, EndpointConfig, EndpointSigning};
use crate::signing::{SigningSecret, hmac_header, standard};

/// How requests to an endpoint are signed.
#[derive(Debug, Clone)]
pub enum Signing {
    /// Standard Webhooks; every active secret signs, and each retiring one
    /// until its time (rotation).
    Standard {
        /// Active secrets.
        active: Vec<SigningSecret>,
        /// Rotated-out secrets and when they stop signing (Unix ms).
        retiring: Vec<(SigningSecret, u64)>,
    },
    /// A provider-style HMAC header.
    Hmac {
        /// The header name.
        header: String,
        /// Hex or base64.
        encoding: hmac_header::Encoding,
        /// Text before the MAC.
        prefix: String,
        /// The key.
        secret: SigningSecret,
        /// The key it replaced, which signs instead until its time (Unix ms).
        previous: Option<(SigningSecret, u64)>,
        /// The header carrying the message id.
        id_header: String,
    },
    /// Unsigned.
    None,
}

/// Why an endpoint does not take deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Disabled, for this reason.
    Disabled(String),
    /// `active = false` in its configuration.
    Inactive,
}

/// Who an attempt goes to, which decides whether the static headers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The endpoint's own URL.
    Endpoint,
    /// A URL the message carried (the source's `target_url`).
    MessageTarget,
}

/// A configured endpoint at run time.
#[derive(Debug)]
pub struct Endpoint {
    /// Its name.
    pub name: String,
    /// Where deliveries go (unless a message carries its own URL).
    pub url: url::Url,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Request signing.
    pub signing: Signing,
    /// Static headers, applied before plugin headers and signatures.
    pub headers: Vec<(String, String)>,
    /// When to retry.
    pub policy: RetryPolicy,
    /// Whether retry delays are jittered.
    pub jitter: bool,
    /// Configured active; an inactive endpoint receives nothing.
    pub active: bool,
    /// Deliveries per second at most.
    pub rate_limit: Option<f64>,
    /// When the circuit opens and the endpoint is disabled.
    pub breaker: BreakerConfig,
    /// When the operator hears of its failure rate.
    pub failure_alert: Option<crate::config::FailureAlert>,
    /// Whether, and how, its deliveries are sent in batches.
    pub batch: Option<BatchConfig>,
    /// Concurrency limit, pacer, breaker and disabled flag; shared across
    /// configuration changes.
    pub state: Arc<EndpointState>,
}

impl Endpoint {
    /// From validated config, with the endpoint's protection state.
    pub fn from_config(
        config: &EndpointConfig,
        state: Arc<EndpointState>,
    ) -> Result<Self, super::Error> {
        let parse = |text: &str| {
            SigningSecret::parse(text).map_err(|source| super::Error::Secret {
                endpoint: config.name.clone(),
                source,
            })
        };
        let signing = match &config.signing {
            EndpointSigning::StandardWebhooks { secrets, retiring } => Signing::Standard {
                active: secrets
                    .iter()
                    .map(|s| parse(s.expose()))
                    .collect::<Result<_, _>>()?,
                retiring: retiring
                    .iter()
                    .map(|old| Ok((parse(old.secret.expose())?, unix_millis(old.until))))
                    .collect::<Result<_, super::Error>>()?,
            },
            EndpointSigning::Hmac {
                header,
                encoding,
                prefix,
                secret,
                previous,
                id_header,
            } => Signing::Hmac {
                header: header.clone(),
                encoding: *encoding,
                prefix: prefix.clone(),
                secret: parse(secret.expose())?,
                previous: previous
                    .as_ref()
                    .map(|old| {
                        Ok::<_, super::Error>((parse(old.secret.expose())?, unix_millis(old.until)))
                    })
                    .transpose()?,
                id_header: id_header.clone(),
            },
            EndpointSigning::None => Signing::None,
        };
        Ok(Self {
            name: config.name.clone(),
            url: config.url.clone(),
            timeout: config.timeout,
            signing,
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                .collect(),
            policy: RetryPolicy::from_config(&config.retry),
            jitter: config.retry.jitter.unwrap_or(true),
            active: config.active,
            rate_limit: config.rate_limit,
            breaker: config.circuit_breaker.clone(),
            failure_alert: config.failure_alert.clone(),
            batch: config.batch.clone(),
            state,
        })
    }

    /// Why it would not attempt a delivery now, if it would not: disabled
    /// (410, its breaker, or an operator) or configured inactive.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self.state.disabled() {
            Some(disabled) => Some(Unavailable::Disabled(disabled.reason)),
            None if !self.active => Some(Unavailable::Inactive),
            None => None,
        }
    }

    /// Header names the signature depends on: config and plugins cannot set
    /// them.
    fn protected(&self, name: &str) -> bool {
        let hmac_headers = match &self.signing {
            Signing::Hmac {
                header, id_header, ..
            } => [Some(header.as_str()), Some(id_header.as_str())],
            _ => [None, None],
        };
        [standard::ID, standard::TIMESTAMP, standard::SIGNATURE]
            .iter()
            .copied()
            .chain(hmac_headers.into_iter().flatten())
            .any(|p| p.eq_ignore_ascii_case(name))
    }

    /// The headers of one attempt: static headers, then the plugin's, then a
    /// content type if none was set, then the signature headers, which
    /// nothing before can override. Pure: the time is an argument.
    ///
    /// A per-message target (a URL the message's sender chose) gets no
    /// static headers: they hold the endpoint's credentials (`Authorization`,
    /// `X-Api-Key`, ...) for its own URL. It gets the plugin's headers, the
    /// content type and the signature.
    pub fn request_headers(
        &self,
        recipient: Recipient,
        message_id: &str,
        timestamp: i64,
        body: &[u8],
        extra: &[(String, String)],
        content_type: Option<&str>,
    ) -> Vec<(String, String)> {
        let own: &[(String, String)] = match recipient {
            Recipient::Endpoint => &self.headers,
            Recipient::MessageTarget => &[],
        };
        let mut headers: Vec<(String, String)> = own
            .iter()
            .chain(extra)
            .filter(|(name, _)| !self.protected(name))
            .cloned()
            .collect();
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "content-type".into(),
                content_type.unwrap_or("application/json").to_owned(),
            ));
        }
        match &self.signing {
            Signing::Standard { active, retiring } => {
                headers.push((standard::ID.into(), message_id.to_owned()));
                headers.push((standard::TIMESTAMP.into(), timestamp.to_string()));
                let now_ms = u64::try_from(timestamp).unwrap_or(0).saturating_mul(1000);
                let secrets: Vec<SigningSecret> = active
                    .iter()
                    .cloned()
                    .chain(
                        retiring
                            .iter()
                            .filter(|(_, until)| *until > now_ms)
                            .map(|(s, _)| s.clone()),
                    )
                    .collect();
                if !secrets.is_empty() {
                    headers.push((
                        standard::SIGNATURE.into(),
                        standard::sign_all(&secrets, message_id, timestamp, body),
                    ));
                }
            }
            Signing::Hmac {
                header,
                encoding,
                prefix,
                secret,
                previous,
                id_header,
            } => {
                let now_ms = u64::try_from(timestamp).unwrap_or(0).saturating_mul(1000);
                let secret = match previous {
                    Some((old, until)) if *until > now_ms => old,
                    _ => secret,
                };
                headers.push((id_header.clone(), message_id.to_owned()));
                headers.push((
                    header.clone(),
                    hmac_header::sign(secret, body, *encoding, prefix),
                ));
            }
            Signing::None => {}
        }
        headers
    }
}

/// A time as Unix milliseconds (0 before 1970).
fn unix_millis(at: std::time::SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(signing: Signing) -> Endpoint {
        Endpoint {
            name: "e".into(),
            url: url::Url::parse("https://example.com/").expect("URL"),
            timeout: Duration::from_secs(10),
            signing,
            headers: vec![
                ("Authorization".into(), "Bearer x".into()),
                ("webhook-id".into(), "forged".into()),
            ],
            policy: RetryPolicy::default(),
            jitter: true,
            active: true,
            rate_limit: None,
            breaker: BreakerConfig::default(),
            failure_alert: None,
            batch: None,
            state: Arc::new(EndpointState::new(1)),
        }
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn standard_webhooks_headers_cannot_be_overridden_and_every_secret_signs() {
        let secrets = vec![
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("parses"),
            SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("parses"),
        ];
        let e = endpoint(Signing::Standard {
            active: secrets,
            retiring: Vec::new(),
        });
        let extra = vec![("webhook-signature".into(), "v1,forged".into())];
        let headers = e.request_headers(
            Recipient::Endpoint,
            "msg_1",
            1_700_000_000,
            b"{}",
            &extra,
            None,
        );
        assert_eq!(get(&headers, "webhook-id"), ["msg_1"]);
        assert_eq!(get(&headers, "webhook-timestamp"), ["1700000000"]);
        let signatures = get(&headers, "webhook-signature");
        assert_eq!(signatures.len(), 1);
        assert_eq!(signatures[0].split(' ').count(), 2);
        assert_eq!(get(&headers, "authorization"), ["Bearer x"]);
        assert_eq!(get(&headers, "content-type"), ["application/json"]);
    }

    #[test]
    fn a_retiring_secret_signs_until_its_time_and_then_stops() {
        let new = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("parses");
        let old = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("parses");
        let e = endpoint(Signing::Standard {
            active: vec![new],
            retiring: vec![(old, 1_700_000_100_000)],
        });
        let count = |timestamp| {
            let headers = e.request_headers(Recipient::Endpoint, "m", timestamp, b"{}", &[], None);
            get(&headers, "webhook-signature")[0].split(' ').count()
        };
        assert_eq!(count(1_700_000_099), 2);
        assert_eq!(count(1_700_000_100), 1);
    }

    #[test]
    fn a_rotated_hmac_endpoint_signs_with_the_previous_secret_until_its_time() {
        let (new, old) = ("new-key", "old-key");
        let e = endpoint(Signing::Hmac {
            header: "X-Signature".into(),
            encoding: hmac_header::Encoding::Hex,
            prefix: String::new(),
            secret: SigningSecret::parse(new).expect("parses"),
            previous: Some((
                SigningSecret::parse(old).expect("parses"),
                1_700_000_100_000,
            )),
            id_header: "webhook-id".into(),
        });
        let signed = |timestamp| {
            let headers =
                e.request_headers(Recipient::Endpoint, "m", timestamp, b"body", &[], None);
            get(&headers, "x-signature")[0].to_owned()
        };
        let with = |key: &str| {
            let key = SigningSecret::parse(key).expect("parses");
            hmac_header::sign(&key, b"body", hmac_header::Encoding::Hex, "")
        };
        assert_eq!(signed(1_700_000_099), with(old), "within the grace period");
        assert_eq!(signed(1_700_000_100), with(new), "from its end");
    }

    #[test]
    fn hmac_signing_protects_its_headers_and_carries_the_message_id() {
        let e = endpoint(Signing::Hmac {
            header: "X-CallCov-Signature".into(),
            encoding: hmac_header::Encoding::Hex,
            prefix: String::new(),
            secret: SigningSecret::parse("k").expect("parses"),
            previous: None,
            id_header: "X-CallCov-Event-Id".into(),
        });
        let extra = vec![
            ("x-callcov-signature".into(), "forged".into()),
            ("x-callcov-event-id".into(), "forged".into()),
        ];
        let headers = e.request_headers(
            Recipient::Endpoint,
            "msg_7",
            1,
            b"body",
            &extra,
            Some("text/plain"),
        );
        let values = get(&headers, "X-CallCov-Signature");
        assert_eq!(values.len(), 1);
        assert_ne!(values[0], "forged");
        assert_eq!(get(&headers, "X-CallCov-Event-Id"), ["msg_7"]);
        assert_eq!(get(&headers, "content-type"), ["text/plain"]);
        // A static `webhook-id` never goes, whatever the signing scheme.
        assert_eq!(get(&headers, "webhook-id"), Vec::<&str>::new());
    }

    #[test]
    fn a_message_target_gets_no_static_headers_but_the_plugins_and_the_signature() {
        let e = endpoint(Signing::Standard {
            active: vec![
                SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("parses"),
            ],
            retiring: Vec::new(),
        });
        let extra = vec![("x-trace".into(), "t1".into())];
        let headers = e.request_headers(Recipient::MessageTarget, "m", 1, b"{}", &extra, None);
        assert!(get(&headers, "authorization").is_empty(), "{headers:?}");
        assert_eq!(get(&headers, "x-trace"), ["t1"]);
        assert_eq!(get(&headers, "webhook-id"), ["m"]);
        assert_eq!(get(&headers, "webhook-signature").len(), 1);
    }
}
