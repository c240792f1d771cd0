//! Reading deliveries and attempts stored before attempts recorded their
//! part in a batch.
//!
//! postcard is not self-describing, so a field added to [`Attempt`] changes
//! the bytes; a record is read in the current form first and, if that
//! fails, in the form before. That is sound because an older record cannot
//! read as a current one: after an older attempt comes either the end of
//! the record (where the current form wants the batch field) or the next
//! attempt's start time, a Unix time in milliseconds whose first varint
//! byte is 0x80 or above, which is no `Option` tag.

use serde::{Deserialize, Serialize};

use super::keys::decode;
use super::{Attempt, Delivery, DeliveryState, Error, NewDelivery};

/// An attempt as stored before `batch`.
#[derive(Serialize, Deserialize)]
pub(super) struct AttemptV1 {
    pub(super) at: u64,
    pub(super) status: Option<u16>,
    pub(super) latency_ms: u64,
    pub(super) response_body: String,
    pub(super) error: Option<String>,
}

impl From<AttemptV1> for Attempt {
    fn from(old: AttemptV1) -> Self {
        Self {
            at: old.at,
            status: old.status,
            latency_ms: old.latency_ms,
            response_body: old.response_body,
            error: old.error,
            batch: None,
        }
    }
}

/// A delivery as stored before attempts had `batch`.
#[derive(Serialize, Deserialize)]
pub(super) struct DeliveryV2 {
    pub(super) id: String,
    pub(super) message_id: String,
    pub(super) plan: NewDelivery,
    pub(super) state: DeliveryState,
    pub(super) attempts: Vec<AttemptV1>,
}

/// A stored delivery, in the current form or the one before.
pub(super) fn decode_delivery(bytes: &[u8]) -> Result<Delivery, Error> {
    decode("delivery", bytes).or_else(|error| {
        let Ok(old) = decode::<DeliveryV2>("delivery", bytes) else {
            return Err(error);
        };
        Ok(Delivery {
            id: old.id,
            message_id: old.message_id,
            plan: old.plan,
            state: old.state,
            attempts: old.attempts.into_iter().map(Attempt::from).collect(),
        })
    })
}

/// A stored attempt (a row of its own), in the current form or the one
/// before.
pub(super) fn decode_attempt(bytes: &[u8]) -> Result<Attempt, Error> {
    decode("attempt", bytes).or_else(|error| {
        decode::<AttemptV1>("attempt", bytes)
            .map(Attempt::from)
            .map_err(|_| error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::encode;

    fn old_attempt(at: u64, status: u16) -> AttemptV1 {
        AttemptV1 {
            at,
            status: Some(status),
            latency_ms: 12,
            response_body: "ok".into(),
            error: None,
        }
    }

    #[test]
    fn a_delivery_stored_before_batches_reads_with_its_attempts_unbatched() {
        let old = DeliveryV2 {
            id: "dlv_1".into(),
            message_id: "msg_1".into(),
            plan: NewDelivery {
                endpoint: "crm".into(),
                event_type: "call.completed".into(),
                url: None,
                body: None,
                headers: Vec::new(),
            },
            state: DeliveryState::Delivered {
                at: 1_764_770_460_000,
            },
            attempts: vec![
                old_attempt(1_764_770_400_000, 500),
                old_attempt(1_764_770_460_000, 200),
            ],
        };
        let bytes = encode("delivery", &old).expect("encodes");
        let read = decode_delivery(&bytes).expect("reads");
        assert_eq!(read.id, "dlv_1");
        assert_eq!(read.attempts.len(), 2);
        assert_eq!(read.attempts[0].status, Some(500));
        assert_eq!(read.attempts[1].at, 1_764_770_460_000);
        assert!(read.attempts.iter().all(|a| a.batch.is_none()));
        // And a current one reads as itself.
        let mut current = read.clone();
        current.attempts[1].batch = Some(super::super::BatchPart {
            id: "bat_1".into(),
            size: 3,
            position: 2,
        });
        let bytes = encode("delivery", &current).expect("encodes");
        assert_eq!(decode_delivery(&bytes).expect("reads"), current);
    }

    #[test]
    fn an_attempt_row_stored_before_batches_reads_unbatched() {
        let bytes = encode("attempt", &old_attempt(1_764_770_400_000, 503)).expect("encodes");
        let read = decode_attempt(&bytes).expect("reads");
        assert_eq!(read.status, Some(503));
        assert_eq!(read.response_body, "ok");
        assert_eq!(read.batch, None);
    }
}
