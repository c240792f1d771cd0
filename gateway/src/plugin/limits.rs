//! Per-invocation limits, a plugin's own within the operator's bounds, and
//! the memory limiter that enforces one of them.

use std::time::Duration;

use serde::Deserialize;

/// What one plugin invocation may use. Defaults match the documented ones;
/// the server's config can change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall time for one call, enforced by epoch interruption inside wasm and
    /// by an outer timeout around the whole invocation.
    #[serde(with = "humantime_serde")]
    pub wall_time: Duration,
    /// Linear memory of the instance, in bytes.
    pub memory_bytes: usize,
    /// Sum of the bodies a plugin returns (rewritten body and target bodies).
    pub output_bytes: usize,
    /// Log output per invocation (log calls, stdout and stderr); the rest is
    /// dropped and marked truncated, never trapping the guest.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            wall_time: Duration::from_millis(50),
            memory_bytes: 32 << 20,
            output_bytes: 10 << 20,
            log_bytes: 16 << 10,
        }
    }
}

/// A plugin's own wall time and memory, set when it is deployed, within
/// the operator's [`MaxLimits`]; what is unset is the host's default.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Linear memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<usize>,
    /// Wall time of one call, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_ms: Option<u64>,
}

impl PluginLimits {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.memory_bytes.is_none() && self.wall_time_ms.is_none()
    }
}

/// How far a deploy may raise a plugin's limits (`[plugin_host.max_limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaxLimits {
    /// The most linear memory a plugin may be given, in bytes.
    pub memory_bytes: usize,
    /// The longest wall time a plugin may be given.
    #[serde(with = "humantime_serde")]
    pub wall_time: Duration,
}

impl Default for MaxLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            wall_time: Duration::from_secs(1),
        }
    }
}

/// A plugin's limits out of the operator's bounds: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct LimitsOutOfBounds {
    /// `limits.memory_bytes` or `limits.wall_time_ms`.
    pub field: &'static str,
    /// What is wrong, with the bound.
    pub message: String,
}

/// The smallest memory and wall time a plugin may be given.
const MIN_MEMORY_BYTES: usize = 1 << 20;
const MIN_WALL_TIME_MS: u64 = 1;

impl Limits {
    /// These limits with a plugin's own laid over them, if they are within
    /// `max`.
    pub fn with(&self, own: &PluginLimits, max: &MaxLimits) -> Result<Self, LimitsOutOfBounds> {
        let mut limits = *self;
        if let Some(bytes) = own.memory_bytes {
            if !(MIN_MEMORY_BYTES..=max.memory_bytes).contains(&bytes) {
                return Err(LimitsOutOfBounds {
                    field: "limits.memory_bytes",
                    message: format!(
                        "must be from {MIN_MEMORY_BYTES} to {} bytes (plugin_host.max_limits.memory_bytes), not {bytes}",
                        max.memory_bytes
                    ),
                });
            }
            limits.memory_bytes = bytes;
        }
        if let Some(ms) = own.wall_time_ms {
            let most = u64::try_from(max.wall_time.as_millis()).unwrap_or(u64::MAX);
            if !(MIN_WALL_TIME_MS..=most).contains(&ms) {
                return Err(LimitsOutOfBounds {
                    field: "limits.wall_time_ms",
                    message: format!(
                        "must be from {MIN_WALL_TIME_MS} to {most} ms (plugin_host.max_limits.wall_time), not {ms}"
                    ),
                });
            }
            limits.wall_time = Duration::from_millis(ms);
        }
        Ok(limits)
    }
}

/// Refuses memory growth past the limit and remembers that it did, so a trap
/// that follows is classified as a memory-limit error.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    /// The most linear memory one instance may have, in bytes.
    max_bytes: usize,
    /// Set when a growth was refused.
    pub(crate) hit: bool,
}

/// Tables are not a resource plugins should need much of; this bounds them.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryLimiter {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            hit: false,
        }
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugins_limits_replace_the_defaults_within_the_bounds() {
        let max = MaxLimits::default();
        let own = PluginLimits {
            memory_bytes: Some(64 << 20),
            wall_time_ms: Some(200),
        };
        let limits = Limits::default().with(&own, &max).expect("within bounds");
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.wall_time, Duration::from_millis(200));
        assert_eq!(limits.output_bytes, Limits::default().output_bytes);
        assert_eq!(
            Limits::default().with(&PluginLimits::default(), &max),
            Ok(Limits::default())
        );
    }

    #[test]
    fn limits_past_the_bounds_name_the_field_and_the_bound() {
        let max = MaxLimits::default();
        let big = PluginLimits {
            memory_bytes: Some(512 << 20),
            wall_time_ms: None,
        };
        let error = Limits::default().with(&big, &max).expect_err("too big");
        assert_eq!(error.field, "limits.memory_bytes");
        assert!(error.message.contains("to 268435456 bytes"), "{error}");
        let slow = PluginLimits {
            memory_bytes: None,
            wall_time_ms: Some(0),
        };
        let error = Limits::default().with(&slow, &max).expect_err("zero");
        assert_eq!(error.field, "limits.wall_time_ms");
        assert!(error.message.contains("from 1 to 1000 ms"), "{error}");
    }
}
