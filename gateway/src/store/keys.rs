//! Key layout of the stores' trees, record encoding, and the record-making
//! steps both engines share.
//!
//! Ids are `msg_`/`dlv_` + a ULID, so byte order is time order. The schedule
//! key is the due time (big-endian u64) followed by the delivery id, so a
//! range scan from the start yields the due deliveries in order.

pub(super) use crate::clock::millis;
use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};

use super::{
    Delivery, DeliveryState, DisabledEndpoint, Error, Holder, Lease, NewDelivery, NewMessage,
    NextStep, Skip,
};

/// Tree names; the `v1` is the record format's version.
pub(super) const MESSAGES: &str = "messages.v1";
/// message id → its chain's plugin steps (sled).
pub(super) const STEPS: &str = "steps.v1";
pub(super) const PIPELINE: &str = "pipeline.v1";
pub(super) const DEDUP: &str = "dedup.v1";
pub(super) const DELIVERIES: &str = "deliveries.v2";
pub(super) const BY_MESSAGE: &str = "deliveries_by_message.v1";
pub(super) const SCHEDULE: &str = "schedule.v1";
pub(super) const SCHEDULE_BY_ENDPOINT: &str = "schedule_by_endpoint.v1";
pub(super) const CLAIMS: &str = "claims.v1";
pub(super) const DISABLED_ENDPOINTS: &str = "disabled_endpoints.v1";
pub(super) const OBJECTS: &str = "objects.v1";
pub(super) const BLOBS: &str = "blobs.v1";

/// `kind \0 name`.
pub(super) fn object_key(kind: &str, name: &str) -> Vec<u8> {
    [kind.as_bytes(), &[0], name.as_bytes()].concat()
}

/// The smallest id with a prefix at `millis`: ids of records created at or
/// after `millis` sort at or after it.
pub(super) fn id_floor(prefix: &str, millis: u64) -> String {
    format!("{prefix}_{}", ulid::Ulid::from_parts(millis, 0))
}

/// Makes a store's ids: `prefix_` + a ULID ordered by time. Ids made in the
/// same millisecond (or with an earlier one) still sort in the order they
/// were made, so listings are newest first exactly. One per store: the
/// order is the store's own.
#[derive(Default)]
pub(super) struct Ids(std::sync::Mutex<ulid::Generator>);

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ids").finish_non_exhaustive()
    }
}

impl Ids {
    /// A new id with a prefix, ordered by `millis`.
    pub(super) fn next(&self, prefix: &str, millis: u64) -> String {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
        let ulid = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .generate_from_datetime(at)
            .unwrap_or_else(|_| ulid::Ulid::from_parts(millis, rand::random()));
        format!("{prefix}_{ulid}")
    }
}

/// Idempotency keys longer than this are stored by their SHA-256: a key
/// is whatever a sender put in a header or a JSON field, and the engines
/// limit key length (fjall panics past 64 KiB).
const LONG_KEY: usize = 256;

/// `source \0 key`, or `source \1 sha256(key)` for a long key.
pub(super) fn dedup_key(source: &str, key: &str) -> Vec<u8> {
    use sha2::Digest;
    if key.len() > LONG_KEY {
        let digest = sha2::Sha256::digest(key.as_bytes());
        return [source.as_bytes(), &[1], digest.as_slice()].concat();
    }
    [source.as_bytes(), &[0], key.as_bytes()].concat()
}

/// `message_id \0 delivery_id`.
pub(super) fn by_message_key(message_id: &str, delivery_id: &str) -> Vec<u8> {
    [message_id.as_bytes(), &[0], delivery_id.as_bytes()].concat()
}

/// `due (BE u64) delivery_id`.
pub(super) fn schedule_key(at: u64, delivery_id: &str) -> Vec<u8> {
    [&at.to_be_bytes()[..], delivery_id.as_bytes()].concat()
}

/// The due time and delivery id of a schedule key.
pub(super) fn parse_schedule_key(key: &[u8]) -> Option<(u64, String)> {
    let (at, id) = key.split_at_checked(8)?;
    let at = u64::from_be_bytes(at.try_into().ok()?);
    Some((at, String::from_utf8(id.to_vec()).ok()?))
}

/// `endpoint \0 due (BE u64) delivery_id`: the schedule by endpoint, for
/// claims taken per endpoint. Endpoint names hold no NUL.
pub(super) fn endpoint_schedule_key(endpoint: &str, at: u64, delivery_id: &str) -> Vec<u8> {
    [
        endpoint.as_bytes(),
        &[0],
        &at.to_be_bytes()[..],
        delivery_id.as_bytes(),
    ]
    .concat()
}

