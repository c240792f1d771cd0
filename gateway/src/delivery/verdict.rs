//! What an attempt's answer means, as a pure function: the attempt as it is
//! recorded, and what comes next (delivered, retry at a time, gone, or dead
//! after the last retry). The worker (`worker.rs`) does the IO around it;
//! test events (`test_event.rs`) use the record alone.
//!
//! Pure: the time, the jitter draw and the attempt count are arguments.

use std::time::Duration;

use super::attempt::Response;
use super::policy::RetryPolicy;
use crate::store::Attempt;

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// A 2xx: done.
    Delivered,
    /// Try again at this time (Unix ms).
    RetryAt(u64),
    /// 410 Gone: the endpoint is to be disabled and the delivery is dead.
    Gone,
    /// No retries left: dead, for this reason.
    Exhausted(String),
}

/// A request's answer as each delivery it carried records it: the
/// attempt, the answer's `Retry-After`, the jitter draw its retry uses
/// (one per request, so a batch's members are retried together) and how
/// long it took.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    /// The attempt as recorded.
    pub(crate) record: Attempt,
    /// The answer's `Retry-After`.
    pub(crate) retry_after: Option<Duration>,
    /// In `-1.0..=1.0`; 0 without jitter.
    pub(crate) jitter: f64,
    /// How long the request took.
    pub(crate) latency: Duration,
}

impl Judged {
    /// Whether the answer was a 2xx.
    pub(crate) fn success(&self) -> bool {
        self.record
            .status
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// The record of an attempt made at `now` that took `latency`.
pub(crate) fn record(
    response: Response,
    now: u64,
    latency: Duration,
) -> (Attempt, Option<Duration>) {
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    match response {
        Response::Status {
            code,
            body,
            retry_after,
        } => (
            Attempt {
                at: now,
                status: Some(code),
                latency_ms,
                response_body: body,
                error: None,
                batch: None,
            },
            retry_after,
        ),
        Response::Failed(error) => (
            Attempt {
                at: now,
                status: None,
                latency_ms,
                response_body: String::new(),
                error: Some(error),
                batch: None,
            },
            None,
        ),
    }
}

/// What follows the `attempts`-th attempt, recorded as `attempt`, under
/// `policy`, with a jitter draw in `-1.0..=1.0` and the answer's
/// `Retry-After`.
pub(crate) fn next(
    attempt: &Attempt,
    attempts: u32,
    policy: &RetryPolicy,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Next {
    let last = match (attempt.status, &attempt.error) {
        (Some(code), _) if (200..300).contains(&code) => return Next::Delivered,
        (Some(410), _) => return Next::Gone,
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_owned(),
    };
    match policy.next_delay(attempts, jitter, retry_after) {
        Some(delay) => Next::RetryAt(
            attempt
                .at
                .saturating_add(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
        ),
        None => Next::Exhausted(format!(
            "gave up after {attempts} attempts; the last: {last}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::Schedule(vec![Duration::from_secs(60), Duration::from_secs(600)])
    }

    fn answered(code: u16, retry_after: Option<Duration>) -> (Attempt, Option<Duration>) {
        record(
            Response::Status {
                code,
                body: "b".into(),
                retry_after,
            },
            1_000,
            Duration::from_millis(7),
        )
    }

    #[test]
    fn a_2xx_is_delivered_and_a_410_is_gone_whatever_the_retries_left() {
        for code in [200, 204, 299] {
            let (attempt, _) = answered(code, None);
            assert_eq!(next(&attempt, 1, &policy(), 0.0, None), Next::Delivered);
        }
        let (attempt, _) = answered(410, None);
        assert_eq!(next(&attempt, 1, &policy(), 0.0, None), Next::Gone);
        assert_eq!(attempt.latency_ms, 7);
        assert_eq!(attempt.status, Some(410));
    }

    #[test]
    fn other_answers_and_failures_retry_on_the_schedule_then_are_exhausted() {
        let (attempt, after) = answered(500, None);
        assert_eq!(after, None);
        assert_eq!(
            next(&attempt, 1, &policy(), 0.0, None),
            Next::RetryAt(61_000)
        );
        assert_eq!(
            next(&attempt, 2, &policy(), 0.0, None),
            Next::RetryAt(601_000)
        );
        assert_eq!(
            next(&attempt, 3, &policy(), 0.0, None),
            Next::Exhausted("gave up after 3 attempts; the last: HTTP 500".into())
        );
        let (failed, _) = record(
            Response::Failed("cannot connect: refused".into()),
            1_000,
            Duration::ZERO,
        );
        assert_eq!(failed.error.as_deref(), Some("cannot connect: refused"));
        assert_eq!(
            next(&failed, 3, &policy(), 0.0, None),
            Next::Exhausted("gave up after 3 attempts; the last: cannot connect: refused".into())
        );
    }

    #[test]
    fn retry_after_is_passed_to_the_policy() {
        let (attempt, after) = answered(429, Some(Duration::from_secs(300)));
        assert_eq!(after, Some(Duration::from_secs(300)));
        assert_eq!(
            next(&attempt, 1, &policy(), 0.0, after),
            Next::RetryAt(301_000)
        );
    }
}
