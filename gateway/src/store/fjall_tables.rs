//! The fjall store's keyspaces and key layout.
//!
//! The layout follows the sled store's trees (see [`super::keys`]), with two
//! changes: a message's status lives apart from what was received, so the
//! pipeline's outcome does not rewrite the body; and the schedule is mirrored
//! in memory, because an LSM tree keeps the entries a queue removes as
//! tombstones until compaction, and a scan for "what is due first" would wade
//! through all of them. The mirror ([`Mirror`]: by time and by endpoint)
//! costs about 200 bytes per scheduled delivery and is rebuilt from the
//! keyspace at open; a schedule entry's value is its delivery's endpoint
//! (empty in stores written before claims were per endpoint: then the
//! delivery says).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, Readable, Snapshot};

use super::Error;
use super::fjall_schedule::Mirror;
use super::keys::{self, decode};
use super::legacy::decode_delivery;
use super::{Message, MessageStatus, NewMessage};

impl From<fjall::Error> for Error {
    fn from(source: fjall::Error) -> Self {
        Self::Engine {
            engine: super::Engine::Fjall,
            source: Box::new(source),
        }
    }
}

/// Keyspace names; the `v1` is the record format's version.
const RECEIVED: &str = "received.v1";
const STATUSES: &str = "statuses.v1";
const STEPS: &str = "steps.v1";

/// The database and its keyspaces; cheap to clone (handles).
#[derive(Clone)]
pub(super) struct Tables {
    /// The database: one journal for every keyspace.
    pub(super) db: Database,
    /// message id → [`NewMessage`]: what was received, never rewritten.
    pub(super) received: Keyspace,
    /// message id → [`MessageStatus`].
    pub(super) statuses: Keyspace,
    /// message id → its chain's [`super::PluginStep`]s, when plugins ran.
    pub(super) steps: Keyspace,
    /// ids of messages waiting for the pipeline.
    pub(super) pipeline: Keyspace,
    /// `source \0 key` → (first id, received-at).
    pub(super) dedup: Keyspace,
    /// id → [`super::Delivery`].
    pub(super) deliveries: Keyspace,
    /// `message \0 delivery` → ().
    pub(super) by_message: Keyspace,
    /// `due delivery` → endpoint: what is scheduled, by time.
    pub(super) schedule: Keyspace,
    /// delivery id → lease end (BE u64): deliveries claimed by a worker.
    pub(super) claims: Keyspace,
    /// endpoint name → (disabled at, reason).
    pub(super) disabled: Keyspace,
    /// `kind \0 name` → JSON: objects the management API created.
    pub(super) objects: Keyspace,
    /// content hash → plugin component bytes.
    pub(super) blobs: Keyspace,
    /// The schedule keyspace's entries, in memory; changed only by a
    /// committed [`Change`].
    index: Arc<Mutex<Mirror>>,
    /// Where scans of the pipeline queue start, past the tombstones of
    /// messages the pipeline finished.
    pipeline_floor: Arc<Mutex<Floor>>,
}

