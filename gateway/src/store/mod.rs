//! Durable state: messages, the pipeline queue, deliveries with their attempt
//! history, and the delivery schedule.
//!
//! Ingest, pipeline and delivery talk only to the [`Store`] trait, whose
//! operations are coarse and transactional (one call = one commit), so that a
//! networked backend shared by several gateway nodes (PostgreSQL) can be added
//! beside the embedded ones without touching them. The management side
//! (objects the API created, plugin components, listings, pruning) is the
//! separate [`Catalog`] trait.
//!
//! Three engines implement both, chosen by `[storage] engine`. Two are
//! embedded:
//! [`FjallStore`] (the default for a new data directory) makes a message
//! durable by syncing one append-only journal that every change goes
//! through on a single writer thread, and [`SledStore`] by flushing sled.
//! The journal writes a few kilobytes per event where sled rewrites tree
//! pages, so fjall sustains several times the durable ingest rate
//! (BENCHMARKS.md). The third, [`PostgresStore`], is shared: several
//! gateway nodes on one PostgreSQL database, each claiming work under the
//! leases below.
//!
//! **Invariant:** [`Store::ingest`] returns only after the message is on disk
//! (fsync'd, or on PostgreSQL committed with `synchronous_commit` on);
//! concurrent ingests share one fsync (group commit). Attempt
//! records are not fsync'd one by one: losing one re-sends the delivery.
//! **Invariant:** a delivery stays in the schedule until an attempt's outcome
//! is recorded; claiming it only moves it a lease into the future, so a crash
//! mid-attempt means it is sent again (at-least-once).
//! **Invariant:** a claim has a holder (a node id), a token and a lapse
//! time ([`Lease`]); an attempt's outcome is recorded only with the token
//! of the claim in force, so a node whose lease lapsed and was taken over
//! cannot overwrite what the new holder records.

mod commit;
mod fjall_catalog;
mod fjall_schedule;
mod fjall_store;
mod fjall_tables;
mod keys;
mod legacy;
mod migrate;
mod model;
mod pace;
mod postgres_catalog;
mod postgres_complete;
mod postgres_group;
mod postgres_ingest;
mod postgres_listen;
mod postgres_rows;
mod postgres_schema;
mod postgres_store;
#[cfg(test)]
mod postgres_tests;
mod private;
#[cfg(test)]
mod protection_tests;
mod query;
mod sled_catalog;
mod sled_schedule;
mod sled_store;
mod steps;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
mod writer;

pub use fjall_store::FjallStore;
pub(crate) use model::Selected;
pub use model::{
    Attempt, BatchPart, Claimed, Claims, Completion, Created, Delivery, DeliveryState,
    DisabledEndpoint, Holder, Ingested, Lease, Leased, Message, MessageStatus, NewDelivery,
    NewMessage, NextStep, ObjectWrite, Pruned, Room, Skip,
};
pub use pace::{Pace, Pacer};
pub use postgres_schema::{PostgresOptions, SCHEMA_VERSION};
pub use postgres_store::PostgresStore;
pub use query::{DeliveryQuery, DeliveryStatusKind, MessageQuery, MessageStatusKind, Page};
pub use sled_store::SledStore;
pub use steps::{MAX_LOG_LINE, MAX_LOG_LINES, PluginStep, StepAction, StepLog};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// Which engine holds the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// sled, flushed for each group commit.
    #[default]
    Sled,
    /// fjall, its journal synced for each group commit.
    Fjall,
    /// PostgreSQL, shared by every node of a cluster.
    Postgres,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sled => "sled",
            Self::Fjall => "fjall",
            Self::Postgres => "postgres",
        })
    }
}

impl Engine {
    /// The engines that keep their data under the data directory.
    pub const EMBEDDED: [Self; 2] = [Self::Sled, Self::Fjall];

    /// What a new data directory gets when the config names no engine:
    /// fjall, which meets the throughput targets sled misses by 2.5×
    /// (BENCHMARKS.md).
    pub const DEFAULT: Self = Self::Fjall;

