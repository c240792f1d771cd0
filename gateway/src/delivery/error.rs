//! The delivery layer's errors: building its parts from settings, and what
//! an operator's request (`control.rs`) can meet. What an attempt meets
//! (refusals, timeouts, answers) is not an error here but an outcome,
//! recorded on the delivery (`verdict.rs`).

use super::Unavailable;
use crate::signing::SecretError;

/// Why a delivery part could not be built, or a request carried out.
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
    /// No endpoint of that name is in force.
    #[error("no endpoint is named {0:?}")]
    NoEndpoint(String),
    /// No delivery has that id.
    #[error("no delivery has id {0:?}")]
    NoDelivery(String),
    /// The endpoint takes no deliveries now.
    #[error("{}", Error::unavailable(.endpoint, .why))]
    Unavailable {
        /// The endpoint.
        endpoint: String,
        /// Disabled or inactive.
        why: Unavailable,
    },
    /// No message has that id.
    #[error("no message has id {0:?}")]
    NoMessage(String),
    /// The message is not one a plugin failed on.
    #[error(
        "message {0:?} did not fail in a plugin: only plugin-failed messages are reprocessed (replay a delivery instead)"
    )]
    NotFailed(String),
    /// The delivery was skipped by its endpoint's own chain: sending it
    /// would bypass the plugin that dropped it.
    #[error(
        "delivery {id:?} was skipped by plugin {plugin:?} of its endpoint's chain; it is not sent by a replay"
    )]
    Skipped {
        /// The delivery.
        id: String,
        /// The plugin that dropped it.
        plugin: String,
    },
    /// The endpoint's URL is refused by the target rules.
    #[error("the endpoint's URL is refused: {0}")]
    TargetRefused(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::Error),
}
