//! Endpoints' own plugin chains (`[[endpoint]] plugins`): run per delivery
//! after routing, on the event as routed, so each receiver gets its own
//! payload shape.
//!
//! An endpoint's chain can `continue` (its rewrite is what that endpoint
//! receives), `drop` (that endpoint's delivery is created skipped, with the
//! plugin and its reason, and never sent) or `deliver` to its own endpoint
//! with a body and headers; targets naming other endpoints are not its to
//! choose and are left out. A failure dead-letters the whole message, as
//! one in the source's chain does: reprocessing it runs every chain again
//! on the plugins in force, and no endpoint gets a delivery twice.

use crate::metrics::Metrics;
use crate::plugin::{self, ChainOutcome, ChainRun, PluginHost};
use crate::registry::Snapshot;
use crate::store::{MessageStatus, NewDelivery, Skip};

/// The message the deliveries carry, as their chains see it.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The message's id.
    pub id: &'a str,
    /// Its source.
    pub source: &'a str,
    /// When it was received.
    pub received_at: u64,
    /// The headers it was received with.
    pub headers: &'a [(String, String)],
    /// Its body after its source's chain: what a delivery without a body
    /// of its own sends.
    pub routed_body: &'a [u8],
}

/// What the endpoints' chains made of a message's deliveries.
#[derive(Debug)]
pub enum Shaped {
    /// The deliveries to send, and those an endpoint's chain dropped.
    Planned {
        /// To create and send.
        deliveries: Vec<NewDelivery>,
        /// To create skipped.
        skipped: Vec<Skip>,
    },
    /// A plugin failed on the message: its status from now on.
    Failed(MessageStatus),
    /// A plugin could not run (no slot): the message is run again later.
    Deferred(String),
}

/// Whether any of `deliveries` goes to an endpoint with a chain of its own.
pub fn needed(snapshot: &Snapshot, deliveries: &[NewDelivery]) -> bool {
    !snapshot.endpoint_chains.is_empty()
        && deliveries
            .iter()
            .any(|d| snapshot.endpoint_chains.contains_key(&d.endpoint))
}

/// Runs each delivery's endpoint chain, in delivery order.
pub async fn shape(
    host: &PluginHost,
    metrics: &Metrics,
    snapshot: &Snapshot,
    origin: Origin<'_>,
    deliveries: Vec<NewDelivery>,
) -> Shaped {
    let routed_body = origin.routed_body;
    let mut planned = Vec::with_capacity(deliveries.len());
    let mut skipped = Vec::new();
    for mut delivery in deliveries {
        let Some(steps) = snapshot
            .endpoint_chains
            .get(&delivery.endpoint)
            .filter(|s| !s.is_empty())
        else {
            planned.push(delivery);
            continue;
        };
        let body = delivery
            .body
            .clone()
            .unwrap_or_else(|| routed_body.to_vec());
        let event = plugin::Event {
            id: origin.id.to_owned(),
            source: origin.source.to_owned(),
            event_type: delivery.event_type.clone(),
            received_at: origin.received_at,
            headers: origin.headers.to_vec(),
            body,
        };
        let run = plugin::run_chain(host, steps, event).await;
        report(metrics, &run, origin.id);
        let message_id = origin.id;
        let endpoint = delivery.endpoint.clone();
        match run.result {
            Ok(ChainOutcome::Continued(event)) => {
                delivery.event_type = event.event_type;
                if event.body != routed_body || delivery.body.is_some() {
                    delivery.body = Some(event.body);
                }
                planned.push(delivery);
            }
            Ok(ChainOutcome::Dropped { plugin, reason }) => skipped.push(Skip {
                plan: delivery,
                plugin,
                reason,
            }),
            Ok(ChainOutcome::Deliver {
                plugin,
                event,
                targets,
            }) => {
                let others: Vec<String> = targets
                    .iter()
                    .map(|t| t.endpoint.clone())
                    .filter(|name| *name != endpoint)
                    .collect();
                if !others.is_empty() {
                    tracing::warn!(%message_id, %endpoint, %plugin, ?others, "an endpoint's chain delivers only to its endpoint; the other targets are left out");
                }
                match targets.into_iter().find(|t| t.endpoint == endpoint) {
                    Some(target) => {
                        delivery.event_type = event.event_type;
                        delivery.body = Some(target.body.unwrap_or(event.body));
                        delivery.headers.extend(target.headers);
                        planned.push(delivery);
                    }
                    None => skipped.push(Skip {
                        plan: delivery,
                        reason: format!("it delivered to {others:?}, not to this endpoint"),
                        plugin,
                    }),
                }
            }
            Ok(ChainOutcome::Responded { plugin, .. }) => {
                return Shaped::Failed(MessageStatus::Failed {
                    plugin,
                    kind: "invalid_outcome".to_owned(),
                    error: format!(
                        "endpoint {endpoint}'s chain answered with respond, which only a sync source's chain can; an endpoint's chain can continue, drop or deliver"
                    ),
                });
            }
            Err(failure) if failure.error.is_host_side() => {
                tracing::warn!(%message_id, %endpoint, plugin = %failure.plugin, kind = failure.error.kind(), error = %failure.error, "an endpoint's plugin could not run; the message is retried later");
                return Shaped::Deferred(failure.error.to_string());
            }
            Err(failure) => {
                tracing::warn!(%message_id, %endpoint, plugin = %failure.plugin, kind = failure.error.kind(), error = %failure.error, "an endpoint's plugin failed; message dead-lettered");
                return Shaped::Failed(MessageStatus::Failed {
                    plugin: failure.plugin,
                    kind: failure.error.kind().to_owned(),
                    error: format!("in endpoint {endpoint}'s chain: {}", failure.error),
                });
            }
        }
    }
    Shaped::Planned {
        deliveries: planned,
        skipped,
    }
}

/// Counts each step of a chain run in the metrics and logs what its
/// plugins logged.
pub fn report(metrics: &Metrics, run: &ChainRun, message_id: &str) {
    let failed = run
        .result
        .as_ref()
        .err()
        .map(|f| (f.plugin.as_str(), f.error.kind()));
    for step in &run.steps {
        let outcome = match failed {
            Some((plugin, kind)) if plugin == step.plugin => kind,
            _ => "ok",
        };
        metrics.plugin(&step.plugin, outcome, step.elapsed);
        for line in &step.logs.lines {
            tracing::info!(plugin = %step.plugin, %message_id, level = ?line.level, "{}", line.message);
        }
    }
}
