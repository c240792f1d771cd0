//! Provider-style HMAC headers: HMAC-SHA256 over the raw body, hex or base64,
//! with an optional prefix, in a header of the provider's choosing
//! (`X-CallCov-Signature: <hex>`, `X-Hub-Signature-256: sha256=<hex>`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{SigningSecret, constant_time_eq, hmac_sha256};

/// How the MAC is written into the header.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Lowercase hexadecimal (accepted in any case when verifying).
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// The header value for `body` under `secret`.
pub fn sign(secret: &SigningSecret, body: &[u8], encoding: Encoding, prefix: &str) -> String {
    let mac = hmac_sha256(secret.key(), &[body]);
    let encoded = match encoding {
        Encoding::Hex => hex::encode(mac),
        Encoding::Base64 => STANDARD.encode(mac),
    };
    format!("{prefix}{encoded}")
}

/// Whether `header_value` is a valid signature of `body` under any of
/// `secrets`.
pub fn verify(
    secrets: &[SigningSecret],
    body: &[u8],
    header_value: &str,
    encoding: Encoding,
    prefix: &str,
) -> bool {
    let Some(encoded) = header_value.trim().strip_prefix(prefix) else {
        return false;
    };
    let given = match encoding {
        Encoding::Hex => hex::decode(encoded.to_ascii_lowercase()).ok(),
        Encoding::Base64 => STANDARD.decode(encoded).ok(),
    };
    let Some(given) = given else {
        return false;
    };
    secrets
        .iter()
        .any(|s| constant_time_eq(&given, &hmac_sha256(s.key(), &[body])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SigningSecret {
        SigningSecret::parse("It's a Secret to Everybody").expect("parses")
    }

    #[test]
    fn github_known_answer() {
        // The example from GitHub's "Validating webhook deliveries" docs.
        let value = sign(&secret(), b"Hello, World!", Encoding::Hex, "sha256=");
        assert_eq!(
            value,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(verify(
            &[secret()],
            b"Hello, World!",
            &value,
            Encoding::Hex,
            "sha256="
        ));
    }

    #[test]
    fn tampered_bodies_wrong_prefixes_and_bad_encodings_fail() {
        let value = sign(&secret(), b"body", Encoding::Base64, "");
        assert!(verify(&[secret()], b"body", &value, Encoding::Base64, ""));
        assert!(!verify(&[secret()], b"bodY", &value, Encoding::Base64, ""));
        assert!(!verify(&[secret()], b"body", &value, Encoding::Hex, ""));
        assert!(!verify(
            &[secret()],
            b"body",
            &value,
            Encoding::Base64,
            "sha256="
        ));
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let value = sign(&secret(), b"x", Encoding::Hex, "").to_uppercase();
        assert!(verify(&[secret()], b"x", &value, Encoding::Hex, ""));
    }
}
