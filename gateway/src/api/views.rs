//! What the management API answers with: typed views of configuration
//! objects, messages, deliveries and attempts, and pages of them. The
//! OpenAPI document is derived from these types.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::config::{EndpointConfig, RouteConfig, SourceConfig};
use crate::delivery::protection::{BreakerView, Disabled};
use crate::registry::Origin;
use crate::store::{
    Attempt, Delivery, DeliveryState, DeliveryStatusKind, Message, MessageStatus,
    MessageStatusKind, PluginStep, StepAction,
};

/// A page of items, newest (or first by name) first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListPage<T: ToSchema> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> ListPage<T> {
    /// A page of a listing by name: when more follow, the cursor is the
    /// last item's name.
    pub(crate) fn by_name(items: Vec<T>, more: bool, name: impl Fn(&T) -> &str) -> Self {
        let next_cursor = if more {
            items.last().map(|item| name(item).to_owned())
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// A source.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceView {
    /// Its settings (secrets shown as `***`).
    #[serde(flatten)]
    pub source: SourceConfig,
    /// Where it came from.
    pub origin: Origin,
}

/// A route.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RouteView {
    /// Its settings.
    #[serde(flatten)]
    pub route: RouteConfig,
    /// Where it came from.
    pub origin: Origin,
}

/// Why an endpoint is disabled.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DisabledView {
    /// Since when (Unix milliseconds).
    pub at: u64,
    /// Why.
    pub reason: String,
}

/// An endpoint's circuit breaker.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CircuitView {
    /// `closed` or `open`.
    pub state: String,
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the current run of failures began (Unix milliseconds).
    pub failing_since: Option<u64>,
    /// While open: when the next probe may go.
    pub next_probe_at: Option<u64>,
}

/// An endpoint with its run-time state.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointView {
    /// Its settings (secrets shown as `***`).
    #[serde(flatten)]
    pub endpoint: EndpointConfig,
    /// Where it came from.
    pub origin: Origin,
    /// Set while it is disabled.
    pub disabled: Option<DisabledView>,
    /// Its circuit breaker.
    pub circuit: CircuitView,
    /// The signing secret the gateway generated for it (created without
    /// one): shown this once, in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl EndpointView {
    /// Builds the view from the registry's parts.
    pub(crate) fn new(
        endpoint: EndpointConfig,
        origin: Origin,
        (disabled, breaker): (Option<Disabled>, BreakerView),
    ) -> Self {
        Self {
            endpoint,
            origin,
            disabled: disabled.map(|d| DisabledView {
                at: d.at,
                reason: d.reason,
            }),
            circuit: CircuitView {
                state: if breaker.open_until.is_some() {
                    "open"
                } else {
                    "closed"
                }
                .into(),
                failures: breaker.failures,
                failing_since: breaker.failing_since,
                next_probe_at: breaker.open_until,
            },
            secret: None,
        }
    }
}

/// A request or response header.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HeaderView {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// What the pipeline did with a message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum OutcomeView {
    /// Waiting for the pipeline.
    Pending,
    /// A plugin dropped it.
    Dropped {
        /// The plugin.
        plugin: String,
        /// Its reason.
        reason: String,
    },
    /// A plugin failed; the message is in the dead letter.
    Failed {
        /// The plugin.
        plugin: String,
        /// The error's kind (`timeout`, `memory_limit`, ...).
        kind: String,
        /// The error.
        error: String,
    },
    /// Deliveries were created.
    Routed {
        /// The event type after the plugins.
        event_type: String,
        /// How many deliveries.
        deliveries: u32,
        /// The payload after the plugins, when they changed it.
        #[schema(value_type = Option<Object>)]
        payload: Option<Value>,
    },
    /// A synchronous source answered its caller.
    Answered {
        /// The event type after the plugins.
        event_type: String,
        /// The plugin that answered itself, if one did.
        plugin: Option<String>,
        /// The endpoint whose answer was relayed, if one was called.
        endpoint: Option<String>,
        /// The response the caller got: status, headers and body.
        response: ResponseView,
    },
}

/// An answer a synchronous source gave its caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResponseView {
    /// The HTTP status.
    pub status: u16,
    /// Its headers.
    pub headers: Vec<HeaderView>,
    /// Its body (JSON, or text).
    #[schema(value_type = Object)]
    pub body: Value,
}

