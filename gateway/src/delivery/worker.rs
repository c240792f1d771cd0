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
//! Claims are taken per endpoint, within the room its concurrency and a
//! bounded wait for a slot leave ([`WAITING`], `in_flight.rs`): a slow
//! endpoint's backlog waits in the store, not as tasks in memory, and a
//! pass claims more of it as its attempts end.
//!
//! First attempts skip the schedule: the pipeline creates a message's
//! deliveries already claimed, when their endpoints have room, and hands
//! them over with the message ([`Deliverer::dispatch`]), so the run loop
//! attempts them at once without a claim or a read of its own. If the
//! process dies first, the claims are released at the next start, as for
//! any attempt cut off.

use crate::clock::millis;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::attempt;
use super::batch::Batches;
use super::in_flight::{InFlight, Reservation};
use super::live::Live;
use super::policy::RetryPolicy;
use super::{Endpoint, Gate, Recipient, Unavailable};
use crate::clock::Clock;
use crate::handover::Inbox;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::{
    Claimed, Created, Delivery, Holder, Message, MessageStatus, NewDelivery, Pace, Pacer, Room,
    Store,
};
use crate::targets;
use crate::targets::TargetPolicy;

/// Deliveries claimed per pass.
const BATCH: usize = 256;
/// The longest the loop sleeps without looking at the schedule.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// Deliveries of an endpoint that no longer exists claimed per pass (they
/// are dead-lettered when attempted).
const OTHERS: usize = 16;
/// Deliveries of one endpoint claimed here beyond its concurrency, waiting
/// in memory for a slot: a burst is attempted from memory, without a claim
/// and a read per delivery; a backlog past it waits in the store.
const WAITING: usize = 256;

/// How many of an endpoint's deliveries this node holds claimed at most:
/// a batch's worth per slot when it batches.
fn claimable(endpoint: &Endpoint) -> usize {
    let per_slot = endpoint.batch.as_ref().map_or(1, |b| b.max_events);
    endpoint
        .state
        .max_in_flight
        .saturating_mul(per_slot)
        .saturating_add(WAITING)
}

/// Delivers messages to endpoints.
pub struct Deliverer {
    /// The schedule and the attempt log.
    pub(super) store: Arc<dyn Store>,
    /// The configuration in force.
    pub(super) registry: Arc<Registry>,
    /// The endpoints in force, with their protection state.
    pub(super) live: Live,
    /// Shared connection pool; no redirects.
    pub(super) client: attempt::Client,
    /// Which target addresses are allowed.
    pub(super) targets: TargetPolicy,
    /// Wall time.
    pub(super) clock: Clock,
    /// Woken when deliveries are created.
    pub(super) wake: Arc<Notify>,
    /// Hands operator events to the pipeline once they are stored.
    pub(super) inbox: Inbox,
    /// Who this node claims as, and for how long.
    pub(super) claims: Claiming,
    /// Deliveries in flight here that a pass claimed again (their claim
    /// ended, by a replay or a lapse): the newer claim's token, released
    /// when the attempt in flight ends so the delivery is due at once.
    superseded: Mutex<HashMap<String, u64>>,
    /// Attempts running in this process, per endpoint.
    pub(super) in_flight: InFlight,
    /// Batches being filled, for endpoints that batch.
    pub(super) batches: Batches,
    /// Attempt counts and latency.
    pub(super) metrics: Arc<Metrics>,
    /// Claimed deliveries handed over by the pipeline, with their message.
    dispatched: mpsc::UnboundedSender<Dispatch>,
    /// The run loop's end of `dispatched`, until it starts.
    dispatch_queue: Mutex<Option<mpsc::UnboundedReceiver<Dispatch>>>,
    /// Whether the run loop is taking dispatched deliveries.
    running: AtomicBool,
    /// Held while an endpoint is disabled or enabled, or while other
    /// nodes' disables are taken in, so none undoes another half-way.
    pub(super) protection: tokio::sync::Mutex<()>,
}

