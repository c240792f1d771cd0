//! The embedded store: sled trees on local disk, one process.

use std::path::Path;
use std::time::Duration;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::commit::GroupCommit;
use super::keys::{self, decode, encode};
use super::legacy::decode_delivery;
use super::migrate;
use super::sled_schedule::{self, Schedule};
use super::{
    Attempt, Claimed, Claims, Completion, Created, Delivery, DeliveryState, DisabledEndpoint,
    Error, Holder, Ingested, Lease, Leased, Message, MessageStatus, NewMessage, NextStep, Room,
    Store,
};

impl From<sled::Error> for Error {
    fn from(source: sled::Error) -> Self {
        Self::Engine {
            engine: super::Engine::Sled,
            source: Box::new(source),
        }
    }
}

/// The sled-backed [`Store`].
#[derive(Debug)]
pub struct SledStore {
    /// Kept so every tree shares one database and one log.
    pub(super) db: sled::Db,
    /// id → [`Message`].
    pub(super) messages: sled::Tree,
    /// message id → its chain's [`super::PluginStep`]s, when plugins ran.
    pub(super) steps: sled::Tree,
    /// ids of messages waiting for the pipeline.
    pub(super) pipeline: sled::Tree,
    /// `source \0 key` → (first id, received-at).
    pub(super) dedup: sled::Tree,
    /// id → [`Delivery`].
    pub(super) deliveries: sled::Tree,
    /// `message \0 delivery` → ().
    pub(super) by_message: sled::Tree,
    /// `due delivery` → (): what is scheduled, by time.
    pub(super) schedule: sled::Tree,
    /// `endpoint \0 due delivery` → (): the same, by endpoint.
    pub(super) by_endpoint: sled::Tree,
    /// delivery id → lease end (BE u64): deliveries claimed by a worker.
    pub(super) claims: sled::Tree,
    /// endpoint name → (disabled at, reason).
    pub(super) disabled: sled::Tree,
    /// `kind \0 name` → JSON: objects the management API created.
    pub(super) objects: sled::Tree,
    /// content hash → plugin component bytes.
    pub(super) blobs: sled::Tree,
    /// Message and delivery ids.
    ids: keys::Ids,
    /// The fsync batcher; dropped last, after the trees are idle.
    pub(super) commit: GroupCommit,
}

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<Error>>;

fn abort<T>(error: Error) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(error))
}

/// A store result inside a transaction: an error aborts it.
pub(super) fn tx<T>(result: Result<T, Error>) -> TxResult<T> {
    result.map_err(ConflictableTransactionError::Abort)
}

pub(super) fn tx_error(error: TransactionError<Error>) -> Error {
    match error {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => Error::from(e),
    }
}

/// How long an open waits for a store closed in this process to let go of
/// its lock file.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens sled in `dir`. sled releases its lock file when the last of its
/// detached IO threads ends, a moment after the store is dropped, so an
/// open right after a close in the same process (a restart in tests) can
/// find it held; that is retried for up to [`LOCK_WAIT`]. A lock held by
/// another process fails after that, naming the lock.
fn open_db(dir: &Path) -> Result<sled::Db, Error> {
    let started = std::time::Instant::now();
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                #[allow(
                    clippy::disallowed_methods,
                    reason = "opening is synchronous; sled's own threads release the lock"
                )]
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return Ok(result?),
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let db = open_db(dir)?;
        let messages = db.open_tree(keys::MESSAGES)?;
        let deliveries = db.open_tree(keys::DELIVERIES)?;
        let migrated = migrate::deliveries(&db, &messages, &deliveries)?;
        if migrated > 0 {
            tracing::info!(migrated, "deliveries moved to the current record format");
        }
        let schedule = db.open_tree(keys::SCHEDULE)?;
        let by_endpoint = db.open_tree(keys::SCHEDULE_BY_ENDPOINT)?;
        let indexed = sled_schedule::rebuild(&schedule, &by_endpoint, &deliveries)?;
        if indexed > 0 {
            tracing::info!(indexed, "the schedule indexed by endpoint");
        }
        Ok(Self {
            messages,
            steps: db.open_tree(keys::STEPS)?,
            pipeline: db.open_tree(keys::PIPELINE)?,
            dedup: db.open_tree(keys::DEDUP)?,
            deliveries,
            by_message: db.open_tree(keys::BY_MESSAGE)?,
            schedule,
            by_endpoint,
            claims: db.open_tree(keys::CLAIMS)?,
            disabled: db.open_tree(keys::DISABLED_ENDPOINTS)?,
            objects: db.open_tree(keys::OBJECTS)?,
            blobs: db.open_tree(keys::BLOBS)?,
            ids: keys::Ids::default(),
            commit: GroupCommit::start(db.clone())?,
            db,
        })
    }

    /// The trees a delivery, its place in the schedule and its claim live
    /// in, for one transaction.
    fn delivery_trees(&self) -> (&sled::Tree, &sled::Tree, &sled::Tree, &sled::Tree) {
        (
            &self.deliveries,
            &self.schedule,
            &self.by_endpoint,
            &self.claims,
        )
    }

    pub(super) fn load_delivery(&self, id: &str) -> Result<Option<Delivery>, Error> {
        self.deliveries
            .get(id.as_bytes())?
            .map(|bytes| decode_delivery(&bytes))
            .transpose()
    }
}

