//! The high-throughput embedded store: fjall (an LSM tree with one journal)
//! on local disk, one process.
//!
//! Changes run on the single writer thread ([`Writer`]), each as one atomic
//! write batch; reads go straight to the keyspaces from any thread. Ingest
//! and the other durable changes are answered after a journal sync shared by
//! everything queued meanwhile, so the cost of a sync is one `fdatasync` of
//! a few kilobytes per event, not a rewrite of tree pages.

use std::path::Path;
use std::time::Duration;

use fjall::Readable;

use super::fjall_tables::{Change, Tables};
use super::keys::{self, encode};
use super::legacy::decode_delivery;
use super::writer::Writer;
use super::{
    Attempt, Claimed, Claims, Completion, Created, Delivery, DeliveryState, DisabledEndpoint,
    Error, Holder, Ingested, Lease, Leased, Message, NewMessage, NextStep, Room, Store,
};

/// The fjall-backed [`Store`].
#[derive(Debug)]
pub struct FjallStore {
    /// For reads.
    pub(super) tables: Tables,
    /// For changes; dropped last, after the store is idle.
    pub(super) writer: Writer,
    /// Message and delivery ids.
    ids: keys::Ids,
}

impl FjallStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let tables = Tables::open(dir)?;
        Ok(Self {
            writer: Writer::start(tables.clone())?,
            tables,
            ids: keys::Ids::default(),
        })
    }
}

/// Sets a delivery's state, keeping the schedule in step; returns it.
fn set_state(
    change: &mut Change<'_>,
    mut delivery: Delivery,
    state: DeliveryState,
) -> Result<Delivery, Error> {
    let was = match delivery.state {
        DeliveryState::Scheduled { at } => Some(at),
        _ => None,
    };
    let will = match state {
        DeliveryState::Scheduled { at } => Some(at),
        _ => None,
    };
    // A key removed and inserted in one batch would be ambiguous: leave an
    // unchanged entry alone.
    if was != will {
        if let Some(at) = was {
            change.unschedule(at, &delivery.id, &delivery.plan.endpoint);
        }
        if let Some(at) = will {
            change.schedule(at, &delivery.id, &delivery.plan.endpoint);
        }
    }
    delivery.state = state;
    let record = encode("delivery", &delivery)?;
    let tables = change.tables();
    change
        .batch
        .insert(&tables.deliveries, delivery.id.as_bytes(), record);
    Ok(delivery)
}

#[async_trait::async_trait]
impl Store for FjallStore {
    async fn ingest(
        &self,
        message: &NewMessage,
        dedup_window: Duration,
        lease: Option<&Lease>,
    ) -> Result<Ingested, Error> {
        let id = self.ids.next("msg", message.received_at);
        let dedup = keys::Dedup::of(message, &id, dedup_window)?;
        let record = encode("message", message)?;
        let queued = lease
            .map(|l| encode("lease", l))
            .transpose()?
            .unwrap_or_default();
        // A duplicate waits for the sync too: its first message may not be
        // durable yet.
        self.writer
            .apply(true, move |t| {
                let mut batch = t.db.batch();
                if let Some(dedup) = dedup {
                    if let Some(stored) = t.dedup.get(&dedup.key)?
                        && let Some(first) = dedup.repeat_of(&stored)?
                    {
                        return Ok(Ingested::Duplicate(first));
                    }
                    batch.insert(&t.dedup, dedup.key, dedup.entry);
                }
                batch.insert(&t.received, id.as_bytes(), record);
                batch.insert(&t.pipeline, id.as_bytes(), queued);
                batch.commit()?;
                t.queued(&id);
                Ok(Ingested::New(id))
            })
            .await
    }

    async fn pipeline_batch(
        &self,
        now: u64,
        holder: &Holder,
        limit: usize,
    ) -> Result<Vec<Leased>, Error> {
        let holder = holder.clone();
        self.writer
            .apply(false, move |t| {
                let ids = t.pipeline_ids(now, limit)?;
                // One view for the batch. An id whose ingest is still being
                // applied is not in it yet; it stays queued for the next.
                let view = t.snapshot();
                let mut batch = t.db.batch();
                let mut leased = Vec::with_capacity(ids.len());
                for id in ids {
                    let Some(message) = t.message_in(&view, &id)? else {
                        continue;
                    };
                    let lease = keys::lease(&holder);
                    batch.insert(&t.pipeline, id.as_bytes(), encode("lease", &lease)?);
                    leased.push(Leased {
                        message,
                        token: lease.token,
                    });
                }
                batch.commit()?;
                Ok(leased)
            })
            .await
    }

