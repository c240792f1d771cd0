//! Key layout of the sled trees and record encoding.
//!
//! Ids are `msg_`/`dlv_` + a ULID, so byte order is time order. The schedule
//! key is the due time (big-endian u64) followed by the delivery id, so a
//! range scan from the start yields the due deliveries in order.

use serde::{Serialize, de::DeserializeOwned};

use super::Error;

/// Tree names; the `v1` is the record format's version.
pub(super) const MESSAGES: &str = "messages.v1";
pub(super) const PIPELINE: &str = "pipeline.v1";
pub(super) const DEDUP: &str = "dedup.v1";
pub(super) const DELIVERIES: &str = "deliveries.v2";
pub(super) const BY_MESSAGE: &str = "deliveries_by_message.v1";
pub(super) const SCHEDULE: &str = "schedule.v1";
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

pub(super) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|source| Error::Encode { what, source })
}

pub(super) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|source| Error::Decode { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_keys_sort_by_time_and_round_trip() {
        let early = schedule_key(5, "dlv_b");
        let late = schedule_key(256, "dlv_a");
        assert!(early < late);
        assert_eq!(parse_schedule_key(&late), Some((256, "dlv_a".into())));
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
