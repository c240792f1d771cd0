//! Group commit for ingest on PostgreSQL: what arrives while a commit runs
//! is written by the next one, a batch in a handful of statements (arrays
//! unnested into rows), so durable ingest costs a round trip and a WAL
//! flush per batch, not per event.
//!
//! Idempotency keys are checked in the same transaction against the
//! `dedup` table, whose key is unique across nodes: a repeat posted to any
//! node meets the first message's row (or waits for the transaction that
//! is writing it) and answers its id. A batch that holds one key twice
//! checks them in turn, in rounds, so it decides what one-by-one ingests
//! would.

use std::collections::HashSet;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::postgres_rows::{int, pg_error, token_in};
use super::{Error, Ingested, Lease};

/// The most messages one commit writes.
const MAX_BATCH: usize = 512;
/// Commits in flight at once (each on its own connection).
const IN_FLIGHT: usize = 4;
/// Tries of a batch that met a deadlock or a serialization failure (two
/// nodes' batches with the same keys in another order).
const TRIES: usize = 3;

/// One message waiting to be written.
pub(super) struct Pending {
    pub(super) id: String,
    pub(super) source: String,
    pub(super) event_type: String,
    pub(super) received_at: u64,
    /// The encoded [`super::NewMessage`].
    pub(super) received: Vec<u8>,
    /// The idempotency key's stored form, and the dedup window in ms.
    pub(super) dedup: Option<(Vec<u8>, u64)>,
    /// The idempotency key, for the message list's filter.
    pub(super) idempotency_key: Option<String>,
    pub(super) lease: Option<Lease>,
}

type Answer = oneshot::Sender<Result<Ingested, Error>>;

/// The queue to the committer task.
#[derive(Debug, Clone)]
pub(super) struct Ingests {
    queue: mpsc::UnboundedSender<(Pending, Answer)>,
}

impl Ingests {
    /// Starts the committer on `pool`; it ends when every sender is gone.
    /// A batch with a message under no lease (the hand-over had no room)
    /// announces it on `work_channel`, for whichever node scans first.
    pub(super) fn start(pool: Pool, work_channel: String) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, Arc::from(work_channel), waiting));
        Self { queue }
    }

    /// Writes `pending` with the next commit; answers once it committed.
    pub(super) async fn ingest(&self, pending: Pending) -> Result<Ingested, Error> {
        let (tx, answer) = oneshot::channel();
        self.queue.send((pending, tx)).map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

async fn run(
    pool: Pool,
    work_channel: Arc<str>,
    mut waiting: mpsc::UnboundedReceiver<(Pending, Answer)>,
) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some((permit, batch)) = next_batch(&mut waiting, &permits, MAX_BATCH).await {
        let pool = pool.clone();
        let work_channel = work_channel.clone();
        tokio::spawn(async move {
            let (batch, answers): (Vec<Pending>, Vec<Answer>) = batch.into_iter().unzip();
            let outcome = commit(&pool, &batch, &work_channel).await;
            drop(permit);
            match outcome {
                Ok(outcomes) => {
                    for (answer, outcome) in answers.into_iter().zip(outcomes) {
                        let _ = answer.send(Ok(outcome));
                    }
                }
                Err(error) => {
                    let why = error.to_string();
                    for answer in answers {
                        let _ = answer.send(Err(pg_error(std::io::Error::other(why.clone()))));
                    }
                }
            }
        });
    }
}

