//! The delivery worker: claims due deliveries from the store, runs each
//! attempt under its endpoint's concurrency limit, rate limit and circuit
//! breaker, and records the outcome. A delivery the rate limit or an open
//! circuit holds back is moved later in the schedule, with no attempt
//! recorded: held back, never failed.
//!
//! [`Deliverer::deliver_due`] does one pass at a given time (tests inject
//! time through it); [`Deliverer::run`] calls it with the clock, sleeping
//! until the next delivery is due or new ones arrive.
//!
//! First attempts skip the schedule: the pipeline creates a message's
//! deliveries already claimed and hands them over with the message
//! ([`Deliverer::dispatch`]), so the run loop attempts them at once without
//! a claim or a read of its own. If the process dies first, the claims are
//! released at the next start, as for any attempt cut off.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::attempt::{self, Response};
use super::verdict::{self, Next};
use super::{Endpoint, Gate, Recipient, Unavailable};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::{Attempt, Delivery, Message, MessageStatus, NextStep, Store};
use crate::targets;
use crate::targets::TargetPolicy;

/// Deliveries claimed per pass.
const BATCH: usize = 256;
/// How long a claimed delivery is held before it is handed out again; the
/// endpoint's timeout is added.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// The longest the loop sleeps without looking at the schedule.
const MAX_IDLE: Duration = Duration::from_secs(1);

/// Delivers messages to endpoints.
pub struct Deliverer {
    /// The schedule and the attempt log.
    store: Arc<dyn Store>,
    /// The endpoints in force.
    pub(super) registry: Arc<Registry>,
    /// Shared connection pool; no redirects.
    pub(super) client: attempt::Client,
    /// Which target addresses are allowed.
    pub(super) targets: TargetPolicy,
    /// Wall time.
    pub(super) clock: Clock,
    /// Woken when deliveries are created.
    wake: Arc<Notify>,
    /// Deliveries with an attempt running in this process.
    in_flight: Mutex<HashSet<String>>,
    /// Attempt counts and latency.
    metrics: Arc<Metrics>,
    /// Claimed deliveries handed over by the pipeline, with their message.
    dispatched: mpsc::UnboundedSender<Dispatch>,
    /// The run loop's end of `dispatched`, until it starts.
    dispatch_queue: Mutex<Option<mpsc::UnboundedReceiver<Dispatch>>>,
    /// Whether the run loop is taking dispatched deliveries.
    running: AtomicBool,
}