/// What a [`Deliverer`] is made of.
pub struct Parts {
    /// The schedule and the attempt log.
    pub store: Arc<dyn Store>,
    /// The endpoints in force.
    pub registry: Arc<Registry>,
    /// Which target addresses are allowed.
    pub targets: TargetPolicy,
    /// Wall time.
    pub clock: Clock,
    /// Woken when deliveries are due now (created unclaimed, replayed).
    pub wake: Arc<Notify>,
    /// Where operator events go.
    pub inbox: Inbox,
    /// Attempt counts and latency.
    pub metrics: Arc<Metrics>,
    /// Who this node claims as.
    pub claims: Claiming,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// How this node claims deliveries.
#[derive(Debug, Clone)]
pub struct Claiming {
    /// Its id in the claims (`[server] node_id`).
    pub node: String,
    /// Added to the slowest endpoint's timeout for a lease
    /// (`[server] lease_margin`).
    pub margin: Duration,
}

/// Deliveries the pipeline created claimed, their claim's token, the
/// message they carry, and the room held for them until they start.
#[derive(Debug)]
struct Dispatch {
    deliveries: Vec<Delivery>,
    token: u64,
    message: Arc<Message>,
    room: Option<Reservation>,
}

/// The claim the pipeline creates deliveries with, for a deliverer that
/// attempts them at once, and the room their endpoints hold for them.
#[derive(Debug)]
pub struct DispatchClaim {
    /// Whom the deliveries are created claimed for, until when.
    pub holder: Holder,
    room: Reservation,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer").finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer for the registry's endpoints; those the store recorded
    /// disabled start disabled.
    pub async fn new(parts: Parts) -> Result<Self, super::Error> {
        let Parts {
            store,
            registry,
            targets,
            clock,
            wake,
            inbox,
            metrics,
            claims,
        } = parts;
        let client = attempt::Client::new(targets)?;
        let (dispatched, dispatch_queue) = mpsc::unbounded_channel();
        let live = Live::new(registry.clone(), store.disabled_endpoints().await?);
        Ok(Self {
            store,
            registry,
            live,
            client,
            targets,
            clock,
            wake,
            inbox,
            claims,
            superseded: Mutex::new(HashMap::new()),
            in_flight: InFlight::default(),
            batches: Batches::default(),
            metrics,
            dispatched,
            dispatch_queue: Mutex::new(Some(dispatch_queue)),
            running: AtomicBool::new(false),
            protection: tokio::sync::Mutex::new(()),
        })
    }

    /// The claim `deliveries` should be created with at `now`, with room
    /// held on their endpoints, or `None` if no run loop takes them or an
    /// endpoint is at its concurrency: then they go through the schedule,
    /// and a pass claims them when there is room.
    pub fn dispatch_claim(&self, now: u64, deliveries: &[NewDelivery]) -> Option<DispatchClaim> {
        if !self.running.load(Ordering::Acquire) {
            return None;
        }
        let live = self.live.current();
        let endpoints: Vec<(String, usize)> = deliveries
            .iter()
            .map(|d| {
                let capacity = live.get(&d.endpoint).map_or(OTHERS, |e| claimable(e));
                (d.endpoint.clone(), capacity)
            })
            .collect();
        let room = self.in_flight.reserve(&endpoints)?;
        Some(DispatchClaim {
            holder: self.holder(now),
            room,
        })
    }

    /// Hands over deliveries of `message` that the pipeline created claimed
    /// (with the claim [`Deliverer::dispatch_claim`] gave): the run loop
    /// attempts them at once. If it has stopped meanwhile, their claims
    /// lapse and the schedule hands them out again. Deliveries created
    /// unclaimed are the schedule's: the loop is woken for them.
    pub fn dispatch(&self, created: Created, message: Arc<Message>, claim: Option<DispatchClaim>) {
        let Created { deliveries, token } = created;
        let Some(token) = token.filter(|_| !deliveries.is_empty()) else {
            self.wake.notify_one();
            return;
        };
        if self
            .dispatched
            .send(Dispatch {
                deliveries,
                token,
                message,
                room: claim.map(|c| c.room),
            })
            .is_err()
        {
            self.wake.notify_one();
        }
    }

