//! The shared store: PostgreSQL, for several gateway nodes on one
//! database.
//!
//! Every change is one transaction, most of them one statement (the
//! lease check and the change together, `... WHERE claim_token = $n`), so a
//! node whose lease lapsed and was taken over changes nothing. Claims take
//! rows with `FOR UPDATE SKIP LOCKED`, so two nodes claiming at once take
//! different deliveries and neither waits; no transaction stays open
//! across an HTTP request (a claim commits before its attempt starts, and
//! the attempt's outcome is a statement of its own). Ingest, pipeline
//! completions and attempts' outcomes go through group commit
//! (`postgres_ingest.rs`, `postgres_group.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;

use super::keys::{self, encode};
use super::postgres_complete::{self, Completing};
use super::postgres_group::{Group, Grouped};
use super::postgres_ingest::{Ingests, Pending};
use super::postgres_listen::{self, Listener};
use super::postgres_rows::{
    self as rows, DELIVERY_COLUMNS, MESSAGE_COLUMNS, SCHEDULED, int, state_columns, token_in, uint,
};
use super::postgres_schema::{self, PostgresOptions};
use super::{
    Attempt, Claimed, Claims, Completion, Created, Delivery, DisabledEndpoint, Error, Holder,
    Ingested, Lease, Leased, Message, MessageStatusKind, NewMessage, NextStep, Pace, Pacer, Room,
    Store,
};

/// The PostgreSQL-backed [`Store`].
#[derive(Debug)]
pub struct PostgresStore {
    pub(super) pool: Pool,
    ingests: Ingests,
    completions: Group<Completing>,
    outcomes: Group<Recording>,
    /// Message and delivery ids: ULIDs from this node's clock. Ids minted
    /// on several nodes interleave by time; listings order by id, so their
    /// cursors hold whichever node minted what.
    pub(super) ids: keys::Ids,
    /// The schema, for the notification channel's name.
    pub(super) schema: String,
    /// The channel work for any node is announced on.
    work_channel: String,
    /// Other nodes' changes to the stored objects, as they commit.
    pub(super) listener: Listener,
}

impl PostgresStore {
    /// Connects, and brings the schema up to date (under an advisory lock,
    /// so nodes starting together take turns).
    pub async fn open(options: &PostgresOptions) -> Result<Self, Error> {
        postgres_schema::migrate(options).await?;
        let pool = postgres_schema::pool(options)?;
        Ok(Self {
            ingests: Ingests::start(
                pool.clone(),
                postgres_listen::work_channel(options.schema_name()),
            ),
            completions: Group::start(pool.clone()),
            outcomes: Group::start(pool.clone()),
            pool,
            ids: keys::Ids::default(),
            schema: options.schema_name().to_owned(),
            work_channel: postgres_listen::work_channel(options.schema_name()),
            listener: Listener::start(options),
        })
    }

    /// A pooled connection.
    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        Ok(self.pool.get().await?)
    }
}

/// Announces work any node may take on `channel`, with the transaction
/// `client` is in (or at once, outside one).
pub(super) async fn announce(
    client: &impl deadpool_postgres::GenericClient,
    channel: &str,
) -> Result<(), Error> {
    client
        .execute("SELECT pg_notify($1, '')", &[&channel])
        .await?;
    Ok(())
}

/// The endpoints with scheduled deliveries (one index probe each), and
/// of each the earliest due by `$4`, up to its room plus one (`$1`/`$2`
/// name rooms, `$3` is everyone else's), locked for this claim; rows
/// another node is claiming are skipped, not waited for.
const DUE: &str = "WITH RECURSIVE endpoints(endpoint) AS ( \
         (SELECT endpoint FROM deliveries WHERE state = 0 ORDER BY endpoint LIMIT 1) \
         UNION ALL \
         SELECT (SELECT d.endpoint FROM deliveries d \
                 WHERE d.state = 0 AND d.endpoint > e.endpoint ORDER BY d.endpoint LIMIT 1) \
         FROM endpoints e WHERE e.endpoint IS NOT NULL), \
     rooms AS ( \
         SELECT e.endpoint, coalesce(r.room, $3) AS room FROM endpoints e \
         LEFT JOIN unnest($1::text[], $2::bigint[]) AS r(endpoint, room) \
             ON r.endpoint = e.endpoint \
         WHERE e.endpoint IS NOT NULL) \
     SELECT d.endpoint, d.at, d.id FROM rooms CROSS JOIN LATERAL ( \
         SELECT endpoint, at, id FROM deliveries \
         WHERE state = 0 AND endpoint = rooms.endpoint AND at <= $4 \
         ORDER BY at, id LIMIT rooms.room + 1 \
         FOR UPDATE SKIP LOCKED) d";