/// Deliveries the pipeline created claimed, and the message they carry.
#[derive(Debug)]
struct Dispatch {
    deliveries: Vec<Delivery>,
    message: Arc<Message>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer").finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer for the registry's endpoints.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        targets: TargetPolicy,
        clock: Clock,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let client = attempt::Client::new(targets)
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let (dispatched, dispatch_queue) = mpsc::unbounded_channel();
        Ok(Self {
            store,
            registry,
            client,
            targets,
            clock,
            wake,
            in_flight: Mutex::new(HashSet::new()),
            metrics,
            dispatched,
            dispatch_queue: Mutex::new(Some(dispatch_queue)),
            running: AtomicBool::new(false),
        })
    }

    /// How long from `now` deliveries handed to [`Deliverer::dispatch`]
    /// should be claimed for, or `None` if no run loop takes them (then
    /// they go through the schedule).
    pub fn dispatch_claim(&self, now: u64) -> Option<u64> {
        self.running
            .load(Ordering::Acquire)
            .then(|| now.saturating_add(millis(self.lease())))
    }

    /// Hands over deliveries of `message` that the pipeline created claimed
    /// (until the time [`Deliverer::dispatch_claim`] gave): the run loop
    /// attempts them at once. If it has stopped meanwhile, their claims
    /// lapse and the schedule hands them out again.
    pub fn dispatch(&self, deliveries: Vec<Delivery>, message: Arc<Message>) {
        if deliveries.is_empty() {
            return;
        }
        if self
            .dispatched
            .send(Dispatch {
                deliveries,
                message,
            })
            .is_err()
        {
            self.wake.notify_one();
        }
    }

    /// Runs until `shutdown` fires, then lets attempts in flight finish for
    /// up to `grace`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        let mut running = JoinSet::new();
        let taken = self
            .dispatch_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut dispatched) = taken else {
            tracing::error!("the delivery loop was started twice");
            return;
        };
        self.running.store(true, Ordering::Release);
        let mut pass = true;
        loop {
            if pass {
                pass = false;
                let now = self.clock.now_millis();
                match self.store.claim_due(now, self.lease(), BATCH).await {
                    Ok(claimed) => {
                        for delivery in claimed {
                            self.spawn_attempt(&mut running, delivery, None);
                        }
                    }
                    Err(error) => tracing::error!(%error, "cannot read the delivery schedule"),
                }
            }
            while running.try_join_next().is_some() {}
            let idle = match self.store.next_due().await {
                Ok(Some(at)) => Duration::from_millis(at.saturating_sub(self.clock.now_millis())),
                _ => MAX_IDLE,
            }
            .min(MAX_IDLE);
            tokio::select! {
                () = tokio::time::sleep(idle) => pass = true,
                () = self.wake.notified() => pass = true,
                Some(first) = dispatched.recv() => {
                    // Claimed already: attempted without a pass.
                    let mut next = Some(first);
                    while let Some(Dispatch { deliveries, message }) = next {
                        for delivery in deliveries {
                            self.spawn_attempt(&mut running, delivery, Some(message.clone()));
                        }
                        next = dispatched.try_recv().ok();
                    }
                }
                () = shutdown.cancelled() => break,
            }
        }
        self.running.store(false, Ordering::Release);
        let drained = tokio::time::timeout(grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = running.len(),
                "attempts still running at shutdown; they will be sent again after restart"
            );
        }
    }

    /// Starts an attempt of a claimed delivery now, unless one is running.
    fn spawn_attempt(
        self: &Arc<Self>,
        running: &mut JoinSet<()>,
        delivery: Delivery,
        message: Option<Arc<Message>>,
    ) {
        if self.start(&delivery.id) {
            let this = self.clone();
            running.spawn(async move {
                let now = this.clock.now_millis();
                this.attempt_at(delivery, now, message).await;
            });
        }
    }

    /// One pass at time `now`: claims what is due and runs every attempt to
    /// its recorded outcome. Returns how many attempts were made.
    pub async fn deliver_due(&self, now: u64) -> Result<usize, crate::store::Error> {
        let claimed = self.store.claim_due(now, self.lease(), BATCH).await?;
        let mut attempts = 0;
        let mut running = Vec::new();
        for delivery in claimed {
            if self.start(&delivery.id) {
                attempts += 1;
                running.push(self.attempt_at(delivery, now, None));
            }
        }
        futures::future::join_all(running).await;
        Ok(attempts)
    }

    /// How long a claim holds a delivery: the slowest endpoint's timeout
    /// and a margin.
    fn lease(&self) -> Duration {
        self.registry
            .snapshot()
            .slowest_timeout
            .saturating_add(LEASE_MARGIN)
    }

    /// Marks a delivery in flight; false if it already was.
    fn start(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned())
    }

    /// Unmarks a delivery. Called just before the write that ends its
    /// attempt (recorded, held back, dead-lettered): until that write
    /// commits, the delivery is leased and cannot be claimed again; once it
    /// commits, a claim must not find it still marked, or it would be
    /// skipped and wait out a whole lease.
    fn finish(&self, id: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// One attempt at time `now`, with the message if the caller has it.
    async fn attempt_at(&self, delivery: Delivery, now: u64, message: Option<Arc<Message>>) {
        let id = delivery.id.clone();
        let again = match self.try_attempt(delivery, now, message).await {
            Ok(again) => again,
            Err(error) => {
                tracing::error!(delivery_id = %id, %error, "cannot record a delivery attempt");
                // Its claim lapses and the schedule hands it out again.
                None
            }
        };
        self.finish(&id);
        // A delivery due again before the loop would look by itself.
        if again.is_some_and(|at| at < now.saturating_add(millis(MAX_IDLE))) {
            self.wake.notify_one();
        }
    }

    async fn try_attempt(
        &self,
        delivery: Delivery,
        now: u64,
        message: Option<Arc<Message>>,
    ) -> Result<Option<u64>, crate::store::Error> {
        let endpoint = self
            .registry
            .snapshot()
            .endpoints
            .get(&delivery.plan.endpoint)
            .cloned();
        let Some(endpoint) = endpoint else {
            let reason = format!("endpoint {:?} no longer exists", delivery.plan.endpoint);
            return self.give_up(&delivery, now, reason).await;
        };
        if let Some(why) = endpoint.unavailable() {
            let reason = match why {
                Unavailable::Disabled(reason) => {
                    format!("endpoint {} is disabled: {reason}", endpoint.name)
                }
                Unavailable::Inactive => format!("endpoint {} is inactive", endpoint.name),
            };
            return self.give_up(&delivery, now, reason).await;
        }
        let message = match message {
            Some(message) => Some(message),
            None => self
                .store
                .message(&delivery.message_id)
                .await?
                .map(Arc::new),
        };
        let Some(message) = message else {
            let reason = format!("message {} no longer exists", delivery.message_id);
            return self.give_up(&delivery, now, reason).await;
        };
        let (url, recipient) = match delivery.plan.url.as_deref() {
            Some(raw) => (
                targets::check_url(raw, self.targets),
                Recipient::MessageTarget,
            ),
            None => (Ok(endpoint.url.clone()), Recipient::Endpoint),
        };
        let checked = match url {
            Ok(url) => targets::resolve(&url, self.targets).await.map(|_| url),
            Err(e) => Err(e),
        };
        let url = match checked {
            Ok(url) => url,
            Err(error) => {
                return self
                    .give_up(&delivery, now, format!("target refused: {error}"))
                    .await;
            }
        };
        // The slot first, then the rate limit and the breaker: an admitted
        // attempt goes out at once, so the limit holds when a slow endpoint
        // speeds up, and an admitted probe always ends in `record` below.
        let _slot = endpoint.state.slots.clone().acquire_owned().await;
        // The attempt's time is taken once it may go: waiting for the slot
        // can take as long as the endpoint's slowest answers, and the
        // signature's timestamp, the recorded time, the breaker and the next
        // retry all count from it.
        let now = now.max(self.clock.now_millis());
        if let Gate::HoldUntil(at) =
            endpoint
                .state
                .admit(now, endpoint.rate_limit, &endpoint.breaker)
        {
            self.metrics.held_back(&endpoint.name);
            if endpoint.state.breaker().open_until.is_some() {
                endpoint.state.held_by_breaker(&delivery.id);
            }
            self.finish(&delivery.id);
            self.store.reschedule(&delivery.id, at).await?;
            return Ok(Some(at));
        }
        let body = match (&delivery.plan.body, &message.status) {
            (Some(body), _) => body.clone(),
            (
                None,
                MessageStatus::Routed {
                    body: Some(body), ..
                },
            ) => body.clone(),
            _ => message.received.body.clone(),
        };
        let content_type = message
            .received
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let timestamp = i64::try_from(now / 1000).unwrap_or(i64::MAX);
        let headers = endpoint.request_headers(
            recipient,
            &message.id,
            timestamp,
            &body,
            &delivery.plan.headers,
            content_type,
        );
        let (response, latency) =
            attempt::send(&self.client, &url, &headers, body, endpoint.timeout, now).await;
        let attempts_made = u32::try_from(delivery.attempts.len() + 1).unwrap_or(u32::MAX);
        // The breaker learns the outcome before anything below can fail, so
        // an admitted probe is always accounted for. Not from a per-message
        // target: the message's sender chose that URL, and its answers must
        // not open the endpoint's circuit or disable it.
        let success =
            matches!(&response, Response::Status { code, .. } if (200..300).contains(code));
        let verdict = match recipient {
            Recipient::Endpoint => endpoint.state.record(now, success, &endpoint.breaker),
            Recipient::MessageTarget => endpoint.state.record_unjudged(),
        };
        let (record, retry_after) = verdict::record(response, now, latency);
        let jitter = rand::random_range(-1.0..=1.0);
        let next = match verdict::next(
            &record,
            attempts_made,
            &endpoint.policy,
            jitter,
            retry_after,
        ) {
            Next::Delivered => NextStep::Delivered,
            Next::RetryAt(at) => NextStep::RetryAt(at),
            Next::Exhausted(reason) => NextStep::Dead(reason),
            Next::Gone if recipient == Recipient::MessageTarget => {
                NextStep::Dead(format!("the message's target {url} answered 410 Gone"))
            }
            Next::Gone => {
                self.disable(&endpoint.name, "answered 410 Gone").await?;
                NextStep::Dead(format!(
                    "endpoint {} answered 410 Gone and was disabled",
                    endpoint.name
                ))
            }
        };
        if let Some(reason) = &verdict.disable {
            self.disable(&endpoint.name, reason).await?;
        }
        let outcome = match next {
            NextStep::Delivered => "delivered",
            NextStep::RetryAt(_) => "retry",
            NextStep::Dead(_) => "dead",
        };
        self.metrics.attempt(&endpoint.name, outcome, latency);
        tracing::debug!(delivery_id = %delivery.id, endpoint = %endpoint.name, status = ?record.status, ?next, "attempt");
        let again = match next {
            NextStep::RetryAt(at) => Some(at),
            NextStep::Delivered | NextStep::Dead(_) => None,
        };
        self.finish(&delivery.id);
        self.store
            .record_attempt(&delivery.id, record, next)
            .await?;
        if verdict.recovered {
            self.release_held(&endpoint, now).await?;
        }
        Ok(again)
    }

    /// A probe closed `endpoint`'s circuit: the deliveries it held back are
    /// due now rather than at the next probe time.
    async fn release_held(&self, endpoint: &Endpoint, now: u64) -> Result<(), crate::store::Error> {
        let mut released = 0;
        for id in endpoint.state.take_held() {
            let running = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&id);
            if running {
                continue;
            }
            let waiting = self.store.delivery(&id).await?.is_some_and(
                |d| matches!(d.state, crate::store::DeliveryState::Scheduled { at } if at > now),
            );
            if waiting {
                self.store.reschedule(&id, now).await?;
                released += 1;
            }
        }
        if released > 0 {
            tracing::info!(endpoint = %endpoint.name, released, "circuit closed; held deliveries are due now");
            self.wake.notify_one();
        }
        Ok(())
    }

    async fn disable(&self, endpoint: &str, reason: &str) -> Result<(), crate::store::Error> {
        match self.registry.disable_endpoint(endpoint, reason, true).await {
            Ok(_) => Ok(()),
            Err(crate::registry::RegistryError::Store(e)) => Err(e),
            // The endpoint was deleted meanwhile: nothing to disable.
            Err(_) => Ok(()),
        }
    }

    async fn give_up(
        &self,
        delivery: &Delivery,
        now: u64,
        reason: String,
    ) -> Result<Option<u64>, crate::store::Error> {
        tracing::warn!(delivery_id = %delivery.id, %reason, "delivery dead-lettered");
        let record = Attempt {
            at: now,
            status: None,
            latency_ms: 0,
            response_body: String::new(),
            error: Some(reason.clone()),
        };
        self.finish(&delivery.id);
        self.store
            .record_attempt(&delivery.id, record, NextStep::Dead(reason))
            .await?;
        Ok(None)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