    async fn requeue_failed(&self, message_id: &str) -> Result<Option<bool>, Error> {
        let message_id = message_id.to_owned();
        self.writer
            .apply(true, move |t| {
                let view = t.snapshot();
                if t.message_in(&view, &message_id)?.is_none() {
                    return Ok(None);
                }
                if !matches!(
                    t.status(&view, &message_id)?,
                    super::MessageStatus::Failed { .. }
                ) {
                    return Ok(Some(false));
                }
                let mut batch = t.db.batch();
                // No status record: pending; its next run records its steps.
                batch.remove(&t.statuses, message_id.as_bytes());
                batch.remove(&t.steps, message_id.as_bytes());
                batch.insert(&t.pipeline, message_id.as_bytes(), Vec::<u8>::new());
                batch.commit()?;
                t.queued(&message_id);
                Ok(Some(true))
            })
            .await
    }

    async fn defer_pipeline(
        &self,
        message_id: &str,
        token: u64,
        until: u64,
    ) -> Result<bool, Error> {
        let message_id = message_id.to_owned();
        self.writer
            .apply(false, move |t| {
                let stored = t.pipeline.get(message_id.as_bytes())?;
                let Some(record) = keys::retimed(stored.as_deref(), token, until)? else {
                    return Ok(false);
                };
                t.pipeline.insert(message_id.as_bytes(), record)?;
                Ok(true)
            })
            .await
    }

    async fn complete_pipeline(
        &self,
        message_id: &str,
        token: u64,
        completion: Completion,
    ) -> Result<Option<Created>, Error> {
        let Completion {
            status,
            deliveries,
            skipped,
            now,
            claim,
            steps,
        } = completion;
        let lease = claim.as_ref().map(keys::lease);
        let due = lease.as_ref().map_or(now, |l| l.until);
        let records = keys::new_deliveries(&self.ids, message_id, deliveries, now, due)?;
        let skipped = keys::skipped_deliveries(&self.ids, message_id, skipped, now)?;
        let status = encode("message status", &status)?;
        let steps = (!steps.is_empty())
            .then(|| super::steps::encode_steps(&steps))
            .transpose()?;
        let claim_record = lease.as_ref().map(|l| encode("claim", l)).transpose()?;
        let claim_token = lease.map(|l| l.token);
        let message_id = message_id.to_owned();
        self.writer
            .apply(false, move |t| {
                // Queued only together with what was received, and never
                // pruned while queued: a queued message exists.
                let queued = t.pipeline.get(message_id.as_bytes())?;
                if !keys::holds(queued.as_ref().map(AsRef::as_ref), token)? {
                    return Ok(None);
                }
                let mut change = t.change();
                change
                    .batch
                    .insert(&t.statuses, message_id.as_bytes(), status);
                if let Some(steps) = steps {
                    change.batch.insert(&t.steps, message_id.as_bytes(), steps);
                }
                change.batch.remove(&t.pipeline, message_id.as_bytes());
                let mut created = Vec::with_capacity(records.len());
                for (delivery, record) in records {
                    let id = delivery.id.as_bytes();
                    let link = keys::by_message_key(&message_id, &delivery.id);
                    change.batch.insert(&t.by_message, link, []);
                    change.schedule(due, &delivery.id, &delivery.plan.endpoint);
                    if let Some(claim) = &claim_record {
                        change.batch.insert(&t.claims, id, claim.as_slice());
                    }
                    change.batch.insert(&t.deliveries, id, record);
                    created.push(delivery);
                }
                for (delivery, record) in skipped {
                    let link = keys::by_message_key(&message_id, &delivery.id);
                    change.batch.insert(&t.by_message, link, []);
                    change
                        .batch
                        .insert(&t.deliveries, delivery.id.as_bytes(), record);
                }
                change.commit()?;
                Ok(Some(Created {
                    deliveries: created,
                    token: claim_token,
                }))
            })
            .await
    }

