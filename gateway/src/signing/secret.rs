//! Signing secrets: parsed once, never printed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A secret key for HMAC signing. `Debug` and `Display` print `***`, so a
/// secret never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

/// A secret that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The `whsec_` part is not valid base64.
    #[error("a whsec_ secret must be base64 after the prefix")]
    NotBase64,
    /// The secret is empty.
    #[error("the secret is empty")]
    Empty,
}

impl SigningSecret {
    /// Parses a secret: `whsec_<base64>` (Standard Webhooks) is decoded;
    /// anything else is taken as raw bytes (provider-style shared secrets).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let bytes = match text.strip_prefix("whsec_") {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::NotBase64)?,
            None => text.as_bytes().to_vec(),
        };
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(bytes))
    }

    /// A new random secret: 24 bytes from the thread's CSPRNG, shown as
    /// `whsec_` with [`Self::to_whsec`].
    pub fn generate() -> Self {
        Self(rand::random::<[u8; 24]>().to_vec())
    }

    /// A `whsec_` secret from raw key bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The secret in `whsec_<base64>` form, for showing once at creation.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl fmt::Display for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whsec_secrets_are_base64_decoded_and_others_taken_raw() {
        let whsec = SigningSecret::parse("whsec_aGVsbG8=").expect("parses");
        assert_eq!(whsec.key(), b"hello");
        assert_eq!(whsec.to_whsec(), "whsec_aGVsbG8=");
        let raw = SigningSecret::parse("shared-secret").expect("parses");
        assert_eq!(raw.key(), b"shared-secret");
        assert_eq!(
            SigningSecret::parse("whsec_!!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(SigningSecret::parse(""), Err(SecretError::Empty));
    }

    #[test]
    fn secrets_never_print() {
        let secret = SigningSecret::parse("whsec_aGVsbG8=").expect("parses");
        assert_eq!(format!("{secret:?} {secret}"), "SigningSecret(***) ***");
    }
}
