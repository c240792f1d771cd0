//! The sled store's schedule: two trees kept in step inside every
//! transaction that moves a delivery, one by due time (what is due first,
//! for `next_due`) and one by endpoint (for claims taken per endpoint, so
//! a slow endpoint's backlog is never walked past or loaded).

use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use super::keys;
use super::legacy::decode_delivery;
use super::{Delivery, Error, Room, Selected};

/// The two schedule trees inside a transaction.
pub(super) struct Schedule<'a> {
    /// `due delivery` → ().
    pub(super) by_time: &'a TransactionalTree,
    /// `endpoint \0 due delivery` → ().
    pub(super) by_endpoint: &'a TransactionalTree,
}

impl<'a> Schedule<'a> {
    /// The schedule of a transaction over these two trees.
    pub(super) fn new(by_time: &'a TransactionalTree, by_endpoint: &'a TransactionalTree) -> Self {
        Self {
            by_time,
            by_endpoint,
        }
    }

    /// Puts `delivery` in the schedule at `at`.
    pub(super) fn insert(
        &self,
        at: u64,
        delivery: &Delivery,
    ) -> Result<(), UnabortableTransactionError> {
        self.by_time
            .insert(keys::schedule_key(at, &delivery.id), &[])?;
        self.by_endpoint.insert(
            keys::endpoint_schedule_key(&delivery.plan.endpoint, at, &delivery.id),
            &[],
        )?;
        Ok(())
    }

    /// Takes `delivery` out of the schedule at `at`; whether it was there.
    pub(super) fn remove(
        &self,
        at: u64,
        delivery: &Delivery,
    ) -> Result<bool, UnabortableTransactionError> {
        self.by_endpoint.remove(keys::endpoint_schedule_key(
            &delivery.plan.endpoint,
            at,
            &delivery.id,
        ))?;
        Ok(self
            .by_time
            .remove(keys::schedule_key(at, &delivery.id))?
            .is_some())
    }
}

/// Entries due before `end`, of each endpoint as many as `room` allows
/// (earliest first), and of those the earliest `room.limit`
/// ([`Room::select`]). Each endpoint is found with one seek past the
/// previous one.
pub(super) fn due(by_endpoint: &sled::Tree, end: u64, room: &Room) -> Result<Selected, Error> {
    let mut due = Vec::new();
    let mut from = Vec::new();
    while let Some(key) = by_endpoint.range(from.as_slice()..).keys().next() {
        let key = key?;
        let Some((endpoint, _, _)) = keys::parse_endpoint_schedule_key(&key) else {
            from = [key.as_ref(), &[0]].concat();
            continue;
        };
        let start = keys::endpoint_schedule_key(&endpoint, 0, "");
        let stop = keys::endpoint_schedule_key(&endpoint, end, "");
        let mut first = Vec::new();
        for key in by_endpoint
            .range(start..stop)
            .keys()
            .take(room.of(&endpoint).saturating_add(1))
        {
            if let Some((_, at, id)) = keys::parse_endpoint_schedule_key(&key?) {
                first.push((at, id));
            }
        }
        from = [endpoint.as_bytes(), &[1]].concat();
        if !first.is_empty() {
            due.push((endpoint, first));
        }
    }
    Ok(room.select(due))
}

/// Rebuilds the by-endpoint tree from the by-time one when they differ in
/// size: a store written before claims were per endpoint, or a rebuild cut
/// off. Every later change keeps both in one transaction. Returns how many
/// entries it wrote.
pub(super) fn rebuild(
    by_time: &sled::Tree,
    by_endpoint: &sled::Tree,
    deliveries: &sled::Tree,
) -> Result<usize, Error> {
    if by_time.len() == by_endpoint.len() {
        return Ok(0);
    }
    by_endpoint.clear()?;
    let mut written = 0;
    for key in by_time.iter().keys() {
        let Some((at, id)) = keys::parse_schedule_key(&key?) else {
            continue;
        };
        let endpoint = match deliveries.get(id.as_bytes())? {
            Some(bytes) => decode_delivery(&bytes)?.plan.endpoint,
            // Dropped when claimed, as an entry without its delivery.
            None => String::new(),
        };
        by_endpoint.insert(keys::endpoint_schedule_key(&endpoint, at, &id), &[])?;
        written += 1;
    }
    Ok(written)
}