    /// The room each endpoint has for a claim on this node.
    fn room(&self) -> Room {
        let live = self.live.current();
        self.in_flight.room(
            live.iter().map(|(name, e)| (name.as_str(), claimable(e))),
            OTHERS,
            BATCH,
        )
    }

    /// Whether an attempt to `endpoint` may start at `now`: its breaker,
    /// then its rate limit, paced by the store when the store is shared
    /// (so the rate holds for the cluster) and in memory when not.
    pub(super) async fn gate(
        &self,
        endpoint: &Endpoint,
        now: u64,
    ) -> Result<Gate, crate::store::Error> {
        // A fixed schedule is a promise of when attempts go: the breaker
        // holds it back only when configured to.
        let fixed = matches!(endpoint.policy, RetryPolicy::Schedule(_));
        if (!fixed || endpoint.breaker.hold_schedule)
            && let Gate::HoldUntil(at) = endpoint.state.admit_breaker(now, &endpoint.breaker)
        {
            return Ok(Gate::HoldUntil(at));
        }
        let Some(rate) = endpoint.rate_limit else {
            return Ok(Gate::Go);
        };
        let interval = Pacer::interval(rate);
        let paced = match self.store.pace(&endpoint.name, now, interval).await {
            Ok(Some(paced)) => paced,
            Ok(None) => endpoint.state.pace(now, interval),
            Err(error) => {
                endpoint.state.probe_held();
                return Err(error);
            }
        };
        Ok(match paced {
            Pace::Go => Gate::Go,
            Pace::HoldUntil(at) => {
                endpoint.state.probe_held();
                Gate::HoldUntil(at)
            }
        })
    }