    /// The engine whose store `data_dir` holds, if any.
    pub fn found_in(data_dir: &Path) -> Option<Self> {
        Self::EMBEDDED
            .into_iter()
            .find(|e| e.dir(data_dir).exists())
    }

    /// Opens the store under `data_dir` with the engine the config names,
    /// or, when it names none, the one the directory already holds (so an
    /// existing store keeps its engine), or [`Engine::DEFAULT`] for a new
    /// one. A data directory it creates is 0700; the engine's directory in
    /// it, and its files, are narrowed to 0700/0600 (`private.rs`): the
    /// store holds secrets the API took.
    pub fn open_in(
        chosen: Option<Self>,
        data_dir: &Path,
    ) -> Result<(Self, Arc<dyn Backend>), Error> {
        private::dir(data_dir).map_err(|source| Error::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let engine = chosen
            .or_else(|| Self::found_in(data_dir))
            .unwrap_or(Self::DEFAULT);
        let store = engine.open(data_dir)?;
        private::tree(&engine.dir(data_dir)).map_err(|source| Error::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        Ok((engine, store))
    }

    /// The engine's directory under the data directory (PostgreSQL's
    /// data is elsewhere; its name is kept free all the same).
    pub(crate) fn dir(self, data_dir: &Path) -> PathBuf {
        data_dir.join(match self {
            Self::Sled => "store",
            Self::Fjall => "fjall",
            Self::Postgres => "postgres",
        })
    }

    /// Opens (or creates) this engine's store under `data_dir`. Refuses a
    /// data directory that already holds the other engine's store: nothing
    /// moves data between them, and starting empty beside it would hide
    /// messages that were acknowledged.
    pub fn open(self, data_dir: &Path) -> Result<Arc<dyn Backend>, Error> {
        for other in Self::EMBEDDED.into_iter().filter(|e| *e != self) {
            let found = other.dir(data_dir);
            if found.exists() {
                return Err(Error::OtherEngine {
                    found: other,
                    path: found,
                });
            }
        }
        let dir = self.dir(data_dir);
        Ok(match self {
            Self::Sled => Arc::new(SledStore::open(&dir)?),
            Self::Fjall => Arc::new(FjallStore::open(&dir)?),
            Self::Postgres => return Err(Error::NeedsDatabase),
        })
    }
}

/// Opens the store the configuration names: PostgreSQL with `postgres`
/// (its options), else an embedded engine under `data_dir` as
/// [`Engine::open_in`] decides.
pub async fn open_configured(
    chosen: Option<Engine>,
    data_dir: &Path,
    postgres: Option<&PostgresOptions>,
) -> Result<(Engine, Arc<dyn Backend>), Error> {
    match (chosen, postgres) {
        (Some(Engine::Postgres), Some(options)) => Ok((
            Engine::Postgres,
            Arc::new(PostgresStore::open(options).await?),
        )),
        (Some(Engine::Postgres), None) => Err(Error::NeedsDatabase),
        (chosen, _) => Engine::open_in(chosen, data_dir),
    }
}

/// Held while this node changes the stored objects
/// ([`Catalog::lock_objects`]).
pub type ObjectsLock = Box<dyn Send + Sync>;

/// A whole embedded store: the core's [`Store`] and the management side's
/// [`Catalog`] over the same data.
pub trait Backend: Store + Catalog + std::fmt::Debug {}

impl<T: Store + Catalog + std::fmt::Debug> Backend for T {}

/// A storage failure. Never a client's fault: the HTTP layer answers 5xx
/// and logs the detail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine failed; `source` is its own error (each engine's module
    /// converts it, so this type names none of them).
    #[error("{engine}: {source}")]
    Engine {
        /// Which engine.
        engine: Engine,
        /// Its error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sync to disk failed; what was written may not be durable.
    #[error("cannot make writes durable: {0}")]
    Durability(String),
    /// The data directory holds the other engine's store.
    #[error(
        "{path} holds a {found} store, but storage.engine names another; nothing moves data \
         between engines: set storage.engine back or use another data_dir"
    )]
    OtherEngine {
        /// The engine found.
        found: Engine,
        /// Its directory.
        path: PathBuf,
    },
    /// The data directory cannot be created or made private.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A transaction failed.
    #[error("transaction: {0}")]
    Transaction(String),
    /// A stored record could not be decoded (corruption or a newer format).
    #[error("cannot decode stored {what}: {source}")]
    Decode {
        /// Which record kind.
        what: &'static str,
        /// Why.
        #[source]
        source: postcard::Error,
    },
    /// A record could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// Which record kind.
        what: &'static str,
        /// Why.
        #[source]
        source: postcard::Error,
    },
    /// The group-commit task is gone (the store is shutting down).
    #[error("the store is shutting down")]
    Closed,
    /// `engine = "postgres"` without the database's `url`.
    #[error("storage.engine = \"postgres\" needs storage.url, the database to use")]
    NeedsDatabase,
    /// A storage setting is wrong.
    #[error("{what}: {why}")]
    Config {
        /// The setting.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The database's schema is newer than this build.
    #[error(
        "the database's schema is version {found}, newer than this hookgate knows ({known}): \
         a newer hookgate migrated it; run that version (or newer) on this node too"
    )]
    NewerSchema {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A referenced record does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// Which record kind.
        what: &'static str,
        /// Its id.
        id: String,
    },
}

