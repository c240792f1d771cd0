//! The hand-over from ingest to the pipeline: a new message is stored
//! under this node's lease and then passed in memory, while there is room
//! (a byte budget), so the pipeline does not read back what was just
//! written; past the budget it is stored unleased and a scan is woken.
//! Ingest, operator events (delivery) and the pipeline meet here, and it
//! depends on nothing above the store.

use crate::clock::millis;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use crate::store::{Holder, Ingested, Lease, Message, MessageStatus, NewMessage, Store};

/// Bytes (as [`held_size`] counts them) handed over in memory and not yet
/// taken, at most; past that, ingest leaves messages to the store scan.
/// About 20,000 1 KB events: a second or two of backlog at full speed.
const INBOX_BYTES: usize = 32 << 20;
/// Roughly what a message held in memory takes: what it carries, and a
/// fixed allowance for its id and allocations.
fn held_size(received: &NewMessage) -> usize {
    let headers: usize = received
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 64)
        .sum();
    let strings = [&received.source, &received.event_type]
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
    queue: mpsc::UnboundedSender<(Message, u64)>,
    /// Bytes held or reserved, as [`held_size`] counts them.
    held: Arc<AtomicUsize>,
    /// Bytes it may hold.
    budget: usize,
    rescan: Arc<Notify>,
    /// This node's id, in the leases of what it holds.
    node: Arc<str>,
    /// How long its leases last (`[server] pipeline_lease`).
    lease: Duration,
}

/// Room in the hand-over for one message, taken before it is stored, and
/// the lease (this node's) to store it under. Dropped unused (a duplicate,
/// a failed write), it gives the room back.
#[derive(Debug)]
struct Reservation {
    size: usize,
    held: Arc<AtomicUsize>,
    lease: Lease,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.held.fetch_sub(self.size, Ordering::AcqRel);
    }
}

impl Inbox {
    /// Wakes the pipeline's store scan: a message was queued in the store
    /// without a hand-over (reprocessing).
    pub fn rescan(&self) {
        self.rescan.notify_one();
    }

    /// Stores `message` durably and hands it to the pipeline: under this
    /// node's lease, and then in memory, when the hand-over has room; under
    /// no lease, for a scan it wakes, when it has not. A duplicate is not
    /// handed over. Returns what the store answered.
    pub async fn ingest(
        &self,
        store: &dyn Store,
        message: NewMessage,
        dedup_window: Duration,
    ) -> Result<Ingested, crate::store::Error> {
        let reservation = self.reserve(&message, message.received_at);
        let lease = reservation.as_ref().map(|r| &r.lease);
        let ingested = store.ingest(&message, dedup_window, lease).await?;
        if let Ingested::New(id) = &ingested {
            match reservation {
                Some(reservation) => self.push(
                    reservation,
                    Message {
                        id: id.clone(),
                        received: message,
                        status: MessageStatus::Pending,
                    },
                ),
                None => self.rescan.notify_one(),
            }
        }
        Ok(ingested)
    }

    /// Room for `message` received at `now`, if the hand-over has it.
    fn reserve(&self, message: &NewMessage, now: u64) -> Option<Reservation> {
        let size = held_size(message);
        let bytes = self.held.fetch_add(size, Ordering::AcqRel);
        if bytes.saturating_add(size) > self.budget {
            self.held.fetch_sub(size, Ordering::AcqRel);
            return None;
        }
        Some(Reservation {
            size,
            held: self.held.clone(),
            lease: Lease::mint(&Holder {
                node: self.node.to_string(),
                until: now.saturating_add(millis(self.lease)),
            }),
        })
    }

    /// Hands over a message stored under `reservation`'s lease.
    fn push(&self, mut reservation: Reservation, message: Message) {
        let token = reservation.lease.token;
        if self.queue.send((message, token)).is_ok() {
            // Held now; given back when the pipeline takes it.
            reservation.size = 0;
        }
    }
}

/// The pipeline's end of the hand-over.
#[derive(Debug)]
pub struct Queue {
    /// Messages handed over, with their lease's token.
    pub(crate) queue: mpsc::UnboundedReceiver<(Message, u64)>,
    held: Arc<AtomicUsize>,
    /// Woken when a scan of the store's queue should run.
    pub(crate) rescan: Arc<Notify>,
    /// This node's id.
    pub(crate) node: Arc<str>,
    /// How long a lease on a queued message lasts: one handed over in
    /// memory waits at most a second or two and runs well within it; if
    /// this node dies meanwhile, another takes it after this long.
    pub(crate) lease: Duration,
}

impl Queue {
    /// The next message handed over, with its lease's token, if one waits.
    pub(crate) fn try_take(&mut self) -> Option<(Message, u64)> {
        let taken = self.queue.try_recv().ok()?;
        self.taken(&taken.0);
        Some(taken)
    }

    /// Gives back the room of a message taken from [`Queue::queue`].
    pub(crate) fn taken(&self, message: &Message) {
        self.held
            .fetch_sub(held_size(&message.received), Ordering::AcqRel);
    }
}

/// A hand-over for node `node` whose store path is woken through `rescan`,
/// the notifier other writers of the store's queue use too.
pub fn inbox(rescan: Arc<Notify>, node: &str, lease: Duration) -> (Inbox, Queue) {
    inbox_holding(rescan, node, lease, INBOX_BYTES)
}

/// A hand-over that holds up to `budget` bytes in memory.
pub(crate) fn inbox_holding(
    rescan: Arc<Notify>,
    node: &str,
    lease: Duration,
    budget: usize,
) -> (Inbox, Queue) {
    let (tx, rx) = mpsc::unbounded_channel();
    let held = Arc::new(AtomicUsize::new(0));
    let node: Arc<str> = node.into();
    (
        Inbox {
            queue: tx,
            held: held.clone(),
            budget,
            rescan: rescan.clone(),
            node: node.clone(),
            lease,
        },
        Queue {
            queue: rx,
            held,
            rescan,
            node,
            lease,
        },
    )
}