/// The deliveries an endpoint's chain skipped, written with a completion
/// (parameters `$14`-`$20` after [`Completing::params`]).
const SKIP_ROWS: &str = ", skips AS ( \
         INSERT INTO deliveries (id, message_id, endpoint, event_type, plan, state, \
             at, reason, skipped_by) \
         SELECT d.id, $1, d.endpoint, d.event_type, d.plan, 3, $14, d.reason, d.plugin \
         FROM unnest($15::text[], $16::text[], $17::text[], $18::bytea[], \
             $19::text[], $20::text[]) \
             AS d(id, endpoint, event_type, plan, reason, plugin) \
         WHERE EXISTS (SELECT 1 FROM done))";

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn ingest(
        &self,
        message: &NewMessage,
        dedup_window: Duration,
        lease: Option<&Lease>,
    ) -> Result<Ingested, Error> {
        let id = self.ids.next("msg", message.received_at);
        let dedup = message.idempotency_key.as_deref().map(|key| {
            (
                keys::dedup_key(&message.source, key),
                keys::millis(dedup_window),
            )
        });
        self.ingests
            .ingest(Pending {
                id,
                source: message.source.clone(),
                event_type: message.event_type.clone(),
                received_at: message.received_at,
                received: encode("message", message)?,
                dedup,
                idempotency_key: message.idempotency_key.clone(),
                lease: lease.cloned(),
            })
            .await
    }

    async fn pipeline_batch(
        &self,
        now: u64,
        holder: &Holder,
        limit: usize,
    ) -> Result<Vec<Leased>, Error> {
        let lease = Lease::mint(holder);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "WITH picked AS ( \
                     SELECT message_id FROM pipeline WHERE lease_until <= $1 \
                     ORDER BY message_id LIMIT $2 FOR UPDATE SKIP LOCKED), \
                 leased AS ( \
                     UPDATE pipeline p SET lease_node = $3, lease_token = $4, lease_until = $5 \
                     FROM picked WHERE p.message_id = picked.message_id \
                     RETURNING p.message_id) \
                 SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE id IN (SELECT message_id FROM leased) ORDER BY id"
            ))
            .await?;
        let found = client
            .query(
                &statement,
                &[
                    &int(now),
                    &int(limit as u64),
                    &lease.node,
                    &token_in(lease.token),
                    &int(lease.until),
                ],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                Ok(Leased {
                    message: rows::message(row, 0)?,
                    token: lease.token,
                })
            })
            .collect()
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
        let steps = (!steps.is_empty())
            .then(|| super::steps::encode_steps(&steps))
            .transpose()?;
        let lease = claim.as_ref().map(Lease::mint);
        let due = lease.as_ref().map_or(now, |l| l.until);
        let created = keys::new_deliveries(&self.ids, message_id, deliveries, now, due)?;
        let skipped = keys::skipped_deliveries(&self.ids, message_id, skipped, now)?;
        let completing = Completing {
            message_id: message_id.to_owned(),
            token: token_in(token),
            kind: rows::kind_name(MessageStatusKind::of(&status)),
            status: encode("message status", &status)?,
            ids: created.iter().map(|(d, _)| d.id.clone()).collect(),
            endpoints: created
                .iter()
                .map(|(d, _)| d.plan.endpoint.clone())
                .collect(),
            types: created
                .iter()
                .map(|(d, _)| d.plan.event_type.clone())
                .collect(),
            plans: created
                .iter()
                .map(|(d, _)| encode("delivery plan", &d.plan))
                .collect::<Result<Vec<_>, _>>()?,
            due: int(due),
            node: lease.as_ref().map(|l| l.node.clone()),
            lease_token: lease.as_ref().map(|l| token_in(l.token)),
            until: lease.as_ref().map(|l| int(l.until)),
            steps,
        };
        let unclaimed = lease.is_none() && !created.is_empty();
        // Skipped deliveries (an endpoint's chain dropped them) are rare:
        // the statement that also writes them goes alone.
        let done = if skipped.is_empty() {
            self.completions
                .write(completing)
                .await?
                .is_some_and(|row| row.get::<_, i64>(0) == 1)
        } else {
            let skips = rows::SkipColumns::of(&skipped)?;
            let client = self.client().await?;
            let statement = client
                .prepare_cached(&postgres_complete::statement(SKIP_ROWS))
                .await?;
            let at = int(now);
            let mut params = completing.params();
            params.extend(skips.params(&at));
            client
                .query_one(&statement, &params)
                .await?
                .get::<_, i64>(0)
                == 1
        };
        if done && unclaimed {
            // No room here: the deliveries are due for whichever node has.
            announce(&self.client().await?, &self.work_channel).await?;
        }
        Ok(done.then(|| Created {
            deliveries: created.into_iter().map(|(d, _)| d).collect(),
            token: lease.map(|l| l.token),
        }))
    }

    async fn requeue_failed(&self, message_id: &str) -> Result<Option<bool>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "WITH found AS (SELECT id, status_kind FROM messages WHERE id = $1), \
                 requeued AS ( \
                     UPDATE messages SET status = NULL, status_kind = 'pending', steps = NULL \
                     WHERE id = $1 AND status_kind = 'failed' RETURNING id), \
                 queued AS ( \
                     INSERT INTO pipeline (message_id) SELECT id FROM requeued \
                     ON CONFLICT (message_id) DO NOTHING) \
                 SELECT (SELECT count(*) FROM found), (SELECT count(*) FROM requeued)",
            )
            .await?;
        let row = client.query_one(&statement, &[&message_id]).await?;
        let (found, requeued): (i64, i64) = (row.get(0), row.get(1));
        if requeued == 1 {
            // For whichever node scans first.
            announce(&client, &self.work_channel).await?;
        }
        Ok((found == 1).then_some(requeued == 1))
    }

    async fn defer_pipeline(
        &self,
        message_id: &str,
        token: u64,
        until: u64,
    ) -> Result<bool, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "UPDATE pipeline SET lease_until = $3 WHERE message_id = $1 AND lease_token = $2",
            )
            .await?;
        let changed = client
            .execute(&statement, &[&message_id, &token_in(token), &int(until)])
            .await?;
        Ok(changed == 1)
    }

    async fn claim_due(&self, now: u64, holder: &Holder, room: &Room) -> Result<Claims, Error> {
        let lease = Lease::mint(holder);
        let (names, rooms): (Vec<&str>, Vec<i64>) = room
            .endpoints
            .iter()
            .map(|(name, n)| (name.as_str(), int(*n as u64)))
            .unzip();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let due = tx.prepare_cached(DUE).await?;
        let found = tx
            .query(&due, &[&names, &rooms, &int(room.others as u64), &int(now)])
            .await?;
        let mut by_endpoint: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        for row in &found {
            by_endpoint
                .entry(row.try_get(0)?)
                .or_default()
                .push((uint(row.try_get(1)?), row.try_get(2)?));
        }
        for entries in by_endpoint.values_mut() {
            entries.sort_unstable();
        }
        let selected = room.select(by_endpoint.into_iter().collect());
        if selected.taken.is_empty() {
            tx.commit().await?;
            return Ok(Claims {
                claimed: Vec::new(),
                waiting: selected.waiting,
            });
        }
        let ids: Vec<&str> = selected
            .taken
            .iter()
            .map(|(_, id, _)| id.as_str())
            .collect();
        let claim = tx
            .prepare_cached(&format!(
                "UPDATE deliveries SET at = $2, claim_node = $3, claim_token = $4, \
                     claim_until = $2 \
                 WHERE id = ANY($1::text[]) RETURNING {DELIVERY_COLUMNS}"
            ))
            .await?;
        let updated = tx
            .query(
                &claim,
                &[&ids, &int(lease.until), &lease.node, &token_in(lease.token)],
            )
            .await?;
        tx.commit().await?;
        let mut by_id: std::collections::HashMap<String, Delivery> = rows::deliveries(&updated)?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        let claimed = selected
            .taken
            .iter()
            .filter_map(|(_, id, _)| by_id.remove(id))
            .map(|delivery| Claimed {
                delivery,
                token: lease.token,
            })
            .collect();
        Ok(Claims {
            claimed,
            waiting: selected.waiting,
        })
    }

    async fn renew_claim(&self, delivery_id: &str, token: u64, until: u64) -> Result<bool, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "UPDATE deliveries SET at = $3, claim_until = $3 \
                 WHERE id = $1 AND claim_token = $2 AND state = 0",
            )
            .await?;
        let changed = client
            .execute(&statement, &[&delivery_id, &token_in(token), &int(until)])
            .await?;
        Ok(changed == 1)
    }

    async fn release_claims(&self, now: u64, node: &str) -> Result<usize, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let deliveries = tx
            .execute(
                "UPDATE deliveries SET claim_node = NULL, claim_token = NULL, \
                     claim_until = NULL, at = CASE WHEN state = 0 THEN $1 ELSE at END \
                 WHERE claim_token IS NOT NULL AND (claim_until <= $1 OR claim_node = $2)",
                &[&int(now), &node],
            )
            .await?;
        let queued = tx
            .execute(
                "UPDATE pipeline SET lease_node = NULL, lease_token = NULL, lease_until = 0 \
                 WHERE lease_node = $1",
                &[&node],
            )
            .await?;
        if deliveries + queued > 0 {
            announce(&tx, &self.work_channel).await?;
        }
        tx.commit().await?;
        Ok(usize::try_from(deliveries + queued).unwrap_or(usize::MAX))
    }

    async fn next_due(&self) -> Result<Option<u64>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT min(at) FROM deliveries WHERE state = 0")
            .await?;
        let at: Option<i64> = client.query_one(&statement, &[]).await?.try_get(0)?;
        Ok(at.map(uint))
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        token: u64,
        attempt: Attempt,
        next: NextStep,
    ) -> Result<Option<Delivery>, Error> {
        let state = keys::state_after(&next, attempt.at);
        let (state, at, reason) = state_columns(&state);
        let recording = Recording {
            id: delivery_id.to_owned(),
            token: token_in(token),
            record: encode("attempt", &attempt)?,
            status: attempt.status.map(i32::from),
            state,
            at,
            reason: reason.map(str::to_owned),
        };
        if let Some(row) = self.outcomes.write(recording).await? {
            return Ok(Some(rows::delivery(&row)?));
        }
        let client = self.client().await?;
        let exists = client
            .query_opt("SELECT 1 FROM deliveries WHERE id = $1", &[&delivery_id])
            .await?;
        match exists {
            Some(_) => Ok(None),
            None => Err(Error::NotFound {
                what: "delivery",
                id: delivery_id.to_owned(),
            }),
        }
    }

    async fn reschedule(
        &self,
        delivery_id: &str,
        at: u64,
        token: Option<u64>,
    ) -> Result<Option<Delivery>, Error> {
        let client = self.client().await?;
        // Whichever node is awake takes it when due: announced with the
        // commit (one notification, for the one row).
        let statement = client
            .prepare_cached(&format!(
                "WITH moved AS ( \
                     UPDATE deliveries SET state = {SCHEDULED}, at = $2, reason = NULL, \
                         skipped_by = NULL, claim_node = NULL, claim_token = NULL, claim_until = NULL \
                     WHERE id = $1 AND ($3::bigint IS NULL OR claim_token = $3) \
                     RETURNING {DELIVERY_COLUMNS}) \
                 SELECT moved.*, pg_notify($4, '') FROM moved"
            ))
            .await?;
        let updated = client
            .query_opt(
                &statement,
                &[
                    &delivery_id,
                    &int(at),
                    &token.map(token_in),
                    &self.work_channel,
                ],
            )
            .await?;
        updated.map(|row| rows::delivery(&row)).transpose()
    }

    fn work_announced(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.listener.work.clone())
    }

    async fn disable_endpoint(&self, record: DisabledEndpoint) -> Result<DisabledEndpoint, Error> {
        // The no-op update locks and returns the record another node wrote
        // first, even one committed while this statement waited.
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO disabled_endpoints (name, at, reason, announce) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET at = disabled_endpoints.at \
                 RETURNING at, reason, announce",
                &[
                    &record.name,
                    &int(record.at),
                    &record.reason,
                    &record.announce,
                ],
            )
            .await?;
        Ok(DisabledEndpoint {
            name: record.name,
            at: uint(row.try_get(0)?),
            reason: row.try_get(1)?,
            announce: row.try_get(2)?,
        })
    }

    async fn announced(&self, name: &str, at: u64) -> Result<(), Error> {
        self.client()
            .await?
            .execute(
                "UPDATE disabled_endpoints SET announce = false WHERE name = $1 AND at = $2",
                &[&name, &int(at)],
            )
            .await?;
        Ok(())
    }

    async fn pace(&self, endpoint: &str, now: u64, interval: u64) -> Result<Option<Pace>, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let lock = "SELECT next, last_hold FROM pacers WHERE endpoint = $1 FOR UPDATE";
        let mut found = tx.query_opt(lock, &[&endpoint]).await?;
        if found.is_none() {
            // The first attempt to a rate-limited endpoint: make its row,
            // once whichever node gets here first.
            tx.execute(
                "INSERT INTO pacers (endpoint, next, last_hold) VALUES ($1, 0, 0) \
                 ON CONFLICT (endpoint) DO NOTHING",
                &[&endpoint],
            )
            .await?;
            found = tx.query_opt(lock, &[&endpoint]).await?;
        }
        let mut pacer = match found {
            Some(row) => Pacer {
                next: uint(row.try_get(0)?),
                last_hold: uint(row.try_get(1)?),
            },
            None => Pacer::default(),
        };
        let paced = pacer.admit(now, interval);
        tx.execute(
            "UPDATE pacers SET next = $2, last_hold = $3 WHERE endpoint = $1",
            &[&endpoint, &int(pacer.next), &int(pacer.last_hold)],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(paced))
    }

    async fn enable_endpoint(&self, name: &str) -> Result<(), Error> {
        self.client()
            .await?
            .execute("DELETE FROM disabled_endpoints WHERE name = $1", &[&name])
            .await?;
        Ok(())
    }

    async fn disabled_endpoints(&self) -> Result<Vec<DisabledEndpoint>, Error> {
        let found = self
            .client()
            .await?
            .query(
                "SELECT name, at, reason, announce FROM disabled_endpoints ORDER BY name",
                &[],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                Ok(DisabledEndpoint {
                    name: row.try_get(0)?,
                    at: uint(row.try_get(1)?),
                    reason: row.try_get(2)?,
                    announce: row.try_get(3)?,
                })
            })
            .collect()
    }

    async fn message(&self, id: &str) -> Result<Option<Message>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
            ))
            .await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .map(|row| rows::message(&row, 0))
            .transpose()
    }

    async fn message_steps(&self, id: &str) -> Result<Vec<super::PluginStep>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT steps FROM messages WHERE id = $1")
            .await?;
        let row = client.query_opt(&statement, &[&id]).await?;
        match row
            .map(|r| r.try_get::<_, Option<Vec<u8>>>(0))
            .transpose()?
        {
            Some(Some(bytes)) => super::steps::decode_steps(&bytes),
            _ => Ok(Vec::new()),
        }
    }

    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
            ))
            .await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .map(|row| rows::delivery(&row))
            .transpose()
    }

    async fn deliveries_of(&self, message_id: &str) -> Result<Vec<Delivery>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE message_id = $1 ORDER BY id"
            ))
            .await?;
        rows::deliveries(&client.query(&statement, &[&message_id]).await?)
    }

    async fn scheduled_count(&self) -> Result<usize, Error> {
        self.count("SELECT count(*) FROM deliveries WHERE state = 0")
            .await
    }

    async fn pipeline_count(&self) -> Result<usize, Error> {
        self.count("SELECT count(*) FROM pipeline").await
    }

    async fn message_count(&self) -> Result<usize, Error> {
        self.count("SELECT count(*) FROM messages").await
    }

    async fn flush(&self) -> Result<(), Error> {
        // Every change committed with synchronous_commit on: it is durable.
        Ok(())
    }
}

impl PostgresStore {
    async fn count(&self, sql: &str) -> Result<usize, Error> {
        let n: i64 = self.client().await?.query_one(sql, &[]).await?.try_get(0)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// An attempt's outcome, waiting for a commit: appends the attempt, sets
/// the delivery's next state and ends the claim, only under the claim's
/// token; answers the delivery as it is then.
struct Recording {
    id: String,
    token: i64,
    record: Vec<u8>,
    status: Option<i32>,
    state: i16,
    at: i64,
    reason: Option<String>,
}

static RECORD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE deliveries SET attempts = attempts || $3::bytea, last_status = $4, \
             state = $5, at = $6, reason = $7, \
             claim_node = NULL, claim_token = NULL, claim_until = NULL \
         WHERE id = $1 AND claim_token = $2 RETURNING {DELIVERY_COLUMNS}"
    )
});

impl Grouped for Recording {
    fn statement() -> &'static str {
        &RECORD
    }

    fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        vec![
            &self.id,
            &self.token,
            &self.record,
            &self.status,
            &self.state,
            &self.at,
            &self.reason,
        ]
    }
}
