//! Signing and verifying webhook payloads: Standard Webhooks
//! ([`standard`]) and provider-style HMAC headers ([`hmac_header`]).
//!
//! Pure functions: they take the secret, the bytes and the time as arguments
//! and read no clock, so they are tested with known answers and fixed times.
//!
//! **Invariant:** the signer reads no clock; every comparison of a signature
//! is constant-time.

pub mod hmac_header;
mod secret;
pub mod standard;

pub use secret::{SecretError, SigningSecret};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `parts` concatenated, under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
