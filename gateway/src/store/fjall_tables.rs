//! The fjall store's keyspaces and key layout.
//!
//! The layout follows the sled store's trees (see [`super::keys`]), with one
//! change: a message's status lives apart from what was received, so the
//! pipeline's outcome does not rewrite the body.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};

use super::Error;
use super::keys::{self, decode};
use super::{Message, MessageStatus, NewMessage};

/// Keyspace names; the `v1` is the record format's version.
const RECEIVED: &str = "received.v1";
const STATUSES: &str = "statuses.v1";

/// The database and its keyspaces; cheap to clone (handles).
#[derive(Clone)]
pub(super) struct Tables {
    /// The database: one journal for every keyspace.
    pub(super) db: Database,
    /// message id → [`NewMessage`]: what was received, never rewritten.
    pub(super) received: Keyspace,
    /// message id → [`MessageStatus`].
    pub(super) statuses: Keyspace,
    /// ids of messages waiting for the pipeline.
    pub(super) pipeline: Keyspace,
    /// `source \0 key` → (first id, received-at).
    pub(super) dedup: Keyspace,
    /// id → [`super::Delivery`].
    pub(super) deliveries: Keyspace,
    /// `message \0 delivery` → ().
    pub(super) by_message: Keyspace,
    /// `due delivery` → (): what is scheduled, by time.
    pub(super) schedule: Keyspace,
    /// delivery id → lease end (BE u64): deliveries claimed by a worker.
    pub(super) claims: Keyspace,
    /// endpoint name → (disabled at, reason).
    pub(super) disabled: Keyspace,
    /// `kind \0 name` → JSON: objects the management API created.
    pub(super) objects: Keyspace,
    /// content hash → plugin component bytes.
    pub(super) blobs: Keyspace,
    /// No schedule entry is due before this time. Removed entries leave
    /// tombstones at the front of the schedule until compaction; scans
    /// start here instead of wading through them.
    schedule_floor: Arc<AtomicU64>,
    /// No message waits for the pipeline with a smaller id (ids only grow),
    /// for the same reason.
    pipeline_floor: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").finish_non_exhaustive()
    }
}

impl Tables {
    /// Opens (or creates) the database in `dir`. The journal is synced by
    /// the writer thread, never by fjall on each write.
    pub(super) fn open(dir: &Path) -> Result<Self, Error> {
        let db = Database::builder(dir).manual_journal_persist(true).open()?;
        let keyspace = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        Ok(Self {
            received: keyspace(RECEIVED)?,
            statuses: keyspace(STATUSES)?,
            pipeline: keyspace(keys::PIPELINE)?,
            dedup: keyspace(keys::DEDUP)?,
            deliveries: keyspace(keys::DELIVERIES)?,
            by_message: keyspace(keys::BY_MESSAGE)?,
            schedule: keyspace(keys::SCHEDULE)?,
            claims: keyspace(keys::CLAIMS)?,
            disabled: keyspace(keys::DISABLED_ENDPOINTS)?,
            objects: keyspace(keys::OBJECTS)?,
            blobs: keyspace(keys::BLOBS)?,
            schedule_floor: Arc::new(AtomicU64::new(0)),
            pipeline_floor: Arc::new(Mutex::new(Vec::new())),
            db,
        })
    }

    /// A message from its two records, given what was received.
    pub(super) fn assemble(&self, id: &str, received: &[u8]) -> Result<Message, Error> {
        let received: NewMessage = decode("message", received)?;
        let status = match self.statuses.get(id.as_bytes())? {
            Some(bytes) => decode("message status", &bytes)?,
            None => MessageStatus::Pending,
        };
        Ok(Message {
            id: id.to_owned(),
            received,
            status,
        })
    }

    /// One message.
    pub(super) fn message(&self, id: &str) -> Result<Option<Message>, Error> {
        self.received
            .get(id.as_bytes())?
            .map(|bytes| self.assemble(id, &bytes))
            .transpose()
    }

    /// One delivery.
    pub(super) fn delivery(&self, id: &str) -> Result<Option<super::Delivery>, Error> {
        self.deliveries
            .get(id.as_bytes())?
            .map(|bytes| decode("delivery", &bytes))
            .transpose()
    }

    /// Schedules delivery `id` at `at` in `batch`.
    pub(super) fn schedule(&self, batch: &mut fjall::OwnedWriteBatch, at: u64, id: &str) {
        self.schedule_floor.fetch_min(at, Ordering::SeqCst);
        batch.insert(&self.schedule, keys::schedule_key(at, id), []);
    }

    /// Everything scheduled before `at` has been taken out of the schedule.
    /// Only the writer thread calls this, after the batch that did it.
    pub(super) fn raise_schedule_floor(&self, at: u64) {
        self.schedule_floor.fetch_max(at, Ordering::SeqCst);
    }

    /// The schedule from its floor up to (not including) `end`, in order.
    pub(super) fn schedule_until(&self, end: u64) -> fjall::Iter {
        let floor = self.schedule_floor.load(Ordering::SeqCst);
        self.schedule
            .range(keys::schedule_key(floor, "")..keys::schedule_key(end, ""))
    }

    /// Up to `limit` ids waiting for the pipeline, oldest first.
    pub(super) fn pipeline_ids(&self, limit: usize) -> Result<Vec<String>, Error> {
        let mut floor = self
            .pipeline_floor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ids = self
            .pipeline
            .range(floor.clone()..)
            .take(limit)
            .map(|entry| Ok(entry.key()?))
            .collect::<Result<Vec<_>, Error>>()?;
        if let Some(first) = ids.first() {
            *floor = first.to_vec();
        }
        Ok(ids
            .iter()
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .collect())
    }

    /// How many messages wait for the pipeline.
    pub(super) fn pipeline_len(&self) -> usize {
        let floor = self
            .pipeline_floor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.pipeline.range(floor..).count()
    }
}
