//! `GET /v1/stats/deliveries`: delivery statistics per endpoint and in
//! total over a window, computed from the stored delivery log, so they
//! survive restarts and every node of a cluster answers the same.
//!
//! The window selects deliveries by creation time (as the delivery log's
//! `since`/`until` do); their attempts are counted in time buckets by when
//! they were made. Statuses are the deliveries' current ones.

use crate::clock::millis;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body;
use super::{AdminState, ApiError, ErrorBody};
use crate::store::{Delivery, DeliveryQuery, DeliveryStatusKind};

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new().routes(routes!(delivery_stats))
}

/// Deliveries read per page of the scan.
const PAGE: usize = 1000;
/// Deliveries read at most for one answer; past it `complete` is false.
const MAX_SCANNED: usize = 200_000;
/// Buckets in one answer at most.
const MAX_BUCKETS: u64 = 1000;
/// The window when `since` is not given: the last hour.
const DEFAULT_WINDOW: u64 = 3_600_000;

/// What to count.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsParams {
    /// Only this endpoint.
    endpoint: Option<String>,
    /// Deliveries created at or after (Unix ms or RFC 3339); default an
    /// hour before `until`.
    #[param(schema_with = body::time_schema)]
    since: Option<String>,
    /// Deliveries created before (Unix ms or RFC 3339); default now.
    #[param(schema_with = body::time_schema)]
    until: Option<String>,
    /// The width of a bucket (`5m`, `1h`); default a twelfth of the
    /// window, at least a second; at most 1000 buckets.
    #[param(value_type = Option<String>, example = "5m")]
    bucket: Option<String>,
}

/// Delivery statistics over a window.
#[derive(Debug, Serialize, ToSchema)]
struct DeliveryStats {
    /// The window's start (Unix ms).
    since: u64,
    /// The window's end (Unix ms).
    until: u64,
    /// The width of each bucket, in milliseconds.
    bucket_ms: u64,
    /// False if the window held more deliveries than one answer reads
    /// (200,000): the newest were counted.
    complete: bool,
    /// What waits now, whatever the window: the store's queues.
    queue: Queue,
    /// Every endpoint's together.
    total: Counts,
    /// Per endpoint, by name.
    endpoints: Vec<EndpointCounts>,
}

/// What waits in the store now.
#[derive(Debug, Serialize, ToSchema)]
struct Queue {
    /// Messages waiting for the plugin pipeline.
    pipeline: u64,
    /// Deliveries in the schedule: waiting for their first attempt or a
    /// retry, or being attempted.
    scheduled: u64,
    /// When the earliest scheduled delivery is due (Unix ms); absent when
    /// none is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_due_at: Option<u64>,
    /// How long the earliest due delivery has waited past its time, in
    /// milliseconds (0 when none is overdue): how far delivery lags.
    oldest_due_ms: u64,
}

/// One endpoint's statistics.
#[derive(Debug, Serialize, ToSchema)]
struct EndpointCounts {
    /// The endpoint.
    endpoint: String,
    /// Its counts.
    #[serde(flatten)]
    counts: Counts,
}

/// Deliveries by status, and their attempts in all and per bucket.
#[derive(Debug, Default, Serialize, ToSchema)]
struct Counts {
    /// Deliveries by their status now.
    deliveries: ByStatus,
    /// Their attempts in the window.
    #[serde(flatten)]
    attempts: AttemptCounts,
    /// The attempts per bucket, oldest first, every bucket of the window.
    buckets: Vec<Bucket>,
}

/// Deliveries by status.
#[derive(Debug, Default, Serialize, ToSchema)]
struct ByStatus {
    /// Not attempted yet.
    pending: u64,
    /// Failed, to be retried.
    retrying: u64,
    /// Accepted by the endpoint.
    delivered: u64,
    /// In the dead letter.
    dead: u64,
    /// Dropped by the endpoint's own chain.
    skipped: u64,
}

/// Attempts, their outcomes and latency.
#[derive(Debug, Default, Serialize, ToSchema)]
struct AttemptCounts {
    /// Attempts made.
    attempts: u64,
    /// Those answered with a 2xx.
    succeeded: u64,
    /// The others (an error status, a timeout, no connection).
    failed: u64,
    /// `succeeded / attempts`; absent without attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    success_rate: Option<f64>,
    /// Latency percentiles; absent without attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<Percentiles>,
}

/// Latency percentiles, nearest rank, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
struct Percentiles {
    /// The median.
    p50: u64,
    /// The 95th percentile.
    p95: u64,
}

/// One bucket's attempts.
#[derive(Debug, Serialize, ToSchema)]
struct Bucket {
    /// Its start (Unix ms).
    start: u64,
    /// Its attempts.
    #[serde(flatten)]
    attempts: AttemptCounts,
}

/// Counts deliveries to endpoints over a window: by status, and their
/// attempts with success rate and latency percentiles, in total and per
/// time bucket, per endpoint and for all of them.
#[utoipa::path(get, path = "/v1/stats/deliveries", tag = "deliveries",
    params(StatsParams),
    responses((status = 200, body = DeliveryStats), (status = 400, body = ErrorBody)))]
