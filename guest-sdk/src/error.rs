//! The error a plugin reports on purpose.

use std::fmt;

/// A failure the plugin detected and reports on purpose.
///
/// The gateway records it with the event and sends the event to the dead
/// letter; it is not retried, since the same input would fail the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The event lacks something the plugin needs; the message names the
    /// field, for example `data.egress_info.duration is missing`.
    InvalidEvent(String),
    /// The plugin's configuration is missing a key or has a bad value.
    InvalidConfig(String),
    /// Any other failure.
    Failed(String),
}

impl Error {
    /// An [`Error::InvalidEvent`] with the given message.
    pub fn invalid_event(message: impl Into<String>) -> Self {
        Self::InvalidEvent(message.into())
    }

    /// An [`Error::InvalidConfig`] with the given message.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::InvalidConfig(message.into())
    }

    /// An [`Error::Failed`] with the given message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidEvent(m) | Self::InvalidConfig(m) | Self::Failed(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEvent(m) => write!(f, "invalid event: {m}"),
            Self::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            Self::Failed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}
