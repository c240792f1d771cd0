//! The ingest layer's errors: building a source from its settings. A
//! refused request is not one of these but an HTTP answer (`ApiError`).

use crate::signing::SecretError;

/// Why a source could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One of its secrets does not parse.
    #[error("source {name}: {source}")]
    Secret {
        /// The source.
        name: String,
        /// Why.
        source: SecretError,
    },
}
