//! Between PostgreSQL's rows and the store's records: integer conversions,
//! delivery states as columns, and rows decoded into messages and
//! deliveries.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::keys::{decode, encode};
use super::legacy::decode_attempt;
use super::{Delivery, DeliveryState, Engine, Error, Message, MessageStatus, MessageStatusKind};

/// The driver's or the pool's error as the store's.
pub(super) fn pg_error(source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Engine {
        engine: Engine::Postgres,
        source: Box::new(source),
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(source: tokio_postgres::Error) -> Self {
        pg_error(source)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(source: deadpool_postgres::PoolError) -> Self {
        pg_error(source)
    }
}

impl Error {
    /// Whether this is the database out of reach (refused, timed out, its
    /// connection cut, shutting down or starting up), which passes by
    /// itself, rather than a refusal that a retry would meet again.
    pub fn is_unreachable(&self) -> bool {
        let Self::Engine {
            engine: Engine::Postgres,
            source,
        } = self
        else {
            return false;
        };
        if let Some(e) = source.downcast_ref::<tokio_postgres::Error>() {
            return unreachable_code(e);
        }
        match source.downcast_ref::<deadpool_postgres::PoolError>() {
            Some(deadpool_postgres::PoolError::Backend(e)) => unreachable_code(e),
            Some(deadpool_postgres::PoolError::Timeout(_)) => true,
            _ => false,
        }
    }
}

/// No SQL state (an I/O error: refused, reset, timed out), or one of a
/// server going away or not ready yet.
fn unreachable_code(error: &tokio_postgres::Error) -> bool {
    error.code().is_none_or(|code| {
        let code = code.code();
        code.starts_with("08") || code.starts_with("57P")
    })
}

/// A time or count as a `bigint` (saturating: no time reaches it).
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A `bigint` time back (a negative one cannot be stored; read as 0).
pub(super) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A claim's token as a `bigint`: the same 64 bits.
pub(super) fn token_in(token: u64) -> i64 {
    i64::from_ne_bytes(token.to_ne_bytes())
}

/// A `bigint` token back.
#[cfg(test)]
fn token_out(token: i64) -> u64 {
    u64::from_ne_bytes(token.to_ne_bytes())
}

/// `deliveries.state`.
pub(super) const SCHEDULED: i16 = 0;
const DELIVERED: i16 = 1;
const DEAD: i16 = 2;
pub(super) const SKIPPED: i16 = 3;

/// A delivery state's columns: `state`, `at`, `reason`. (A skipped one's
/// plugin goes in `skipped_by`, written only where skipped ones are made.)
pub(super) fn state_columns(state: &DeliveryState) -> (i16, i64, Option<&str>) {
    match state {
        DeliveryState::Scheduled { at } => (SCHEDULED, int(*at), None),
        DeliveryState::Delivered { at } => (DELIVERED, int(*at), None),
        DeliveryState::Dead { at, reason } => (DEAD, int(*at), Some(reason)),
        DeliveryState::Skipped { at, reason, .. } => (SKIPPED, int(*at), Some(reason)),
    }
}

/// The `state` column of the deliveries a status filter keeps, and whether
/// they were attempted (pending and retrying differ only in that).
pub(super) fn status_filter(kind: super::DeliveryStatusKind) -> (i16, Option<bool>) {
    use super::DeliveryStatusKind as K;
    match kind {
        K::Pending => (SCHEDULED, Some(false)),
        K::Retrying => (SCHEDULED, Some(true)),
        K::Delivered => (DELIVERED, None),
        K::Dead => (DEAD, None),
        K::Skipped => (SKIPPED, None),
    }
}

/// `messages.status_kind`.
pub(super) fn kind_name(kind: MessageStatusKind) -> &'static str {
    match kind {
        MessageStatusKind::Pending => "pending",
        MessageStatusKind::Dropped => "dropped",
        MessageStatusKind::Failed => "failed",
        MessageStatusKind::Routed => "routed",
        MessageStatusKind::Answered => "answered",
    }
}

/// The columns [`message`] reads, in its order.
pub(super) const MESSAGE_COLUMNS: &str = "id, received, status";

/// A message from a row of [`MESSAGE_COLUMNS`] (from column `first` on).
pub(super) fn message(row: &Row, first: usize) -> Result<Message, Error> {
    let status: Option<&[u8]> = row.try_get(first + 2)?;
    Ok(Message {
        id: row.try_get(first)?,
        received: decode("message", row.try_get(first + 1)?)?,
        status: match status {
            Some(bytes) => decode("message status", bytes)?,
            None => MessageStatus::Pending,
        },
    })
}

/// Skipped deliveries' columns, as arrays for `unnest`.
pub(super) struct SkipColumns<'a> {
    ids: Vec<&'a str>,
    endpoints: Vec<&'a str>,
    types: Vec<&'a str>,
    plans: Vec<Vec<u8>>,
    reasons: Vec<&'a str>,
    plugins: Vec<&'a str>,
}

