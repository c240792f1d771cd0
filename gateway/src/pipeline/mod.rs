//! The pipeline: takes each stored message through its source's plugin chain
//! and records what happened: dropped, failed (dead letter, with the
//! classified error), or routed to deliveries.
//!
//! Messages reach it two ways. Ingest hands each new message over in memory
//! once it is durable ([`crate::handover::Inbox::ingest`]), so the pipeline does not read
//! back what was just written: it first reserves room in the hand-over and
//! stores the message under a lease of this node's (`[server] pipeline_lease`), so
//! no scan, here or on another node, takes it while it is on its way
//! through memory. And the pipeline scans the
//! store's queue for messages whose lease lapsed (or that have none):
//! at start (what the last run left; its own leases are released then),
//! when the hand-over had no room (those are stored without a lease), when
//! woken by other writers (operator events), and every [`SWEEP_EVERY`]
//! (leases of a node that died lapse, and its messages are taken here). A
//! scan leases what it takes, with a fresh token; a completion needs the
//! token of the lease in force, so a message whose lease lapsed and was
//! taken over is completed once, by its new holder.
//!
//! A message whose processing could not finish (no plugin slot became
//! free, its task panicked, its outcome could not be written) stays queued,
//! its lease moved to lapse after a backoff that doubles from 1 s to 5
//! minutes (`backoff.rs`), so it is never re-run in a hot loop.
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

mod backoff;
pub mod per_endpoint;
mod process;
#[cfg(test)]
mod tests;
mod trace;

use crate::clock::millis;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, system_millis};
use crate::delivery::Deliverer;
use crate::delivery::OPERATOR_SOURCE;
use crate::handover::Queue;
use crate::metrics::Metrics;
use crate::plugin::PluginHost;
use crate::registry::Registry;
use crate::store::{Holder, Message, Store};

use backoff::Backoff;
use process::{Processed, Worker};
pub use process::{UNANSWERED, subscribers};

/// Messages being processed at once at most. Most of a message's time in
/// the pipeline is spent waiting (for a plugin slot, for its outcome's write
/// behind the store's last sync), so this is wide; the plugin pool still
/// bounds how many plugins run at once.
const IN_FLIGHT: usize = 256;
/// How long to wait before retrying after a store failure.
const STORE_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between tries of a write the store refused.
const MAX_STORE_BACKOFF: Duration = Duration::from_secs(5);
/// How often the pipeline scans the store's queue for messages whose lease
/// lapsed.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The pipeline worker's parts.
pub struct Pipeline {
    /// Where messages are.
    pub store: Arc<dyn Store>,
    /// Runs the plugins.
    pub host: PluginHost,
    /// The chains and endpoints in force.
    pub registry: Arc<Registry>,
    /// New messages from ingest, and the wake-up for a store scan.
    pub queue: Queue,
    /// Takes the deliveries created (and wakes its loop for those it
    /// must find in the schedule).
    pub deliverer: Arc<Deliverer>,
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

/// The messages being processed, by task, and how often each failed.
struct Running {
    /// Each ends with the reason its message was left queued, if it was.
    tasks: JoinSet<Option<String>>,
    /// Task → its message's id and lease token.
    ids: HashMap<tokio::task::Id, (String, u64)>,
    messages: HashSet<String>,
    backoff: Backoff,
    /// Where a message left queued has its lease moved.
    store: Arc<dyn Store>,
    /// How long a lease on a queued message lasts.
    lease: Duration,
}

impl Running {
    fn new(store: Arc<dyn Store>, lease: Duration) -> Self {
        Self {
            tasks: JoinSet::new(),
            ids: HashMap::new(),
            messages: HashSet::new(),
            backoff: Backoff::default(),
            store,
            lease,
        }
    }

    fn has_room(&self) -> bool {
        self.tasks.len() < IN_FLIGHT
    }

    fn start(&mut self, worker: &Arc<Worker>, message: Message, token: u64) {
        if !self.messages.insert(message.id.clone()) {
            return;
        }
        let id = message.id.clone();
        let worker = worker.clone();
        let task = self.tasks.spawn(async move {
            match worker.process(message, token).await {
                Ok(Processed::Completed) => None,
                Ok(Processed::Deferred(why)) => Some(why),
                Err(error) => {
                    tracing::error!(%error, "cannot record a pipeline outcome");
                    Some(error.to_string())
                }
            }
        });
        self.ids.insert(task.id(), (id, token));
    }

