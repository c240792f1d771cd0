//! Source authentication: the checks a request must pass before anything is
//! stored. Pure: the time and the client address are arguments.
//!
//! **Invariant:** every secret comparison is constant-time.

use std::net::IpAddr;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::config::{Secret, SourceAuth};
use crate::http_error::{ApiError, Code};
use crate::signing::{SecretError, SigningSecret, constant_time_eq, hmac_header, standard};

/// A source's authentication, with secrets parsed once.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    Hmac {
        header: String,
        encoding: hmac_header::Encoding,
        prefix: String,
        secrets: Vec<SigningSecret>,
    },
    StandardWebhooks {
        secrets: Vec<SigningSecret>,
    },
    ApiKey {
        header: String,
        keys: Vec<Secret>,
    },
    Bearer {
        tokens: Vec<Secret>,
    },
    Basic {
        /// The expected `user:password`, as sent after base64 decoding.
        credentials: Secret,
    },
}

impl Auth {
    /// Parses the configured secrets. Config validation already checked
    /// `whsec_` secrets, so this cannot fail for a validated config.
    pub(crate) fn from_config(auth: &SourceAuth) -> Result<Self, SecretError> {
        let parse = |secrets: &[Secret]| {
            secrets
                .iter()
                .map(|s| SigningSecret::parse(s.expose()))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match auth {
            SourceAuth::None => Self::None,
            SourceAuth::Hmac {
                header,
                encoding,
                prefix,
                secrets,
            } => Self::Hmac {
                header: header.clone(),
                encoding: *encoding,
                prefix: prefix.clone(),
                secrets: parse(secrets)?,
            },
            SourceAuth::StandardWebhooks { secrets } => Self::StandardWebhooks {
                secrets: parse(secrets)?,
            },
            SourceAuth::ApiKey { header, keys } => Self::ApiKey {
                header: header.clone(),
                keys: keys.clone(),
            },
            SourceAuth::Bearer { tokens } => Self::Bearer {
                tokens: tokens.clone(),
            },
            SourceAuth::Basic { username, password } => Self::Basic {
                credentials: Secret::new(format!("{username}:{}", password.expose())),
            },
        })
    }

    /// The header carrying a credential, which must not be stored.
    pub(crate) fn credential_header(&self) -> Option<&str> {
        match self {
            Self::ApiKey { header, .. } => Some(header),
            _ => None,
        }
    }

    /// Checks one request; `now` is Unix seconds.
    pub(crate) fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), ApiError> {
        match self {
            Self::None => Ok(()),
            Self::Hmac {
                header,
                encoding,
                prefix,
                secrets,
            } => {
                let value = required(headers, header)?;
                if hmac_header::verify(secrets, body, value, *encoding, prefix) {
                    Ok(())
                } else {
                    Err(invalid_signature(format!(
                        "the {header} header does not match the body under any configured secret"
                    )))
                }
            }
            Self::StandardWebhooks { secrets } => {
                let id = required(headers, standard::ID)?;
                let timestamp = required(headers, standard::TIMESTAMP)?;
                let signature = required(headers, standard::SIGNATURE)?;
                standard::verify(secrets, id, timestamp, signature, body, now).map_err(
                    |e| match e {
                        standard::VerifyError::StaleTimestamp(_) => {
                            ApiError::new(Code::StaleTimestamp, e.to_string())
                        }
                        _ => invalid_signature(e.to_string()),
                    },
                )
            }
            Self::ApiKey { header, keys } => {
                let value = required(headers, header)?;
                any_equal(keys, value.as_bytes())
                    .then_some(())
                    .ok_or_else(|| unauthorized(format!("the {header} header is not a valid key")))
            }
            Self::Bearer { tokens } => {
                let value = required(headers, "authorization")?;
                let token = value.strip_prefix("Bearer ").ok_or_else(|| {
                    unauthorized("the Authorization header must be `Bearer <token>`")
                })?;
                any_equal(tokens, token.trim().as_bytes())
                    .then_some(())
                    .ok_or_else(|| unauthorized("the bearer token is not valid"))
            }
            Self::Basic { credentials } => {
                let value = required(headers, "authorization")?;
                let decoded = value
                    .strip_prefix("Basic ")
                    .and_then(|b64| STANDARD.decode(b64.trim()).ok())
                    .ok_or_else(|| {
                        unauthorized("the Authorization header must be `Basic <base64>`")
                    })?;
                constant_time_eq(&decoded, credentials.expose().as_bytes())
                    .then_some(())
                    .ok_or_else(|| unauthorized("the user name or password is wrong"))
            }
        }
    }
}

/// Whether `ip` is allowed by `allow` (empty allows everything).
pub(crate) fn ip_allowed(allow: &[ipnet::IpNet], ip: Option<IpAddr>) -> Result<(), ApiError> {
    if allow.is_empty() {
        return Ok(());
    }
    let ip = ip.map(|ip| ip.to_canonical());
    match ip {
        Some(ip) if allow.iter().any(|net| net.contains(&ip)) => Ok(()),
        _ => Err(ApiError::new(
            Code::IpNotAllowed,
            "this client address is not in the source's allow-list",
        )),
    }
}

fn any_equal(secrets: &[Secret], given: &[u8]) -> bool {
    secrets.iter().fold(false, |found, s| {
        found | constant_time_eq(s.expose().as_bytes(), given)
    })
}

fn required<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                Code::MissingSignature,
                format!("the {name} header is required by this source"),
            )
        })
}

fn invalid_signature(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidSignature, message)
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::Unauthorized, message)
}