#[async_trait::async_trait]
impl Store for SledStore {
    async fn ingest(
        &self,
        message: &NewMessage,
        dedup_window: Duration,
        lease: Option<&Lease>,
    ) -> Result<Ingested, Error> {
        let id = self.ids.next("msg", message.received_at);
        let queued = lease
            .map(|l| encode("lease", l))
            .transpose()?
            .unwrap_or_default();
        let dedup = keys::Dedup::of(message, &id, dedup_window)?;
        let record = keys::encode_message(&id, message, &MessageStatus::Pending)?;
        let outcome = (&self.messages, &self.pipeline, &self.dedup)
            .transaction(|(messages, pipeline, seen)| {
                if let Some(dedup) = &dedup {
                    if let Some(stored) = seen.get(dedup.key.as_slice())?
                        && let Some(first) = tx(dedup.repeat_of(&stored))?
                    {
                        return Ok(Ingested::Duplicate(first));
                    }
                    seen.insert(dedup.key.as_slice(), dedup.entry.as_slice())?;
                }
                messages.insert(id.as_bytes(), record.as_slice())?;
                pipeline.insert(id.as_bytes(), queued.as_slice())?;
                Ok(Ingested::New(id.clone()))
            })
            .map_err(tx_error)?;
        // A duplicate waits too: its first message may not be durable yet.
        self.commit.durable().await?;
        Ok(outcome)
    }

    async fn pipeline_batch(
        &self,
        now: u64,
        holder: &Holder,
        limit: usize,
    ) -> Result<Vec<Leased>, Error> {
        let mut batch = Vec::new();
        for entry in &self.pipeline {
            if batch.len() >= limit {
                break;
            }
            let (id, stored) = entry?;
            if keys::decode_lease(&stored)?.until > now {
                continue;
            }
            let lease = keys::lease(holder);
            let record = encode("lease", &lease)?;
            // Leased only if still queued as the scan saw it.
            let taken = self
                .pipeline
                .compare_and_swap(&id, Some(stored), Some(record))?
                .is_ok();
            if !taken {
                continue;
            }
            if let Some(bytes) = self.messages.get(&id)? {
                batch.push(Leased {
                    message: decode("message", &bytes)?,
                    token: lease.token,
                });
            }
        }
        Ok(batch)
    }

    async fn requeue_failed(&self, message_id: &str) -> Result<Option<bool>, Error> {
        let requeued = (&self.messages, &self.pipeline, &self.steps)
            .transaction(|(messages, pipeline, steps)| {
                let Some(bytes) = messages.get(message_id.as_bytes())? else {
                    return Ok(None);
                };
                let mut message: Message = tx(decode("message", &bytes))?;
                if !matches!(message.status, MessageStatus::Failed { .. }) {
                    return Ok(Some(false));
                }
                message.status = MessageStatus::Pending;
                let encoded = tx(encode("message", &message))?;
                messages.insert(message_id.as_bytes(), encoded)?;
                // Its next run records its steps.
                steps.remove(message_id.as_bytes())?;
                // No lease: any scan takes it.
                pipeline.insert(message_id.as_bytes(), &[][..])?;
                Ok(Some(true))
            })
            .map_err(tx_error)?;
        self.commit.durable().await?;
        Ok(requeued)
    }

