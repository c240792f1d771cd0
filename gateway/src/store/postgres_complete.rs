//! Group commit for pipeline completions on PostgreSQL: the completions
//! that arrive while a commit runs are written by the next one, each its
//! own fenced statement, pipelined on one connection inside one
//! transaction. So a completion costs a statement, not a transaction, a
//! round trip and a WAL flush of its own.
//!
//! Each statement is the same as a completion alone: it deletes the
//! message's pipeline row only under the caller's lease token, and writes
//! the status and the deliveries only if that delete happened, so a
//! completion from a lease that lapsed changes nothing whichever batch it
//! is in. A batch that fails (a deadlock between two nodes' batches
//! holding the same lapsed messages in another order, a statement's
//! error) is written again one completion per transaction, so one bad
//! completion fails only itself.

use std::sync::Arc;

use deadpool_postgres::{GenericClient, Pool};
use futures::future::try_join_all;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::Error;
use super::postgres_ingest::next_batch;

/// The most completions one commit writes.
const MAX_BATCH: usize = 256;
/// Commits in flight at once (each on its own connection).
const IN_FLIGHT: usize = 4;

/// A completion's statement: deletes the pipeline row under the lease
/// token; if it was there, sets the message's status and inserts its
/// deliveries (claimed by `$10`-`$12` when this node delivers them), and
/// whatever `more` adds (further CTEs that check `done`). Answers 1 when it
/// completed.
pub(super) fn statement(more: &str) -> String {
    format!("{COMPLETE}{more} SELECT count(*) FROM done")
}

const COMPLETE: &str = "WITH done AS ( \
         DELETE FROM pipeline WHERE message_id = $1 AND lease_token = $2 \
         RETURNING message_id), \
     status AS ( \
         UPDATE messages SET status = $3, status_kind = $4, steps = $13::bytea \
         WHERE id IN (SELECT message_id FROM done)), \
     created AS ( \
         INSERT INTO deliveries (id, message_id, endpoint, event_type, plan, state, \
             at, claim_node, claim_token, claim_until) \
         SELECT d.id, $1, d.endpoint, d.event_type, d.plan, 0, $9, $10, $11, $12 \
         FROM unnest($5::text[], $6::text[], $7::text[], $8::bytea[]) \
             AS d(id, endpoint, event_type, plan) \
         WHERE EXISTS (SELECT 1 FROM done))";

/// One completion's parameters of [`statement`], owned so it can wait for
/// a batch.
#[derive(Debug)]
pub(super) struct Completing {
    pub(super) message_id: String,
    pub(super) token: i64,
    pub(super) status: Vec<u8>,
    pub(super) kind: &'static str,
    pub(super) ids: Vec<String>,
    pub(super) endpoints: Vec<String>,
    pub(super) types: Vec<String>,
    pub(super) plans: Vec<Vec<u8>>,
    pub(super) due: i64,
    pub(super) node: Option<String>,
    pub(super) lease_token: Option<i64>,
    pub(super) until: Option<i64>,
    pub(super) steps: Option<Vec<u8>>,
}

impl Completing {
    /// The parameters `$1`-`$13` of [`statement`].
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.message_id,
            &self.token,
            &self.status,
            &self.kind,
            &self.ids,
            &self.endpoints,
            &self.types,
            &self.plans,
            &self.due,
            &self.node,
            &self.lease_token,
            &self.until,
            &self.steps,
        ]
    }
}

/// Whether the completion happened (its lease was current).
type Answer = oneshot::Sender<Result<bool, Error>>;

/// The queue to the committer task.
#[derive(Debug, Clone)]
pub(super) struct Completions {
    queue: mpsc::UnboundedSender<(Completing, Answer)>,
}

impl Completions {
    /// Starts the committer on `pool`; it ends when every sender is gone.
    pub(super) fn start(pool: Pool) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, waiting));
        Self { queue }
    }

    /// Writes `completing` with the next commit; answers once it committed,
    /// with whether the lease was current.
    pub(super) async fn complete(&self, completing: Completing) -> Result<bool, Error> {
        let (tx, answer) = oneshot::channel();
        self.queue
            .send((completing, tx))
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

async fn run(pool: Pool, mut waiting: mpsc::UnboundedReceiver<(Completing, Answer)>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some((permit, batch)) = next_batch(&mut waiting, &permits, MAX_BATCH).await {
        let pool = pool.clone();
        tokio::spawn(async move {
            let (batch, answers): (Vec<Completing>, Vec<Answer>) = batch.into_iter().unzip();
            let outcomes = commit(&pool, &batch).await;
            drop(permit);
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                let _ = answer.send(outcome);
            }
        });
    }
}

/// Writes a batch in one transaction; if that fails, each completion in a
/// transaction of its own.
async fn commit(pool: &Pool, batch: &[Completing]) -> Vec<Result<bool, Error>> {
    match write(pool, batch).await {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(error) if batch.len() == 1 => vec![Err(error)],
        Err(error) => {
            tracing::debug!(%error, size = batch.len(), "a batch of completions failed; writing each alone");
            let mut outcomes = Vec::with_capacity(batch.len());
            for completing in batch {
                outcomes.push(
                    write(pool, std::slice::from_ref(completing))
                        .await
                        .map(|done| done.first().copied().unwrap_or(false)),
                );
            }
            outcomes
        }
    }
}

async fn write(pool: &Pool, batch: &[Completing]) -> Result<Vec<bool>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let prepared = tx.prepare_cached(&statement("")).await?;
    let params: Vec<_> = batch.iter().map(Completing::params).collect();
    let rows = try_join_all(params.iter().map(|p| tx.query_one(&prepared, p))).await?;
    tx.commit().await?;
    Ok(rows.iter().map(|row| row.get::<_, i64>(0) == 1).collect())
}
