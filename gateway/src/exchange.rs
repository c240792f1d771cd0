//! Synchronous hooks: a source with `mode = "sync"` answers its caller with
//! what its hook decided, within the source's `response_timeout`.
//!
//! One request, one [`Exchange::answer`]: the message is stored under this
//! node's lease (so no pipeline scan takes it while the exchange runs), the
//! source's plugin chain runs, and then either a plugin's `respond` is the
//! answer, or the one endpoint the chain or the subscriptions route to is
//! called and its answer (status, body, `content-type` and the source's
//! `response_headers`) is relayed. The message is completed with what the
//! caller got (`answered`, or `dropped` / `failed`), and the endpoint's call
//! is recorded as a delivery with its one attempt. Nothing is retried: a
//! caller that got no answer tries again itself.
//!
//! **Invariant:** a sync message is completed by the exchange that stored
//! it. One whose node stopped first is found by a pipeline scan once its
//! lease lapses and marked failed (`unanswered`), never delivered later.

use crate::clock::millis;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Clock;
use crate::config::SourceConfig;
use crate::delivery::{Deliverer, HookAnswer, HookCall};
use crate::http_error::{ApiError, Code};
use crate::metrics::Metrics;
use crate::pipeline::{per_endpoint, subscribers};
use crate::plugin::{self, ChainOutcome, ChainRun, PluginHost};
use crate::registry::{Registry, Snapshot};
use crate::store::{
    Completion, Holder, Ingested, Lease, MessageStatus, NewDelivery, NewMessage, Store,
};

/// The header every answer of a sync source carries: the message's id.
pub const MESSAGE_ID_HEADER: &str = "hookgate-message-id";
/// Set on an answer replayed for a repeated idempotency key.
pub const DUPLICATE_HEADER: &str = "hookgate-duplicate";

/// How much longer than the source's timeout the message's lease lasts:
/// the exchange completes the message within it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What the caller of a sync source gets.
#[derive(Debug)]
pub enum Reply {
    /// A hook's answer: the endpoint's or a plugin's.
    Relay {
        /// The status.
        status: u16,
        /// The headers passed on.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
        /// The message's id.
        message_id: String,
    },
    /// The chain dropped the event: `204`, nothing to say.
    Dropped {
        /// The message's id.
        message_id: String,
    },
    /// No answer could be had: the gateway's own `{code, message}`.
    Error {
        /// Why.
        error: ApiError,
        /// The message's id.
        message_id: String,
    },
}

/// Runs sync exchanges; shared by the ingest routes.
pub struct Exchange {
    /// Where messages and deliveries are recorded.
    pub store: Arc<dyn Store>,
    /// Runs the plugin chains.
    pub host: PluginHost,
    /// Sources, chains and endpoints in force.
    pub registry: Arc<Registry>,
    /// Calls the endpoint and records the call.
    pub deliverer: Arc<Deliverer>,
    /// Wall time.
    pub clock: Clock,
    /// Plugin counts.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange").finish_non_exhaustive()
    }
}

/// How an exchange ended: the status to record, the delivery made (with
/// its call), and the reply.
struct Ended {
    status: MessageStatus,
    call: Option<(NewDelivery, HookCall)>,
    reply: Reply,
}

impl Exchange {
    /// Answers one request to `source`, which arrived at `arrived`. An error
    /// is the store's, before anything ran: nothing was stored then.
    pub async fn answer(
        &self,
        source: &SourceConfig,
        message: NewMessage,
        arrived: Instant,
    ) -> Result<Reply, crate::store::Error> {
        let deadline = arrived + source.response_timeout;
        let now = self.clock.now_millis();
        let holder = self.deliverer.hook_holder(now);
        let lease = Lease::mint(&Holder {
            until: holder.until.max(
                now.saturating_add(millis(source.response_timeout.saturating_add(LEASE_MARGIN))),
            ),
            node: holder.node,
        });
        let id = match self
            .store
            .ingest(&message, source.dedup_window, Some(&lease))
            .await?
        {
            Ingested::New(id) => id,
            Ingested::Duplicate(id) => return self.repeat(id).await,
        };
        let ended =
            match tokio::time::timeout_at(deadline, self.run(source, &id, message, deadline)).await
            {
                Ok(ended) => ended,
                Err(_) => {
                    let error =
                        timed_out(source, "the plugin chain or the hook's call did not finish");
                    Ended {
                        status: gateway_answer(&error, String::new(), None),
                        call: None,
                        reply: Reply::Error {
                            error,
                            message_id: id.clone(),
                        },
                    }
                }
            };
        self.record(&id, lease.token, ended.status, ended.call)
            .await;
        Ok(ended.reply)
    }

