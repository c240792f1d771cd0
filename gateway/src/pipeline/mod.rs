//! The pipeline: takes each stored message through its source's plugin chain
//! and records what happened: dropped, failed (dead letter, with the
//! classified error), or routed to deliveries.
//!
//! Messages reach it two ways. Ingest hands each new message over in memory
//! once it is durable ([`Inbox::push`]), so the pipeline does not read back
//! what was just written. And the pipeline scans the store's queue, oldest
//! first, passing over the messages it is running or holds in memory: at
//! start (messages the last run left), when the in-memory queue was full
//! (what did not fit is only in the store), when woken by other writers
//! (operator events), and every [`SWEEP_EVERY`] (a scan can miss a message
//! whose ingest was still being written; the sweep finds it). Between its
//! commit and its hand-over a message is in the store but not yet in
//! memory, so scans after the first leave messages younger than
//! [`HANDOVER_MILLIS`] to the hand-over (or to a later sweep, if it never
//! comes): a message is not run twice. Should one be even so (a hand-over
//! slower than that), the store completes it once and the second run
//! writes nothing.
//!
//! A message whose processing could not finish (no plugin slot became
//! free, its task panicked, its outcome could not be written) stays queued
//! and is passed over by the scans for a backoff that doubles from 1 s to
//! 5 minutes (`backoff.rs`), so it is never re-run in a hot loop.
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
mod process;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, system_millis};
use crate::delivery::Deliverer;
use crate::metrics::Metrics;
use crate::plugin::PluginHost;
use crate::registry::{OPERATOR_SOURCE, Registry};
use crate::store::{Message, Store};

use backoff::Backoff;
use process::{Processed, Worker};

/// Messages being processed at once at most. Most of a message's time in
/// the pipeline is spent waiting (for a plugin slot, for its outcome's write
/// behind the store's last sync), so this is wide; the plugin pool still
/// bounds how many plugins run at once.
const IN_FLIGHT: usize = 256;
/// Bytes (as [`held_size`] counts them) handed over in memory and not yet
/// taken, at most; past that, ingest leaves messages to the store scan.
/// About 20,000 1 KB events: a second or two of backlog at full speed.
const INBOX_BYTES: usize = 32 << 20;
/// How long to wait before retrying after a store failure.
const STORE_BACKOFF: Duration = Duration::from_millis(500);
/// How long after it was received a message is left to its hand-over by
/// the scans that follow the first.
const HANDOVER_MILLIS: u64 = 2_000;
/// How often the pipeline scans the store's queue for messages it missed;
/// a scan passes over what it runs or holds, so this costs a walk of the
/// queue's keys.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Roughly what a message held in memory takes: what it carries, and a
/// fixed allowance for its allocations and its entry in the id set.
fn held_size(message: &Message) -> usize {
    let received = &message.received;
    let headers: usize = received
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 64)
        .sum();
    let strings = [&received.source, &received.event_type, &message.id]
        .iter()
        .map(|s| s.len())
        .sum::<usize>()
        + received.idempotency_key.as_ref().map_or(0, String::len)
        + received.target_url.as_ref().map_or(0, String::len);
    received.body.len() + headers + strings + 512
}

/// Ingest's side of the hand-over: new durable messages, in memory while the
/// pipeline keeps up, through the store otherwise.
#[derive(Debug, Clone)]
pub struct Inbox {
    queue: mpsc::UnboundedSender<Message>,
    held: Arc<Held>,
    /// Bytes it may hold, as [`held_size`] counts them.
    budget: usize,
    rescan: Arc<Notify>,
}

/// What the in-memory queue holds: its bytes, and ids (which a store scan
/// passes over, since the hand-over will bring them).
#[derive(Debug, Default)]
struct Held {
    bytes: AtomicUsize,
    ids: Mutex<HashSet<String>>,
}

impl Held {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inbox {
    /// Hands over a message that is durably stored and queued in the store.
    pub fn push(&self, message: Message) {
        let size = held_size(&message);
        let bytes = self.held.bytes.fetch_add(size, Ordering::AcqRel);
        if bytes.saturating_add(size) > self.budget {
            self.held.bytes.fetch_sub(size, Ordering::AcqRel);
            self.rescan.notify_one();
            return;
        }
        self.held.ids().insert(message.id.clone());
        if let Err(refused) = self.queue.send(message) {
            self.held.ids().remove(&refused.0.id);
            self.held.bytes.fetch_sub(size, Ordering::AcqRel);
        }
    }
}

/// The pipeline's end of the hand-over.
#[derive(Debug)]
pub struct Queue {
    queue: mpsc::UnboundedReceiver<Message>,
    held: Arc<Held>,
    rescan: Arc<Notify>,
    /// When the hand-over was made (Unix ms): a message received before
    /// cannot be coming through it.
    opened: u64,
}

impl Queue {
    /// The next message handed over, if one is waiting.
    fn try_take(&mut self) -> Option<Message> {
        let message = self.queue.try_recv().ok()?;
        self.taken(&message);
        Some(message)
    }

    fn taken(&self, message: &Message) {
        self.held.ids().remove(&message.id);
        self.held
            .bytes
            .fetch_sub(held_size(message), Ordering::AcqRel);
    }

