//! What follows a sent request, shared by single attempts and batches:
//! the breaker learns the answer and the endpoint is disabled if it must be
//! ([`Deliverer::judge`], once per request), each delivery records its
//! attempt and schedules its next step ([`Deliverer::conclude`], once per
//! delivery), and the circuit's and failure rate's alerts are raised
//! ([`Deliverer::after`], once per request). Also the other ways an attempt
//! ends: held back, given up on, or outrun by a newer claim.

use std::time::Duration;

use super::alerts::Alert;
use super::attempt::Response;
use super::verdict::{self, Judged, Next};
use super::worker::Deliverer;
use super::{Endpoint, Recipient, Recorded};
use crate::store::{Attempt, Delivery, NextStep};

impl Deliverer {
    /// The breaker learns a request's answer, and the endpoint is disabled
    /// if it answered 410 Gone or has failed for too long; the attempt as
    /// every delivery it carried records it, with one jitter draw.
    ///
    /// Not from a per-message target: the message's sender chose that URL,
    /// and its answers must not open the endpoint's circuit or disable it.
    pub(super) async fn judge(
        &self,
        endpoint: &Endpoint,
        recipient: Recipient,
        response: Response,
        now: u64,
        latency: Duration,
    ) -> Result<(Judged, Recorded), crate::store::Error> {
        let success =
            matches!(&response, Response::Status { code, .. } if (200..300).contains(code));
        // First, so an admitted probe is always accounted for.
        let recorded = match recipient {
            Recipient::Endpoint => endpoint.state.record(now, success, &endpoint.breaker),
            Recipient::MessageTarget => endpoint.state.record_unjudged(),
        };
        let (record, retry_after) = verdict::record(response, now, latency);
        let jitter = if endpoint.jitter {
            rand::random_range(-1.0..=1.0)
        } else {
            0.0
        };
        if recipient == Recipient::Endpoint && record.status == Some(410) {
            self.disable(&endpoint.name, "answered 410 Gone").await?;
        }
        if let Some(reason) = &recorded.disable {
            self.disable(&endpoint.name, reason).await?;
        }
        let judged = Judged {
            record,
            retry_after,
            jitter,
            latency,
        };
        Ok((judged, recorded))
    }

    /// Records `judged` as `delivery`'s attempt and its next step, and
    /// tells the operator if its retries ran out. Returns when it is due
    /// again, if it is.
    pub(super) async fn conclude(
        &self,
        endpoint: &Endpoint,
        delivery: &Delivery,
        token: u64,
        recipient: Recipient,
        judged: Judged,
    ) -> Result<Option<u64>, crate::store::Error> {
        let Judged {
            record,
            retry_after,
            jitter,
            latency,
        } = judged;
        let attempts_made = u32::try_from(delivery.attempts.len() + 1).unwrap_or(u32::MAX);
        let mut exhausted = false;
        let next = match verdict::next(
            &record,
            attempts_made,
            &endpoint.policy,
            jitter,
            retry_after,
        ) {
            Next::Delivered => NextStep::Delivered,
            Next::RetryAt(at) => NextStep::RetryAt(at),
            Next::Exhausted(reason) => {
                exhausted = true;
                NextStep::Dead(reason)
            }
            Next::Gone if recipient == Recipient::MessageTarget => NextStep::Dead(format!(
                "the message's target {} answered 410 Gone",
                delivery.plan.url.as_deref().unwrap_or_default()
            )),
            Next::Gone => NextStep::Dead(format!(
                "endpoint {} answered 410 Gone and was disabled",
                endpoint.name
            )),
        };
        let outcome = match next {
            NextStep::Delivered => "delivered",
            NextStep::RetryAt(_) => "retry",
            NextStep::Dead(_) => "dead",
        };
        self.metrics.attempt(&endpoint.name, outcome, latency);
        tracing::debug!(delivery_id = %delivery.id, endpoint = %endpoint.name, status = ?record.status, ?next, "attempt");
        let again = match next {
            NextStep::RetryAt(at) => Some(at),
            NextStep::Delivered | NextStep::Dead(_) => None,
        };
        // Retries ran out: the operator hears of it. A 410 disables the
        // endpoint instead, and `endpoint.disabled` says so once.
        let dead = match &next {
            NextStep::Dead(reason) if exhausted => Some(Alert::DeliveryDead {
                delivery_id: delivery.id.clone(),
                message_id: delivery.message_id.clone(),
                endpoint: endpoint.name.clone(),
                event_type: delivery.plan.event_type.clone(),
                attempts: attempts_made,
                last_status: record.status,
                reason: reason.clone(),
            }),
            NextStep::Delivered | NextStep::RetryAt(_) | NextStep::Dead(_) => None,
        };
        let at = record.at;
        self.finish(&delivery.id);
        let recorded = self
            .store
            .record_attempt(&delivery.id, token, record, next)
            .await?;
        if recorded.is_none() {
            self.stale(delivery, &endpoint.name);
            return Ok(None);
        }
        if let Some(dead) = dead {
            self.alert(dead, at).await;
        }
        Ok(again)
    }