    /// The chain, the routing and the endpoint's call.
    async fn run(
        &self,
        source: &SourceConfig,
        id: &str,
        message: NewMessage,
        deadline: Instant,
    ) -> Ended {
        let snapshot = self.registry.snapshot();
        let original_body = message.body.clone();
        let target_url = message.target_url;
        let event = plugin::Event {
            id: id.to_owned(),
            source: message.source,
            event_type: message.event_type,
            received_at: message.received_at,
            headers: message.headers,
            body: message.body,
        };
        let steps = snapshot
            .chains
            .get(&source.name)
            .map_or(&[][..], Vec::as_slice);
        let run = if steps.is_empty() {
            ChainRun {
                result: Ok(ChainOutcome::Continued(event)),
                steps: Vec::new(),
            }
        } else {
            plugin::run_chain(&self.host, steps, event).await
        };
        per_endpoint::report(&self.metrics, &run, id);
        let message_id = id.to_owned();
        let (event, plans) = match run.result {
            Err(failure) => {
                let error = ApiError::new(
                    Code::HookFailed,
                    format!(
                        "plugin {} failed ({}): {}",
                        failure.plugin,
                        failure.error.kind(),
                        failure.error
                    ),
                );
                return Ended {
                    status: MessageStatus::Failed {
                        plugin: failure.plugin,
                        kind: failure.error.kind().to_owned(),
                        error: failure.error.to_string(),
                    },
                    call: None,
                    reply: Reply::Error { error, message_id },
                };
            }
            Ok(ChainOutcome::Dropped { plugin, reason }) => {
                return Ended {
                    status: MessageStatus::Dropped { plugin, reason },
                    call: None,
                    reply: Reply::Dropped { message_id },
                };
            }
            Ok(ChainOutcome::Responded {
                plugin,
                event,
                response,
            }) => {
                let mut headers = response.headers;
                if !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                return Ended {
                    status: MessageStatus::Answered {
                        event_type: event.event_type,
                        plugin: Some(plugin),
                        endpoint: None,
                        status: response.status,
                        headers: headers.clone(),
                        body: response.body.clone(),
                    },
                    call: None,
                    reply: Reply::Relay {
                        status: response.status,
                        headers,
                        body: response.body,
                        message_id,
                    },
                };
            }
            Ok(ChainOutcome::Continued(event)) => {
                let changed = event.body != original_body;
                let plans: Vec<NewDelivery> =
                    subscribers(&snapshot, &event.event_type, &event.body)
                        .into_iter()
                        .map(|endpoint| NewDelivery {
                            endpoint: endpoint.to_owned(),
                            event_type: event.event_type.clone(),
                            url: target_url.clone(),
                            body: changed.then(|| event.body.clone()),
                            headers: Vec::new(),
                        })
                        .collect();
                (event, plans)
            }
            Ok(ChainOutcome::Deliver { event, targets, .. }) => {
                let changed = event.body != original_body;
                let plans = targets
                    .into_iter()
                    .map(|t| NewDelivery {
                        endpoint: t.endpoint,
                        event_type: event.event_type.clone(),
                        url: target_url.clone(),
                        body: t.body.or_else(|| changed.then(|| event.body.clone())),
                        headers: t.headers,
                    })
                    .collect();
                (event, plans)
            }
        };
        let plan = match <[NewDelivery; 1]>::try_from(plans) {
            Ok([plan]) => plan,
            Err(plans) => {
                let error = unrouted(source, &event.event_type, &plans);
                return Ended {
                    status: MessageStatus::Failed {
                        plugin: String::new(),
                        kind: Code::HookUnrouted.as_str().to_owned(),
                        error: error.message.clone(),
                    },
                    call: None,
                    reply: Reply::Error { error, message_id },
                };
            }
        };
        let plan = match self.endpoint_chain(&snapshot, &event, plan).await {
            Ok(plan) => plan,
            Err(status) => {
                let reply = match &status {
                    MessageStatus::Dropped { .. } => Reply::Dropped { message_id },
                    _ => Reply::Error {
                        error: ApiError::new(Code::HookFailed, failure_message(&status)),
                        message_id,
                    },
                };
                return Ended {
                    status,
                    call: None,
                    reply,
                };
            }
        };
        let body = plan.body.clone().unwrap_or_else(|| event.body.clone());
        let content_type = event
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let called = self
            .deliverer
            .call_hook(
                &plan.endpoint,
                plan.url.as_deref(),
                id,
                body,
                &plan.headers,
                content_type,
                deadline,
            )
            .await;
        let call = match called {
            Ok(call) => call,
            Err(refused) => {
                let code = match refused {
                    crate::delivery::Error::TargetRefused(_) => Code::HookFailed,
                    _ => Code::HookUnavailable,
                };
                let error = ApiError::new(
                    code,
                    format!(
                        "the hook's endpoint {} was not called: {refused}",
                        plan.endpoint
                    ),
                );
                return Ended {
                    status: MessageStatus::Failed {
                        plugin: String::new(),
                        kind: code.as_str().to_owned(),
                        error: error.message.clone(),
                    },
                    call: None,
                    reply: Reply::Error { error, message_id },
                };
            }
        };
        let endpoint = plan.endpoint.clone();
        let (status, reply) = match &call.answer {
            HookAnswer::Answered {
                status,
                headers,
                body,
            } => {
                let passed = passed_headers(source, headers);
                (
                    MessageStatus::Answered {
                        event_type: event.event_type,
                        plugin: None,
                        endpoint: Some(endpoint),
                        status: *status,
                        headers: passed.clone(),
                        body: body.clone(),
                    },
                    Reply::Relay {
                        status: *status,
                        headers: passed,
                        body: body.clone(),
                        message_id,
                    },
                )
            }
            HookAnswer::TimedOut(why) => {
                let error = timed_out(source, &format!("endpoint {endpoint}: {why}"));
                (
                    gateway_answer(&error, event.event_type, Some(endpoint)),
                    Reply::Error { error, message_id },
                )
            }
            HookAnswer::Failed(why) => {
                let error = ApiError::new(
                    Code::HookFailed,
                    format!("the hook's endpoint {endpoint} gave no answer to relay: {why}"),
                );
                (
                    gateway_answer(&error, event.event_type, Some(endpoint)),
                    Reply::Error { error, message_id },
                )
            }
        };
        Ended {
            status,
            call: Some((plan, call)),
            reply,
        }
    }

