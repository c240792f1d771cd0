//! What operators and the gateway itself do to delivery beyond attempts:
//! disable and enable an endpoint (recorded in the store, with one
//! `endpoint.disabled` operator event when the gateway decides it, however
//! many nodes decide it at once), replay
//! one delivery, and recover an endpoint's failed deliveries in bulk. The
//! management API and the worker both come here, so each rule has one home.
//! On a shared store, each node takes in the disables and enables the
//! others recorded ([`Deliverer::follow_disabled`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::alerts::{operator_message, rfc3339};
use super::protection::{BreakerView, Disabled};
use super::{Deliverer, Endpoint, Error, Unavailable};
use crate::registry::FOLLOW_EVERY;
use crate::store::{Delivery, DeliveryQuery, DeliveryStatusKind, DisabledEndpoint};

/// The source name operator events are stored under; not a valid source
/// name, so no configured source can collide with it.
pub const OPERATOR_SOURCE: &str = "(hookgate)";

/// How long an `endpoint.disabled` event's key is remembered: nodes that
/// store the same disable's event within it store it once.
const ANNOUNCE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The most deliveries a recovery reads per page.
const RECOVER_PAGE: usize = 500;

impl Deliverer {
    /// An endpoint in force, or [`Error::NoEndpoint`].
    pub(super) fn live(&self, name: &str) -> Result<std::sync::Arc<Endpoint>, Error> {
        self.live
            .current()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoEndpoint(name.to_owned()))
    }

    /// An endpoint's run-time state: why it is disabled, and its breaker.
    pub fn endpoint_state(&self, name: &str) -> (Option<Disabled>, BreakerView) {
        self.live(name)
            .map(|e| (e.state.disabled(), e.state.breaker()))
            .unwrap_or_default()
    }

    /// Whether an endpoint takes deliveries now: it exists and is neither
    /// disabled nor inactive (else [`Error::Unavailable`]).
    pub fn takes_deliveries(&self, name: &str) -> Result<(), Error> {
        match self.live(name)?.unavailable() {
            None => Ok(()),
            Some(why) => Err(Error::Unavailable {
                endpoint: name.to_owned(),
                why,
            }),
        }
    }

    /// Stops deliveries to an endpoint, durably. When the gateway decides
    /// it (`automatic`), the operator endpoint gets an `endpoint.disabled`
    /// event. Returns false if it already was disabled.
    pub async fn disable_endpoint(
        &self,
        name: &str,
        reason: &str,
        automatic: bool,
    ) -> Result<bool, Error> {
        let endpoint = self.live(name)?;
        let _changing = self.protection.lock().await;
        if endpoint.state.disabled().is_some() {
            return Ok(false);
        }
        // The record first: on a shared store the first node's record
        // stands and every node deciding the same disable gets it back.
        // The event is stored under a key made from that record, so they
        // store one event between them; and the record owes it until it
        // is stored, so a crash in between leaves it to the next look
        // ([`Self::announce_owed`]), here or on another node. Only then is
        // the endpoint disabled in memory: nothing is shown disabled that
        // the store does not hold.
        let operator = self.registry.snapshot().operator_endpoint.clone();
        let announce = automatic && operator.is_some();
        if automatic && operator.as_deref() == Some(name) {
            tracing::error!(endpoint = %name, "the operator endpoint itself was disabled; no operator event can be sent");
        }
        let record = self
            .store
            .disable_endpoint(DisabledEndpoint {
                name: name.to_owned(),
                at: self.clock.now_millis(),
                reason: reason.to_owned(),
                announce: announce && operator.as_deref() != Some(name),
            })
            .await?;
        if record.announce {
            self.announce(&record).await?;
        }
        if !endpoint.state.disable(record.at, record.reason.clone()) {
            return Ok(false);
        }
        tracing::warn!(endpoint = %name, reason = %record.reason, "endpoint disabled");
        Ok(true)
    }

    /// Stores the `endpoint.disabled` events the store's disabled records
    /// still owe (a node stopped between a disable and its event); how
    /// many.
    pub async fn announce_owed(&self) -> Result<usize, Error> {
        let owed: Vec<DisabledEndpoint> = self
            .store
            .disabled_endpoints()
            .await?
            .into_iter()
            .filter(|record| record.announce)
            .collect();
        for record in &owed {
            self.announce(record).await?;
        }
        Ok(owed.len())
    }

    /// Stores the `endpoint.disabled` event a disabled record owes, once
    /// for that record whichever nodes store it (its idempotency key is
    /// the record's), hands it to the pipeline, and marks it stored.
    async fn announce(&self, record: &DisabledEndpoint) -> Result<(), Error> {
        let at = rfc3339(record.at);
        let message = operator_message(
            "endpoint.disabled",
            record.at,
            json!({"endpoint": record.name, "reason": record.reason, "disabled_at": at}),
            format!("endpoint.disabled/{}/{}", record.name, record.at),
        );
        self.inbox
            .ingest(self.store.as_ref(), message, ANNOUNCE_WINDOW)
            .await?;
        self.store.announced(&record.name, record.at).await?;
        Ok(())
    }

    /// Lets deliveries to an endpoint go again and closes its breaker.
    pub async fn enable_endpoint(&self, name: &str) -> Result<(), Error> {
        let endpoint = self.live(name)?;
        let _changing = self.protection.lock().await;
        self.store.enable_endpoint(name).await?;
        endpoint.state.enable();
        Ok(())
    }

    /// Keeps this node's disabled endpoints in step with what other nodes
    /// record in a shared store: every [`FOLLOW_EVERY`], until `shutdown`.
    pub async fn follow_disabled(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = self.take_in_disabled().await {
                tracing::warn!(%error, "could not read which endpoints other nodes disabled");
            }
        }
    }

    /// Disables here what the store holds disabled and enables (closing
    /// the breaker) what it no longer does; how many endpoints changed. An
    /// event a record still owes is stored here too, so a node that
    /// stopped between a disable and its event leaves it to the others.
    pub async fn take_in_disabled(&self) -> Result<usize, Error> {
        let _changing = self.protection.lock().await;
        let records = self.store.disabled_endpoints().await?;
        for record in records.iter().filter(|record| record.announce) {
            self.announce(record).await?;
        }
        let stored: HashMap<String, DisabledEndpoint> =
            records.into_iter().map(|d| (d.name.clone(), d)).collect();
        let mut changed = 0;
        for (name, endpoint) in self.live.current().iter() {
            match (stored.get(name), endpoint.state.disabled()) {
                (Some(record), None)
                    if endpoint.state.disable(record.at, record.reason.clone()) =>
                {
                    tracing::warn!(endpoint = %name, reason = %record.reason, "endpoint disabled on another node");
                    changed += 1;
                }
                (None, Some(_)) => {
                    endpoint.state.enable();
                    tracing::info!(endpoint = %name, "endpoint enabled on another node");
                    changed += 1;
                }
                _ => {}
            }
        }
        Ok(changed)
    }

    /// Runs a message a plugin failed on through its source's chain again,
    /// on the plugin versions in force now: it is queued in the store for
    /// the pipeline (any node's), and its new outcome replaces the failure.
    pub async fn reprocess(&self, message_id: &str) -> Result<(), Error> {
        match self.store.requeue_failed(message_id).await? {
            None => Err(Error::NoMessage(message_id.to_owned())),
            Some(false) => Err(Error::NotFailed(message_id.to_owned())),
            Some(true) => {
                tracing::info!(%message_id, "message queued for the pipeline again");
                self.inbox.rescan();
                Ok(())
            }
        }
    }

    /// Sends a delivery again now, whatever its state (but skipped),
    /// keeping its attempt history; durable before it returns. Its endpoint must take
    /// deliveries.
    pub async fn replay(&self, id: &str) -> Result<Delivery, Error> {
        let no_delivery = || Error::NoDelivery(id.to_owned());
        let found = self.store.delivery(id).await?.ok_or_else(no_delivery)?;
        if let crate::store::DeliveryState::Skipped { plugin, .. } = found.state {
            return Err(Error::Skipped {
                id: id.to_owned(),
                plugin,
            });
        }
        self.takes_deliveries(&found.plan.endpoint)?;
        let now = self.clock.now_millis();
        let delivery = self
            .store
            .reschedule(id, now, None)
            .await?
            .ok_or_else(no_delivery)?;
        // Durable before the answer: a replay is not undone by a crash.
        self.store.flush().await?;
        self.wake.notify_one();
        Ok(delivery)
    }

    /// Schedules again, now, every retrying or dead-lettered delivery of
    /// `endpoint` created in `[since, until)`; durable before it returns.
    /// Returns their ids. The endpoint must take deliveries.
    pub async fn recover(
        &self,
        endpoint: &str,
        since: Option<u64>,
        until: Option<u64>,
    ) -> Result<Vec<String>, Error> {
        self.takes_deliveries(endpoint)?;
        let now = self.clock.now_millis();
        let catalog = self.registry.catalog();
        let mut ids = Vec::new();
        for status in [DeliveryStatusKind::Retrying, DeliveryStatusKind::Dead] {
            let mut query = DeliveryQuery {
                endpoint: Some(endpoint.to_owned()),
                status: Some(status),
                since,
                until,
                limit: RECOVER_PAGE,
                ..DeliveryQuery::default()
            };
            loop {
                let page = catalog.list_deliveries(&query).await?;
                for delivery in page.items {
                    if self
                        .store
                        .reschedule(&delivery.id, now, None)
                        .await?
                        .is_some()
                    {
                        ids.push(delivery.id);
                    }
                }
                match page.next {
                    Some(next) => query.before = Some(next),
                    None => break,
                }
            }
        }
        // Durable before the answer: a recovery is not undone by a crash.
        self.store.flush().await?;
        self.wake.notify_one();
        Ok(ids)
    }
}

impl Error {
    /// Why an endpoint took no delivery, for an answer.
    pub fn unavailable(endpoint: &str, why: &Unavailable) -> String {
        match why {
            Unavailable::Disabled(reason) => {
                format!("endpoint {endpoint} is disabled ({reason}); enable it first")
            }
            Unavailable::Inactive => {
                format!("endpoint {endpoint} is inactive; set active to true first")
            }
        }
    }
}
