//! What the management API asks of stored messages and deliveries: filters,
//! newest first, with an opaque cursor. The matching is pure so every
//! backend filters the same way.

use std::ops::{Bound, RangeInclusive};

use hookgate_sdk::event_type_matches;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Delivery, DeliveryState, Message, MessageStatus};
use super::{Error, keys};

/// A message's status as a filter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatusKind {
    /// Waiting for the plugin pipeline.
    Pending,
    /// A plugin dropped it.
    Dropped,
    /// A plugin failed on it (dead letter).
    Failed,
    /// Deliveries were created.
    Routed,
    /// A synchronous exchange answered its caller.
    Answered,
}

impl MessageStatusKind {
    /// The kind of a status.
    pub fn of(status: &MessageStatus) -> Self {
        match status {
            MessageStatus::Pending => Self::Pending,
            MessageStatus::Dropped { .. } => Self::Dropped,
            MessageStatus::Failed { .. } => Self::Failed,
            MessageStatus::Routed { .. } => Self::Routed,
            MessageStatus::Answered { .. } => Self::Answered,
        }
    }
}

/// A delivery's status as a filter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatusKind {
    /// Scheduled, not attempted yet.
    Pending,
    /// Scheduled again after failed attempts.
    Retrying,
    /// Accepted by the endpoint.
    Delivered,
    /// Given up on: in the dead letter.
    Dead,
    /// Not sent: the endpoint's own chain dropped it.
    Skipped,
}

impl DeliveryStatusKind {
    /// The kind of a delivery.
    pub fn of(delivery: &Delivery) -> Self {
        match delivery.state {
            DeliveryState::Scheduled { .. } if delivery.attempts.is_empty() => Self::Pending,
            DeliveryState::Scheduled { .. } => Self::Retrying,
            DeliveryState::Delivered { .. } => Self::Delivered,
            DeliveryState::Dead { .. } => Self::Dead,
            DeliveryState::Skipped { .. } => Self::Skipped,
        }
    }
}

/// Which messages to list. Times are Unix milliseconds of receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageQuery {
    /// Only from this source.
    pub source: Option<String>,
    /// Only of event types this pattern matches (as received; `*` matches
    /// any run of characters).
    pub event_type: Option<String>,
    /// Only in this status.
    pub status: Option<MessageStatusKind>,
    /// Only with this idempotency key.
    pub idempotency_key: Option<String>,
    /// Received at or after.
    pub since: Option<u64>,
    /// Received before.
    pub until: Option<u64>,
    /// Only ids older than this one (the previous page's cursor).
    pub before: Option<String>,
    /// At most this many.
    pub limit: usize,
}

impl MessageQuery {
    /// Whether a message passes the filters (not the cursor or time range,
    /// which the scan applies).
    pub fn matches(&self, message: &Message) -> bool {
        self.source
            .as_ref()
            .is_none_or(|s| *s == message.received.source)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| event_type_matches(t, &message.received.event_type))
            && self
                .status
                .is_none_or(|s| s == MessageStatusKind::of(&message.status))
            && self
                .idempotency_key
                .as_ref()
                .is_none_or(|k| message.received.idempotency_key.as_ref() == Some(k))
    }
}

/// Which deliveries to list. Times are Unix milliseconds of creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Only to this endpoint.
    pub endpoint: Option<String>,
    /// Only of event types this pattern matches (after the plugins; `*`
    /// matches any run of characters).
    pub event_type: Option<String>,
    /// Only in this status.
    pub status: Option<DeliveryStatusKind>,
    /// Only those whose last attempt got an HTTP status in this range (one
    /// code, or a class such as 500 to 599).
    pub response_code: Option<RangeInclusive<u16>>,
    /// Created at or after.
    pub since: Option<u64>,
    /// Created before.
    pub until: Option<u64>,
    /// Only ids older than this one (the previous page's cursor).
    pub before: Option<String>,
    /// At most this many.
    pub limit: usize,
}

impl DeliveryQuery {
    /// Whether a delivery passes the filters (not the cursor or time range).
    pub fn matches(&self, delivery: &Delivery) -> bool {
        self.endpoint
            .as_ref()
            .is_none_or(|e| *e == delivery.plan.endpoint)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| event_type_matches(t, &delivery.plan.event_type))
            && self
                .status
                .is_none_or(|s| s == DeliveryStatusKind::of(delivery))
            && self.response_code.as_ref().is_none_or(|codes| {
                delivery
                    .attempts
                    .last()
                    .and_then(|a| a.status)
                    .is_some_and(|status| codes.contains(&status))
            })
    }
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// The id range a time filter and a cursor leave, as key bounds.
pub(super) fn id_range(
    prefix: &str,
    since: Option<u64>,
    until: Option<u64>,
    before: Option<&str>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = since.map_or(Bound::Unbounded, |t| {
        Bound::Included(keys::id_floor(prefix, t).into_bytes())
    });
    let until = until.map(|t| keys::id_floor(prefix, t).into_bytes());
    let before = before.map(|id| id.as_bytes().to_vec());
    let upper = match (until, before) {
        (Some(a), Some(b)) => Bound::Excluded(a.min(b)),
        (Some(a), None) | (None, Some(a)) => Bound::Excluded(a),
        (None, None) => Bound::Unbounded,
    };
    (lower, upper)
}

/// Newest first from `items` (already limited to the range), filtered,
/// paged.
pub(super) fn page<T>(
    items: impl Iterator<Item = Result<T, Error>>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
    id: impl Fn(&T) -> &str,
) -> Result<Page<T>, Error> {
    let limit = limit.max(1);
    let mut kept = Vec::new();
    for item in items {
        let item = item?;
        if keep(&item) {
            kept.push(item);
            if kept.len() > limit {
                break;
            }
        }
    }
    let next = if kept.len() > limit {
        kept.truncate(limit);
        kept.last().map(|last| id(last).to_owned())
    } else {
        None
    };
    Ok(Page { items: kept, next })
}

/// A `LIKE` pattern matching what an event-type pattern matches: `*` is
/// any run of characters; `%`, `_` and a backslash match themselves.
pub(super) fn like_pattern(pattern: &str) -> String {
    let mut like = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '*' => like.push('%'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            c => like.push(c),
        }
    }
    like
}
