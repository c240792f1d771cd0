//! The sled side of [`Catalog`]: API objects, plugin components, listings by
//! time (ids are ULIDs, so a key range is a time range) and pruning.

use std::ops::Bound;

use sled::Transactional;

use super::keys::{self, decode};
use super::legacy::decode_delivery;
use super::query::{id_range, page};
use super::sled_store::{SledStore, tx, tx_error};
use super::{
    Catalog, Delivery, DeliveryQuery, DeliveryState, Error, Message, MessageQuery, MessageStatus,
    Page, Pruned,
};

/// Newest first from `tree` within `range`, decoded, filtered, paged.
fn page_of<T>(
    tree: &sled::Tree,
    range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    limit: usize,
    decode: impl Fn(&[u8]) -> Result<T, Error>,
    keep: impl Fn(&T) -> bool,
    id: impl Fn(&T) -> &str,
) -> Result<Page<T>, Error> {
    let items = tree.range(range).rev().map(|entry| {
        let (_, bytes) = entry?;
        decode(&bytes)
    });
    page(items, limit, keep, id)
}

#[async_trait::async_trait]
impl Catalog for SledStore {
    async fn put_object(&self, kind: &str, name: &str, json: Vec<u8>) -> Result<(), Error> {
        self.objects.insert(keys::object_key(kind, name), json)?;
        self.commit.durable().await
    }

    async fn delete_object(&self, kind: &str, name: &str) -> Result<(), Error> {
        self.objects.remove(keys::object_key(kind, name))?;
        self.commit.durable().await
    }

    async fn objects(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let prefix = keys::object_key(kind, "");
        self.objects
            .scan_prefix(&prefix)
            .map(|entry| {
                let (key, value) = entry?;
                let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                Ok((name, value.to_vec()))
            })
            .collect()
    }

    async fn put_blob(&self, hash: &str, bytes: Vec<u8>) -> Result<(), Error> {
        self.blobs.insert(hash.as_bytes(), bytes)?;
        self.commit.durable().await
    }

    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.blobs.get(hash.as_bytes())?.map(|b| b.to_vec()))
    }

    async fn list_messages(&self, query: &MessageQuery) -> Result<Page<Message>, Error> {
        let range = id_range("msg", query.since, query.until, query.before.as_deref());
        page_of(
            &self.messages,
            range,
            query.limit,
            |bytes| decode("message", bytes),
            |m| query.matches(m),
            |m: &Message| &m.id,
        )
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Page<Delivery>, Error> {
        let range = id_range("dlv", query.since, query.until, query.before.as_deref());
        page_of(
            &self.deliveries,
            range,
            query.limit,
            decode_delivery,
            |d| query.matches(d),
            |d: &Delivery| &d.id,
        )
    }

    async fn prune(&self, before: u64, from: Option<&str>, limit: usize) -> Result<Pruned, Error> {
        let mut pruned = Pruned::default();
        let end = keys::id_floor("msg", before).into_bytes();
        let start = from.map_or(Bound::Unbounded, |id| {
            Bound::Excluded(id.as_bytes().to_vec())
        });
        let candidates: Vec<sled::IVec> = self
            .messages
            .range((start, Bound::Excluded(end)))
            .keys()
            .take(limit)
            .collect::<Result<_, _>>()?;
        if candidates.len() == limit {
            pruned.resume = candidates
                .last()
                .map(|id| String::from_utf8_lossy(id).into_owned());
        }
        for id in candidates {
            let Some(bytes) = self.messages.get(&id)? else {
                continue;
            };
            let message: Message = decode("message", &bytes)?;
            if message.status == MessageStatus::Pending || self.pipeline.contains_key(&id)? {
                continue;
            }
            let prefix = keys::by_message_key(&message.id, "");
            let links: Vec<(sled::IVec, String)> = self
                .by_message
                .scan_prefix(&prefix)
                .keys()
                .map(|key| {
                    let key = key?;
                    let id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    Ok((key, id))
                })
                .collect::<Result<_, Error>>()?;
            // The check and the removal in one transaction: a replay that
            // reschedules one of the deliveries meanwhile wins, and the
            // message is kept.
            let removed = (
                &self.messages,
                &self.by_message,
                &self.deliveries,
                &self.steps,
            )
                .transaction(|(messages, by_message, deliveries, steps)| {
                    for (_, delivery_id) in &links {
                        if let Some(bytes) = deliveries.get(delivery_id.as_bytes())? {
                            let delivery: Delivery = tx(decode_delivery(&bytes))?;
                            if matches!(delivery.state, DeliveryState::Scheduled { .. }) {
                                return Ok(false);
                            }
                        }
                    }
                    for (key, delivery_id) in &links {
                        deliveries.remove(delivery_id.as_bytes())?;
                        by_message.remove(key)?;
                    }
                    messages.remove(&id)?;
                    steps.remove(&id)?;
                    Ok(true)
                })
                .map_err(tx_error)?;
            if removed {
                pruned.messages += 1;
                pruned.deliveries += links.len();
            }
        }
        if from.is_some() {
            return Ok(pruned);
        }
        let mut forgotten = sled::Batch::default();
        for entry in &self.dedup {
            let (key, value) = entry?;
            let (_, first_at): (String, u64) = decode("dedup entry", &value)?;
            if first_at < before {
                forgotten.remove(key);
                pruned.dedup_keys += 1;
            }
        }
        self.dedup.apply_batch(forgotten)?;
        Ok(pruned)
    }
}
