//! Group commit for fenced single-row statements on PostgreSQL: the
//! statements that arrive while a commit runs are written by the next one,
//! pipelined on one connection inside one transaction. So each costs a
//! statement, not a transaction, a round trip and a WAL flush of its own.
//! Pipeline completions (`postgres_complete.rs`) and attempts' outcomes
//! (`postgres_store.rs`) go through it.
//!
//! Each statement is the same as it would be alone: it checks its own lease
//! or claim token, so one whose lease lapsed changes nothing whichever batch
//! it is in. A batch that fails (a deadlock between two nodes' batches
//! touching the same rows in another order, a statement's error) is
//! written again one statement per transaction, so one bad statement fails
//! only itself.

use std::sync::Arc;

use deadpool_postgres::{GenericClient, Pool};
use futures::future::try_join_all;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::Error;
use super::postgres_ingest::next_batch;

/// The most statements one commit writes.
const MAX_BATCH: usize = 256;
/// Commits in flight at once (each on its own connection).
const IN_FLIGHT: usize = 4;

/// A statement that can wait for a batch: its text (the same for every
/// item of its kind) and its parameters.
pub(super) trait Grouped: Send + Sync + 'static {
    /// The statement; it answers at most one row.
    fn statement() -> &'static str;
    /// Its parameters.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)>;
}

/// The row a statement answered, if any.
type Answer = oneshot::Sender<Result<Option<Row>, Error>>;

/// The queue to a committer task for statements of kind `T`.
pub(super) struct Group<T> {
    queue: mpsc::UnboundedSender<(T, Answer)>,
}

impl<T> std::fmt::Debug for Group<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl<T: Grouped> Group<T> {
    /// Starts the committer on `pool`; it ends when every sender is gone.
    pub(super) fn start(pool: Pool) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, waiting));
        Self { queue }
    }

    /// Runs `item` with the next commit; answers once it committed, with
    /// the row it answered.
    pub(super) async fn write(&self, item: T) -> Result<Option<Row>, Error> {
        let (tx, answer) = oneshot::channel();
        self.queue.send((item, tx)).map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

async fn run<T: Grouped>(pool: Pool, mut waiting: mpsc::UnboundedReceiver<(T, Answer)>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some((permit, batch)) = next_batch(&mut waiting, &permits, MAX_BATCH).await {
        let pool = pool.clone();
        tokio::spawn(async move {
            let (batch, answers): (Vec<T>, Vec<Answer>) = batch.into_iter().unzip();
            let outcomes = commit(&pool, &batch).await;
            drop(permit);
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                let _ = answer.send(outcome);
            }
        });
    }
}

/// Writes a batch in one transaction; if that fails, each statement in a
/// transaction of its own.
async fn commit<T: Grouped>(pool: &Pool, batch: &[T]) -> Vec<Result<Option<Row>, Error>> {
    match write(pool, batch).await {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(error) if batch.len() == 1 => vec![Err(error)],
        Err(error) => {
            tracing::debug!(%error, size = batch.len(), "a batch of statements failed; writing each alone");
            let mut outcomes = Vec::with_capacity(batch.len());
            for item in batch {
                outcomes.push(
                    write(pool, std::slice::from_ref(item))
                        .await
                        .map(|rows| rows.into_iter().next().flatten()),
                );
            }
            outcomes
        }
    }
}

async fn write<T: Grouped>(pool: &Pool, batch: &[T]) -> Result<Vec<Option<Row>>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let prepared = tx.prepare_cached(T::statement()).await?;
    let params: Vec<_> = batch.iter().map(T::params).collect();
    let rows = try_join_all(params.iter().map(|p| tx.query_opt(&prepared, p))).await?;
    tx.commit().await?;
    Ok(rows)
}
