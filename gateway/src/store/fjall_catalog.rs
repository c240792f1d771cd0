//! The fjall side of [`Catalog`]: API objects, plugin components, listings by
//! time (ids are ULIDs, so a key range is a time range) and pruning.

use std::ops::Bound;

use fjall::Readable;

use super::fjall_store::FjallStore;
use super::keys::{self, decode};
use super::legacy::decode_delivery;
use super::query::{Page, id_range, page};
use super::{
    Catalog, Delivery, DeliveryQuery, DeliveryState, Error, Message, MessageQuery, MessageStatus,
    Pruned,
};

/// Idempotency keys forgotten per writer job.
const FORGET_BATCH: usize = 256;

/// The first-seen time of a dedup entry.
fn first_seen(value: &[u8]) -> Result<u64, Error> {
    let (_, first_at): (String, u64) = decode("dedup entry", value)?;
    Ok(first_at)
}

impl FjallStore {
    /// Forgets idempotency keys first seen before `before`. The keys are
    /// found outside the writer and removed in small jobs, each checking
    /// again that the key was not seen anew meanwhile.
    async fn forget_keys(&self, before: u64) -> Result<usize, Error> {
        let mut old = Vec::new();
        for entry in self.tables.dedup.iter() {
            let (key, value) = entry.into_inner()?;
            if first_seen(&value)? < before {
                old.push(key);
            }
        }
        let mut forgotten = 0;
        for chunk in old.chunks(FORGET_BATCH) {
            let chunk = chunk.to_vec();
            forgotten += self
                .writer
                .apply(false, move |t| {
                    let mut batch = t.db.batch();
                    let mut removed = 0;
                    for key in chunk {
                        if let Some(value) = t.dedup.get(&key)?
                            && first_seen(&value)? < before
                        {
                            batch.remove(&t.dedup, key);
                            removed += 1;
                        }
                    }
                    batch.commit()?;
                    Ok(removed)
                })
                .await?;
        }
        Ok(forgotten)
    }
}

#[async_trait::async_trait]
impl Catalog for FjallStore {
    async fn put_object(&self, kind: &str, name: &str, json: Vec<u8>) -> Result<(), Error> {
        let key = keys::object_key(kind, name);
        self.writer
            .apply(true, move |t| Ok(t.objects.insert(key, json)?))
            .await
    }

    async fn delete_object(&self, kind: &str, name: &str) -> Result<(), Error> {
        let key = keys::object_key(kind, name);
        self.writer
            .apply(true, move |t| Ok(t.objects.remove(key)?))
            .await
    }

    async fn objects(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let prefix = keys::object_key(kind, "");
        self.tables
            .objects
            .prefix(&prefix)
            .map(|entry| {
                let (key, value) = entry.into_inner()?;
                let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                Ok((name, value.to_vec()))
            })
            .collect()
    }

    async fn put_blob(&self, hash: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let hash = hash.to_owned();
        self.writer
            .apply(true, move |t| Ok(t.blobs.insert(hash.as_bytes(), bytes)?))
            .await
    }

    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.tables.blobs.get(hash.as_bytes())?.map(|b| b.to_vec()))
    }

    async fn list_messages(&self, query: &MessageQuery) -> Result<Page<Message>, Error> {
        let range = id_range("msg", query.since, query.until, query.before.as_deref());
        let tables = &self.tables;
        let view = tables.snapshot();
        let items = view.range(&tables.received, range).rev().map(|entry| {
            let (id, bytes) = entry.into_inner()?;
            tables.assemble(&view, &String::from_utf8_lossy(&id), &bytes)
        });
        page(
            items,
            query.limit,
            |m| query.matches(m),
            |m: &Message| &m.id,
        )
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Page<Delivery>, Error> {
        let range = id_range("dlv", query.since, query.until, query.before.as_deref());
        let items = self.tables.deliveries.range(range).rev().map(|entry| {
            let (_, bytes) = entry.into_inner()?;
            decode_delivery(&bytes)
        });
        page(
            items,
            query.limit,
            |d| query.matches(d),
            |d: &Delivery| &d.id,
        )
    }

    async fn prune(&self, before: u64, from: Option<&str>, limit: usize) -> Result<Pruned, Error> {
        let first_pass = from.is_none();
        let from = from.map(str::to_owned);
        // In the writer: the check and the removal are one step, so a replay
        // that reschedules one of the deliveries meanwhile wins and the
        // message is kept. Bounded by `limit`, so other writes wait little.
        let mut pruned = self
            .writer
            .apply(false, move |t| {
                let mut pruned = Pruned::default();
                let end = keys::id_floor("msg", before).into_bytes();
                let start = from.as_ref().map_or(Bound::Unbounded, |id| {
                    Bound::Excluded(id.as_bytes().to_vec())
                });
                let candidates = t
                    .received
                    .range((start, Bound::Excluded(end)))
                    .take(limit)
                    .map(|entry| Ok(String::from_utf8_lossy(&entry.key()?).into_owned()))
                    .collect::<Result<Vec<String>, Error>>()?;
                if candidates.len() == limit {
                    pruned.resume = candidates.last().cloned();
                }
                let mut batch = t.db.batch();
                let view = t.snapshot();
                for id in candidates {
                    // The status only: the body may be megabytes.
                    if !t.received.contains_key(id.as_bytes())? {
                        continue;
                    }
                    if t.status(&view, &id)? == MessageStatus::Pending
                        || t.pipeline.contains_key(id.as_bytes())?
                    {
                        continue;
                    }
                    let prefix = keys::by_message_key(&id, "");
                    let mut links = Vec::new();
                    for entry in t.by_message.prefix(&prefix) {
                        let key = entry.key()?;
                        let delivery = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                        links.push((key, delivery));
                    }
                    let mut scheduled = false;
                    for (_, delivery) in &links {
                        if let Some(d) = t.delivery(delivery)? {
                            scheduled |= matches!(d.state, DeliveryState::Scheduled { .. });
                        }
                    }
                    if scheduled {
                        continue;
                    }
                    for (key, delivery) in &links {
                        batch.remove(&t.deliveries, delivery.as_bytes());
                        batch.remove(&t.by_message, key.clone());
                    }
                    batch.remove(&t.received, id.as_bytes());
                    batch.remove(&t.statuses, id.as_bytes());
                    batch.remove(&t.steps, id.as_bytes());
                    pruned.messages += 1;
                    pruned.deliveries += links.len();
                }
                batch.commit()?;
                Ok(pruned)
            })
            .await?;
        if first_pass {
            pruned.dedup_keys = self.forget_keys(before).await?;
        }
        Ok(pruned)
    }
}