    /// What a request's answer means for its endpoint beyond its
    /// deliveries: deliveries held back are released when a probe closed
    /// the circuit, and the operator hears of the circuit opening or
    /// closing and of the failure rate crossing its threshold.
    pub(super) async fn after(
        &self,
        endpoint: &Endpoint,
        recipient: Recipient,
        recorded: &Recorded,
        success: bool,
        now: u64,
    ) -> Result<(), crate::store::Error> {
        if recorded.recovered {
            self.release_held(endpoint, now).await?;
        }
        // A per-message target's answers say nothing about the endpoint,
        // and a disabled endpoint has had its one event (`endpoint.disabled`).
        if recipient != Recipient::Endpoint || endpoint.state.disabled().is_some() {
            return Ok(());
        }
        let name = endpoint.name.clone();
        if recorded.opened {
            let breaker = endpoint.state.breaker();
            let opened = Alert::CircuitOpened {
                endpoint: name.clone(),
                failures: breaker.failures,
                probe_at: breaker.open_until,
            };
            self.alert(opened, now).await;
        }
        if recorded.recovered {
            self.alert(
                Alert::Recovered {
                    endpoint: name.clone(),
                },
                now,
            )
            .await;
        }
        if let Some(threshold) = &endpoint.failure_alert
            && let Some(counts) = endpoint.state.count_attempt(now, !success, threshold)
        {
            let crossed = Alert::FailureRate {
                endpoint: name,
                counts,
                threshold: threshold.rate,
            };
            self.alert(crossed, now).await;
        }
        Ok(())
    }

    /// The breaker or the rate limit held `delivery` back: it is due at
    /// `at`, with no attempt recorded.
    pub(super) async fn hold(
        &self,
        endpoint: &Endpoint,
        delivery: &Delivery,
        token: u64,
        at: u64,
    ) -> Result<Option<u64>, crate::store::Error> {
        if endpoint.state.breaker().open_until.is_some() {
            endpoint.state.held_by_breaker(&delivery.id);
        }
        self.finish(&delivery.id);
        if self
            .store
            .reschedule(&delivery.id, at, Some(token))
            .await?
            .is_none()
        {
            self.stale(delivery, &endpoint.name);
        }
        Ok(Some(at))
    }

    /// A probe closed `endpoint`'s circuit: the deliveries it held back are
    /// due now rather than at the next probe time.
    async fn release_held(&self, endpoint: &Endpoint, now: u64) -> Result<(), crate::store::Error> {
        let mut released = 0;
        for id in endpoint.state.take_held() {
            if self.in_flight.contains(&id) {
                continue;
            }
            let waiting = self.store.delivery(&id).await?.is_some_and(
                |d| matches!(d.state, crate::store::DeliveryState::Scheduled { at } if at > now),
            );
            if waiting {
                // Held back, so unclaimed: no token to match.
                self.store.reschedule(&id, now, None).await?;
                released += 1;
            }
        }
        if released > 0 {
            tracing::info!(endpoint = %endpoint.name, released, "circuit closed; held deliveries are due now");
            self.wake.notify_one();
        }
        Ok(())
    }

    async fn disable(&self, endpoint: &str, reason: &str) -> Result<(), crate::store::Error> {
        match self.disable_endpoint(endpoint, reason, true).await {
            Ok(_) => Ok(()),
            Err(super::Error::Store(e)) => Err(e),
            // The endpoint was deleted meanwhile: nothing to disable.
            Err(_) => Ok(()),
        }
    }

    /// An outcome the store refused: the claim lapsed and another node (or
    /// an operator's replay) took the delivery, whose outcome is theirs.
    pub(super) fn stale(&self, delivery: &Delivery, endpoint: &str) {
        tracing::warn!(delivery_id = %delivery.id, %endpoint, "attempt outcome dropped: its claim was taken over");
        self.metrics.stale_outcome(endpoint);
    }

    /// Dead-letters `delivery` without sending it, for `reason` (its
    /// endpoint is gone or disabled, its target refused).
    pub(super) async fn give_up(
        &self,
        delivery: &Delivery,
        token: u64,
        now: u64,
        reason: String,
    ) -> Result<Option<u64>, crate::store::Error> {
        tracing::warn!(delivery_id = %delivery.id, %reason, "delivery dead-lettered");
        let record = Attempt {
            at: now,
            status: None,
            latency_ms: 0,
            response_body: String::new(),
            error: Some(reason.clone()),
            batch: None,
        };
        self.finish(&delivery.id);
        let recorded = self
            .store
            .record_attempt(&delivery.id, token, record, NextStep::Dead(reason))
            .await?;
        if recorded.is_none() {
            self.stale(delivery, &delivery.plan.endpoint);
        }
        Ok(None)
    }
}
