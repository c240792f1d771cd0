//! Batching (`[endpoint] batch = { max_events, max_wait }`): an endpoint's
//! deliveries sent as one signed request whose body is a JSON array, one
//! element per message, each keeping its message id.
//!
//! Each delivery is still a delivery of its own, claimed, renewed and
//! recorded as before; only the request is shared. A delivery joins the
//! open batch of its endpoint and attempt number (so a failed batch's
//! members, retried at the same time, form a batch again); the first to
//! join leads it. The leader waits until the batch is full or `max_wait`
//! has passed, takes one of the endpoint's slots (members keep joining
//! while it waits), lets the breaker and the rate limit judge the request
//! once, sends it, and hands every member the same answer: each records it
//! as its own attempt, with its part in the batch, and schedules its own
//! next step from it, with one jitter draw for all so they stay together.
//!
//! A delivery is sent alone when it carries what a batch cannot share: a
//! per-message target URL, or headers of its own (set by a plugin, or a
//! test event's).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use super::attempt;
use super::verdict::Judged;
use super::worker::{Deliverer, body_of};
use super::{Endpoint, Gate, Recipient};
use crate::config::BatchConfig;
use crate::store::{Attempt, BatchPart, Delivery, Message};

/// The batches being filled, per endpoint and attempt number.
#[derive(Debug, Default)]
pub(super) struct Batches(Mutex<HashMap<Key, Arc<Open>>>);

/// An endpoint's name and how many attempts its members made before.
type Key = (String, usize);

/// A batch being filled.
#[derive(Debug, Default)]
pub(super) struct Open {
    /// Its members so far, in the order they joined.
    members: Mutex<Vec<Member>>,
    /// Told when the batch is full.
    full: Notify,
}

/// A delivery in a batch: what its element holds, and where its share of
/// the answer goes.
#[derive(Debug)]
struct Member {
    message_id: String,
    event_type: String,
    received_at: u64,
    body: Vec<u8>,
    share: oneshot::Sender<Share>,
}

/// What a batch's request came to, for each of its members.
#[derive(Debug, Clone)]
pub(super) enum Share {
    /// The breaker or the rate limit held the request back until then.
    Held(u64),
    /// Sent: the attempt each member records, with its part in the batch.
    Sent(Judged),
}

/// What a delivery that joined a batch does next.
enum Role {
    /// Leads it: waits, sends, and shares the answer.
    Leader(Arc<Open>),
    /// Waits for its leader's answer.
    Member,
}

impl Batches {
    /// Adds a member to the open batch for `key`, or opens one it leads.
    /// A batch that reaches `max` members is closed at once.
    fn join(&self, key: &Key, member: Member, max: usize) -> Role {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(batch) = open.get(key) {
            let mut members = batch.members.lock().unwrap_or_else(PoisonError::into_inner);
            members.push(member);
            if members.len() >= max {
                drop(members);
                batch.full.notify_one();
                open.remove(key);
            }
            return Role::Member;
        }
        let batch = Arc::new(Open::default());
        batch
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(member);
        if max > 1 {
            open.insert(key.clone(), batch.clone());
        } else {
            batch.full.notify_one();
        }
        Role::Leader(batch)
    }

    /// Closes `batch` (if a member filling it has not) and takes its
    /// members.
    fn close(&self, key: &Key, batch: &Arc<Open>) -> Vec<Member> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if open.get(key).is_some_and(|b| Arc::ptr_eq(b, batch)) {
            open.remove(key);
        }
        std::mem::take(&mut *batch.members.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A fresh batch id, the request's `webhook-id`: `bat_` and a ULID.
fn batch_id(now: u64) -> String {
    format!("bat_{}", ulid::Ulid::from_parts(now, rand::random()))
}

/// The request body: a JSON array of `{id, event_type, received_at,
/// payload}`, `payload_base64` instead for a body that is not JSON.
fn array(members: &[Member]) -> Vec<u8> {
    let elements: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut element = json!({
                "id": m.message_id,
                "event_type": m.event_type,
                "received_at": m.received_at,
            });
            match serde_json::from_slice::<Value>(&m.body) {
                Ok(payload) => element["payload"] = payload,
                Err(_) => {
                    element["payload_base64"] = base64::engine::general_purpose::STANDARD
                        .encode(&m.body)
                        .into();
                }
            }
            element
        })
        .collect();
    serde_json::to_vec(&elements).unwrap_or_else(|_| b"[]".to_vec())
}

impl Deliverer {
    /// One attempt of `delivery` as part of a batch to `endpoint`: joins
    /// the open batch (leading it if it is the first), and records what
    /// the batch's request came to as its own attempt.
    pub(super) async fn batched(
        &self,
        endpoint: &Endpoint,
        batch: &BatchConfig,
        delivery: &Delivery,
        token: u64,
        message: &Message,
        now: u64,
    ) -> Result<Option<u64>, crate::store::Error> {
        let key = (endpoint.name.clone(), delivery.attempts.len());
        let (share, answer) = oneshot::channel();
        let member = Member {
            message_id: message.id.clone(),
            event_type: delivery.plan.event_type.clone(),
            received_at: message.received.received_at,
            body: body_of(delivery, message),
            share,
        };
        if let Role::Leader(open) = self.batches.join(&key, member, batch.max_events) {
            self.lead(endpoint, batch.max_wait, &key, &open, now)
                .await?;
        }
        match answer.await {
            Ok(Share::Held(at)) => self.hold(endpoint, delivery, token, at).await,
            Ok(Share::Sent(judged)) => {
                self.conclude(endpoint, delivery, token, Recipient::Endpoint, judged)
                    .await
            }
            // The leader could not send it (the store failed it, or it
            // stopped): due again now, to go in another batch.
            Err(_) => {
                self.hand_back(&delivery.id, token).await;
                Ok(None)
            }
        }
    }