    /// Whether a message is waiting here.
    fn holds(&self, id: &str) -> bool {
        self.held.ids().contains(id)
    }
}

/// A hand-over whose store path is woken through `rescan`, the notifier other
/// writers of the store's queue use too.
pub fn inbox(rescan: Arc<Notify>) -> (Inbox, Queue) {
    inbox_holding(rescan, INBOX_BYTES)
}

/// A hand-over that holds up to `budget` bytes in memory.
fn inbox_holding(rescan: Arc<Notify>, budget: usize) -> (Inbox, Queue) {
    let (tx, rx) = mpsc::unbounded_channel();
    let held = Arc::new(Held::default());
    (
        Inbox {
            queue: tx,
            held: held.clone(),
            budget,
            rescan: rescan.clone(),
        },
        Queue {
            queue: rx,
            held,
            rescan,
            opened: system_millis(),
        },
    )
}

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
    /// Takes the deliveries created.
    pub deliverer: Arc<Deliverer>,
    /// Woken after deliveries are created for the schedule.
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

/// The messages being processed, by task, and those waiting out a failure.
#[derive(Default)]
struct Running {
    /// Each ends with the reason its message was left queued, if it was.
    tasks: JoinSet<Option<String>>,
    ids: HashMap<tokio::task::Id, String>,
    messages: HashSet<String>,
    backoff: Backoff,
}

impl Running {
    fn has_room(&self) -> bool {
        self.tasks.len() < IN_FLIGHT
    }

    fn start(&mut self, worker: &Arc<Worker>, message: Message) {
        if !self.messages.insert(message.id.clone()) {
            return;
        }
        let id = message.id.clone();
        let worker = worker.clone();
        let task = self.tasks.spawn(async move {
            match worker.process(message).await {
                Ok(Processed::Completed) => None,
                Ok(Processed::Deferred(why)) => Some(why),
                Err(error) => {
                    tracing::error!(%error, "cannot record a pipeline outcome");
                    Some(error.to_string())
                }
            }
        });
        self.ids.insert(task.id(), id);
    }

    fn finished(
        &mut self,
        done: Result<(tokio::task::Id, Option<String>), tokio::task::JoinError>,
    ) {
        let (task, left) = match done {
            Ok((task, left)) => (task, left),
            Err(error) => (error.id(), Some(format!("its task failed: {error}"))),
        };
        let Some(id) = self.ids.remove(&task) else {
            return;
        };
        self.messages.remove(&id);
        match left {
            None => self.backoff.completed(&id),
            Some(why) => {
                let wait = self.backoff.failed(&id, system_millis());
                tracing::warn!(message_id = %id, reason = %why, wait_ms = wait, "message left queued; it runs again after a wait");
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
            new_delivery,
            clock,
            metrics,
        } = self;
        let rescan = queue.rescan.clone();
        let worker = Arc::new(Worker {
            store: store.clone(),
            host,
            registry,
            deliverer,
            new_delivery,
            clock,
            metrics,
        });
        let mut running = Running::default();
        // Messages the last run left in the store's queue: the first pass
        // takes them whatever their age, until a batch comes back short.
        let mut scan = true;
        let mut first_pass = true;
        // Messages received since the hand-over was made come through it
        // (ingest may have handed some over before this task first ran).
        let started = queue.opened;
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            running.reap();
            // The store first: what it holds alone (refused by a full
            // hand-over, left by the last run) is older than what memory
            // holds, and would wait behind it for as long as load lasts.
            if scan && running.has_room() {
                let room = IN_FLIGHT - running.tasks.len();
                let now = system_millis();
                // A message this young may be on its way through the
                // hand-over (queued in the store a moment before ingest
                // passes it on); a later sweep takes it if it never
                // arrives. The first pass also takes the young messages the
                // last run left, received before the hand-over was made:
                // only those cannot be coming through it. Its id
                // tells a message's age without a read.
                let on_its_way = |id: &str| {
                    crate::store::id_millis(id).is_some_and(|at| {
                        at.saturating_add(HANDOVER_MILLIS) > now && (!first_pass || at >= started)
                    })
                };
                let skip = |id: &str| {
                    running.messages.contains(id)
                        || queue.holds(id)
                        || running.backoff.holds(id, now)
                        || on_its_way(id)
                };
                match store.pipeline_batch(room, &skip).await {
                    Ok(batch) => {
                        // A full batch: there may be more.
                        scan = batch.len() == room;
                        first_pass &= scan;
                        for message in batch {
                            running.start(&worker, message);
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
                    Some(message) => running.start(&worker, message),
                    None => break,
                }
            }
            tokio::select! {
                Some(done) = running.tasks.join_next_with_id(), if !running.tasks.is_empty() => {
                    running.finished(done);
                }
                Some(message) = queue.queue.recv(), if running.has_room() => {
                    queue.taken(&message);
                    running.start(&worker, message);
                }
                () = rescan.notified() => scan = true,
                _ = sweep.tick() => scan = true,
                () = shutdown.cancelled() => break,
            }
        }
        while running.tasks.join_next().await.is_some() {}
    }
}