    /// Runs the hook endpoint's own chain on its one delivery: the plan to
    /// call, or the message's status when the chain dropped it (the caller
    /// gets 204) or failed.
    async fn endpoint_chain(
        &self,
        snapshot: &Snapshot,
        event: &plugin::Event,
        plan: NewDelivery,
    ) -> Result<NewDelivery, MessageStatus> {
        if !per_endpoint::needed(snapshot, std::slice::from_ref(&plan)) {
            return Ok(plan);
        }
        let origin = per_endpoint::Origin {
            id: &event.id,
            source: &event.source,
            received_at: event.received_at,
            headers: &event.headers,
            routed_body: &event.body,
        };
        let shaped =
            per_endpoint::shape(&self.host, &self.metrics, snapshot, origin, vec![plan]).await;
        match shaped {
            per_endpoint::Shaped::Planned {
                mut deliveries,
                skipped,
            } => {
                if let Some(plan) = deliveries.pop() {
                    return Ok(plan);
                }
                Err(match skipped.into_iter().next() {
                    Some(skip) => MessageStatus::Dropped {
                        plugin: skip.plugin,
                        reason: format!(
                            "endpoint {}'s chain dropped it: {}",
                            skip.plan.endpoint, skip.reason
                        ),
                    },
                    None => MessageStatus::Failed {
                        plugin: String::new(),
                        kind: Code::HookFailed.as_str().to_owned(),
                        error: "the hook endpoint's chain left nothing to call".to_owned(),
                    },
                })
            }
            per_endpoint::Shaped::Failed(status) => Err(status),
            per_endpoint::Shaped::Deferred(why) => Err(MessageStatus::Failed {
                plugin: String::new(),
                kind: Code::HookFailed.as_str().to_owned(),
                error: format!("the hook endpoint's plugin could not run: {why}"),
            }),
        }
    }

