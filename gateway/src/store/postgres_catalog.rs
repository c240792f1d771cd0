//! The PostgreSQL side of [`Catalog`]: API objects (changed under a
//! compare-and-set on the registry's version), plugin components,
//! listings (newest first by id, every filter in SQL so a page is full)
//! and pruning in batches, each a short transaction.

use std::sync::Arc;

use tokio::sync::Notify;

use super::keys;
use super::postgres_listen::objects_channel;
use super::postgres_rows::{self as rows, DELIVERY_COLUMNS, MESSAGE_COLUMNS, int, uint};
use super::postgres_store::PostgresStore;
use super::query::{Page, like_pattern};
use super::{
    Catalog, Delivery, DeliveryQuery, Error, Message, MessageQuery, ObjectWrite, ObjectsLock,
    Pruned,
};

/// Idempotency keys forgotten per statement: a short transaction each.
const FORGET_BATCH: i64 = 1000;

/// The id bounds a time filter and a cursor leave: at or after the
/// first, before the second.
fn id_bounds(
    prefix: &str,
    since: Option<u64>,
    until: Option<u64>,
    before: Option<&str>,
) -> (Option<String>, Option<String>) {
    let lower = since.map(|t| keys::id_floor(prefix, t));
    let until = until.map(|t| keys::id_floor(prefix, t));
    let upper = match (until, before.map(str::to_owned)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (lower, upper)
}

/// Newest first from rows fetched one past the limit.
fn page<T>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> &str) -> Page<T> {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| id(last).to_owned())
    } else {
        None
    };
    Page { items, next }
}

#[async_trait::async_trait]
impl Catalog for PostgresStore {
    async fn put_object(&self, kind: &str, name: &str, json: Vec<u8>) -> Result<(), Error> {
        self.client()
            .await?
            .execute(
                "INSERT INTO objects (kind, name, json) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, name) DO UPDATE SET json = EXCLUDED.json",
                &[&kind, &name, &json],
            )
            .await?;
        Ok(())
    }

    async fn delete_object(&self, kind: &str, name: &str) -> Result<(), Error> {
        self.client()
            .await?
            .execute(
                "DELETE FROM objects WHERE kind = $1 AND name = $2",
                &[&kind, &name],
            )
            .await?;
        Ok(())
    }

    async fn lock_objects(&self) -> Result<ObjectsLock, Error> {
        // A connection of its own, out of the pool, holds a session lock;
        // dropping the guard closes it, and the server releases the lock
        // (as it does if the node dies), so no unlock can be missed.
        let client = deadpool_postgres::Object::take(self.client().await?);
        client
            .execute(
                "SELECT pg_advisory_lock(hashtext('hookgate.objects.' || current_schema()))",
                &[],
            )
            .await?;
        Ok(Box::new(client))
    }

    fn objects_changed(&self) -> Option<Arc<Notify>> {
        Some(self.listener.changed.clone())
    }

    async fn objects_version(&self) -> Result<u64, Error> {
        let client = self.client().await?;
        let version: i64 = client
            .query_one("SELECT version FROM registry", &[])
            .await?
            .try_get(0)?;
        Ok(uint(version))
    }

