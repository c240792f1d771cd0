//! Per-invocation limits, and the memory limiter that enforces one of them.

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