/// The next batch for a group committer: waits for one item and a commit
/// slot (while every commit is busy, arrivals queue for the next batch),
/// then takes what else is queued, up to `max`. `None` once the queue
/// closed.
pub(super) async fn next_batch<T>(
    waiting: &mut mpsc::UnboundedReceiver<T>,
    permits: &Arc<Semaphore>,
    max: usize,
) -> Option<(OwnedSemaphorePermit, Vec<T>)> {
    let first = waiting.recv().await?;
    let permit = permits.clone().acquire_owned().await.ok()?;
    let mut batch = vec![first];
    while batch.len() < max {
        match waiting.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some((permit, batch))
}

/// Writes a batch, trying again after a deadlock.
async fn commit(
    pool: &Pool,
    batch: &[Pending],
    work_channel: &str,
) -> Result<Vec<Ingested>, Error> {
    let mut tries = 0;
    loop {
        tries += 1;
        match write(pool, batch, work_channel).await {
            Err(WriteError::Retry(_)) if tries < TRIES => continue,
            Err(WriteError::Retry(e) | WriteError::Other(e)) => return Err(e),
            Ok(done) => return Ok(done),
        }
    }
}

enum WriteError {
    /// A deadlock or serialization failure: the batch may be tried again.
    Retry(Error),
    Other(Error),
}

impl From<tokio_postgres::Error> for WriteError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match e.code() {
            Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => Self::Retry(e.into()),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE => Self::Retry(e.into()),
            _ => Self::Other(e.into()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for WriteError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Other(e.into())
    }
}

const DEDUP: &str = "INSERT INTO dedup (key, message_id, first_at, window_ms) \
     SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::bigint[]) \
     ON CONFLICT (key) DO UPDATE SET message_id = EXCLUDED.message_id, \
         first_at = EXCLUDED.first_at, window_ms = EXCLUDED.window_ms \
     WHERE EXCLUDED.first_at - dedup.first_at >= EXCLUDED.window_ms \
     RETURNING key";

const FIRST_OF: &str = "SELECT key, message_id FROM dedup WHERE key = ANY($1::bytea[])";

const INSERT: &str = "WITH m AS ( \
         INSERT INTO messages (id, source, event_type, received_at, received, idempotency_key) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], \
             $9::text[])) \
     INSERT INTO pipeline (message_id, lease_node, lease_token, lease_until) \
     SELECT * FROM unnest($1::text[], $6::text[], $7::bigint[], $8::bigint[])";

async fn write(
    pool: &Pool,
    batch: &[Pending],
    work_channel: &str,
) -> Result<Vec<Ingested>, WriteError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut duplicate_of: Vec<Option<String>> = vec![None; batch.len()];
    // Keyed messages in rounds, each key at most once per round, in key
    // order (two nodes' batches lock keys in the same order).
    let mut left: Vec<usize> = (0..batch.len())
        .filter(|i| batch[*i].dedup.is_some())
        .collect();
    let dedup = tx.prepare_cached(DEDUP).await?;
    let first_of = tx.prepare_cached(FIRST_OF).await?;
    while !left.is_empty() {
        let mut seen = HashSet::new();
        let (mut round, rest): (Vec<usize>, Vec<usize>) = left
            .into_iter()
            .partition(|i| seen.insert(key_of(&batch[*i])));
        left = rest;
        round.sort_by(|a, b| key_of(&batch[*a]).cmp(key_of(&batch[*b])));
        let keys: Vec<&[u8]> = round.iter().map(|i| key_of(&batch[*i])).collect();
        let ids: Vec<&str> = round.iter().map(|i| batch[*i].id.as_str()).collect();
        let ats: Vec<i64> = round.iter().map(|i| int(batch[*i].received_at)).collect();
        let windows: Vec<i64> = round
            .iter()
            .map(|i| int(batch[*i].dedup.as_ref().map_or(0, |d| d.1)))
            .collect();
        let stored: HashSet<Vec<u8>> = tx
            .query(&dedup, &[&keys, &ids, &ats, &windows])
            .await?
            .iter()
            .map(|row| row.get::<_, Vec<u8>>(0))
            .collect();
        let repeats: Vec<&[u8]> = keys
            .iter()
            .copied()
            .filter(|k| !stored.contains(*k))
            .collect();
        if repeats.is_empty() {
            continue;
        }
        let firsts: std::collections::HashMap<Vec<u8>, String> = tx
            .query(&first_of, &[&repeats])
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for i in round {
            let key = key_of(&batch[i]);
            if !stored.contains(key) {
                duplicate_of[i] = firsts.get(key).cloned();
            }
        }
    }
    let new: Vec<&Pending> = batch
        .iter()
        .zip(&duplicate_of)
        .filter(|(_, d)| d.is_none())
        .map(|(p, _)| p)
        .collect();
    if !new.is_empty() {
        let insert = tx.prepare_cached(INSERT).await?;
        let ids: Vec<&str> = new.iter().map(|p| p.id.as_str()).collect();
        let sources: Vec<&str> = new.iter().map(|p| p.source.as_str()).collect();
        let types: Vec<&str> = new.iter().map(|p| p.event_type.as_str()).collect();
        let ats: Vec<i64> = new.iter().map(|p| int(p.received_at)).collect();
        let received: Vec<&[u8]> = new.iter().map(|p| p.received.as_slice()).collect();
        let keys: Vec<Option<&str>> = new.iter().map(|p| p.idempotency_key.as_deref()).collect();
        let nodes: Vec<Option<&str>> = new
            .iter()
            .map(|p| p.lease.as_ref().map(|l| l.node.as_str()))
            .collect();
        let tokens: Vec<Option<i64>> = new
            .iter()
            .map(|p| p.lease.as_ref().map(|l| token_in(l.token)))
            .collect();
        let untils: Vec<i64> = new
            .iter()
            .map(|p| p.lease.as_ref().map_or(0, |l| int(l.until)))
            .collect();
        tx.execute(
            &insert,
            &[
                &ids, &sources, &types, &ats, &received, &nodes, &tokens, &untils, &keys,
            ],
        )
        .await?;
        if new.iter().any(|p| p.lease.is_none()) {
            tx.execute("SELECT pg_notify($1, '')", &[&work_channel])
                .await?;
        }
    }
    tx.commit().await?;
    Ok(batch
        .iter()
        .zip(duplicate_of)
        .map(|(p, d)| match d {
            Some(first) => Ingested::Duplicate(first),
            None => Ingested::New(p.id.clone()),
        })
        .collect())
}

fn key_of(pending: &Pending) -> &[u8] {
    pending.dedup.as_ref().map_or(&[][..], |d| d.0.as_slice())
}