    async fn defer_pipeline(
        &self,
        message_id: &str,
        token: u64,
        until: u64,
    ) -> Result<bool, Error> {
        let Some(stored) = self.pipeline.get(message_id.as_bytes())? else {
            return Ok(false);
        };
        let Some(record) = keys::retimed(Some(&stored), token, until)? else {
            return Ok(false);
        };
        Ok(self
            .pipeline
            .compare_and_swap(message_id.as_bytes(), Some(stored), Some(record))?
            .is_ok())
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
        let claim_record = lease.as_ref().map(|l| encode("claim", l)).transpose()?;
        let steps = (!steps.is_empty())
            .then(|| super::steps::encode_steps(&steps))
            .transpose()?;
        let records = keys::new_deliveries(&self.ids, message_id, deliveries, now, due)?;
        let skipped = keys::skipped_deliveries(&self.ids, message_id, skipped, now)?;
        let trees = (
            &self.messages,
            &self.pipeline,
            &self.deliveries,
            &self.by_message,
            &self.schedule,
            &self.by_endpoint,
            &self.claims,
            &self.steps,
        );
        let completed = trees
            .transaction(
                |(
                    messages,
                    pipeline,
                    deliveries,
                    by_message,
                    by_time,
                    by_endpoint,
                    claims,
                    steps_tree,
                )| {
                    let schedule = Schedule::new(by_time, by_endpoint);
                    let queued = pipeline.get(message_id.as_bytes())?;
                    if !tx(keys::holds(queued.as_deref(), token))? {
                        // Not waiting, or another's lease.
                        return Ok(false);
                    }
                    pipeline.remove(message_id.as_bytes())?;
                    let Some(bytes) = messages.get(message_id.as_bytes())? else {
                        return Ok(false);
                    };
                    let mut message: Message = tx(decode("message", &bytes))?;
                    message.status = status.clone();
                    let encoded = tx(encode("message", &message))?;
                    messages.insert(message_id.as_bytes(), encoded)?;
                    if let Some(steps) = &steps {
                        steps_tree.insert(message_id.as_bytes(), steps.as_slice())?;
                    }
                    for (delivery, record) in &records {
                        let id = &delivery.id;
                        deliveries.insert(id.as_bytes(), record.as_slice())?;
                        by_message.insert(keys::by_message_key(message_id, id), &[])?;
                        schedule.insert(due, delivery)?;
                        if let Some(claim) = &claim_record {
                            claims.insert(id.as_bytes(), claim.as_slice())?;
                        }
                    }
                    for (delivery, record) in &skipped {
                        let id = &delivery.id;
                        deliveries.insert(id.as_bytes(), record.as_slice())?;
                        by_message.insert(keys::by_message_key(message_id, id), &[])?;
                    }
                    Ok(true)
                },
            )
            .map_err(tx_error)?;
        Ok(completed.then(|| Created {
            deliveries: records.into_iter().map(|(d, _)| d).collect(),
            token: lease.map(|l| l.token),
        }))
    }

    async fn claim_due(&self, now: u64, holder: &Holder, room: &Room) -> Result<Claims, Error> {
        let due = sled_schedule::due(&self.by_endpoint, now.saturating_add(1), room)?;
        let mut claimed = Vec::with_capacity(due.taken.len());
        for (at, id, endpoint) in due.taken {
            let lease = keys::lease(holder);
            let record = encode("claim", &lease)?;
            let delivery = self
                .delivery_trees()
                .transaction(|(deliveries, by_time, by_endpoint, claims)| {
                    if by_time.remove(keys::schedule_key(at, &id))?.is_none() {
                        return Ok(None);
                    }
                    by_endpoint.remove(keys::endpoint_schedule_key(&endpoint, at, &id))?;
                    let Some(bytes) = deliveries.get(id.as_bytes())? else {
                        return Ok(None);
                    };
                    let mut delivery: Delivery = tx(decode_delivery(&bytes))?;
                    delivery.state = DeliveryState::Scheduled { at: lease.until };
                    let encoded = tx(encode("delivery", &delivery))?;
                    deliveries.insert(id.as_bytes(), encoded)?;
                    Schedule::new(by_time, by_endpoint).insert(lease.until, &delivery)?;
                    claims.insert(id.as_bytes(), record.as_slice())?;
                    Ok(Some(delivery))
                })
                .map_err(tx_error)?;
            claimed.extend(delivery.map(|delivery| Claimed {
                delivery,
                token: lease.token,
            }));
        }
        Ok(Claims {
            claimed,
            waiting: due.waiting,
        })
    }