/// A body as JSON when it is JSON, else as text.
fn payload(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageView {
    /// `msg_` + a ULID.
    pub id: String,
    /// The source it was posted to.
    pub source: String,
    /// Its event type as received.
    pub event_type: String,
    /// When it was accepted (Unix milliseconds).
    pub received_at: u64,
    /// Its status.
    pub status: MessageStatusKind,
    /// Its idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Its per-message target URL, if any.
    pub target_url: Option<String>,
    /// The request headers kept (credentials are never stored).
    pub headers: Vec<HeaderView>,
    /// The payload as received (JSON, or text).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// What the plugins decided.
    pub outcome: OutcomeView,
    /// Its deliveries (with attempts at `/v1/messages/{id}/attempts`).
    pub deliveries: Vec<DeliveryView>,
    /// What each plugin of its source's chain did, in order, in
    /// single-message answers (empty when no plugin ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

/// What one plugin of a message's source chain did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepView {
    /// The plugin.
    pub plugin: String,
    /// The content hash of the version that ran.
    pub hash: String,
    /// How long it ran, in microseconds.
    pub elapsed_us: u64,
    /// What it decided.
    pub action: StepActionView,
    /// What it logged, oldest first (at most 50 lines of 1 KiB).
    pub logs: Vec<StepLogView>,
    /// Whether lines were left out.
    pub logs_truncated: bool,
}

/// A plugin's decision.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub(crate) enum StepActionView {
    /// It passed the event on, with these changes.
    Continued {
        /// The event type it set, if it set one.
        event_type: Option<String>,
        /// Whether it replaced the headers.
        headers: bool,
        /// The size of the body it set, if it set one.
        body_bytes: Option<u64>,
    },
    /// It dropped the event.
    Dropped {
        /// Its reason.
        reason: String,
    },
    /// It chose the targets.
    Delivered {
        /// The endpoints, in its order.
        endpoints: Vec<String>,
    },
    /// It answered the caller itself.
    Responded {
        /// The status.
        status: u16,
    },
    /// It failed.
    Failed {
        /// The error's kind (`timeout`, `memory_limit`, ...).
        kind: String,
        /// The error.
        error: String,
    },
}

/// A line a plugin logged.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepLogView {
    /// `trace` to `error`.
    pub level: String,
    /// `log`, `stdout` or `stderr`.
    pub stream: String,
    /// The text.
    pub message: String,
}

impl From<PluginStep> for StepView {
    fn from(step: PluginStep) -> Self {
        Self {
            plugin: step.plugin,
            hash: step.hash,
            elapsed_us: step.elapsed_us,
            action: match step.action {
                StepAction::Continued {
                    event_type,
                    headers,
                    body_bytes,
                } => StepActionView::Continued {
                    event_type,
                    headers,
                    body_bytes,
                },
                StepAction::Dropped { reason } => StepActionView::Dropped { reason },
                StepAction::Delivered { endpoints } => StepActionView::Delivered { endpoints },
                StepAction::Responded { status } => StepActionView::Responded { status },
                StepAction::Failed { kind, error } => StepActionView::Failed { kind, error },
            },
            logs: step
                .logs
                .into_iter()
                .map(|l| StepLogView {
                    level: l.level,
                    stream: l.stream,
                    message: l.message,
                })
                .collect(),
            logs_truncated: step.logs_truncated,
        }
    }
}

impl MessageView {
    /// A message with its deliveries (their attempts left out).
    pub(crate) fn new(message: Message, deliveries: Vec<Delivery>) -> Self {
        let status = MessageStatusKind::of(&message.status);
        let outcome = match message.status {
            MessageStatus::Pending => OutcomeView::Pending,
            MessageStatus::Dropped { plugin, reason } => OutcomeView::Dropped { plugin, reason },
            MessageStatus::Failed {
                plugin,
                kind,
                error,
            } => OutcomeView::Failed {
                plugin,
                kind,
                error,
            },
            MessageStatus::Routed {
                event_type,
                body,
                deliveries,
            } => OutcomeView::Routed {
                event_type,
                deliveries,
                payload: body.as_deref().map(payload),
            },
            MessageStatus::Answered {
                event_type,
                plugin,
                endpoint,
                status,
                headers,
                body,
            } => OutcomeView::Answered {
                event_type,
                plugin,
                endpoint,
                response: ResponseView {
                    status,
                    headers: headers
                        .into_iter()
                        .map(|(name, value)| HeaderView { name, value })
                        .collect(),
                    body: payload(&body),
                },
            },
        };
        let received = message.received;
        Self {
            id: message.id,
            source: received.source,
            event_type: received.event_type,
            received_at: received.received_at,
            status,
            idempotency_key: received.idempotency_key,
            target_url: received.target_url,
            headers: received
                .headers
                .into_iter()
                .map(|(name, value)| HeaderView { name, value })
                .collect(),
            payload: payload(&received.body),
            outcome,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryView::new(d, false))
                .collect(),
            steps: None,
        }
    }

    /// The same, with what each plugin of the chain did.
    pub(crate) fn with_steps(self, steps: Vec<PluginStep>) -> Self {
        Self {
            steps: Some(steps.into_iter().map(StepView::from).collect()),
            ..self
        }
    }
}

