//! The delivery layer's errors: building its parts from settings. What an
//! attempt meets (refusals, timeouts, answers) is not an error here but an
//! outcome, recorded on the delivery (`verdict.rs`).

use crate::signing::SecretError;

/// Why a delivery part could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client's TLS could not be set up.
    #[error("cannot set up TLS for deliveries: {0}")]
    Tls(#[source] rustls::Error),
    /// An endpoint's signing secret does not parse.
    #[error("endpoint {endpoint}: {source}")]
    Secret {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: SecretError,
    },
}