    async fn change_objects(
        &self,
        expected: u64,
        writes: &[ObjectWrite],
    ) -> Result<Option<u64>, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // A concurrent change waits on the row, then finds the version
        // moved and matches nothing: compare and set.
        let Some(row) = tx
            .query_opt(
                "UPDATE registry SET version = version + 1 WHERE version = $1 \
                 RETURNING version",
                &[&int(expected)],
            )
            .await?
        else {
            return Ok(None);
        };
        let version: i64 = row.try_get(0)?;
        for write in writes {
            match write {
                ObjectWrite::Put(kind, name, json) => {
                    tx.execute(
                        "INSERT INTO objects (kind, name, json) VALUES ($1, $2, $3) \
                         ON CONFLICT (kind, name) DO UPDATE SET json = EXCLUDED.json",
                        &[kind, name, json],
                    )
                    .await?;
                }
                ObjectWrite::Delete(kind, name) => {
                    tx.execute(
                        "DELETE FROM objects WHERE kind = $1 AND name = $2",
                        &[kind, name],
                    )
                    .await?;
                }
            }
        }
        // Delivered to the listening nodes when this commits. The
        // statement form truncates a long name as LISTEN does.
        tx.batch_execute(&format!("NOTIFY {}", objects_channel(&self.schema)))
            .await?;
        tx.commit().await?;
        Ok(Some(uint(version)))
    }

    async fn objects(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let found = self
            .client()
            .await?
            .query(
                "SELECT name, json FROM objects WHERE kind = $1 ORDER BY name",
                &[&kind],
            )
            .await?;
        found
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    async fn put_blob(&self, hash: &str, bytes: Vec<u8>) -> Result<(), Error> {
        self.client()
            .await?
            .execute(
                "INSERT INTO blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                &[&hash, &bytes],
            )
            .await?;
        Ok(())
    }

    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, Error> {
        let found = self
            .client()
            .await?
            .query_opt("SELECT bytes FROM blobs WHERE hash = $1", &[&hash])
            .await?;
        Ok(found.map(|row| row.try_get(0)).transpose()?)
    }

    async fn list_messages(&self, query: &MessageQuery) -> Result<Page<Message>, Error> {
        let limit = query.limit.max(1);
        let (lower, upper) = id_bounds("msg", query.since, query.until, query.before.as_deref());
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE ($1::text IS NULL OR id >= $1) AND ($2::text IS NULL OR id < $2) \
                   AND ($3::text IS NULL OR source = $3) \
                   AND ($4::text IS NULL OR event_type LIKE $4) \
                   AND ($5::text IS NULL OR status_kind = $5) \
                   AND ($7::text IS NULL OR idempotency_key = $7) \
                 ORDER BY id DESC LIMIT $6"
            ))
            .await?;
        let found = client
            .query(
                &statement,
                &[
                    &lower,
                    &upper,
                    &query.source,
                    &query.event_type.as_deref().map(like_pattern),
                    &query.status.map(rows::kind_name),
                    &int(limit as u64 + 1),
                    &query.idempotency_key,
                ],
            )
            .await?;
        let items = found
            .iter()
            .map(|row| rows::message(row, 0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit, |m| &m.id))
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Page<Delivery>, Error> {
        let limit = query.limit.max(1);
        let (lower, upper) = id_bounds("dlv", query.since, query.until, query.before.as_deref());
        let (state, attempted) = query.status.map(rows::status_filter).unzip();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries \
                 WHERE ($1::text IS NULL OR id >= $1) AND ($2::text IS NULL OR id < $2) \
                   AND ($3::text IS NULL OR endpoint = $3) \
                   AND ($4::text IS NULL OR event_type LIKE $4) \
                   AND ($5::smallint IS NULL OR state = $5) \
                   AND ($6::boolean IS NULL OR (cardinality(attempts) > 0) = $6) \
                   AND ($7::integer IS NULL OR last_status BETWEEN $7 AND $8) \
                 ORDER BY id DESC LIMIT $9"
            ))
            .await?;
        let found = client
            .query(
                &statement,
                &[
                    &lower,
                    &upper,
                    &query.endpoint,
                    &query.event_type.as_deref().map(like_pattern),
                    &state,
                    &attempted.flatten(),
                    &query.response_code.as_ref().map(|c| i32::from(*c.start())),
                    &query.response_code.as_ref().map(|c| i32::from(*c.end())),
                    &int(limit as u64 + 1),
                ],
            )
            .await?;
        Ok(page(rows::deliveries(&found)?, limit, |d| &d.id))
    }

    async fn prune(&self, before: u64, from: Option<&str>, limit: usize) -> Result<Pruned, Error> {
        let end = keys::id_floor("msg", before);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locked, so a pipeline completion or a replay of one of their
        // deliveries either went first (and is seen here) or waits and
        // finds the message gone.
        let candidates = tx
            .query(
                "SELECT id, status_kind FROM messages \
                 WHERE ($1::text IS NULL OR id > $1) AND id < $2 \
                 ORDER BY id LIMIT $3 FOR UPDATE",
                &[&from, &end, &int(limit as u64)],
            )
            .await?;
        let mut pruned = Pruned::default();
        if candidates.len() == limit {
            pruned.resume = candidates.last().map(|row| row.get(0));
        }
        let finished: Vec<String> = candidates
            .iter()
            .filter(|row| row.get::<_, &str>(1) != "pending")
            .map(|row| row.get(0))
            .collect();
        // Their deliveries locked too: a replay that reschedules one after
        // this waits, and then finds it gone.
        let mut kept: std::collections::HashSet<String> = tx
            .query(
                "SELECT message_id, state FROM deliveries WHERE message_id = ANY($1::text[]) \
                 FOR UPDATE",
                &[&finished],
            )
            .await?
            .iter()
            .filter(|row| row.get::<_, i16>(1) == rows::SCHEDULED)
            .map(|row| row.get(0))
            .collect();
        kept.extend(
            tx.query(
                "SELECT message_id FROM pipeline WHERE message_id = ANY($1::text[])",
                &[&finished],
            )
            .await?
            .iter()
            .map(|row| row.get::<_, String>(0)),
        );
        let doomed: Vec<&str> = finished
            .iter()
            .filter(|id| !kept.contains(*id))
            .map(String::as_str)
            .collect();
        if !doomed.is_empty() {
            pruned.deliveries = usize::try_from(
                tx.execute(
                    "DELETE FROM deliveries WHERE message_id = ANY($1::text[])",
                    &[&doomed],
                )
                .await?,
            )
            .unwrap_or(0);
            pruned.messages = usize::try_from(
                tx.execute(
                    "DELETE FROM messages WHERE id = ANY($1::text[])",
                    &[&doomed],
                )
                .await?,
            )
            .unwrap_or(0);
        }
        tx.commit().await?;
        if from.is_none() {
            loop {
                let forgotten = client
                    .execute(
                        "DELETE FROM dedup WHERE key IN ( \
                             SELECT key FROM dedup WHERE first_at < $1 LIMIT $2)",
                        &[&int(before), &FORGET_BATCH],
                    )
                    .await?;
                pruned.dedup_keys += usize::try_from(forgotten).unwrap_or(0);
                if forgotten < FORGET_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(pruned)
    }
}