/// One attempt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptView {
    /// When it started (Unix milliseconds).
    pub at: u64,
    /// The HTTP status, if a response came.
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// The response body, up to 4 KiB.
    pub response_body: String,
    /// What went wrong without a response.
    pub error: Option<String>,
    /// The batched request it went in, for an endpoint that batches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchPartView>,
}

/// An attempt's part in a batched request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchPartView {
    /// The request's id (`bat_` + a ULID), sent as its `webhook-id`.
    #[schema(example = "bat_01KBJ3Z5R8M4Q7T2V9W6X0Y1A3")]
    pub id: String,
    /// How many events the request carried.
    pub size: u32,
    /// This delivery's index in the request's array, from 0.
    pub position: u32,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            at: a.at,
            status: a.status,
            latency_ms: a.latency_ms,
            response_body: a.response_body,
            error: a.error,
            batch: a.batch.map(|b| BatchPartView {
                id: b.id,
                size: b.size,
                position: b.position,
            }),
        }
    }
}

/// Why a delivery was not sent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SkipView {
    /// The plugin of the endpoint's chain that dropped it.
    pub plugin: String,
    /// Its reason.
    pub reason: String,
}

/// A delivery of a message to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// `dlv_` + a ULID.
    pub id: String,
    /// The message.
    pub message_id: String,
    /// The endpoint.
    pub endpoint: String,
    /// The event type sent.
    pub event_type: String,
    /// The per-message URL, when it replaces the endpoint's.
    pub url: Option<String>,
    /// Its status.
    pub status: DeliveryStatusKind,
    /// When the next attempt is due (Unix milliseconds), while scheduled.
    pub next_attempt_at: Option<u64>,
    /// When it was delivered, dead-lettered or skipped (Unix milliseconds).
    pub finished_at: Option<u64>,
    /// Why it was dead-lettered.
    pub dead_reason: Option<String>,
    /// How many attempts were made.
    pub attempt_count: usize,
    /// The last attempt's HTTP status.
    pub last_status: Option<u16>,
    /// A test event's delivery (`POST /v1/endpoints/{name}/test`).
    pub test: bool,
    /// Why it was not sent, when the endpoint's own chain dropped it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<SkipView>,
    /// The body this delivery sends, when it has one of its own (a routing
    /// plugin or the endpoint's chain shaped it; otherwise it sends the
    /// message's), in single-delivery answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Every attempt, oldest first (in single-delivery answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
}

impl DeliveryView {
    /// A delivery, with or without its attempts.
    pub(crate) fn new(delivery: Delivery, with_attempts: bool) -> Self {
        let status = DeliveryStatusKind::of(&delivery);
        let test = delivery
            .plan
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(crate::delivery::TEST_HEADER));
        let mut skipped = None;
        let (next, finished, reason) = match delivery.state {
            DeliveryState::Scheduled { at } => (Some(at), None, None),
            DeliveryState::Delivered { at } => (None, Some(at), None),
            DeliveryState::Dead { at, reason } => (None, Some(at), Some(reason)),
            DeliveryState::Skipped { at, plugin, reason } => {
                skipped = Some(SkipView { plugin, reason });
                (None, Some(at), None)
            }
        };
        let body = delivery
            .plan
            .body
            .filter(|_| with_attempts)
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        Self {
            id: delivery.id,
            message_id: delivery.message_id,
            endpoint: delivery.plan.endpoint,
            event_type: delivery.plan.event_type,
            url: delivery.plan.url,
            status,
            next_attempt_at: next,
            finished_at: finished,
            dead_reason: reason,
            attempt_count: delivery.attempts.len(),
            last_status: delivery.attempts.last().and_then(|a| a.status),
            test,
            skipped,
            body,
            attempts: with_attempts.then(|| {
                delivery
                    .attempts
                    .into_iter()
                    .map(AttemptView::from)
                    .collect()
            }),
        }
    }
}
