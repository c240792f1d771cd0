//! A pipeline completion's statement on PostgreSQL, written by group
//! commit (`postgres_group.rs`): it deletes the message's pipeline row only
//! under the caller's lease token, and writes the status and the
//! deliveries only if that delete happened, so a completion from a lease
//! that lapsed changes nothing whichever batch it is in.

use std::sync::LazyLock;

use tokio_postgres::types::ToSql;

use super::postgres_group::Grouped;

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

/// [`statement`] alone, as group commit runs it.
static ALONE: LazyLock<String> = LazyLock::new(|| statement(""));

impl Grouped for Completing {
    fn statement() -> &'static str {
        &ALONE
    }

    /// The parameters `$1`-`$13` of [`statement`].
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
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