impl<'a> SkipColumns<'a> {
    /// The columns of `skipped` (records as made by `keys`).
    pub(super) fn of(skipped: &'a [(Delivery, Vec<u8>)]) -> Result<Self, Error> {
        let mut columns = Self {
            ids: Vec::with_capacity(skipped.len()),
            endpoints: Vec::with_capacity(skipped.len()),
            types: Vec::with_capacity(skipped.len()),
            plans: Vec::with_capacity(skipped.len()),
            reasons: Vec::with_capacity(skipped.len()),
            plugins: Vec::with_capacity(skipped.len()),
        };
        for (delivery, _) in skipped {
            let DeliveryState::Skipped { plugin, reason, .. } = &delivery.state else {
                continue;
            };
            columns.ids.push(&delivery.id);
            columns.endpoints.push(&delivery.plan.endpoint);
            columns.types.push(&delivery.plan.event_type);
            columns.plans.push(encode("delivery plan", &delivery.plan)?);
            columns.reasons.push(reason);
            columns.plugins.push(plugin);
        }
        Ok(columns)
    }

    /// The statement's parameters for them, after the time they were made.
    pub(super) fn params<'b>(&'b self, at: &'b i64) -> [&'b (dyn ToSql + Sync); 7] {
        [
            at,
            &self.ids,
            &self.endpoints,
            &self.types,
            &self.plans,
            &self.reasons,
            &self.plugins,
        ]
    }
}

/// The columns [`delivery`] reads, in its order.
pub(super) const DELIVERY_COLUMNS: &str =
    "id, message_id, plan, state, at, reason, attempts, skipped_by";

/// A delivery from a row of [`DELIVERY_COLUMNS`].
pub(super) fn delivery(row: &Row) -> Result<Delivery, Error> {
    let at = uint(row.try_get(4)?);
    let reason = || -> Result<String, Error> {
        Ok(row.try_get::<_, Option<String>>(5)?.unwrap_or_default())
    };
    let state = match row.try_get::<_, i16>(3)? {
        SCHEDULED => DeliveryState::Scheduled { at },
        DELIVERED => DeliveryState::Delivered { at },
        SKIPPED => DeliveryState::Skipped {
            at,
            plugin: row.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
            reason: reason()?,
        },
        _ => DeliveryState::Dead {
            at,
            reason: reason()?,
        },
    };
    let attempts: Vec<&[u8]> = row.try_get(6)?;
    Ok(Delivery {
        id: row.try_get(0)?,
        message_id: row.try_get(1)?,
        plan: decode("delivery plan", row.try_get(2)?)?,
        state,
        attempts: attempts
            .into_iter()
            .map(decode_attempt)
            .collect::<Result<_, _>>()?,
    })
}

/// Deliveries from rows of [`DELIVERY_COLUMNS`].
pub(super) fn deliveries(rows: &[Row]) -> Result<Vec<Delivery>, Error> {
    rows.iter().map(delivery).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_all_64_bits_and_times_saturate() {
        for token in [1, u64::MAX, 1 << 63, 0x7e57] {
            assert_eq!(token_out(token_in(token)), token);
        }
        assert_eq!(int(u64::MAX), i64::MAX);
        assert_eq!(uint(-5), 0);
        assert_eq!(uint(int(1_700_000_000_000)), 1_700_000_000_000);
    }
}