/// The storage interface of the gateway core. Times are Unix milliseconds,
/// passed in by the caller: the store reads no clock.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new message durably and queues it for the pipeline, unless
    /// its idempotency key was seen within `dedup_window`, in which case the
    /// first message's id is returned and nothing is stored. The queue entry
    /// is created under `lease` (the ingesting node's, for a message it
    /// hands to its own pipeline in memory), so other nodes' scans leave it
    /// until the lease lapses; without one, any node's scan may take it.
    async fn ingest(
        &self,
        message: &NewMessage,
        dedup_window: Duration,
        lease: Option<&Lease>,
    ) -> Result<Ingested, Error>;

    /// Up to `limit` messages waiting for the pipeline whose lease lapsed by
    /// `now` (or that have none), oldest first; each is leased to `holder`
    /// with a fresh token, in the same write. A message whose ingest is
    /// still being written may be left out; it stays queued.
    async fn pipeline_batch(
        &self,
        now: u64,
        holder: &Holder,
        limit: usize,
    ) -> Result<Vec<Leased>, Error>;

    /// Records the pipeline's outcome for a message waiting for it and
    /// creates its deliveries, in one transaction that also takes it off the
    /// pipeline queue, if `token` holds its lease. Returns the deliveries
    /// created, or `None` if the message was not waiting (an earlier pass
    /// completed it, or it does not exist) or its lease is another's (it
    /// lapsed and was taken over): then nothing is written, so a message run
    /// twice is completed once.
    async fn complete_pipeline(
        &self,
        message_id: &str,
        token: u64,
        completion: Completion,
    ) -> Result<Option<Created>, Error>;

    /// Queues a message a plugin failed on for the pipeline again, with no
    /// lease (any node's scan takes it), and marks it pending: the next run
    /// records a new outcome. `None` if no message has that id, `Some(false)`
    /// (and nothing written) if it is not in the failed state.
    async fn requeue_failed(&self, message_id: &str) -> Result<Option<bool>, Error>;

    /// Moves the lease `token` holds on a queued message to lapse at
    /// `until`: a run that could not finish waits out its backoff, after
    /// which any node may take the message. False, and nothing written, if
    /// the lease is not `token`'s.
    async fn defer_pipeline(&self, message_id: &str, token: u64, until: u64)
    -> Result<bool, Error>;

    /// Claims deliveries due at or before `now` for `holder`, of each
    /// endpoint at most what `room` allows it (earliest due first), and no
    /// more than `room.limit` in all: each gets a new [`Lease`] with a fresh
    /// token and is moved to the lease's end in the schedule, so no node is
    /// handed it again while its attempt runs, and any node may take it
    /// once the lease lapses (its holder died, or stopped renewing). An
    /// endpoint's backlog past its room stays in the store, however long,
    /// and is named in [`Claims::waiting`].
    async fn claim_due(&self, now: u64, holder: &Holder, room: &Room) -> Result<Claims, Error>;

    /// Extends the claim `token` holds on a delivery to `until`, while its
    /// attempt runs. False, and nothing written, if the claim is no longer
    /// that token's (it lapsed and another node took it, or an operator
    /// replayed the delivery).
    async fn renew_claim(&self, delivery_id: &str, token: u64, until: u64) -> Result<bool, Error>;

    /// Hands back the claims of deliveries that no live node holds, due at
    /// `now`: those whose lease lapsed by `now`, and those of `node` itself
    /// (called at its start, before any of its workers runs, so whatever it
    /// holds is a previous run's); and lets `node`'s leases on queued
    /// messages lapse, so its first pipeline scan takes them. A live peer's
    /// claims and leases are left alone. Returns how many were released.
    async fn release_claims(&self, now: u64, node: &str) -> Result<usize, Error>;

    /// The time of the earliest scheduled delivery, if any.
    async fn next_due(&self) -> Result<Option<u64>, Error>;

    /// Records an attempt and what happens next (delivered, retried at a
    /// time, or dead-lettered) and ends the claim, if `token` holds the
    /// delivery's claim. `None`, and nothing written, if it does not: the
    /// lease lapsed and another node took the delivery over (its outcome
    /// is that node's to record), or an operator replayed it.
    async fn record_attempt(
        &self,
        delivery_id: &str,
        token: u64,
        attempt: Attempt,
        next: NextStep,
    ) -> Result<Option<Delivery>, Error>;

    /// Moves a delivery to be due at `at` without recording an attempt, and
    /// ends its claim. With `token` (a delivery held back by a rate limit or
    /// an open circuit), only if that token holds its claim; without (an
    /// operator's replay or recovery), whoever holds it. Returns the updated
    /// delivery, `None` if it does not exist or the claim is not `token`'s.
    async fn reschedule(
        &self,
        delivery_id: &str,
        at: u64,
        token: Option<u64>,
    ) -> Result<Option<Delivery>, Error>;

    /// Records that an endpoint was disabled (410 Gone, its circuit breaker,
    /// or an operator), durably, so it stays disabled across restarts;
    /// unless it already is, when the first record stands (on a shared
    /// store, whichever node wrote first). Returns the record in force:
    /// `record` itself, or the one that was there.
    async fn disable_endpoint(&self, record: DisabledEndpoint) -> Result<DisabledEndpoint, Error>;

    /// The `endpoint.disabled` event owed for the disable recorded at `at`
    /// is stored: clears [`DisabledEndpoint::announce`], if that record is
    /// still the one in force.
    async fn announced(&self, name: &str, at: u64) -> Result<(), Error>;

    /// Forgets an endpoint's disabled record, durably.
    async fn enable_endpoint(&self, name: &str) -> Result<(), Error>;

    /// Endpoints recorded as disabled.
    async fn disabled_endpoints(&self) -> Result<Vec<DisabledEndpoint>, Error>;

    /// Paces an attempt to `endpoint` for every node sharing this store:
    /// reads the endpoint's [`Pacer`], admits or holds the attempt at `now`
    /// with `interval` milliseconds between attempts, and stores the pacer
    /// back, in one commit. `None` from a store that only this process
    /// uses: the caller paces in memory, which decides the same without a
    /// write.
    async fn pace(&self, endpoint: &str, now: u64, interval: u64) -> Result<Option<Pace>, Error> {
        let _ = (endpoint, now, interval);
        Ok(None)
    }

    /// Woken when another node (or this one) stored work that any node may
    /// take: a delivery due now that no node holds, a queued message under
    /// no lease. `None` where only this process writes: it wakes itself.
    fn work_announced(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    /// One message.
    async fn message(&self, id: &str) -> Result<Option<Message>, Error>;

    /// What each plugin of a message's source chain did, in order, as its
    /// last pipeline run recorded it; empty when no plugin ran, the message
    /// waits for the pipeline, or there is no such message.
    async fn message_steps(&self, id: &str) -> Result<Vec<PluginStep>, Error>;

    /// One delivery.
    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, Error>;

    /// A message's deliveries.
    async fn deliveries_of(&self, message_id: &str) -> Result<Vec<Delivery>, Error>;

    /// Deliveries waiting in the schedule (pending or being attempted).
    async fn scheduled_count(&self) -> Result<usize, Error>;

    /// Messages waiting for the pipeline.
    async fn pipeline_count(&self) -> Result<usize, Error>;

    /// Messages stored.
    async fn message_count(&self) -> Result<usize, Error>;

    /// Makes everything written so far durable.
    async fn flush(&self) -> Result<(), Error>;
}