/// The endpoint, due time and delivery id of an endpoint schedule key.
pub(super) fn parse_endpoint_schedule_key(key: &[u8]) -> Option<(String, u64, String)> {
    let nul = key.iter().position(|b| *b == 0)?;
    let endpoint = std::str::from_utf8(&key[..nul]).ok()?.to_owned();
    let (at, id) = parse_schedule_key(&key[nul + 1..])?;
    Some((endpoint, at, id))
}

/// What ingest checks and records for a message's idempotency key.
pub(super) struct Dedup {
    /// The key under which it is recorded.
    pub(super) key: Vec<u8>,
    /// The record: the first message's id and when it came.
    pub(super) entry: Vec<u8>,
    received_at: u64,
    window: u64,
}

impl Dedup {
    /// For message `id`, if it has an idempotency key.
    pub(super) fn of(
        message: &NewMessage,
        id: &str,
        window: Duration,
    ) -> Result<Option<Self>, Error> {
        let Some(key) = message.idempotency_key.as_deref() else {
            return Ok(None);
        };
        Ok(Some(Self {
            key: dedup_key(&message.source, key),
            entry: encode("dedup entry", &(id, message.received_at))?,
            received_at: message.received_at,
            window: millis(window),
        }))
    }

    /// The first message's id, if `stored` (the record under the key) is
    /// still within the window.
    pub(super) fn repeat_of(&self, stored: &[u8]) -> Result<Option<String>, Error> {
        let (first_id, first_at): (String, u64) = decode("dedup entry", stored)?;
        Ok((self.received_at.saturating_sub(first_at) < self.window).then_some(first_id))
    }
}

/// The deliveries of `message_id` for `plans`, created at `now` and due at
/// `due`: records and their encodings.
pub(super) fn new_deliveries(
    ids: &Ids,
    message_id: &str,
    plans: Vec<NewDelivery>,
    now: u64,
    due: u64,
) -> Result<Vec<(Delivery, Vec<u8>)>, Error> {
    plans
        .into_iter()
        .map(|plan| {
            let delivery = Delivery {
                id: ids.next("dlv", now),
                message_id: message_id.to_owned(),
                plan,
                state: DeliveryState::Scheduled { at: due },
                attempts: Vec::new(),
            };
            let record = encode("delivery", &delivery)?;
            Ok((delivery, record))
        })
        .collect()
}

/// The deliveries of `message_id` an endpoint's chain dropped, created at
/// `now` as skipped: records and their encodings.
pub(super) fn skipped_deliveries(
    ids: &Ids,
    message_id: &str,
    skipped: Vec<Skip>,
    now: u64,
) -> Result<Vec<(Delivery, Vec<u8>)>, Error> {
    skipped
        .into_iter()
        .map(|skip| {
            let delivery = Delivery {
                id: ids.next("dlv", now),
                message_id: message_id.to_owned(),
                plan: skip.plan,
                state: DeliveryState::Skipped {
                    at: now,
                    plugin: skip.plugin,
                    reason: skip.reason,
                },
                attempts: Vec::new(),
            };
            let record = encode("delivery", &delivery)?;
            Ok((delivery, record))
        })
        .collect()
}

/// Where an attempt made at `at` leaves its delivery.
pub(super) fn state_after(next: &NextStep, at: u64) -> DeliveryState {
    match next {
        NextStep::Delivered => DeliveryState::Delivered { at },
        NextStep::RetryAt(when) => DeliveryState::Scheduled { at: *when },
        NextStep::Dead(reason) => DeliveryState::Dead {
            at,
            reason: reason.clone(),
        },
    }
}

/// A [`super::Message`] record made from its parts, without copying them:
/// the same bytes as encoding the owned record.
pub(super) fn encode_message(
    id: &str,
    received: &NewMessage,
    status: &super::MessageStatus,
) -> Result<Vec<u8>, Error> {
    #[derive(Serialize)]
    struct MessageRef<'a> {
        id: &'a str,
        received: &'a NewMessage,
        status: &'a super::MessageStatus,
    }
    encode(
        "message",
        &MessageRef {
            id,
            received,
            status,
        },
    )
}

/// A disabled record's stored value (embedded engines).
pub(super) fn disabled_value(record: &DisabledEndpoint) -> Result<Vec<u8>, Error> {
    encode(
        "endpoint state",
        &(record.at, &record.reason, record.announce),
    )
}

