//! The record of what each plugin of a message's source chain did, kept
//! beside the message's status: which version ran, for how long, what it
//! decided (continued with what it rewrote, dropped, chose targets,
//! answered, failed) and what it logged. Written with the pipeline's
//! completion, in its transaction; deleted with the message.

use serde::{Deserialize, Serialize};

use super::Error;
use super::keys::{decode, encode};

/// The most log lines kept per step, and the most bytes of each.
pub const MAX_LOG_LINES: usize = 50;
/// The most bytes of one kept log line.
pub const MAX_LOG_LINE: usize = 1024;

/// One plugin's run in a message's source chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginStep {
    /// The plugin's name.
    pub plugin: String,
    /// The component's content hash: which version ran.
    pub hash: String,
    /// How long the invocation took, in microseconds.
    pub elapsed_us: u64,
    /// What it decided.
    pub action: StepAction,
    /// What it logged, oldest first (at most [`MAX_LOG_LINES`] lines).
    pub logs: Vec<StepLog>,
    /// Whether lines were left out: past the host's limit or this record's.
    pub logs_truncated: bool,
}

/// What a plugin decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepAction {
    /// It passed the event on, changed as recorded here.
    Continued {
        /// The event type it set, if it changed it.
        event_type: Option<String>,
        /// Whether it replaced the headers.
        headers: bool,
        /// The body's size in bytes, if it replaced the body.
        body_bytes: Option<u64>,
    },
    /// It dropped the event.
    Dropped {
        /// Its reason.
        reason: String,
    },
    /// It chose the targets.
    Delivered {
        /// The endpoints, in its order.
        endpoints: Vec<String>,
    },
    /// It answered the caller itself.
    Responded {
        /// The status it answered with.
        status: u16,
    },
    /// It failed.
    Failed {
        /// The error's stable kind.
        kind: String,
        /// The error.
        error: String,
    },
}

/// A line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLog {
    /// `trace` to `error`.
    pub level: String,
    /// `log`, `stdout` or `stderr`.
    pub stream: String,
    /// The text (at most [`MAX_LOG_LINE`] bytes).
    pub message: String,
}

/// The stored form of a chain's steps.
pub(super) fn encode_steps(steps: &[PluginStep]) -> Result<Vec<u8>, Error> {
    encode("plugin steps", &steps)
}

/// A chain's steps from their stored form.
pub(super) fn decode_steps(bytes: &[u8]) -> Result<Vec<PluginStep>, Error> {
    decode("plugin steps", bytes)
}
