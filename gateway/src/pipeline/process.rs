//! One message through the pipeline: its source's plugin chain, the routing
//! of what the chain let through, and the completion that records the
//! outcome and hands the deliveries to the deliverer.

use std::sync::Arc;

use super::OPERATOR_SOURCE;
use super::per_endpoint;
use crate::clock::Clock;
use crate::config::SourceMode;
use crate::delivery::{Deliverer, TEST_ENDPOINT_HEADER, TEST_HEADER, TEST_SOURCE};
use crate::metrics::Metrics;
use crate::plugin::{self, ChainOutcome, PluginHost};
use crate::registry::{Registry, Snapshot};
use crate::store::{Completion, Message, MessageStatus, NewDelivery, PluginStep, Skip, Store};

/// The failure kind of a sync exchange that never answered.
pub const UNANSWERED: &str = "unanswered";

/// How processing a message ended.
#[derive(Debug)]
pub(super) enum Processed {
    /// Its outcome is recorded (or another pass recorded it).
    Completed,
    /// It stays queued, for this reason, to be run again after a backoff.
    Deferred(String),
}

/// What processing a message needs; shared by the pipeline's tasks.
pub(super) struct Worker {
    pub(super) store: Arc<dyn Store>,
    pub(super) host: PluginHost,
    pub(super) registry: Arc<Registry>,
    pub(super) deliverer: Arc<Deliverer>,
    pub(super) clock: Clock,
    pub(super) metrics: Arc<Metrics>,
}