    /// Completes the message with what its caller got, and records the
    /// endpoint's call. A failure here is logged: the caller still gets
    /// its answer, and the message, left on the queue under this node's
    /// lease, is marked `unanswered` by a scan once the lease lapses.
    async fn record(
        &self,
        id: &str,
        token: u64,
        status: MessageStatus,
        call: Option<(NewDelivery, HookCall)>,
    ) {
        let now = self.clock.now_millis();
        let (deliveries, call) = match call {
            Some((plan, call)) => (vec![plan], Some(call)),
            None => (Vec::new(), None),
        };
        let completion = Completion {
            status,
            claim: (!deliveries.is_empty()).then(|| self.deliverer.hook_holder(now)),
            deliveries,
            skipped: Vec::new(),
            now,
            steps: Vec::new(),
        };
        let created = match self.store.complete_pipeline(id, token, completion).await {
            Ok(Some(created)) => created,
            Ok(None) => {
                tracing::warn!(message_id = %id, "a sync exchange's message was taken over before it was recorded");
                return;
            }
            Err(error) => {
                tracing::error!(message_id = %id, %error, "cannot record a sync exchange");
                return;
            }
        };
        if let Some(call) = call
            && let Err(error) = self.deliverer.record_hook(&created, &call).await
        {
            tracing::error!(message_id = %id, %error, "cannot record a sync exchange's call");
        }
    }

    /// The answer to a repeat of an idempotency key: the first request's,
    /// if it was answered.
    async fn repeat(&self, id: String) -> Result<Reply, crate::store::Error> {
        let first = self.store.message(&id).await?;
        Ok(match first.map(|m| m.status) {
            Some(MessageStatus::Answered {
                status,
                mut headers,
                body,
                ..
            }) => {
                headers.push((DUPLICATE_HEADER.into(), "true".into()));
                Reply::Relay {
                    status,
                    headers,
                    body,
                    message_id: id,
                }
            }
            Some(MessageStatus::Dropped { .. }) => Reply::Dropped { message_id: id },
            other => {
                let how = match other {
                    Some(MessageStatus::Pending) | None => "is still being answered",
                    _ => "got no answer to repeat",
                };
                Reply::Error {
                    error: ApiError::new(
                        Code::Conflict,
                        format!(
                            "the first request with this idempotency key (message {id}) {how}; send it with a new key"
                        ),
                    ),
                    message_id: id,
                }
            }
        })
    }
}

/// The endpoint's headers the caller gets: `content-type` and the source's
/// `response_headers`.
fn passed_headers(source: &SourceConfig, headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            name.eq_ignore_ascii_case("content-type")
                || source
                    .response_headers
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(name))
        })
        .cloned()
        .collect()
}

fn timed_out(source: &SourceConfig, what: &str) -> ApiError {
    ApiError::new(
        Code::HookTimeout,
        format!(
            "no answer within the source's response_timeout of {}: {what}; a sync call is not retried",
            humantime::format_duration(source.response_timeout)
        ),
    )
}

fn unrouted(source: &SourceConfig, event_type: &str, plans: &[NewDelivery]) -> ApiError {
    let message = if plans.is_empty() {
        format!(
            "sync source {:?} routes event type {event_type:?} to no endpoint; a sync call needs exactly one (subscribe one, or have a plugin deliver to one)",
            source.name
        )
    } else {
        let names: Vec<&str> = plans.iter().map(|p| p.endpoint.as_str()).collect();
        format!(
            "sync source {:?} routes event type {event_type:?} to {} endpoints ({}); a sync call needs exactly one",
            source.name,
            names.len(),
            names.join(", ")
        )
    };
    ApiError::new(Code::HookUnrouted, message)
}

/// The status recording the gateway's own error answer (after calling
/// `endpoint`, if it called one).
fn gateway_answer(error: &ApiError, event_type: String, endpoint: Option<String>) -> MessageStatus {
    MessageStatus::Answered {
        event_type,
        plugin: None,
        endpoint,
        status: error.status.as_u16(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: error.body_json(),
    }
}

/// What a caller is told of a failed status.
fn failure_message(status: &MessageStatus) -> String {
    match status {
        MessageStatus::Failed {
            plugin,
            kind,
            error,
        } if plugin.is_empty() => {
            format!("{error} ({kind})")
        }
        MessageStatus::Failed {
            plugin,
            kind,
            error,
        } => {
            format!("plugin {plugin} failed ({kind}): {error}")
        }
        _ => "the hook's chain failed".to_owned(),
    }
}
