//! The pipeline: takes each stored message through its source's plugin chain
//! and records what happened: dropped, failed (dead letter, with the
//! classified error), or routed to deliveries.
//!
//! Default routing, when no plugin chose targets: the active endpoints
//! subscribed to the (possibly rewritten) event type. A plugin's `deliver`
//! overrides it. A message with a per-message target URL is sent there,
//! with the settings of the endpoints it routes to. Operator events (source
//! [`OPERATOR_SOURCE`]) go to the operator endpoint only.
//!
//! **Invariant:** a message leaves the pipeline queue only in the same
//! transaction that records its outcome and creates its deliveries.
//! **Invariant:** a message runs wholly on one registry snapshot: the plugin
//! versions current when it started.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::plugin::{self, ChainOutcome, PluginHost};
use crate::registry::{OPERATOR_SOURCE, Registry};
use crate::store::{Message, MessageStatus, NewDelivery, Store};

/// How many messages one pass takes from the queue, and runs at once. Most
/// of a message's time in the pipeline is spent waiting (for a plugin slot,
/// for its outcome's write behind the store's last sync), so the pass is
/// wide; the plugin pool still bounds how many plugins run at once.
const BATCH: usize = 256;
/// How long to wait before retrying after a store failure.
const STORE_BACKOFF: Duration = Duration::from_millis(500);

/// The pipeline worker's parts.
pub struct Pipeline {
    /// Where messages are.
    pub store: Arc<dyn Store>,
    /// Runs the plugins.
    pub host: PluginHost,
    /// The chains and endpoints in force.
    pub registry: Arc<Registry>,
    /// Woken by ingest after each new message.
    pub new_message: Arc<Notify>,
    /// Woken after deliveries are created.
    pub new_delivery: Arc<Notify>,
    /// Wall time.
    pub clock: Clock,
    /// Plugin invocation counts and latency.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Processes messages until `shutdown` fires; the message being
    /// processed when it fires is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let batch = match self.store.pipeline_batch(BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "cannot read the pipeline queue");
                    tokio::select! {
                        () = tokio::time::sleep(STORE_BACKOFF) => continue,
                        () = shutdown.cancelled() => return,
                    }
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    () = self.new_message.notified() => continue,
                    () = shutdown.cancelled() => return,
                }
            }
            // Messages are independent: run the whole batch at once, so
            // plugins, store writes and waits overlap.
            let this = &self;
            futures::stream::iter(batch)
                .for_each_concurrent(BATCH, |message| async move {
                    if let Err(error) = this.process(message).await {
                        tracing::error!(%error, "cannot record a pipeline outcome");
                    }
                })
                .await;
            if shutdown.is_cancelled() {
                return;
            }
        }
    }

    async fn process(&self, message: Message) -> Result<(), crate::store::Error> {
        let snapshot = self.registry.snapshot();
        if message.received.source == OPERATOR_SOURCE {
            return self.operator_event(&message, &snapshot).await;
        }
        let steps = snapshot
            .chains
            .get(&message.received.source)
            .map_or(&[][..], Vec::as_slice);
        let event = plugin::Event {
            id: message.id.clone(),
            source: message.received.source.clone(),
            event_type: message.received.event_type.clone(),
            received_at: message.received.received_at,
            headers: message.received.headers.clone(),
            body: message.received.body.clone(),
        };
        let run = plugin::run_chain(&self.host, steps, event).await;
        let failed_plugin = run
            .result
            .as_ref()
            .err()
            .map(|f| (f.plugin.as_str(), f.error.kind()));
        for step in &run.steps {
            let outcome = match failed_plugin {
                Some((plugin, kind)) if plugin == step.plugin => kind,
                _ => "ok",
            };
            self.metrics.plugin(&step.plugin, outcome, step.elapsed);
            for line in &step.logs.lines {
                tracing::info!(plugin = %step.plugin, message_id = %message.id, level = ?line.level, "{}", line.message);
            }
        }
        let target_url = message.received.target_url.clone();
        let plan = |endpoint: &str,
                    event_type: &str,
                    body: Option<Vec<u8>>,
                    headers: Vec<(String, String)>| NewDelivery {
            endpoint: endpoint.to_owned(),
            event_type: event_type.to_owned(),
            url: target_url.clone(),
            body,
            headers,
        };
        let (status, deliveries) = match run.result {
            Ok(ChainOutcome::Dropped { plugin, reason }) => {
                (MessageStatus::Dropped { plugin, reason }, Vec::new())
            }
            Ok(ChainOutcome::Continued(event)) => {
                let mut names: Vec<&String> = snapshot
                    .endpoints
                    .iter()
                    // A disabled endpoint still gets its deliveries, dead-lettered
                    // at once, so they can be recovered once it is enabled.
                    .filter(|(_, e)| e.active && e.subscribed(&event.event_type))
                    .map(|(name, _)| name)
                    .collect();
                names.sort();
                let deliveries = names
                    .into_iter()
                    .map(|name| plan(name, &event.event_type, None, Vec::new()))
                    .collect();
                routed(event, &message.received.body, deliveries)
            }
            Ok(ChainOutcome::Deliver { event, targets, .. }) => {
                let deliveries = targets
                    .into_iter()
                    .map(|t| plan(&t.endpoint, &event.event_type, t.body, t.headers))
                    .collect();
                routed(event, &message.received.body, deliveries)
            }
            Err(failure) => {
                tracing::warn!(message_id = %message.id, plugin = %failure.plugin, kind = failure.error.kind(), error = %failure.error, "plugin failed; message dead-lettered");
                (
                    MessageStatus::Failed {
                        plugin: failure.plugin,
                        kind: failure.error.kind().to_owned(),
                        error: failure.error.to_string(),
                    },
                    Vec::new(),
                )
            }
        };
        self.complete(&message, status, deliveries).await
    }

    async fn complete(
        &self,
        message: &Message,
        status: MessageStatus,
        deliveries: Vec<NewDelivery>,
    ) -> Result<(), crate::store::Error> {
        let created = !deliveries.is_empty();
        self.store
            .complete_pipeline(&message.id, status, deliveries, self.clock.now_millis())
            .await?;
        if created {
            self.new_delivery.notify_one();
        }
        Ok(())
    }

    /// An operator event goes to the operator endpoint, unchanged.
    async fn operator_event(
        &self,
        message: &Message,
        snapshot: &crate::registry::Snapshot,
    ) -> Result<(), crate::store::Error> {
        let deliveries: Vec<NewDelivery> = snapshot
            .operator_endpoint
            .iter()
            .map(|endpoint| NewDelivery {
                endpoint: endpoint.clone(),
                event_type: message.received.event_type.clone(),
                url: None,
                body: None,
                headers: Vec::new(),
            })
            .collect();
        let status = MessageStatus::Routed {
            event_type: message.received.event_type.clone(),
            body: None,
            deliveries: u32::try_from(deliveries.len()).unwrap_or(u32::MAX),
        };
        self.complete(message, status, deliveries).await
    }
}

/// The status of a message the chain routed, with its deliveries; the body is
/// kept only if the plugins changed it.
fn routed(
    event: plugin::Event,
    original_body: &[u8],
    deliveries: Vec<NewDelivery>,
) -> (MessageStatus, Vec<NewDelivery>) {
    let changed = event.body != original_body;
    let status = MessageStatus::Routed {
        event_type: event.event_type,
        body: changed.then_some(event.body),
        deliveries: u32::try_from(deliveries.len()).unwrap_or(u32::MAX),
    };
    (status, deliveries)
}