    async fn claim_due(&self, now: u64, holder: &Holder, room: &Room) -> Result<Claims, Error> {
        let holder = holder.clone();
        let room = room.clone();
        self.writer
            .apply(false, move |t| {
                let due = t.due(now.saturating_add(1), &room);
                let mut change = t.change();
                let mut claimed = Vec::with_capacity(due.taken.len());
                for (at, id, endpoint) in due.taken {
                    let Some(delivery) = t.delivery(&id)? else {
                        // An entry without its delivery (sled drops these
                        // too): left in place it would block the schedule.
                        change.unschedule(at, &id, &endpoint);
                        continue;
                    };
                    let lease = keys::lease(&holder);
                    let delivery = set_state(
                        &mut change,
                        delivery,
                        DeliveryState::Scheduled { at: lease.until },
                    )?;
                    change
                        .batch
                        .insert(&t.claims, id.as_bytes(), encode("claim", &lease)?);
                    claimed.push(Claimed {
                        delivery,
                        token: lease.token,
                    });
                }
                change.commit()?;
                Ok(Claims {
                    claimed,
                    waiting: due.waiting,
                })
            })
            .await
    }

    async fn renew_claim(&self, delivery_id: &str, token: u64, until: u64) -> Result<bool, Error> {
        let delivery_id = delivery_id.to_owned();
        self.writer
            .apply(false, move |t| {
                let stored = t.claims.get(delivery_id.as_bytes())?;
                let Some(record) = keys::retimed(stored.as_deref(), token, until)? else {
                    return Ok(false);
                };
                let Some(delivery) = t.delivery(&delivery_id)? else {
                    return Ok(false);
                };
                let mut change = t.change();
                set_state(
                    &mut change,
                    delivery,
                    DeliveryState::Scheduled { at: until },
                )?;
                change
                    .batch
                    .insert(&t.claims, delivery_id.as_bytes(), record);
                change.commit()?;
                Ok(true)
            })
            .await
    }

    async fn release_claims(&self, now: u64, node: &str) -> Result<usize, Error> {
        let node = node.to_owned();
        self.writer
            .apply(true, move |t| {
                let mut change = t.change();
                let mut released = 0;
                for entry in t.claims.iter() {
                    let (id, stored) = entry.into_inner()?;
                    let lease = keys::decode_lease(&stored)?;
                    if lease.until > now && lease.node != node {
                        continue;
                    }
                    change.batch.remove(&t.claims, id.clone());
                    released += 1;
                    let Some(delivery) = t.delivery(&String::from_utf8_lossy(&id))? else {
                        continue;
                    };
                    if matches!(delivery.state, DeliveryState::Scheduled { .. }) {
                        set_state(&mut change, delivery, DeliveryState::Scheduled { at: now })?;
                    }
                }
                for entry in t.pipeline.iter() {
                    let (id, stored) = entry.into_inner()?;
                    if !stored.is_empty() && keys::decode_lease(&stored)?.node == node {
                        // No lease: any scan takes it.
                        change.batch.insert(&t.pipeline, id, []);
                        released += 1;
                    }
                }
                change.commit()?;
                Ok(released)
            })
            .await
    }

    async fn next_due(&self) -> Result<Option<u64>, Error> {
        Ok(self.tables.next_due())
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        token: u64,
        attempt: Attempt,
        next: NextStep,
    ) -> Result<Option<Delivery>, Error> {
        let delivery_id = delivery_id.to_owned();
        // Not synced on its own: it reaches disk with the next sync. If it
        // is lost in a crash, the delivery is still in the schedule (or its
        // claim is released) and is sent again, which at-least-once allows.
        self.writer
            .apply(false, move |t| {
                let Some(mut delivery) = t.delivery(&delivery_id)? else {
                    return Err(Error::NotFound {
                        what: "delivery",
                        id: delivery_id,
                    });
                };
                let claim = t.claims.get(delivery_id.as_bytes())?;
                if !keys::holds(claim.as_deref(), token)? {
                    return Ok(None);
                }
                let at = attempt.at;
                delivery.attempts.push(attempt);
                let state = keys::state_after(&next, at);
                let mut change = t.change();
                change.batch.remove(&t.claims, delivery_id.as_bytes());
                let delivery = set_state(&mut change, delivery, state)?;
                change.commit()?;
                Ok(Some(delivery))
            })
            .await
    }

