//! Test events as providers offer them (`POST /v1/endpoints/{name}/test`):
//! a message from the reserved source [`TEST_SOURCE`] that names one
//! endpoint, which the pipeline routes to that endpoint alone. It is stored,
//! signed, logged (its delivery marked `test`), retried and dead-lettered
//! like any other, on whichever node takes it; the caller gets its first
//! attempt back. Without a payload of its own it carries the provider
//! sample of its event type, from the fixtures compiled in.

use std::time::Duration;

use super::Error;
use super::worker::Deliverer;
use crate::store::{Attempt, NewMessage};
use crate::targets;

/// The source test events are stored under; no configured source can have
/// this name.
pub const TEST_SOURCE: &str = "(test)";

/// The stored request header that names a test event's endpoint.
pub const TEST_ENDPOINT_HEADER: &str = "hookgate-test-endpoint";

/// The header a test event's request carries (`true`), so a receiver can
/// tell it from a real event; its delivery is shown as a test.
pub const TEST_HEADER: &str = "hookgate-test";

/// How much longer than the endpoint's timeout the caller waits for the
/// first attempt: it may be taken by another node, or wait for a slot.
const WAIT_MARGIN: Duration = Duration::from_secs(5);

/// How often the store is read for the first attempt while waiting.
const POLL: Duration = Duration::from_millis(20);

/// A provider event's sample payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The provider whose document it comes from.
    pub provider: &'static str,
    /// The event type.
    pub event_type: &'static str,
    /// The JSON payload.
    pub payload: &'static str,
}

macro_rules! samples {
    ($($provider:literal / $event:literal),* $(,)?) => {
        &[$(Sample {
            provider: $provider,
            event_type: $event,
            payload: include_str!(concat!(
                "../../../tests/fixtures/", $provider, "/", $event, ".json"
            )),
        }),*]
    };
}

/// Every provider event with a sample, from `tests/fixtures/`.
pub const SAMPLES: &[Sample] = samples![
    "roark" / "call.analysis.completed",
    "roark" / "call.analysis.failed",
    "callcov" / "analysis.completed",
    "callcov" / "analysis.failed",
    "callintel" / "call.completed",
    "callintel" / "call.transcript_ready",
    "callintel" / "batch.completed",
    "voicekit" / "call_started",
    "voicekit" / "call_ended",
    "voicekit" / "call_finalized",
];

/// The sample of `event_type`, if a provider document has one.
pub fn sample(event_type: &str) -> Option<&'static Sample> {
    SAMPLES.iter().find(|s| s.event_type == event_type)
}

/// A test event sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSent {
    /// Its message.
    pub message_id: String,
    /// Its delivery, once the pipeline created it.
    pub delivery_id: Option<String>,
    /// Its first attempt, if it was made while the caller waited.
    pub attempt: Option<Attempt>,
}

impl Deliverer {
    /// Stores a test event of `event_type` with `body` for `endpoint` and
    /// waits, up to the endpoint's timeout and a margin, for its first
    /// attempt. The endpoint must take deliveries and its URL pass the
    /// target rules.
    pub async fn send_test(
        &self,
        endpoint: &str,
        event_type: &str,
        body: Vec<u8>,
    ) -> Result<TestSent, Error> {
        self.takes_deliveries(endpoint)?;
        let found = self.live(endpoint)?;
        targets::resolve(&found.url, self.targets)
            .await
            .map_err(|e| Error::TargetRefused(e.to_string()))?;
        let message = NewMessage {
            source: TEST_SOURCE.into(),
            event_type: event_type.to_owned(),
            received_at: self.clock.now_millis(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (TEST_ENDPOINT_HEADER.into(), endpoint.to_owned()),
            ],
            body,
            idempotency_key: None,
            target_url: None,
        };
        let ingested = self
            .inbox
            .ingest(self.store.as_ref(), message, Duration::ZERO)
            .await?;
        let message_id = ingested.id().to_owned();
        let deadline = tokio::time::Instant::now() + found.timeout + WAIT_MARGIN;
        loop {
            let delivery = self.store.deliveries_of(&message_id).await?.pop();
            let attempt = delivery.as_ref().and_then(|d| d.attempts.first().cloned());
            if attempt.is_some() || tokio::time::Instant::now() >= deadline {
                return Ok(TestSent {
                    message_id,
                    delivery_id: delivery.map(|d| d.id),
                    attempt,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_json_of_its_providers_event() {
        for sample in SAMPLES {
            let value: serde_json::Value =
                serde_json::from_str(sample.payload).expect("sample is JSON");
            let named = ["/event", "/event_type"]
                .iter()
                .find_map(|p| value.pointer(p).and_then(|v| v.as_str()));
            if let Some(named) = named {
                assert_eq!(named, sample.event_type, "{}", sample.provider);
            }
        }
        assert_eq!(
            sample("call_finalized").map(|s| s.provider),
            Some("voicekit")
        );
        assert_eq!(sample("no.such.event"), None);
    }
}
