//! Upgrades of the stored format, run at open.
//!
//! `deliveries.v1` → `deliveries.v2`: deliveries now record the event type
//! they carry (for the delivery log's filter). A v1 delivery takes it from
//! its message: the type after the plugins if the message was routed, else
//! the type it was received with. Re-running after a crash mid-way only
//! rewrites the same records.

use serde::{Deserialize, Serialize};

use super::keys::{decode, encode};
use super::legacy::AttemptV1;
use super::{Attempt, Delivery, DeliveryState, Error, Message, MessageStatus, NewDelivery};

const DELIVERIES_V1: &str = "deliveries.v1";

#[derive(Serialize, Deserialize)]
struct PlanV1 {
    endpoint: String,
    url: Option<String>,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct DeliveryV1 {
    id: String,
    message_id: String,
    plan: PlanV1,
    state: DeliveryState,
    attempts: Vec<AttemptV1>,
}

/// Moves v1 deliveries into the current tree; returns how many.
pub(super) fn deliveries(
    db: &sled::Db,
    messages: &sled::Tree,
    current: &sled::Tree,
) -> Result<usize, Error> {
    if !db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == DELIVERIES_V1.as_bytes())
    {
        return Ok(0);
    }
    let old = db.open_tree(DELIVERIES_V1)?;
    let mut moved = 0;
    for entry in &old {
        let (key, bytes) = entry?;
        let v1: DeliveryV1 = decode("delivery (v1)", &bytes)?;
        let event_type = match messages.get(v1.message_id.as_bytes())? {
            Some(bytes) => {
                let message: Message = decode("message", &bytes)?;
                match message.status {
                    MessageStatus::Routed { event_type, .. } => event_type,
                    _ => message.received.event_type,
                }
            }
            None => String::new(),
        };
        let delivery = Delivery {
            id: v1.id,
            message_id: v1.message_id,
            plan: NewDelivery {
                endpoint: v1.plan.endpoint,
                event_type,
                url: v1.plan.url,
                body: v1.plan.body,
                headers: v1.plan.headers,
            },
            state: v1.state,
            attempts: v1.attempts.into_iter().map(Attempt::from).collect(),
        };
        current.insert(key, encode("delivery", &delivery)?)?;
        moved += 1;
    }
    db.flush()?;
    db.drop_tree(DELIVERIES_V1)?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewMessage, SledStore, Store};

    #[tokio::test]
    async fn v1_deliveries_are_moved_with_their_messages_event_type() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let db = sled::Config::new().path(dir.path()).open().expect("opens");
            let messages = db.open_tree(crate::store::keys::MESSAGES).expect("tree");
            let message = Message {
                id: "msg_1".into(),
                received: NewMessage {
                    source: "s".into(),
                    event_type: "as.received".into(),
                    received_at: 1,
                    headers: Vec::new(),
                    body: b"{}".to_vec(),
                    idempotency_key: None,
                    target_url: None,
                },
                status: MessageStatus::Routed {
                    event_type: "call.completed".into(),
                    body: None,
                    deliveries: 1,
                },
            };
            messages
                .insert("msg_1", encode("message", &message).expect("encodes"))
                .expect("inserts");
            let v1 = DeliveryV1 {
                id: "dlv_1".into(),
                message_id: "msg_1".into(),
                plan: PlanV1 {
                    endpoint: "crm".into(),
                    url: None,
                    body: None,
                    headers: Vec::new(),
                },
                state: DeliveryState::Scheduled { at: 5 },
                attempts: Vec::new(),
            };
            db.open_tree(DELIVERIES_V1)
                .expect("tree")
                .insert("dlv_1", encode("delivery", &v1).expect("encodes"))
                .expect("inserts");
            db.flush().expect("flushes");
        }
        let store = SledStore::open(dir.path()).expect("opens and migrates");
        let delivery = store
            .delivery("dlv_1")
            .await
            .expect("reads")
            .expect("moved");
        assert_eq!(delivery.plan.event_type, "call.completed");
        assert_eq!(delivery.plan.endpoint, "crm");
        assert_eq!(delivery.state, DeliveryState::Scheduled { at: 5 });
        drop(store);
        let db = sled::Config::new().path(dir.path()).open().expect("opens");
        assert!(
            !db.tree_names()
                .iter()
                .any(|n| n.as_ref() == DELIVERIES_V1.as_bytes()),
            "the old tree is gone"
        );
    }
}
