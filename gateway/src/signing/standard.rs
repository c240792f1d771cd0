//! Standard Webhooks (<https://www.standardwebhooks.com>): the signature is
//! `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{payload}")); a header
//! may carry several space-separated signatures, and any matching `v1` one
//! passes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{SigningSecret, constant_time_eq, hmac_sha256};

/// The message id header.
pub const ID: &str = "webhook-id";
/// The Unix-seconds timestamp header.
pub const TIMESTAMP: &str = "webhook-timestamp";
/// The signature header.
pub const SIGNATURE: &str = "webhook-signature";
/// How far a timestamp may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The `v1,<base64>` signature of one message under one secret.
pub fn sign(secret: &SigningSecret, msg_id: &str, timestamp: i64, payload: &[u8]) -> String {
    let mac = hmac_sha256(
        secret.key(),
        &[
            msg_id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            payload,
        ],
    );
    format!("v1,{}", STANDARD.encode(mac))
}

/// The `webhook-signature` value for several active secrets (rotation):
/// their signatures, space-separated.
pub fn sign_all(secrets: &[SigningSecret], msg_id: &str, timestamp: i64, payload: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, payload))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a Standard Webhooks signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is not an integer.
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is more than the tolerance away from now.
    #[error("webhook-timestamp is {0} s away from now, more than the 300 s allowed")]
    StaleTimestamp(i64),
    /// No `v1` signature matched.
    #[error("no webhook-signature matches the payload")]
    NoMatch,
}

/// Verifies a message against any of `secrets` at time `now` (Unix seconds).
pub fn verify(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    payload: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = (now - ts).abs();
    if skew > TOLERANCE_SECS {
        return Err(VerifyError::StaleTimestamp(skew));
    }
    let candidates: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    let matched = secrets.iter().any(|secret| {
        let expected = hmac_sha256(
            secret.key(),
            &[
                msg_id.as_bytes(),
                b".",
                ts.to_string().as_bytes(),
                b".",
                payload,
            ],
        );
        candidates.iter().any(|c| constant_time_eq(c, &expected))
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../../tests/fixtures/standard-webhooks-vectors.json");

    fn vectors(kind: &str) -> Vec<Value> {
        let all: Value = serde_json::from_str(VECTORS).expect("vectors are JSON");
        all[kind].as_array().expect("a list").clone()
    }

    fn field<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key].as_str().expect("string field")
    }

    #[test]
    fn valid_vectors_sign_to_the_expected_signature_and_verify() {
        for v in vectors("valid") {
            let secret = SigningSecret::parse(field(&v, "secret")).expect("secret parses");
            let ts = v["timestamp"].as_i64().expect("timestamp");
            let payload = field(&v, "payload").as_bytes();
            let msg_id = field(&v, "msg_id");
            assert_eq!(sign(&secret, msg_id, ts, payload), field(&v, "signature"));
            let verdict = verify(
                &[secret],
                msg_id,
                &ts.to_string(),
                field(&v, "signature"),
                payload,
                ts,
            );
            assert_eq!(verdict, Ok(()));
        }
    }

    #[test]
    fn must_fail_vectors_are_refused() {
        for v in vectors("must_fail") {
            let secret = SigningSecret::parse(field(&v, "secret")).expect("secret parses");
            let ts = v["timestamp"].as_i64().expect("timestamp");
            let verdict = verify(
                &[secret],
                field(&v, "msg_id"),
                &ts.to_string(),
                field(&v, "signature"),
                field(&v, "payload").as_bytes(),
                ts,
            );
            assert_eq!(verdict, Err(VerifyError::NoMatch), "{}", field(&v, "why"));
        }
    }

    #[test]
    fn any_matching_v1_signature_among_several_passes() {
        let old = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("parses");
        let new = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("parses");
        let header = sign_all(&[old, new.clone()], "msg_1", 100, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(verify(&[new], "msg_1", "100", &header, b"{}", 100), Ok(()));
    }

    #[test]
    fn timestamps_outside_five_minutes_are_refused() {
        let secret =
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("parses");
        let signature = sign(&secret, "m", 1000, b"x");
        let at = |now| {
            verify(
                std::slice::from_ref(&secret),
                "m",
                "1000",
                &signature,
                b"x",
                now,
            )
        };
        assert_eq!(at(1300), Ok(()));
        assert_eq!(at(700), Ok(()));
        assert_eq!(at(1301), Err(VerifyError::StaleTimestamp(301)));
        assert_eq!(
            verify(
                std::slice::from_ref(&secret),
                "m",
                "soon",
                &signature,
                b"x",
                1000
            ),
            Err(VerifyError::BadTimestamp)
        );
    }
}
