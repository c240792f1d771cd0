//! Test events: one signed request to an endpoint now, answered back with
//! the attempt (`POST /v1/endpoints/{name}/test`). Nothing is stored,
//! retried, or counted against the endpoint's breaker.

use super::Recipient;
use super::attempt;
use super::verdict;
use super::worker::Deliverer;
use crate::store::Attempt;
use crate::targets;

/// Why a test event could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// No such endpoint.
    NotFound,
    /// The endpoint's URL is refused by the target rules.
    Target(String),
}

impl Deliverer {
    /// Sends one signed test request with `body` to an endpoint now and
    /// returns the message id it was signed with and the attempt. Nothing is
    /// stored, retried, or counted against the endpoint's breaker.
    pub async fn send_test(
        &self,
        endpoint: &str,
        body: &[u8],
    ) -> Result<(String, Attempt), TestError> {
        let endpoint = self
            .live
            .current()
            .get(endpoint)
            .cloned()
            .ok_or(TestError::NotFound)?;
        targets::resolve(&endpoint.url, self.targets)
            .await
            .map_err(|e| TestError::Target(e.to_string()))?;
        let now = self.clock.now_millis();
        let message_id = format!("msg_test_{}", ulid::Ulid::new());
        let timestamp = i64::try_from(now / 1000).unwrap_or(i64::MAX);
        let headers =
            endpoint.request_headers(Recipient::Endpoint, &message_id, timestamp, body, &[], None);
        let (response, latency) = attempt::send(
            &self.client,
            &endpoint.url,
            &headers,
            body.to_vec(),
            endpoint.timeout,
            now,
        )
        .await;
        let (attempt, _) = verdict::record(response, now, latency);
        Ok((message_id, attempt))
    }
}
