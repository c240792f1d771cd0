//! Messages the pipeline could not finish (the host could not run their
//! plugins, their task panicked, or their outcome could not be written) wait
//! before the scans take them again: 1 s after the first failure, doubling
//! to at most 5 minutes. Without this a message whose processing fails at
//! once is re-run in a hot loop, and enough of them, oldest first, keep
//! every other message waiting.
//!
//! In memory only: after a restart each is tried once at once, then backs
//! off again.

use std::collections::HashMap;

/// The first wait, in milliseconds.
const FIRST_MILLIS: u64 = 1_000;
/// The longest wait, in milliseconds.
const MAX_MILLIS: u64 = 300_000;

/// Failed messages and when each may run again.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    /// Message id → (failures in a row, Unix ms before which it waits).
    waiting: HashMap<String, (u32, u64)>,
}

impl Backoff {
    /// Records a failure at `now`; returns how long the message now waits.
    pub(super) fn failed(&mut self, id: &str, now: u64) -> u64 {
        let entry = self.waiting.entry(id.to_owned()).or_insert((0, 0));
        entry.0 = entry.0.saturating_add(1);
        let wait = FIRST_MILLIS
            .saturating_mul(1 << (entry.0 - 1).min(16))
            .min(MAX_MILLIS);
        entry.1 = now.saturating_add(wait);
        wait
    }

    /// Forgets a message that completed.
    pub(super) fn completed(&mut self, id: &str) {
        self.waiting.remove(id);
    }

    /// Whether a message must still wait at `now`.
    pub(super) fn holds(&self, id: &str, now: u64) -> bool {
        self.waiting.get(id).is_some_and(|(_, until)| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_second_up_to_five_minutes_and_end_on_completion() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..12).map(|_| backoff.failed("m", 0)).collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map(|s| s * 1_000)
        );
        assert!(backoff.holds("m", 299_999));
        assert!(!backoff.holds("m", 300_000));
        assert!(!backoff.holds("other", 0));
        backoff.completed("m");
        assert!(!backoff.holds("m", 0));
        assert_eq!(backoff.failed("m", 10), 1_000, "a new run of failures");
    }
}