    /// This node's claim from `now`, for one lease.
    pub(super) fn holder(&self, now: u64) -> Holder {
        Holder {
            node: self.claims.node.clone(),
            until: now.saturating_add(millis(self.lease())),
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
        // Events a disable owes since a stop between the two commits.
        if let Err(error) = self.announce_owed().await {
            tracing::warn!(%error, "could not store the endpoint.disabled events owed");
        }
        let mut pass = true;
        // Whether the last pass stopped at its limit, with more due.
        let mut more = false;
        loop {
            if pass {
                pass = false;
                let now = self.clock.now_millis();
                match self
                    .store
                    .claim_due(now, &self.holder(now), &self.room())
                    .await
                {
                    Ok(claims) => {
                        self.in_flight.claimed(&claims);
                        more = claims.claimed.len() >= BATCH;
                        for claimed in claims.claimed {
                            self.spawn_attempt(&mut running, claimed, None);
                        }
                    }
                    Err(error) => tracing::error!(%error, "cannot read the delivery schedule"),
                }
            }
            while running.try_join_next().is_some() {}
            let now = self.clock.now_millis();
            // What is due and was not claimed waits for room, which an
            // attempt's end wakes the loop for: only the backstop then.
            let idle = match self.store.next_due().await {
                Ok(Some(at)) if at > now => Duration::from_millis(at - now).min(MAX_IDLE),
                Ok(Some(_)) if more => Duration::ZERO,
                _ => MAX_IDLE,
            };
            tokio::select! {
                () = tokio::time::sleep(idle) => pass = true,
                () = self.wake.notified() => pass = true,
                Some(first) = dispatched.recv() => {
                    // Claimed already: attempted without a pass.
                    let mut next = Some(first);
                    while let Some(Dispatch { deliveries, token, message, room }) = next {
                        for delivery in deliveries {
                            let claimed = Claimed { delivery, token };
                            self.spawn_attempt(&mut running, claimed, Some(message.clone()));
                        }
                        // Each attempt counts itself now.
                        drop(room);
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
        claimed: Claimed,
        message: Option<Arc<Message>>,
    ) {
        if self.start(&claimed) {
            let this = self.clone();
            running.spawn(async move {
                let now = this.clock.now_millis();
                this.attempt_at(claimed, now, message).await;
            });
        }
    }

    /// One pass at time `now`: claims what is due and runs every attempt to
    /// its recorded outcome. Returns how many attempts were made.
    pub async fn deliver_due(&self, now: u64) -> Result<usize, crate::store::Error> {
        let claims = self
            .store
            .claim_due(now, &self.holder(now), &self.room())
            .await?;
        self.in_flight.claimed(&claims);
        let mut attempts = 0;
        let mut running = Vec::new();
        for claimed in claims.claimed {
            if self.start(&claimed) {
                attempts += 1;
                running.push(self.attempt_at(claimed, now, None));
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
            .saturating_add(self.claims.margin)
    }

    /// Marks a delivery in flight; false if it already was (then the newer
    /// claim is kept, to be released when the attempt in flight ends).
    fn start(&self, claimed: &Claimed) -> bool {
        let id = &claimed.delivery.id;
        let started = self.in_flight.start(id, &claimed.delivery.plan.endpoint);
        if !started {
            self.superseded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.clone(), claimed.token);
        }
        started
    }

    /// Unmarks a delivery. Called just before the write that ends its
    /// attempt (recorded, held back, dead-lettered): until that write
    /// commits, the delivery is leased and cannot be claimed again; once it
    /// commits, a claim must not find it still marked, or it would be
    /// skipped and wait out a whole lease. Wakes the loop if the endpoint
    /// has due deliveries waiting for the slot this frees.
    pub(super) fn finish(&self, id: &str) {
        if self.in_flight.finish(id) {
            self.wake.notify_one();
        }
    }

    /// One attempt at time `now`, with the message if the caller has it,
    /// renewing its claim while it runs.
    async fn attempt_at(&self, claimed: Claimed, now: u64, message: Option<Arc<Message>>) {
        let Claimed { delivery, token } = claimed;
        let id = delivery.id.clone();
        let attempt = self.try_attempt(delivery, token, now, message);
        let again = match self.renewing(&id, token, attempt).await {
            Ok(again) => again,
            Err(error) => {
                tracing::error!(delivery_id = %id, %error, "cannot record a delivery attempt; it is sent again");
                // Still marked in flight: a pass that claims it meanwhile
                // leaves it to the superseded hand-over below.
                self.hand_back(&id, token).await;
                None
            }
        };
        self.finish(&id);
        let newer = self
            .superseded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(token) = newer {
            // Claimed again while this attempt ran (replayed, say): due now.
            let now = self.clock.now_millis();
            if let Err(error) = self.store.reschedule(&id, now, Some(token)).await {
                tracing::warn!(delivery_id = %id, %error, "cannot release a delivery's newer claim; it is due when the claim lapses");
            }
            self.wake.notify_one();
        }
        // A delivery due again before the loop would look by itself.
        if again.is_some_and(|at| at < now.saturating_add(millis(MAX_IDLE))) {
            self.wake.notify_one();
        }
    }

    /// Hands a delivery whose attempt's outcome could not be recorded back
    /// to the schedule, due now, so it is sent again soon after the store
    /// takes writes (rather than when its claim lapses); tried again with
    /// backoff while the store is out of reach (a database that went
    /// away), until it goes through or the claim would have lapsed anyway.
    pub(super) async fn hand_back(&self, id: &str, token: u64) {
        let lapses = self.clock.now_millis().saturating_add(millis(self.lease()));
        let mut pause = Duration::from_millis(250);
        loop {
            let now = self.clock.now_millis();
            match self.store.reschedule(id, now, Some(token)).await {
                Ok(_) => {
                    self.wake.notify_one();
                    return;
                }
                Err(error) if error.is_unreachable() && now < lapses => {
                    tracing::debug!(delivery_id = %id, %error, "cannot hand a delivery back yet");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(error) => {
                    tracing::warn!(delivery_id = %id, %error, "cannot hand a delivery back; it is due as its claim lapses");
                    return;
                }
            }
        }
    }

    /// Runs `work` (an attempt), extending its claim every third of a
    /// lease while it runs: waiting for the endpoint's slot and its answer
    /// can outlast one lease, and a claim that lapsed mid-attempt would be
    /// taken over and the delivery sent twice.
    async fn renewing<F: Future>(&self, id: &str, token: u64, work: F) -> F::Output {
        let lease = self.lease();
        let every = lease / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = renew.tick() => {
                    let until = self.clock.now_millis().saturating_add(millis(lease));
                    match self.store.renew_claim(id, token, until).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(delivery_id = %id, "the claim on a delivery in flight was taken over; this attempt's outcome will be dropped"),
                        Err(error) => tracing::warn!(delivery_id = %id, %error, "cannot renew a delivery's claim"),
                    }
                }
            }
        }
    }

    async fn try_attempt(
        &self,
        delivery: Delivery,
        token: u64,
        now: u64,
        message: Option<Arc<Message>>,
    ) -> Result<Option<u64>, crate::store::Error> {
        let endpoint = self.live.current().get(&delivery.plan.endpoint).cloned();
        let Some(endpoint) = endpoint else {
            let reason = format!("endpoint {:?} no longer exists", delivery.plan.endpoint);
            return self.give_up(&delivery, token, now, reason).await;
        };
        if let Some(why) = endpoint.unavailable() {
            let reason = match why {
                Unavailable::Disabled(reason) => {
                    format!("endpoint {} is disabled: {reason}", endpoint.name)
                }
                Unavailable::Inactive => format!("endpoint {} is inactive", endpoint.name),
            };
            return self.give_up(&delivery, token, now, reason).await;
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
            return self.give_up(&delivery, token, now, reason).await;
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
                    .give_up(&delivery, token, now, format!("target refused: {error}"))
                    .await;
            }
        };
        if let Some(batch) = endpoint
            .batch
            .as_ref()
            .filter(|_| recipient == Recipient::Endpoint && delivery.plan.headers.is_empty())
        {
            return self
                .batched(&endpoint, batch, &delivery, token, &message, now)
                .await;
        }
        let body = body_of(&delivery, &message);
        // The slot first, then the rate limit and the breaker: an admitted
        // attempt goes out at once, so the limit holds when a slow endpoint
        // speeds up, and an admitted probe always ends in `judge` below.
        let slot = endpoint.state.slots.clone().acquire_owned().await;
        // The attempt's time is taken once it may go: waiting for the slot
        // can take as long as the endpoint's slowest answers, and the
        // signature's timestamp, the recorded time, the breaker and the next
        // retry all count from it.
        let now = now.max(self.clock.now_millis());
        if let Gate::HoldUntil(at) = self.gate(&endpoint, now).await? {
            self.metrics.held_back(&endpoint.name);
            return self.hold(&endpoint, &delivery, token, at).await;
        }
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
        let (judged, recorded) = self
            .judge(&endpoint, recipient, response, now, latency)
            .await?;
        // The request is over and the breaker has its answer: the slot is
        // the next attempt's while this one's outcome is written (the claim
        // keeps the delivery this node's until then).
        drop(slot);
        let success = judged.success();
        let again = self
            .conclude(&endpoint, &delivery, token, recipient, judged)
            .await?;
        self.after(&endpoint, recipient, &recorded, success, now)
            .await?;
        Ok(again)
    }
}

/// What `delivery` sends: its own body (an endpoint's chain or a routing
/// plugin set one), else the message's body after its source's chain, else
/// the body as received.
pub(super) fn body_of(delivery: &Delivery, message: &Message) -> Vec<u8> {
    match (&delivery.plan.body, &message.status) {
        (Some(body), _) => body.clone(),
        (
            None,
            MessageStatus::Routed {
                body: Some(body), ..
            },
        ) => body.clone(),
        _ => message.received.body.clone(),
    }
}
