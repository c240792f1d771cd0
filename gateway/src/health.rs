//! Whether the store takes writes: ingest reports every write's outcome
//! here, and `/readyz` and `/healthz` read it. While writes fail (a full
//! disk, say) ingest answers 503 `storage_unavailable` and `/readyz` 503,
//! and a readiness check tries a small durable write itself, so a node a
//! load balancer took out of rotation (and so gets no ingest) still notices
//! when the store is writable again.
//!
//! A leaf: it knows nothing of HTTP or of any engine.

use std::sync::{Mutex, PoisonError};

/// Since when, and why, writes fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// Unix ms of the first failure of this run of failures.
    pub since: u64,
    /// The last failure.
    pub error: String,
}

/// The store's write health, shared by ingest and the health routes.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: Mutex<Option<Failing>>,
}

impl StoreHealth {
    /// A write succeeded.
    pub fn ok(&self) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(was) = failing.take() {
            tracing::info!(since = was.since, "the store takes writes again");
        }
    }

    /// A write failed at `now`.
    pub fn failed(&self, now: u64, error: &dyn std::fmt::Display) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        let error = error.to_string();
        match failing.as_mut() {
            Some(run) => run.error = error,
            None => {
                tracing::error!(%error, "the store does not take writes; ingest answers 503");
                *failing = Some(Failing { since: now, error });
            }
        }
    }

    /// Whether writes fail, since when and why.
    pub fn failing(&self) -> Option<Failing> {
        self.failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_keeps_its_start_and_a_success_ends_it() {
        let health = StoreHealth::default();
        assert_eq!(health.failing(), None);
        health.failed(10, &"no space left on device");
        health.failed(20, &"still no space");
        assert_eq!(
            health.failing(),
            Some(Failing {
                since: 10,
                error: "still no space".into()
            })
        );
        health.ok();
        assert_eq!(health.failing(), None);
    }
}