async fn delivery_stats(
    State(state): State<AdminState>,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Json<DeliveryStats>, ApiError> {
    let Query(params) = params?;
    let now = state.registry.clock().now_millis();
    let until = body::time("until", params.until.as_deref())?.unwrap_or(now);
    let since = body::time("since", params.since.as_deref())?
        .unwrap_or_else(|| until.saturating_sub(DEFAULT_WINDOW));
    if since >= until {
        return Err(ApiError::invalid_field("since", "must be before `until`"));
    }
    let bucket = bucket_width(params.bucket.as_deref(), until - since)?;
    let mut scanned = Vec::new();
    let mut before = None;
    let complete = loop {
        let query = DeliveryQuery {
            endpoint: params.endpoint.clone(),
            event_type: None,
            status: None,
            response_code: None,
            since: Some(since),
            until: Some(until),
            before: before.take(),
            limit: PAGE,
        };
        let page = state.registry.catalog().list_deliveries(&query).await?;
        scanned.extend(page.items);
        match page.next {
            Some(next) if scanned.len() < MAX_SCANNED => before = Some(next),
            Some(_) => break false,
            None => break true,
        }
    };
    let window = Window {
        since,
        until,
        bucket,
    };
    let (total, endpoints) = count(&scanned, &window);
    let store = state.registry.store();
    let next_due_at = store.next_due().await?;
    let queue = Queue {
        pipeline: store.pipeline_count().await? as u64,
        scheduled: store.scheduled_count().await? as u64,
        next_due_at,
        oldest_due_ms: next_due_at.map_or(0, |at| now.saturating_sub(at)),
    };
    Ok(Json(DeliveryStats {
        since,
        until,
        bucket_ms: bucket,
        complete,
        queue,
        total,
        endpoints,
    }))
}

/// The bucket width in ms: as given, or a twelfth of the window.
fn bucket_width(given: Option<&str>, window: u64) -> Result<u64, ApiError> {
    let width = match given {
        Some(text) => {
            let width = humantime::parse_duration(text).map_err(|e| {
                ApiError::invalid_field(
                    "bucket",
                    format_args!("{text:?} is not a duration such as 5m or 1h: {e}"),
                )
            })?;
            millis(width)
        }
        None => (window / 12).max(1000),
    };
    if width == 0 || window.div_ceil(width) > MAX_BUCKETS {
        return Err(ApiError::invalid_field(
            "bucket",
            format_args!(
                "the window needs at most {MAX_BUCKETS} buckets and each must be longer than zero"
            ),
        ));
    }
    Ok(width)
}

/// The window counted and its buckets.
#[derive(Debug, Clone, Copy)]
struct Window {
    since: u64,
    until: u64,
    bucket: u64,
}

/// A tally being made: statuses, and attempt latencies with outcomes per
/// bucket.
#[derive(Default)]
struct Tally {
    statuses: ByStatus,
    /// Per bucket index: (latency, succeeded) of each attempt.
    buckets: BTreeMap<u64, Vec<(u64, bool)>>,
}

impl Tally {
    fn add(&mut self, delivery: &Delivery, window: &Window) {
        let status = &mut self.statuses;
        *match DeliveryStatusKind::of(delivery) {
            DeliveryStatusKind::Pending => &mut status.pending,
            DeliveryStatusKind::Retrying => &mut status.retrying,
            DeliveryStatusKind::Delivered => &mut status.delivered,
            DeliveryStatusKind::Dead => &mut status.dead,
            DeliveryStatusKind::Skipped => &mut status.skipped,
        } += 1;
        for attempt in &delivery.attempts {
            if attempt.at < window.since || attempt.at >= window.until {
                continue;
            }
            let succeeded = attempt.status.is_some_and(|c| (200..300).contains(&c));
            self.buckets
                .entry((attempt.at - window.since) / window.bucket)
                .or_default()
                .push((attempt.latency_ms, succeeded));
        }
    }

    fn finish(self, window: &Window) -> Counts {
        let all: Vec<(u64, bool)> = self.buckets.values().flatten().copied().collect();
        let buckets = (0..window
            .until
            .saturating_sub(window.since)
            .div_ceil(window.bucket))
            .map(|i| Bucket {
                start: window.since + i * window.bucket,
                attempts: attempts(self.buckets.get(&i).map_or(&[][..], Vec::as_slice)),
            })
            .collect();
        Counts {
            deliveries: self.statuses,
            attempts: attempts(&all),
            buckets,
        }
    }
}

/// The counts of some attempts, as (latency, succeeded).
fn attempts(made: &[(u64, bool)]) -> AttemptCounts {
    let total = made.len() as u64;
    let succeeded = made.iter().filter(|(_, ok)| *ok).count() as u64;
    let mut latencies: Vec<u64> = made.iter().map(|(l, _)| *l).collect();
    latencies.sort_unstable();
    AttemptCounts {
        attempts: total,
        succeeded,
        failed: total - succeeded,
        #[allow(clippy::cast_precision_loss, reason = "a rate needs no more")]
        success_rate: (total > 0).then(|| succeeded as f64 / total as f64),
        latency_ms: (!latencies.is_empty()).then(|| Percentiles {
            p50: rank(&latencies, 50),
            p95: rank(&latencies, 95),
        }),
    }
}

/// The `p`th percentile of sorted values, nearest rank.
fn rank(sorted: &[u64], p: u64) -> u64 {
    let n = sorted.len() as u64;
    let index = (p * n).div_ceil(100).clamp(1, n) - 1;
    sorted[usize::try_from(index).unwrap_or(0)]
}

/// The total and per-endpoint counts of `deliveries`.
fn count(deliveries: &[Delivery], window: &Window) -> (Counts, Vec<EndpointCounts>) {
    let mut total = Tally::default();
    let mut per: BTreeMap<&str, Tally> = BTreeMap::new();
    for delivery in deliveries {
        total.add(delivery, window);
        per.entry(delivery.plan.endpoint.as_str())
            .or_default()
            .add(delivery, window);
    }
    let endpoints = per
        .into_iter()
        .map(|(name, tally)| EndpointCounts {
            endpoint: name.to_owned(),
            counts: tally.finish(window),
        })
        .collect();
    (total.finish(window), endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Attempt, DeliveryState, NewDelivery};

    fn delivery(endpoint: &str, state: DeliveryState, attempts: &[(u64, u16, u64)]) -> Delivery {
        Delivery {
            id: "dlv_1".into(),
            message_id: "msg_1".into(),
            plan: NewDelivery {
                endpoint: endpoint.into(),
                event_type: "call.completed".into(),
                url: None,
                body: None,
                headers: Vec::new(),
            },
            state,
            attempts: attempts
                .iter()
                .map(|&(at, status, latency_ms)| Attempt {
                    at,
                    status: Some(status),
                    latency_ms,
                    response_body: String::new(),
                    error: None,
                    batch: None,
                })
                .collect(),
        }
    }

    #[test]
    fn attempts_are_counted_per_bucket_and_endpoint_with_rates_and_percentiles() {
        let window = Window {
            since: 0,
            until: 3000,
            bucket: 1000,
        };
        let deliveries = [
            delivery(
                "crm",
                DeliveryState::Delivered { at: 1500 },
                &[(100, 500, 40), (1500, 200, 10)],
            ),
            delivery(
                "crm",
                DeliveryState::Scheduled { at: 9000 },
                &[(200, 503, 30)],
            ),
            delivery("ops", DeliveryState::Scheduled { at: 10 }, &[]),
            // An attempt after the window is not counted.
            delivery(
                "ops",
                DeliveryState::Delivered { at: 5000 },
                &[(5000, 200, 1)],
            ),
        ];
        let (total, endpoints) = count(&deliveries, &window);
        assert_eq!(total.deliveries.delivered, 2);
        assert_eq!(total.deliveries.retrying, 1);
        assert_eq!(total.deliveries.pending, 1);
        assert_eq!(total.attempts.attempts, 3);
        assert_eq!(total.attempts.succeeded, 1);
        assert_eq!(total.attempts.failed, 2);
        assert_eq!(
            total.attempts.latency_ms,
            Some(Percentiles { p50: 30, p95: 40 })
        );
        assert_eq!(total.buckets.len(), 3, "every bucket of the window");
        assert_eq!(total.buckets[0].attempts.attempts, 2);
        assert_eq!(total.buckets[0].attempts.success_rate, Some(0.0));
        assert_eq!(total.buckets[1].start, 1000);
        assert_eq!(total.buckets[1].attempts.success_rate, Some(1.0));
        assert_eq!(total.buckets[2].attempts.attempts, 0);
        assert_eq!(total.buckets[2].attempts.latency_ms, None);
        let names: Vec<&str> = endpoints.iter().map(|e| e.endpoint.as_str()).collect();
        assert_eq!(names, ["crm", "ops"]);
        assert_eq!(endpoints[0].counts.attempts.attempts, 3);
        assert_eq!(endpoints[1].counts.attempts.attempts, 0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(rank(&values, 50), 50);
        assert_eq!(rank(&values, 95), 95);
        assert_eq!(rank(&[7], 95), 7);
    }

    #[test]
    fn a_bucket_too_narrow_for_the_window_is_refused() {
        assert_eq!(bucket_width(None, 3_600_000).expect("a default"), 300_000);
        assert_eq!(bucket_width(Some("1m"), 3_600_000).expect("fits"), 60_000);
        assert!(
            bucket_width(Some("1s"), 86_400_000).is_err(),
            "86,400 buckets"
        );
        assert!(bucket_width(Some("soon"), 3_600_000).is_err());
        assert!(bucket_width(Some("0s"), 3_600_000).is_err());
    }
}