    fn finished(
        &mut self,
        done: Result<(tokio::task::Id, Option<String>), tokio::task::JoinError>,
    ) {
        let (task, left) = match done {
            Ok((task, left)) => (task, left),
            Err(error) => (error.id(), Some(format!("its task failed: {error}"))),
        };
        let Some((id, token)) = self.ids.remove(&task) else {
            return;
        };
        self.messages.remove(&id);
        match left {
            None => self.backoff.completed(&id),
            Some(why) => {
                let wait = self.backoff.failed(&id);
                tracing::warn!(message_id = %id, reason = %why, wait_ms = wait, "message left queued; it runs again after a wait");
                // Its lease lapses when the wait ends. While the store is
                // out of reach (a database that went away), the write is
                // tried again, so the message runs soon after it is back
                // rather than when the whole lease would have lapsed; any
                // other refusal (a full disk) is not retried.
                let store = self.store.clone();
                let lapses = system_millis().saturating_add(millis(self.lease));
                tokio::spawn(async move {
                    let mut pause = STORE_BACKOFF;
                    loop {
                        let until = system_millis().saturating_add(wait);
                        match store.defer_pipeline(&id, token, until).await {
                            Ok(_) => return,
                            Err(error) if error.is_unreachable() && system_millis() < lapses => {
                                tracing::debug!(message_id = %id, %error, "cannot move a message's lease yet");
                                tokio::time::sleep(pause).await;
                                pause = (pause * 2).min(MAX_STORE_BACKOFF);
                            }
                            Err(error) => {
                                tracing::warn!(message_id = %id, %error, "cannot move a message's lease; it runs again as the lease lapses");
                                return;
                            }
                        }
                    }
                });
            }
        }
    }

    fn reap(&mut self) {
        while let Some(done) = self.tasks.try_join_next_with_id() {
            self.finished(done);
        }
    }
}

impl Pipeline {
    /// Processes messages until `shutdown` fires; the messages being
    /// processed when it fires are finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self {
            store,
            host,
            registry,
            mut queue,
            deliverer,
            clock,
            metrics,
        } = self;
        let rescan = queue.rescan.clone();
        let worker = Arc::new(Worker {
            store: store.clone(),
            host,
            registry,
            deliverer,
            clock,
            metrics,
        });
        let mut running = Running::new(store.clone(), queue.lease);
        // Messages the last run left in the store's queue (its leases were
        // released at start): the first scan takes them.
        let mut scan = true;
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            running.reap();
            // The store first: what it holds alone (refused by a full
            // hand-over, left by the last run or a dead node) is older than
            // what memory holds, and would wait behind it for as long as
            // load lasts.
            if scan && running.has_room() {
                let room = IN_FLIGHT - running.tasks.len();
                let now = system_millis();
                let holder = Holder {
                    node: queue.node.to_string(),
                    until: now.saturating_add(millis(queue.lease)),
                };
                match store.pipeline_batch(now, &holder, room).await {
                    Ok(batch) => {
                        // A full batch: there may be more.
                        scan = batch.len() == room;
                        for leased in batch {
                            running.start(&worker, leased.message, leased.token);
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot read the pipeline queue");
                        tokio::select! {
                            () = tokio::time::sleep(STORE_BACKOFF) => continue,
                            () = shutdown.cancelled() => break,
                        }
                    }
                }
            }
            while running.has_room() {
                match queue.try_take() {
                    Some((message, token)) => running.start(&worker, message, token),
                    None => break,
                }
            }
            tokio::select! {
                Some(done) = running.tasks.join_next_with_id(), if !running.tasks.is_empty() => {
                    running.finished(done);
                }
                Some((message, token)) = queue.queue.recv(), if running.has_room() => {
                    queue.taken(&message);
                    running.start(&worker, message, token);
                }
                () = rescan.notified() => scan = true,
                _ = sweep.tick() => scan = true,
                () = shutdown.cancelled() => break,
            }
        }
        while running.tasks.join_next().await.is_some() {}
    }
}