impl Worker {
    /// Runs one message and records its outcome, or leaves it queued (a
    /// failure of the host, not of the plugin: no slot became free) for a
    /// later pass, which the caller backs off.
    /// `token` is the message's lease in the pipeline queue.
    pub(super) async fn process(
        &self,
        message: Message,
        token: u64,
    ) -> Result<Processed, crate::store::Error> {
        self.metrics.pipeline_run(&message.received.source);
        let snapshot = self.registry.snapshot();
        if message.received.source == OPERATOR_SOURCE {
            let endpoints = snapshot.operator_endpoint.iter().cloned().collect();
            let (status, deliveries) = direct(&message, endpoints, Vec::new());
            self.complete(message, token, status, deliveries, Vec::new(), Vec::new())
                .await?;
            return Ok(Processed::Completed);
        }
        if message.received.source == TEST_SOURCE {
            // The endpoint the test names, if it still exists; a test is
            // sent to it alone, marked as a test.
            let endpoints = message
                .received
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(TEST_ENDPOINT_HEADER))
                .map(|(_, endpoint)| endpoint.clone())
                .filter(|endpoint| snapshot.endpoints.contains_key(endpoint))
                .into_iter()
                .collect();
            let marked = vec![(TEST_HEADER.to_owned(), "true".to_owned())];
            let (status, deliveries) = direct(&message, endpoints, marked);
            self.complete(message, token, status, deliveries, Vec::new(), Vec::new())
                .await?;
            return Ok(Processed::Completed);
        }
        if snapshot
            .sources
            .get(&message.received.source)
            .is_some_and(|s| s.mode == SourceMode::Sync)
        {
            // A sync exchange runs in its request and completes its own
            // message; one left on the queue is one whose node stopped
            // before it answered. Its caller got no answer, and a sync call
            // is not retried.
            let status = MessageStatus::Failed {
                plugin: String::new(),
                kind: UNANSWERED.to_owned(),
                error: "the node serving this synchronous call stopped before it answered; sync calls are not retried".to_owned(),
            };
            self.complete(message, token, status, Vec::new(), Vec::new(), Vec::new())
                .await?;
            return Ok(Processed::Completed);
        }
        let steps = snapshot
            .chains
            .get(&message.received.source)
            .map_or(&[][..], Vec::as_slice);
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
        let subscribers = |event_type: &str, body: &[u8]| -> Vec<NewDelivery> {
            subscribers(&snapshot, event_type, body)
                .into_iter()
                .map(|name| plan(name, event_type, None, Vec::new()))
                .collect()
        };
        if steps.is_empty() {
            // No plugin: the event goes on as it came.
            let deliveries = subscribers(&message.received.event_type, &message.received.body);
            let status = MessageStatus::Routed {
                event_type: message.received.event_type.clone(),
                body: None,
                deliveries: u32::try_from(deliveries.len()).unwrap_or(u32::MAX),
            };
            return self
                .route(&snapshot, message, token, status, deliveries, Vec::new())
                .await;
        }
        let event = plugin::Event {
            id: message.id.clone(),
            source: message.received.source.clone(),
            event_type: message.received.event_type.clone(),
            received_at: message.received.received_at,
            headers: message.received.headers.clone(),
            body: message.received.body.clone(),
        };
        let run = plugin::run_chain(&self.host, steps, event).await;
        per_endpoint::report(&self.metrics, &run, &message.id);
        let steps = super::trace::steps(&run);
        let (status, deliveries) = match run.result {
            Ok(ChainOutcome::Dropped { plugin, reason }) => {
                (MessageStatus::Dropped { plugin, reason }, Vec::new())
            }
            Ok(ChainOutcome::Continued(event)) => {
                let deliveries = subscribers(&event.event_type, &event.body);
                routed(event, &message.received.body, deliveries)
            }
            Ok(ChainOutcome::Responded {
                plugin,
                event,
                response,
            }) => (
                // An async source's caller was answered when the event was
                // stored: the response is recorded and goes nowhere.
                MessageStatus::Answered {
                    event_type: event.event_type,
                    plugin: Some(plugin),
                    endpoint: None,
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                },
                Vec::new(),
            ),
            Ok(ChainOutcome::Deliver { event, targets, .. }) => {
                let deliveries = targets
                    .into_iter()
                    .map(|t| plan(&t.endpoint, &event.event_type, t.body, t.headers))
                    .collect();
                routed(event, &message.received.body, deliveries)
            }
            Err(failure) if failure.error.is_host_side() => {
                tracing::warn!(message_id = %message.id, plugin = %failure.plugin, kind = failure.error.kind(), error = %failure.error, "plugin could not run; the message is retried later");
                return Ok(Processed::Deferred(failure.error.to_string()));
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
        self.route(&snapshot, message, token, status, deliveries, steps)
            .await
    }

    /// Runs the endpoints' own chains on the deliveries of a routed
    /// message, then records the outcome.
    async fn route(
        &self,
        snapshot: &Snapshot,
        message: Message,
        token: u64,
        status: MessageStatus,
        deliveries: Vec<NewDelivery>,
        steps: Vec<PluginStep>,
    ) -> Result<Processed, crate::store::Error> {
        let MessageStatus::Routed {
            event_type, body, ..
        } = &status
        else {
            self.complete(message, token, status, deliveries, Vec::new(), steps)
                .await?;
            return Ok(Processed::Completed);
        };
        if !per_endpoint::needed(snapshot, &deliveries) {
            self.complete(message, token, status, deliveries, Vec::new(), steps)
                .await?;
            return Ok(Processed::Completed);
        }
        let origin = per_endpoint::Origin {
            id: &message.id,
            source: &message.received.source,
            received_at: message.received.received_at,
            headers: &message.received.headers,
            routed_body: body.as_deref().unwrap_or(&message.received.body),
        };
        let shaped =
            per_endpoint::shape(&self.host, &self.metrics, snapshot, origin, deliveries).await;
        match shaped {
            per_endpoint::Shaped::Planned {
                deliveries,
                skipped,
            } => {
                let status = MessageStatus::Routed {
                    event_type: event_type.clone(),
                    body: body.clone(),
                    deliveries: u32::try_from(deliveries.len() + skipped.len()).unwrap_or(u32::MAX),
                };
                self.complete(message, token, status, deliveries, skipped, steps)
                    .await?;
            }
            per_endpoint::Shaped::Failed(failed) => {
                self.complete(message, token, failed, Vec::new(), Vec::new(), steps)
                    .await?;
            }
            per_endpoint::Shaped::Deferred(why) => return Ok(Processed::Deferred(why)),
        }
        Ok(Processed::Completed)
    }

    /// Records the outcome; the deliveries are created claimed and handed to
    /// the deliverer with the message, or, with no delivery loop running or
    /// an endpoint at its concurrency, scheduled for now (a pass claims them
    /// as room frees).
    async fn complete(
        &self,
        mut message: Message,
        token: u64,
        status: MessageStatus,
        deliveries: Vec<NewDelivery>,
        skipped: Vec<Skip>,
        steps: Vec<PluginStep>,
    ) -> Result<(), crate::store::Error> {
        let now = self.clock.now_millis();
        let claim = if deliveries.is_empty() {
            None
        } else {
            self.deliverer.dispatch_claim(now, &deliveries)
        };
        let completion = Completion {
            status: status.clone(),
            deliveries,
            skipped,
            now,
            claim: claim.as_ref().map(|c| c.holder.clone()),
            steps,
        };
        let Some(created) = self
            .store
            .complete_pipeline(&message.id, token, completion)
            .await?
        else {
            tracing::debug!(message_id = %message.id, "already completed, or its lease was taken over");
            return Ok(());
        };
        if created.deliveries.is_empty() {
            return Ok(());
        }
        message.status = status;
        self.deliverer.dispatch(created, Arc::new(message), claim);
        Ok(())
    }
}

/// The endpoints subscribed to `event_type` whose filter (if any) the
/// payload passes, by name: where an event goes when no plugin chose. The
/// payload is parsed once, and only for a filter; one that is not JSON
/// passes none.
pub fn subscribers<'a>(snapshot: &'a Snapshot, event_type: &str, body: &[u8]) -> Vec<&'a str> {
    let mut payload: Option<Option<serde_json::Value>> = None;
    let mut names: Vec<&str> = snapshot
        .endpoints
        .iter()
        // A disabled endpoint still gets its deliveries, dead-lettered
        // at once, so they can be recovered once it is enabled.
        .filter(|(_, e)| e.active && e.subscribed(event_type))
        .filter(|(_, e)| {
            e.filter.as_ref().is_none_or(|filter| {
                payload
                    .get_or_insert_with(|| serde_json::from_slice(body).ok())
                    .as_ref()
                    .is_some_and(|value| filter.matches(value))
            })
        })
        .map(|(name, _)| name.as_str())
        .collect();
    names.sort_unstable();
    names
}

/// A message the gateway made (an operator event, a test event) goes to
/// the endpoints it is for, unchanged, with `headers` added.
fn direct(
    message: &Message,
    endpoints: Vec<String>,
    headers: Vec<(String, String)>,
) -> (MessageStatus, Vec<NewDelivery>) {
    let deliveries: Vec<NewDelivery> = endpoints
        .into_iter()
        .map(|endpoint| NewDelivery {
            endpoint,
            event_type: message.received.event_type.clone(),
            url: None,
            body: None,
            headers: headers.clone(),
        })
        .collect();
    let status = MessageStatus::Routed {
        event_type: message.received.event_type.clone(),
        body: None,
        deliveries: u32::try_from(deliveries.len()).unwrap_or(u32::MAX),
    };
    (status, deliveries)
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