/// The management side of storage: objects created through the API,
/// plugin components, listings and pruning. Object values are JSON; kinds are
/// `source`, `endpoint`, `route` and `plugin`.
#[async_trait::async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Creates or replaces an object, durably.
    async fn put_object(&self, kind: &str, name: &str, json: Vec<u8>) -> Result<(), Error>;

    /// Removes an object, durably.
    async fn delete_object(&self, kind: &str, name: &str) -> Result<(), Error>;

    /// Serialises changes to the stored objects across every node sharing
    /// the store, until the guard is dropped: a change holds it from
    /// reading the version to writing, so nodes take turns instead of
    /// racing. An embedded store has one writer, so it locks nothing.
    async fn lock_objects(&self) -> Result<ObjectsLock, Error> {
        Ok(Box::new(()))
    }

    /// Woken when another node may have changed the stored objects (a
    /// shared store's notification), so a follower need not wait for its
    /// next poll; `None` where nothing else changes them.
    fn objects_changed(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    /// The version of the stored objects, which every change made through
    /// [`Catalog::change_objects`] raises, on whichever node made it. An
    /// embedded store has one process, whose registry makes every change,
    /// so there the version stays 0.
    async fn objects_version(&self) -> Result<u64, Error> {
        Ok(0)
    }

    /// Writes `writes` as one change if the stored objects are still at
    /// version `expected`, and returns the new version; `None` when another
    /// node's change came first (and nothing was written). Shared stores
    /// compare and set; an embedded one, whose one writer is its registry,
    /// writes in order.
    async fn change_objects(
        &self,
        expected: u64,
        writes: &[ObjectWrite],
    ) -> Result<Option<u64>, Error> {
        for write in writes {
            match write {
                ObjectWrite::Put(kind, name, json) => {
                    self.put_object(kind, name, json.clone()).await?;
                }
                ObjectWrite::Delete(kind, name) => self.delete_object(kind, name).await?,
            }
        }
        Ok(Some(expected))
    }

    /// Every object of a kind, by name.
    async fn objects(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, Error>;

    /// Stores a plugin component under its content hash, durably.
    async fn put_blob(&self, hash: &str, bytes: Vec<u8>) -> Result<(), Error>;

    /// A stored plugin component.
    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Messages, newest first.
    async fn list_messages(&self, query: &MessageQuery) -> Result<Page<Message>, Error>;

    /// Deliveries, newest first.
    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Page<Delivery>, Error>;

    /// Looks at up to `limit` messages received before `before`, oldest
    /// first after `from`, and removes the finished ones (delivered,
    /// dead-lettered, dropped or failed; never one still in the pipeline or
    /// with a delivery still scheduled) with their deliveries and attempt
    /// logs; on the first pass (`from` is `None`) also forgets idempotency
    /// keys first seen before `before`.
    async fn prune(&self, before: u64, from: Option<&str>, limit: usize) -> Result<Pruned, Error>;
}
