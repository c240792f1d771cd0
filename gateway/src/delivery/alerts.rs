//! Operator alerts: events the gateway sends to the operator endpoint
//! (`[admin] operator_endpoint`) about delivery, beside `endpoint.disabled`
//! (`control.rs`): `delivery.dead` (a delivery ran out of retries or got an
//! answer that is not retried), `endpoint.circuit_opened` and
//! `endpoint.recovered` (a node's breaker opened, and a probe closed it),
//! and `endpoint.failure_rate` (an endpoint's `failure_alert` threshold was
//! crossed in a window). Each is a message from
//! [`super::OPERATOR_SOURCE`] under an idempotency key naming its
//! occurrence, so it is stored at most once however often it is raised;
//! nothing is sent about the operator endpoint itself, which would loop.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::OPERATOR_SOURCE;
use super::worker::Deliverer;
use crate::config::FailureAlert;
use crate::store::NewMessage;

/// How long an alert's key is remembered: the same occurrence raised again
/// within it (by a retry, or another node) is stored once.
pub(super) const ALERT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Something the operator is told about.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Alert {
    /// A delivery was dead-lettered after its attempts.
    DeliveryDead {
        /// The delivery.
        delivery_id: String,
        /// Its message.
        message_id: String,
        /// Its endpoint.
        endpoint: String,
        /// The event type it carried.
        event_type: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's HTTP status, if it got one.
        last_status: Option<u16>,
        /// Why it is dead.
        reason: String,
    },
    /// A node's breaker opened for an endpoint.
    CircuitOpened {
        /// The endpoint.
        endpoint: String,
        /// Failed attempts in a row.
        failures: u32,
        /// When the first probe may go (Unix ms).
        probe_at: Option<u64>,
    },
    /// A probe closed the endpoint's open circuit.
    Recovered {
        /// The endpoint.
        endpoint: String,
    },
    /// The endpoint's failure share crossed its `failure_alert.rate`.
    FailureRate {
        /// The endpoint.
        endpoint: String,
        /// The window's counts.
        counts: WindowCounts,
        /// The configured threshold.
        threshold: f64,
    },
}

impl Alert {
    /// The endpoint the alert is about.
    fn endpoint(&self) -> &str {
        match self {
            Self::DeliveryDead { endpoint, .. }
            | Self::CircuitOpened { endpoint, .. }
            | Self::Recovered { endpoint }
            | Self::FailureRate { endpoint, .. } => endpoint,
        }
    }

    /// The event type, its data, and the key naming this occurrence
    /// (raised on `node` at `now`).
    fn event(&self, node: &str, now: u64) -> (&'static str, Value, String) {
        match self {
            Self::DeliveryDead {
                delivery_id,
                message_id,
                endpoint,
                event_type,
                attempts,
                last_status,
                reason,
            } => (
                "delivery.dead",
                json!({
                    "delivery_id": delivery_id, "message_id": message_id,
                    "endpoint": endpoint, "event_type": event_type,
                    "attempts": attempts, "last_status": last_status, "reason": reason,
                }),
                format!("delivery.dead/{delivery_id}/{attempts}"),
            ),
            Self::CircuitOpened {
                endpoint,
                failures,
                probe_at,
            } => (
                "endpoint.circuit_opened",
                json!({
                    "endpoint": endpoint, "failures": failures, "node": node,
                    "next_probe_at": probe_at.map(rfc3339),
                }),
                format!("endpoint.circuit_opened/{endpoint}/{node}/{now}"),
            ),
            Self::Recovered { endpoint } => (
                "endpoint.recovered",
                json!({"endpoint": endpoint, "node": node, "recovered_at": rfc3339(now)}),
                format!("endpoint.recovered/{endpoint}/{node}/{now}"),
            ),
            Self::FailureRate {
                endpoint,
                counts,
                threshold,
            } => (
                "endpoint.failure_rate",
                json!({
                    "endpoint": endpoint, "node": node,
                    "window_start": rfc3339(counts.start),
                    "attempts": counts.attempts, "failed": counts.failed,
                    "failure_rate": f64::from(counts.failed) / f64::from(counts.attempts.max(1)),
                    "threshold": threshold,
                }),
                format!("endpoint.failure_rate/{endpoint}/{node}/{}", counts.start),
            ),
        }
    }
}

/// RFC 3339 with milliseconds, from Unix milliseconds.
pub(super) fn rfc3339(at: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(at)).to_string()
}

/// An operator event as a message: `{type, timestamp, data}`, stored under
/// `key`.
pub(super) fn operator_message(event_type: &str, now: u64, data: Value, key: String) -> NewMessage {
    let body = json!({"type": event_type, "timestamp": rfc3339(now), "data": data});
    NewMessage {
        source: OPERATOR_SOURCE.into(),
        event_type: event_type.into(),
        received_at: now,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&body).unwrap_or_default(),
        idempotency_key: Some(key),
        target_url: None,
    }
}