/// No message waits for the pipeline with an id below `key`: the smallest
/// the last scan found, or any id queued since that is smaller.
#[derive(Debug, Default)]
struct Floor {
    key: Vec<u8>,
    /// The smallest id queued since the running scan began, which its walk
    /// may not have seen.
    lowest_queued: Option<Vec<u8>>,
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
        Self {
            received: keyspace(RECEIVED)?,
            statuses: keyspace(STATUSES)?,
            steps: keyspace(STEPS)?,
            pipeline: keyspace(keys::PIPELINE)?,
            dedup: keyspace(keys::DEDUP)?,
            deliveries: keyspace(keys::DELIVERIES)?,
            by_message: keyspace(keys::BY_MESSAGE)?,
            schedule: keyspace(keys::SCHEDULE)?,
            claims: keyspace(keys::CLAIMS)?,
            disabled: keyspace(keys::DISABLED_ENDPOINTS)?,
            objects: keyspace(keys::OBJECTS)?,
            blobs: keyspace(keys::BLOBS)?,
            index: Arc::default(),
            pipeline_floor: Arc::new(Mutex::new(Floor::default())),
            db,
        }
        .with_index()
    }

    /// Loads the schedule's mirror.
    fn with_index(self) -> Result<Self, Error> {
        let mut index = Mirror::default();
        for entry in self.schedule.iter() {
            let (key, value) = entry.into_inner()?;
            let Some((at, id)) = keys::parse_schedule_key(&key) else {
                continue;
            };
            let endpoint = if value.is_empty() {
                self.delivery(&id)?
                    .map(|d| d.plan.endpoint)
                    .unwrap_or_default()
            } else {
                String::from_utf8_lossy(&value).into_owned()
            };
            index.insert(at, &id, &endpoint);
        }
        *self.index() = index;
        Ok(self)
    }

    fn index(&self) -> MutexGuard<'_, Mirror> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new change to the database.
    pub(super) fn change(&self) -> Change<'_> {
        Change {
            tables: self,
            batch: self.db.batch(),
            scheduled: Vec::new(),
            unscheduled: Vec::new(),
        }
    }

    /// A consistent view: a batch is either wholly in it or not at all.
    /// (Reads on the keyspaces themselves can see a batch being applied,
    /// one key at a time.) For reads that span keys.
    pub(super) fn snapshot(&self) -> Snapshot {
        self.db.snapshot()
    }

    /// A message from its two records, given what was received.
    pub(super) fn assemble(
        &self,
        view: &Snapshot,
        id: &str,
        received: &[u8],
    ) -> Result<Message, Error> {
        let received: NewMessage = decode("message", received)?;
        Ok(Message {
            id: id.to_owned(),
            received,
            status: self.status(view, id)?,
        })
    }

    /// A message's status; no record means it waits for the pipeline.
    pub(super) fn status(&self, view: &Snapshot, id: &str) -> Result<MessageStatus, Error> {
        Ok(match view.get(&self.statuses, id.as_bytes())? {
            Some(bytes) => decode("message status", &bytes)?,
            None => MessageStatus::Pending,
        })
    }

    /// One message.
    pub(super) fn message(&self, id: &str) -> Result<Option<Message>, Error> {
        self.message_in(&self.snapshot(), id)
    }

    /// One message as `view` sees it.
    pub(super) fn message_in(&self, view: &Snapshot, id: &str) -> Result<Option<Message>, Error> {
        view.get(&self.received, id.as_bytes())?
            .map(|bytes| self.assemble(view, id, &bytes))
            .transpose()
    }

    /// One delivery.
    pub(super) fn delivery(&self, id: &str) -> Result<Option<super::Delivery>, Error> {
        self.deliveries
            .get(id.as_bytes())?
            .map(|bytes| decode_delivery(&bytes))
            .transpose()
    }

    /// Deliveries due before `end`, as many of each endpoint as `room`
    /// allows ([`super::Room::select`]).
    pub(super) fn due(&self, end: u64, room: &super::Room) -> super::Selected {
        self.index().due(end, room)
    }

    /// When the earliest scheduled delivery is due.
    pub(super) fn next_due(&self) -> Option<u64> {
        self.index().first()
    }

    /// How many deliveries are scheduled.
    pub(super) fn scheduled_len(&self) -> usize {
        self.index().len()
    }

    /// Up to `limit` ids waiting for the pipeline whose lease lapsed by
    /// `now` (or that have none), oldest first.
    pub(super) fn pipeline_ids(&self, now: u64, limit: usize) -> Result<Vec<String>, Error> {
        // Not held during the walk: the writer takes it for every ingest.
        let start = {
            let mut floor = self.floor();
            floor.lowest_queued = None;
            floor.key.clone()
        };
        let mut first = None;
        let mut ids = Vec::new();
        for entry in self.pipeline.range(start.clone()..) {
            if ids.len() >= limit {
                break;
            }
            let (key, lease) = entry.into_inner()?;
            if keys::decode_lease(&lease)?.until <= now {
                ids.push(String::from_utf8_lossy(&key).into_owned());
            }
            first.get_or_insert(key);
        }
        if let Some(first) = first {
            let mut floor = self.floor();
            // Not past a message queued during the walk, which it may not
            // have seen.
            floor.key = match floor.lowest_queued.take() {
                Some(queued) => queued.min(first.to_vec()),
                None => first.to_vec(),
            };
        }
        Ok(ids)
    }

    /// A message was queued for the pipeline: scans must not start after
    /// it. (Ids grow within a run; after a restart with the clock set back,
    /// a new id can sort before one still queued from the last run.)
    pub(super) fn queued(&self, id: &str) {
        let mut floor = self.floor();
        let id = id.as_bytes();
        if id < floor.key.as_slice() {
            floor.key = id.to_vec();
        }
        if floor.lowest_queued.as_deref().is_none_or(|low| id < low) {
            floor.lowest_queued = Some(id.to_vec());
        }
    }

    fn floor(&self) -> MutexGuard<'_, Floor> {
        self.pipeline_floor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many messages wait for the pipeline.
    pub(super) fn pipeline_len(&self) -> usize {
        let floor = self.floor().key.clone();
        self.pipeline.range(floor..).count()
    }
}

/// One atomic write batch, with the schedule changes it makes; the mirror
/// follows only once the batch is committed.
pub(super) struct Change<'a> {
    tables: &'a Tables,
    /// The writes.
    pub(super) batch: fjall::OwnedWriteBatch,
    scheduled: Vec<(u64, String, String)>,
    unscheduled: Vec<(u64, String, String)>,
}

impl<'a> Change<'a> {
    /// The tables it changes.
    pub(super) fn tables(&self) -> &'a Tables {
        self.tables
    }

    /// Puts delivery `id`, of `endpoint`, in the schedule at `at`.
    pub(super) fn schedule(&mut self, at: u64, id: &str, endpoint: &str) {
        self.batch.insert(
            &self.tables.schedule,
            keys::schedule_key(at, id),
            endpoint.as_bytes(),
        );
        self.scheduled
            .push((at, id.to_owned(), endpoint.to_owned()));
    }

    /// Takes delivery `id`, of `endpoint`, out of the schedule at `at`.
    pub(super) fn unschedule(&mut self, at: u64, id: &str, endpoint: &str) {
        self.batch
            .remove(&self.tables.schedule, keys::schedule_key(at, id));
        self.unscheduled
            .push((at, id.to_owned(), endpoint.to_owned()));
    }

    /// Commits the batch, then updates the mirror.
    pub(super) fn commit(self) -> Result<(), Error> {
        self.batch.commit()?;
        let mut index = self.tables.index();
        for (at, id, endpoint) in &self.unscheduled {
            index.remove(*at, id, endpoint);
        }
        for (at, id, endpoint) in &self.scheduled {
            index.insert(*at, id, endpoint);
        }
        Ok(())
    }
}