    async fn renew_claim(&self, delivery_id: &str, token: u64, until: u64) -> Result<bool, Error> {
        self.delivery_trees()
            .transaction(|(deliveries, by_time, by_endpoint, claims)| {
                let schedule = Schedule::new(by_time, by_endpoint);
                let stored = claims.get(delivery_id.as_bytes())?;
                let Some(record) = tx(keys::retimed(stored.as_deref(), token, until))? else {
                    return Ok(false);
                };
                let Some(bytes) = deliveries.get(delivery_id.as_bytes())? else {
                    return Ok(false);
                };
                let mut delivery: Delivery = tx(decode_delivery(&bytes))?;
                if let DeliveryState::Scheduled { at } = delivery.state {
                    schedule.remove(at, &delivery)?;
                }
                delivery.state = DeliveryState::Scheduled { at: until };
                schedule.insert(until, &delivery)?;
                deliveries.insert(delivery_id.as_bytes(), tx(encode("delivery", &delivery))?)?;
                claims.insert(delivery_id.as_bytes(), record)?;
                Ok(true)
            })
            .map_err(tx_error)
    }

    async fn release_claims(&self, now: u64, node: &str) -> Result<usize, Error> {
        let mut dead = Vec::new();
        for entry in &self.claims {
            let (id, stored) = entry?;
            let lease = keys::decode_lease(&stored)?;
            if lease.until <= now || lease.node == node {
                dead.push((String::from_utf8_lossy(&id).into_owned(), lease.token));
            }
        }
        let mut released = 0;
        for (id, token) in &dead {
            let done = self
                .delivery_trees()
                .transaction(|(deliveries, by_time, by_endpoint, claims)| {
                    let schedule = Schedule::new(by_time, by_endpoint);
                    // Taken over since the scan: no longer dead.
                    if !tx(keys::holds(claims.get(id.as_bytes())?.as_deref(), *token))? {
                        return Ok(false);
                    }
                    claims.remove(id.as_bytes())?;
                    let Some(bytes) = deliveries.get(id.as_bytes())? else {
                        return Ok(true);
                    };
                    let mut delivery: Delivery = tx(decode_delivery(&bytes))?;
                    if let DeliveryState::Scheduled { at } = delivery.state {
                        schedule.remove(at, &delivery)?;
                        delivery.state = DeliveryState::Scheduled { at: now };
                        let encoded = tx(encode("delivery", &delivery))?;
                        deliveries.insert(id.as_bytes(), encoded)?;
                        schedule.insert(now, &delivery)?;
                    }
                    Ok(true)
                })
                .map_err(tx_error)?;
            released += usize::from(done);
        }
        for entry in &self.pipeline {
            let (id, stored) = entry?;
            if !stored.is_empty() && keys::decode_lease(&stored)?.node == node {
                // No lease: any scan takes it. Only if unchanged since read.
                let empty: &[u8] = &[];
                if self
                    .pipeline
                    .compare_and_swap(&id, Some(stored), Some(empty))?
                    .is_ok()
                {
                    released += 1;
                }
            }
        }
        Ok(released)
    }

    async fn next_due(&self) -> Result<Option<u64>, Error> {
        Ok(self
            .schedule
            .first()?
            .and_then(|(key, _)| keys::parse_schedule_key(&key))
            .map(|(at, _)| at))
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        token: u64,
        attempt: Attempt,
        next: NextStep,
    ) -> Result<Option<Delivery>, Error> {
        let at = attempt.at;
        let delivery = self
            .delivery_trees()
            .transaction(|(deliveries, by_time, by_endpoint, claims)| {
                let schedule = Schedule::new(by_time, by_endpoint);
                let Some(bytes) = deliveries.get(delivery_id.as_bytes())? else {
                    return abort(Error::NotFound {
                        what: "delivery",
                        id: delivery_id.to_owned(),
                    });
                };
                if !tx(keys::holds(
                    claims.get(delivery_id.as_bytes())?.as_deref(),
                    token,
                ))? {
                    return Ok(None);
                }
                claims.remove(delivery_id.as_bytes())?;
                let mut delivery: Delivery = tx(decode_delivery(&bytes))?;
                if let DeliveryState::Scheduled { at } = delivery.state {
                    schedule.remove(at, &delivery)?;
                }
                delivery.attempts.push(attempt.clone());
                if let NextStep::RetryAt(when) = &next {
                    schedule.insert(*when, &delivery)?;
                }
                delivery.state = keys::state_after(&next, at);
                let encoded = tx(encode("delivery", &delivery))?;
                deliveries.insert(delivery_id.as_bytes(), encoded)?;
                Ok(Some(delivery))
            })
            .map_err(tx_error)?;
        // Not fsync'd on its own: it reaches disk with the next group commit
        // or sled's periodic flush. If it is lost in a crash, the delivery is
        // still in the schedule (or its claim is released) and is sent again,
        // which at-least-once allows.
        Ok(delivery)
    }

