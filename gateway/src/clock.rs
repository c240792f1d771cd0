//! Wall time for the worker loops, in Unix milliseconds, derived from
//! tokio's clock: when a test pauses and advances tokio time, this clock
//! follows, so retries and backoff are tested without waiting.
//!
//! Only worker loops read it; the pure cores (signing, retry policy) take
//! the time as an argument.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall clock anchored at creation and advanced by tokio's clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Unix milliseconds at `anchor`.
    base: u64,
    /// tokio's instant when the clock was created.
    anchor: tokio::time::Instant,
}

impl Clock {
    /// A clock reading the current time now. Needs a tokio runtime.
    pub fn new() -> Self {
        Self {
            base: system_millis(),
            anchor: tokio::time::Instant::now(),
        }
    }

    /// Unix milliseconds now.
    pub fn now_millis(&self) -> u64 {
        let elapsed = self.anchor.elapsed().as_millis();
        self.base
            .saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }
}

/// Unix milliseconds now as the system reports it, which is what ingest
/// stamps messages with: unlike [`Clock`], it follows the wall clock's
/// corrections, and tokio's paused time does not stop it.
pub fn system_millis() -> u64 {
    #[allow(clippy::disallowed_methods, reason = "the one wall-clock read")]
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