    async fn reschedule(
        &self,
        delivery_id: &str,
        at: u64,
        token: Option<u64>,
    ) -> Result<Option<Delivery>, Error> {
        let delivery_id = delivery_id.to_owned();
        self.writer
            .apply(false, move |t| {
                if let Some(token) = token {
                    let claim = t.claims.get(delivery_id.as_bytes())?;
                    if !keys::holds(claim.as_deref(), token)? {
                        return Ok(None);
                    }
                }
                let mut change = t.change();
                change.batch.remove(&t.claims, delivery_id.as_bytes());
                let delivery = match t.delivery(&delivery_id)? {
                    Some(delivery) => Some(set_state(
                        &mut change,
                        delivery,
                        DeliveryState::Scheduled { at },
                    )?),
                    None => None,
                };
                change.commit()?;
                Ok(delivery)
            })
            .await
    }

    async fn disable_endpoint(&self, record: DisabledEndpoint) -> Result<DisabledEndpoint, Error> {
        let value = keys::disabled_value(&record)?;
        self.writer
            .apply(true, move |t| {
                let name = record.name.as_bytes();
                if let Some(found) = t.disabled.get(name)? {
                    return keys::disabled_record(name, &found);
                }
                t.disabled.insert(name, value)?;
                Ok(record)
            })
            .await
    }

    async fn announced(&self, name: &str, at: u64) -> Result<(), Error> {
        let name = name.to_owned();
        self.writer
            .apply(true, move |t| {
                let Some(found) = t.disabled.get(name.as_bytes())? else {
                    return Ok(());
                };
                let mut record = keys::disabled_record(name.as_bytes(), &found)?;
                if record.at == at && record.announce {
                    record.announce = false;
                    t.disabled
                        .insert(name.as_bytes(), keys::disabled_value(&record)?)?;
                }
                Ok(())
            })
            .await
    }

    async fn enable_endpoint(&self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.writer
            .apply(true, move |t| Ok(t.disabled.remove(name.as_bytes())?))
            .await
    }

    async fn disabled_endpoints(&self) -> Result<Vec<DisabledEndpoint>, Error> {
        self.tables
            .disabled
            .iter()
            .map(|entry| {
                let (name, value) = entry.into_inner()?;
                keys::disabled_record(&name, &value)
            })
            .collect()
    }

    async fn message(&self, id: &str) -> Result<Option<Message>, Error> {
        self.tables.message(id)
    }

    async fn message_steps(&self, id: &str) -> Result<Vec<super::PluginStep>, Error> {
        match self.tables.steps.get(id.as_bytes())? {
            Some(bytes) => super::steps::decode_steps(&bytes),
            None => Ok(Vec::new()),
        }
    }

    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, Error> {
        self.tables.delivery(id)
    }

    async fn deliveries_of(&self, message_id: &str) -> Result<Vec<Delivery>, Error> {
        let prefix = keys::by_message_key(message_id, "");
        let view = self.tables.snapshot();
        let mut found = Vec::new();
        for entry in view.prefix(&self.tables.by_message, &prefix) {
            let key = entry.key()?;
            let id = &key[prefix.len()..];
            if let Some(bytes) = view.get(&self.tables.deliveries, id)? {
                found.push(decode_delivery(&bytes)?);
            }
        }
        Ok(found)
    }

    async fn scheduled_count(&self) -> Result<usize, Error> {
        Ok(self.tables.scheduled_len())
    }

    async fn pipeline_count(&self) -> Result<usize, Error> {
        Ok(self.tables.pipeline_len())
    }

    async fn message_count(&self) -> Result<usize, Error> {
        Ok(self.tables.received.len()?)
    }

    async fn flush(&self) -> Result<(), Error> {
        self.writer.apply(true, |_| Ok(())).await
    }
}
