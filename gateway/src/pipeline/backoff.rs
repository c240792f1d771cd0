//! Messages the pipeline could not finish (the host could not run their
//! plugins, their task panicked, or their outcome could not be written) wait
//! before the scans take them again: 1 s after the first failure, doubling
//! to at most 5 minutes. Without this a message whose processing fails at
//! once is re-run in a hot loop, and enough of them, oldest first, keep
//! every other message waiting.
//!
//! The wait itself is the message's lease in the store's queue, moved to
//! lapse when the wait ends (`Store::defer_pipeline`), so every node honours
//! it; the count of failures in a row is in memory only: after a restart a
//! message backs off from 1 s again.

use std::collections::HashMap;

/// The first wait, in milliseconds.
const FIRST_MILLIS: u64 = 1_000;
/// The longest wait, in milliseconds.
const MAX_MILLIS: u64 = 300_000;

/// Failed messages and how often each failed in a row.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    /// Message id → failures in a row.
    failures: HashMap<String, u32>,
}

impl Backoff {
    /// Records a failure; returns how long (ms) the message now waits.
    pub(super) fn failed(&mut self, id: &str) -> u64 {
        let failures = self.failures.entry(id.to_owned()).or_insert(0);
        *failures = failures.saturating_add(1);
        FIRST_MILLIS
            .saturating_mul(1 << (*failures - 1).min(16))
            .min(MAX_MILLIS)
    }

    /// Forgets a message that completed.
    pub(super) fn completed(&mut self, id: &str) {
        self.failures.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_second_up_to_five_minutes_and_end_on_completion() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..12).map(|_| backoff.failed("m")).collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map(|s| s * 1_000)
        );
        assert_eq!(backoff.failed("other"), 1_000, "counted per message");
        backoff.completed("m");
        assert_eq!(backoff.failed("m"), 1_000, "a new run of failures");
    }
}