/// A disabled record back. A record written before `announce` existed
/// holds `(at, reason)` and owes no event.
pub(super) fn disabled_record(name: &[u8], value: &[u8]) -> Result<DisabledEndpoint, Error> {
    let (at, reason, announce) =
        decode::<(u64, String, bool)>("endpoint state", value).or_else(|_| {
            decode::<(u64, String)>("endpoint state", value).map(|(at, reason)| (at, reason, false))
        })?;
    Ok(DisabledEndpoint {
        name: String::from_utf8_lossy(name).into_owned(),
        at,
        reason,
        announce,
    })
}

pub(super) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|source| Error::Encode { what, source })
}

pub(super) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|source| Error::Decode { what, source })
}

/// A new claim for `holder`, with a fresh token. Tokens are random: a
/// claim's outcome is accepted only with the token of the claim in force,
/// so what matters is that two claims of one delivery never share one.
pub(super) fn lease(holder: &Holder) -> Lease {
    Lease::mint(holder)
}

/// A stored claim. A claim written before claims had holders is its lapse
/// time alone (8 bytes): it has no holder and no token, so no outcome
/// matches it, and it lapses as it always did. A pipeline-queue entry
/// without a lease (empty: stored before the queue was leased, or queued
/// for any node to take) has lapsed already.
pub(super) fn decode_lease(bytes: &[u8]) -> Result<Lease, Error> {
    if bytes.is_empty() {
        return Ok(Lease {
            node: String::new(),
            token: 0,
            until: 0,
        });
    }
    if let Ok(until) = <[u8; 8]>::try_from(bytes) {
        return Ok(Lease {
            node: String::new(),
            token: 0,
            until: u64::from_be_bytes(until),
        });
    }
    decode("claim", bytes)
}

/// The stored claim, if it is `token`'s. A claim without a token (0, a
/// legacy one) is nobody's.
fn held(stored: Option<&[u8]>, token: u64) -> Result<Option<Lease>, Error> {
    let Some(bytes) = stored else {
        return Ok(None);
    };
    let lease = decode_lease(bytes)?;
    Ok((lease.token != 0 && lease.token == token).then_some(lease))
}

/// Whether a stored claim is `token`'s.
pub(super) fn holds(stored: Option<&[u8]>, token: u64) -> Result<bool, Error> {
    Ok(held(stored, token)?.is_some())
}

/// The stored claim re-timed to lapse at `until`, encoded, if it is
/// `token`'s (a renewal, a deferral); `None` if it is not.
pub(super) fn retimed(
    stored: Option<&[u8]>,
    token: u64,
    until: u64,
) -> Result<Option<Vec<u8>>, Error> {
    held(stored, token)?
        .map(|lease| encode("claim", &Lease { until, ..lease }))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_schedule_keys_group_by_endpoint_then_time_and_round_trip() {
        let a_late = endpoint_schedule_key("a", 256, "dlv_a");
        let a_early = endpoint_schedule_key("a", 5, "dlv_b");
        let ab = endpoint_schedule_key("ab", 1, "dlv_c");
        assert!(a_early < a_late && a_late < ab);
        assert_eq!(
            parse_endpoint_schedule_key(&a_late),
            Some(("a".into(), 256, "dlv_a".into()))
        );
    }

    #[test]
    fn schedule_keys_sort_by_time_and_round_trip() {
        let early = schedule_key(5, "dlv_b");
        let late = schedule_key(256, "dlv_a");
        assert!(early < late);
        assert_eq!(parse_schedule_key(&late), Some((256, "dlv_a".into())));
    }

    #[test]
    fn a_message_encoded_from_its_parts_is_the_owned_record() {
        let message = crate::store::Message {
            id: "msg_1".into(),
            received: NewMessage {
                source: "s".into(),
                event_type: "call.completed".into(),
                received_at: 7,
                headers: vec![("content-type".into(), "application/json".into())],
                body: b"{}".to_vec(),
                idempotency_key: Some("k".into()),
                target_url: None,
            },
            status: crate::store::MessageStatus::Pending,
        };
        assert_eq!(
            encode_message(&message.id, &message.received, &message.status).expect("encodes"),
            encode("message", &message).expect("encodes")
        );
    }

    #[test]
    fn ids_are_ordered_by_time() {
        let ids = Ids::default();
        let a = ids.next("msg", 1_000);
        let b = ids.next("msg", 2_000);
        let c = ids.next("msg", 1_500);
        assert!(
            b < c,
            "a clock going back still gives a later id: {b} < {c}"
        );
        assert!(a < b, "{a} < {b}");
        assert!(a.starts_with("msg_") && a.len() == 30);
    }
}