    /// Leads a batch: waits until it is full or `max_wait` has passed,
    /// takes a slot, sends it and shares the answer with every member. A
    /// store error leaves the members without an answer; they are handed
    /// back.
    async fn lead(
        &self,
        endpoint: &Endpoint,
        max_wait: Duration,
        key: &Key,
        open: &Arc<Open>,
        now: u64,
    ) -> Result<(), crate::store::Error> {
        tokio::select! {
            () = open.full.notified() => {}
            () = tokio::time::sleep(max_wait) => {}
        }
        let slot = endpoint.state.slots.clone().acquire_owned().await;
        let members = self.batches.close(key, open);
        let now = now.max(self.clock.now_millis());
        if let Gate::HoldUntil(at) = self.gate(endpoint, now).await? {
            self.metrics.held_back(&endpoint.name);
            for member in members {
                // A member that is gone (its task stopped) has nothing to hold.
                let _ = member.share.send(Share::Held(at));
            }
            return Ok(());
        }
        let id = batch_id(now);
        let body = array(&members);
        let timestamp = i64::try_from(now / 1000).unwrap_or(i64::MAX);
        let headers = endpoint.request_headers(
            Recipient::Endpoint,
            &id,
            timestamp,
            &body,
            &[],
            Some("application/json"),
        );
        let (response, latency) = attempt::send(
            &self.client,
            &endpoint.url,
            &headers,
            body,
            endpoint.timeout,
            now,
        )
        .await;
        let (judged, recorded) = self
            .judge(endpoint, Recipient::Endpoint, response, now, latency)
            .await?;
        // The request is over: the slot is the next batch's.
        drop(slot);
        let size = u32::try_from(members.len()).unwrap_or(u32::MAX);
        for (position, member) in (0..).zip(members) {
            let mut record: Attempt = judged.record.clone();
            record.batch = Some(BatchPart {
                id: id.clone(),
                size,
                position,
            });
            let share = Share::Sent(Judged {
                record,
                ..judged.clone()
            });
            let _ = member.share.send(share);
        }
        self.after(
            endpoint,
            Recipient::Endpoint,
            &recorded,
            judged.success(),
            now,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, body: &[u8]) -> (Member, oneshot::Receiver<Share>) {
        let (share, answer) = oneshot::channel();
        let member = Member {
            message_id: id.to_owned(),
            event_type: "call.completed".to_owned(),
            received_at: 1_700_000_000_000,
            body: body.to_vec(),
            share,
        };
        (member, answer)
    }

    #[test]
    fn the_first_to_join_leads_and_a_full_batch_is_closed_at_once() {
        let batches = Batches::default();
        let key = ("e".to_owned(), 0);
        let (first, _a) = member("msg_1", b"{}");
        let Role::Leader(open) = batches.join(&key, first, 3) else {
            panic!("the first member leads");
        };
        let (second, _b) = member("msg_2", b"{}");
        assert!(matches!(batches.join(&key, second, 3), Role::Member));
        let (third, _c) = member("msg_3", b"{}");
        assert!(matches!(batches.join(&key, third, 3), Role::Member));
        let (fourth, _d) = member("msg_4", b"{}");
        let Role::Leader(next) = batches.join(&key, fourth, 3) else {
            panic!("a full batch takes no more: the next delivery leads a new one");
        };
        assert!(!Arc::ptr_eq(&open, &next));
        let members = batches.close(&key, &open);
        let ids: Vec<&str> = members.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["msg_1", "msg_2", "msg_3"]);
        // Closing the full batch left the new one open.
        let (fifth, _e) = member("msg_5", b"{}");
        assert!(matches!(batches.join(&key, fifth, 3), Role::Member));
        assert_eq!(batches.close(&key, &next).len(), 2);
    }

    #[test]
    fn retries_and_first_attempts_are_batched_apart() {
        let batches = Batches::default();
        let (first, _a) = member("msg_1", b"{}");
        let (retry, _b) = member("msg_2", b"{}");
        assert!(matches!(
            batches.join(&("e".to_owned(), 0), first, 10),
            Role::Leader(_)
        ));
        assert!(matches!(
            batches.join(&("e".to_owned(), 1), retry, 10),
            Role::Leader(_)
        ));
    }

    #[test]
    fn each_element_keeps_its_message_id_and_a_body_that_is_not_json_goes_as_base64() {
        let (json_member, _a) = member("msg_1", br#"{"call_id":"c1"}"#);
        let (binary_member, _b) = member("msg_2", b"\xff\x00not json");
        let body: Value =
            serde_json::from_slice(&array(&[json_member, binary_member])).expect("JSON");
        assert_eq!(body[0]["id"], "msg_1");
        assert_eq!(body[0]["event_type"], "call.completed");
        assert_eq!(body[0]["received_at"], 1_700_000_000_000_u64);
        assert_eq!(body[0]["payload"]["call_id"], "c1");
        assert_eq!(body[1]["id"], "msg_2");
        assert_eq!(
            body[1]["payload_base64"],
            base64::engine::general_purpose::STANDARD.encode(b"\xff\x00not json")
        );
        assert!(body[1].get("payload").is_none());
    }
}
