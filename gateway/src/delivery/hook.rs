//! Hook calls: one attempt whose answer goes back to a caller that waits
//! for it (a source with `mode = "sync"`), and its record, a delivery that
//! is never retried.
//!
//! A hook call is signed like any delivery and waits for a slot of the
//! endpoint's concurrency, but the rate limit and the circuit breaker do
//! not hold it back (a caller waits, and would rather get the endpoint's
//! answer or an error at once), and its outcome does not count towards the
//! breaker.

use crate::clock::millis;

use super::attempt::{self, Answer};
use super::{Deliverer, Error, RESPONSE_BODY_LIMIT, Recipient};
use crate::store::{Attempt, Created, Holder, NextStep};
use crate::targets;

/// The largest answer relayed to a caller; a longer one fails the call.
pub const HOOK_RESPONSE_LIMIT: usize = 1 << 20;

/// What a hook call got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAnswer {
    /// The endpoint answered; this is relayed.
    Answered {
        /// Its status.
        status: u16,
        /// Its headers.
        headers: Vec<(String, String)>,
        /// Its body.
        body: Vec<u8>,
    },
    /// No answer by the deadline.
    TimedOut(String),
    /// No answer that can be relayed: refused, unreachable, too large.
    Failed(String),
}

/// A hook call and the attempt to record for it.
#[derive(Debug, Clone)]
pub struct HookCall {
    /// What the caller is answered from.
    pub answer: HookAnswer,
    /// The attempt as the delivery log keeps it.
    pub attempt: Attempt,
}

impl Deliverer {
    /// Calls `endpoint` with `body` for message `message_id`, signed as its
    /// deliveries are, and waits for its whole answer until `deadline` (or
    /// the endpoint's own timeout, if that comes first). With `target_url`
    /// (the message's own), that URL is called instead, with the endpoint's
    /// settings but not its static headers, as deliveries to message
    /// targets are. Errors: the endpoint does not exist, takes no
    /// deliveries, or the URL is refused.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call's parts, each used once"
    )]
    pub async fn call_hook(
        &self,
        endpoint: &str,
        target_url: Option<&str>,
        message_id: &str,
        body: Vec<u8>,
        extra: &[(String, String)],
        content_type: Option<&str>,
        deadline: tokio::time::Instant,
    ) -> Result<HookCall, Error> {
        self.takes_deliveries(endpoint)?;
        let endpoint = self.live(endpoint)?;
        let refused = |e: targets::TargetError| Error::TargetRefused(e.to_string());
        let (url, recipient) = match target_url {
            Some(raw) => (
                targets::check_url(raw, self.targets).map_err(refused)?,
                Recipient::MessageTarget,
            ),
            None => (endpoint.url.clone(), Recipient::Endpoint),
        };
        targets::resolve(&url, self.targets)
            .await
            .map_err(refused)?;
        let started = self.clock.now_millis();
        let slot = tokio::time::timeout_at(deadline, endpoint.state.slots.clone().acquire_owned());
        let Ok(Ok(_slot)) = slot.await else {
            let why = format!(
                "no slot of endpoint {} came free in time (it is at its max_in_flight)",
                endpoint.name
            );
            return Ok(HookCall {
                attempt: failed_attempt(started, 0, &why),
                answer: HookAnswer::TimedOut(why),
            });
        };
        let now = self.clock.now_millis();
        let timestamp = i64::try_from(now / 1000).unwrap_or(i64::MAX);
        let headers =
            endpoint.request_headers(recipient, message_id, timestamp, &body, extra, content_type);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let timeout = endpoint.timeout.min(left);
        let (answer, latency) = attempt::call(
            &self.client,
            &url,
            &headers,
            body,
            timeout,
            HOOK_RESPONSE_LIMIT,
        )
        .await;
        let latency_ms = millis(latency);
        self.metrics
            .attempt(&endpoint.name, hook_outcome(&answer), latency);
        let call = match answer {
            Answer::Status {
                code,
                headers,
                body,
            } => HookCall {
                attempt: Attempt {
                    at: now,
                    status: Some(code),
                    latency_ms,
                    response_body: kept(&body),
                    error: None,
                    batch: None,
                },
                answer: HookAnswer::Answered {
                    status: code,
                    headers,
                    body,
                },
            },
            Answer::TooLarge { code } => {
                let why = format!(
                    "the endpoint answered {code} with a body over {HOOK_RESPONSE_LIMIT} bytes, too large to relay"
                );
                HookCall {
                    attempt: Attempt {
                        at: now,
                        status: Some(code),
                        latency_ms,
                        response_body: String::new(),
                        error: Some(why.clone()),
                        batch: None,
                    },
                    answer: HookAnswer::Failed(why),
                }
            }
            Answer::TimedOut(why) => HookCall {
                attempt: failed_attempt(now, latency_ms, &why),
                answer: HookAnswer::TimedOut(why),
            },
            Answer::Failed(why) => HookCall {
                attempt: failed_attempt(now, latency_ms, &why),
                answer: HookAnswer::Failed(why),
            },
        };
        Ok(call)
    }

    /// Whom a hook call's delivery is created claimed for, at `now`: its
    /// attempt is recorded at once, under that claim, by
    /// [`Deliverer::record_hook`].
    pub fn hook_holder(&self, now: u64) -> Holder {
        self.holder(now)
    }

    /// Records a hook call's attempt on the delivery created for it
    /// (claimed for [`Deliverer::hook_holder`]), and ends it: delivered on a
    /// 2xx, otherwise dead, since a sync call is never retried.
    pub async fn record_hook(&self, created: &Created, call: &HookCall) -> Result<(), Error> {
        let (Some(delivery), Some(token)) = (created.deliveries.first(), created.token) else {
            return Ok(());
        };
        let next = match &call.answer {
            HookAnswer::Answered { status, .. } if (200..300).contains(status) => {
                NextStep::Delivered
            }
            HookAnswer::Answered { status, .. } => NextStep::Dead(format!(
                "the hook answered {status}; a sync call is not retried"
            )),
            HookAnswer::TimedOut(why) | HookAnswer::Failed(why) => {
                NextStep::Dead(format!("{why}; a sync call is not retried"))
            }
        };
        self.store
            .record_attempt(&delivery.id, token, call.attempt.clone(), next)
            .await?;
        Ok(())
    }
}

fn hook_outcome(answer: &Answer) -> &'static str {
    match answer {
        Answer::Status { code, .. } if (200..300).contains(code) => "delivered",
        _ => "dead",
    }
}

fn failed_attempt(at: u64, latency_ms: u64, why: &str) -> Attempt {
    Attempt {
        at,
        status: None,
        latency_ms,
        response_body: String::new(),
        error: Some(why.to_owned()),
        batch: None,
    }
}

/// The start of a body, as the attempt log keeps it.
fn kept(body: &[u8]) -> String {
    let end = body.len().min(RESPONSE_BODY_LIMIT);
    String::from_utf8_lossy(&body[..end]).into_owned()
}