/// A window's attempt counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WindowCounts {
    /// When the window began (Unix ms).
    pub start: u64,
    /// Attempts in it.
    pub attempts: u32,
    /// Failed attempts in it.
    pub failed: u32,
}

/// Consecutive windows of an endpoint's attempts, for its failure alert.
/// Pure: time is an argument.
#[derive(Debug, Default)]
pub(super) struct FailureWindow {
    counts: WindowCounts,
    alerted: bool,
}

impl FailureWindow {
    /// Counts an attempt at `now`; the window's counts the first time in a
    /// window that its failure share reaches the alert's rate with enough
    /// attempts.
    pub(super) fn count(
        &mut self,
        now: u64,
        failed: bool,
        alert: &FailureAlert,
    ) -> Option<WindowCounts> {
        let window = u64::try_from(alert.window.as_millis()).unwrap_or(u64::MAX);
        if self.counts.attempts == 0
            || now < self.counts.start
            || now.saturating_sub(self.counts.start) >= window
        {
            *self = Self {
                counts: WindowCounts {
                    start: now,
                    ..WindowCounts::default()
                },
                alerted: false,
            };
        }
        let counts = &mut self.counts;
        counts.attempts = counts.attempts.saturating_add(1);
        counts.failed = counts.failed.saturating_add(u32::from(failed));
        let share = f64::from(counts.failed) / f64::from(counts.attempts);
        if self.alerted || counts.attempts < alert.min_attempts || share < alert.rate {
            return None;
        }
        self.alerted = true;
        Some(*counts)
    }
}

impl Deliverer {
    /// Stores `alert` for the operator endpoint, if one is configured and
    /// the alert is not about it. A failure to store it is logged: the
    /// attempt it came from is recorded already.
    pub(super) async fn alert(&self, alert: Alert, now: u64) {
        let operator = self.registry.snapshot().operator_endpoint.clone();
        let Some(operator) = operator else { return };
        if operator == alert.endpoint() {
            tracing::warn!(?alert, "not alerting the operator endpoint about itself");
            return;
        }
        let (event_type, data, key) = alert.event(&self.claims.node, now);
        let message = operator_message(event_type, now, data, key);
        if let Err(error) = self
            .inbox
            .ingest(self.store.as_ref(), message, ALERT_WINDOW)
            .await
        {
            tracing::warn!(%error, event_type, "could not store an operator alert");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rate: f64, min_attempts: u32) -> FailureAlert {
        FailureAlert {
            rate,
            window: Duration::from_secs(60),
            min_attempts,
        }
    }

    #[test]
    fn the_failure_share_alerts_once_per_window_with_enough_attempts() {
        let half = alert(0.5, 4);
        let mut window = FailureWindow::default();
        // Three failures of three: too few attempts yet.
        for at in [1_000, 2_000, 3_000] {
            assert_eq!(window.count(at, true, &half), None);
        }
        let fourth = window.count(4_000, false, &half);
        assert_eq!(
            fourth,
            Some(WindowCounts {
                start: 1_000,
                attempts: 4,
                failed: 3
            })
        );
        // Once per window, however many more fail.
        assert_eq!(window.count(5_000, true, &half), None);
        // The next window counts afresh.
        for at in [61_000, 62_000, 63_000] {
            assert_eq!(window.count(at, false, &half), None);
        }
        assert_eq!(window.count(64_000, true, &half), None, "1 of 4 failed");
        assert_eq!(window.count(65_000, true, &half), None, "2 of 5");
        assert!(window.count(66_000, true, &half).is_some(), "3 of 6");
    }

    #[test]
    fn alerts_name_their_occurrence() {
        let dead = Alert::DeliveryDead {
            delivery_id: "dlv_1".into(),
            message_id: "msg_1".into(),
            endpoint: "crm".into(),
            event_type: "call.completed".into(),
            attempts: 4,
            last_status: Some(500),
            reason: "retries exhausted".into(),
        };
        let (event_type, data, key) = dead.event("node-a", 1_000);
        assert_eq!(event_type, "delivery.dead");
        assert_eq!(data["last_status"], 500);
        assert_eq!(key, "delivery.dead/dlv_1/4", "the same on every node");
        let opened = Alert::CircuitOpened {
            endpoint: "crm".into(),
            failures: 5,
            probe_at: Some(61_000),
        };
        let (_, data, key) = opened.event("node-a", 1_000);
        assert_eq!(data["next_probe_at"], "1970-01-01T00:01:01.000Z");
        assert_eq!(key, "endpoint.circuit_opened/crm/node-a/1000");
    }
}