    async fn reschedule(
        &self,
        delivery_id: &str,
        at: u64,
        token: Option<u64>,
    ) -> Result<Option<Delivery>, Error> {
        self.delivery_trees()
            .transaction(|(deliveries, by_time, by_endpoint, claims)| {
                let schedule = Schedule::new(by_time, by_endpoint);
                if let Some(token) = token
                    && !tx(keys::holds(
                        claims.get(delivery_id.as_bytes())?.as_deref(),
                        token,
                    ))?
                {
                    return Ok(None);
                }
                claims.remove(delivery_id.as_bytes())?;
                let Some(bytes) = deliveries.get(delivery_id.as_bytes())? else {
                    return Ok(None);
                };
                let mut delivery: Delivery = tx(decode_delivery(&bytes))?;
                if let DeliveryState::Scheduled { at } = delivery.state {
                    schedule.remove(at, &delivery)?;
                }
                delivery.state = DeliveryState::Scheduled { at };
                schedule.insert(at, &delivery)?;
                let encoded = tx(encode("delivery", &delivery))?;
                deliveries.insert(delivery_id.as_bytes(), encoded)?;
                Ok(Some(delivery))
            })
            .map_err(tx_error)
    }

    async fn disable_endpoint(&self, record: DisabledEndpoint) -> Result<DisabledEndpoint, Error> {
        let name = record.name.as_bytes();
        let value = keys::disabled_value(&record)?;
        // Insert only where nothing is: the first record stands.
        let swapped = self
            .disabled
            .compare_and_swap(name, None::<&[u8]>, Some(value))?;
        if let Err(sled::CompareAndSwapError {
            current: Some(found),
            ..
        }) = swapped
        {
            return keys::disabled_record(name, &found);
        }
        self.commit.durable().await?;
        Ok(record)
    }

    async fn announced(&self, name: &str, at: u64) -> Result<(), Error> {
        let Some(found) = self.disabled.get(name.as_bytes())? else {
            return Ok(());
        };
        let mut record = keys::disabled_record(name.as_bytes(), &found)?;
        if record.at != at || !record.announce {
            return Ok(());
        }
        record.announce = false;
        let value = keys::disabled_value(&record)?;
        // Only over what was read: an enable or a new disable meanwhile wins.
        if self
            .disabled
            .compare_and_swap(name.as_bytes(), Some(found), Some(value))?
            .is_ok()
        {
            self.commit.durable().await?;
        }
        Ok(())
    }

    async fn enable_endpoint(&self, name: &str) -> Result<(), Error> {
        self.disabled.remove(name.as_bytes())?;
        self.commit.durable().await
    }

    async fn disabled_endpoints(&self) -> Result<Vec<DisabledEndpoint>, Error> {
        self.disabled
            .iter()
            .map(|entry| {
                let (name, value) = entry?;
                keys::disabled_record(&name, &value)
            })
            .collect()
    }

    async fn message(&self, id: &str) -> Result<Option<Message>, Error> {
        self.messages
            .get(id.as_bytes())?
            .map(|bytes| decode("message", &bytes))
            .transpose()
    }

    async fn message_steps(&self, id: &str) -> Result<Vec<super::PluginStep>, Error> {
        match self.steps.get(id.as_bytes())? {
            Some(bytes) => super::steps::decode_steps(&bytes),
            None => Ok(Vec::new()),
        }
    }

    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, Error> {
        self.load_delivery(id)
    }

    async fn deliveries_of(&self, message_id: &str) -> Result<Vec<Delivery>, Error> {
        let prefix = keys::by_message_key(message_id, "");
        let mut found = Vec::new();
        for key in self.by_message.scan_prefix(&prefix).keys() {
            let key = key?;
            let id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            found.extend(self.load_delivery(&id)?);
        }
        Ok(found)
    }

    async fn scheduled_count(&self) -> Result<usize, Error> {
        Ok(self.schedule.len())
    }

    async fn pipeline_count(&self) -> Result<usize, Error> {
        Ok(self.pipeline.len())
    }

    async fn message_count(&self) -> Result<usize, Error> {
        Ok(self.messages.len())
    }

    async fn flush(&self) -> Result<(), Error> {
        self.commit.durable().await
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Best effort: the group-commit thread flushes what callers waited
        // for; this covers the rest (leases, pipeline outcomes).
        let _ = self.db.flush();
    }
}
