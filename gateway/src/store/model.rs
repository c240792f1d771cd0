//! The stored records. Times are Unix milliseconds. Bodies are (de)serialised
//! as byte strings, not sequences: in postcard the bytes on disk are the
//! same, and a 1 KB body is one copy instead of a thousand visits.

use serde::{Deserialize, Serialize};

/// A message as ingest hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The source it was posted to.
    pub source: String,
    /// Its event type (may be empty).
    pub event_type: String,
    /// When it was accepted.
    pub received_at: u64,
    /// Request headers in order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The idempotency key, if the source extracts one.
    pub idempotency_key: Option<String>,
    /// A per-message target URL, if the source allows one.
    pub target_url: Option<String>,
}

/// What ingest got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Stored, with this id.
    New(String),
    /// A repeat of this earlier message; nothing was stored.
    Duplicate(String),
}

impl Ingested {
    /// The message id either way.
    pub fn id(&self) -> &str {
        match self {
            Self::New(id) | Self::Duplicate(id) => id,
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `msg_` + a ULID: unique and ordered by time.
    pub id: String,
    /// What was received.
    pub received: NewMessage,
    /// Where the message is in its life.
    pub status: MessageStatus,
}

/// Where a message is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageStatus {
    /// Waiting for the plugin pipeline.
    Pending,
    /// A plugin dropped it.
    Dropped {
        /// The plugin.
        plugin: String,
        /// Its reason.
        reason: String,
    },
    /// A plugin failed on it; it is in the dead letter.
    Failed {
        /// The plugin.
        plugin: String,
        /// The error's stable kind (`timeout`, `plugin_error`, ...).
        kind: String,
        /// The error's message.
        error: String,
    },
    /// The pipeline ended and deliveries were created.
    Routed {
        /// The event type after the plugins.
        event_type: String,
        /// The body after the plugins, if they changed it.
        #[serde(with = "serde_bytes")]
        body: Option<Vec<u8>>,
        /// How many deliveries were created (zero: no endpoint matched).
        deliveries: u32,
    },
    /// A synchronous exchange ended (`mode = "sync"`): the caller got this
    /// answer. Last of the variants, so records written before it existed
    /// decode as they did.
    Answered {
        /// The event type after the plugins.
        event_type: String,
        /// The plugin that answered the caller itself, if one did.
        plugin: Option<String>,
        /// The endpoint whose answer was relayed, if one was called (its
        /// delivery holds the attempt).
        endpoint: Option<String>,
        /// The status the caller got.
        status: u16,
        /// The headers the caller got.
        headers: Vec<(String, String)>,
        /// The body the caller got.
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
}

/// What the pipeline decided for a message: its new status and its
/// deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The message's status from now on.
    pub status: MessageStatus,
    /// The deliveries to create.
    pub deliveries: Vec<NewDelivery>,
    /// Deliveries an endpoint's own chain dropped: created as
    /// [`DeliveryState::Skipped`], never scheduled.
    pub skipped: Vec<Skip>,
    /// When the pipeline finished: the deliveries are due then, unless...
    pub now: u64,
    /// ...this is set: then they are created claimed for this holder (as
    /// [`super::Store::claim_due`] would claim them), for a worker that
    /// attempts them at once, with no claim of its own.
    pub claim: Option<Holder>,
    /// What each plugin of the source's chain did, in order (empty without
    /// plugins: then nothing is written for them).
    pub steps: Vec<super::PluginStep>,
}

/// A delivery an endpoint's own plugin chain dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// What would have been sent.
    pub plan: NewDelivery,
    /// The plugin that dropped it.
    pub plugin: String,
    /// Its reason.
    pub reason: String,
}

/// Who asks for a claim: a node, by its stable id, and until when (Unix ms)
/// it holds what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The node's id (`[server] node_id`).
    pub node: String,
    /// When the claim lapses unless renewed.
    pub until: u64,
}

/// A claim as the store keeps it: the holder, the token that fences the
/// claimed work's outcome, and when it lapses. Once it has lapsed, any node
/// may claim the work again, with a new token; the old holder's late
/// outcome carries the old token and is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The holding node's id.
    pub node: String,
    /// Unique per claim; what a recorded outcome must carry.
    pub token: u64,
    /// When it lapses (Unix ms).
    pub until: u64,
}

impl Lease {
    /// A new claim for `holder`, with a fresh token. Tokens are random:
    /// an outcome is accepted only with the token of the claim in force,
    /// so what matters is that two claims of one thing never share one.
    pub fn mint(holder: &Holder) -> Self {
        Self {
            node: holder.node.clone(),
            token: rand::random::<u64>() | 1,
            until: holder.until,
        }
    }
}

/// A message taken from the pipeline queue, and the token of its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// The message.
    pub message: Message,
    /// What its completion must carry.
    pub token: u64,
}

/// A delivery claimed for an attempt, and the token of its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The delivery.
    pub delivery: Delivery,
    /// What its attempt's outcome must carry.
    pub token: u64,
}

/// How many deliveries a claim may take of each endpoint: the room that
/// endpoint's concurrency leaves on the claiming node. Claiming per
/// endpoint keeps a slow endpoint's backlog in the store, not in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Room {
    /// Endpoints by name, with how many each may take.
    pub endpoints: std::collections::HashMap<String, usize>,
    /// How many of an endpoint not named (one deleted since its deliveries
    /// were made, whose deliveries are dead-lettered when attempted).
    pub others: usize,
    /// The most one claim takes in all; past it, the earliest due win.
    pub limit: usize,
}

impl Room {
    /// How many of `endpoint`'s deliveries a claim may take.
    pub fn of(&self, endpoint: &str) -> usize {
        self.endpoints.get(endpoint).copied().unwrap_or(self.others)
    }

    /// Every endpoint may take up to `limit` (tests, tools).
    pub fn any(limit: usize) -> Self {
        Self {
            endpoints: std::collections::HashMap::new(),
            others: limit,
            limit,
        }
    }

    /// What a claim takes, given each endpoint's earliest due entries
    /// `(due, delivery id)`, up to one more than its room (so that an
    /// endpoint with more due than its room shows): each endpoint's
    /// earliest within its room, of those the earliest [`Room::limit`], in
    /// due order; and which endpoints have due deliveries left behind.
    pub(crate) fn select(&self, due: Vec<(String, Vec<(u64, String)>)>) -> Selected {
        let mut taken = Vec::new();
        let mut waiting = Vec::new();
        for (endpoint, mut entries) in due {
            let room = self.of(&endpoint);
            if entries.len() > room {
                entries.truncate(room);
                waiting.push(endpoint.clone());
            }
            taken.extend(
                entries
                    .into_iter()
                    .map(|(at, id)| (at, id, endpoint.clone())),
            );
        }
        // Earliest due first, whichever endpoint: claims come out in the
        // order they fell due, and the limit keeps the earliest.
        taken.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        if taken.len() > self.limit {
            for (_, _, endpoint) in taken.drain(self.limit..) {
                if !waiting.contains(&endpoint) {
                    waiting.push(endpoint);
                }
            }
        }
        Selected { taken, waiting }
    }
}

/// What [`Room::select`] chose.
#[derive(Debug, Default)]
pub(crate) struct Selected {
    /// (due, delivery id, endpoint), to claim.
    pub(crate) taken: Vec<(u64, String, String)>,
    /// Endpoints with due deliveries left in the store.
    pub(crate) waiting: Vec<String>,
}

/// What a claim took, and what it left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The deliveries claimed, earliest due first.
    pub claimed: Vec<Claimed>,
    /// Endpoints with deliveries due that their room (or the claim's
    /// limit) left in the store: a claim should look again once one of
    /// their attempts ends.
    pub waiting: Vec<String>,
}

/// The deliveries a pipeline completion created, and the token of their
/// claim when it created them claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The deliveries.
    pub deliveries: Vec<Delivery>,
    /// Set when they were created claimed ([`Completion::claim`]).
    pub token: Option<u64>,
}

/// A delivery the pipeline decided on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The endpoint's name.
    pub endpoint: String,
    /// The event type sent (after the plugins).
    pub event_type: String,
    /// A per-message URL replacing the endpoint's, if the source allows it.
    pub url: Option<String>,
    /// The body to send; `None` sends the message's (processed) body.
    #[serde(with = "serde_bytes")]
    pub body: Option<Vec<u8>>,
    /// Extra headers chosen by a plugin.
    pub headers: Vec<(String, String)>,
}

/// A stored delivery: one message to one endpoint, with every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_` + a ULID.
    pub id: String,
    /// The message delivered.
    pub message_id: String,
    /// What was decided.
    pub plan: NewDelivery,
    /// Where it stands.
    pub state: DeliveryState,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    /// In the schedule, due at this time.
    Scheduled {
        /// When it is due (or when its claim lapses).
        at: u64,
    },
    /// Accepted by the endpoint.
    Delivered {
        /// When.
        at: u64,
    },
    /// Given up on; in the dead letter.
    Dead {
        /// When.
        at: u64,
        /// Why (exhausted retries, endpoint gone, ...).
        reason: String,
    },
    /// Not sent: a plugin of the endpoint's own chain dropped it. Last of
    /// the variants, so records written before it existed decode as they
    /// did.
    Skipped {
        /// When.
        at: u64,
        /// The plugin.
        plugin: String,
        /// Its reason.
        reason: String,
    },
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started.
    pub at: u64,
    /// The response status, if a response came.
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// The response body, truncated to 4 KiB.
    pub response_body: String,
    /// What went wrong without a response (timeout, connection refused).
    pub error: Option<String>,
    /// The batch it went in, if its endpoint batches.
    pub batch: Option<BatchPart>,
}

/// An attempt's part in a batched request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPart {
    /// The request's id (`bat_` + a ULID), its `webhook-id`.
    pub id: String,
    /// How many events it carried.
    pub size: u32,
    /// This delivery's place in its array, from 0.
    pub position: u32,
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Done: the endpoint accepted it.
    Delivered,
    /// Try again at this time.
    RetryAt(u64),
    /// Stop and dead-letter it, for this reason.
    Dead(String),
}

/// An endpoint recorded as disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledEndpoint {
    /// Its name.
    pub name: String,
    /// When (Unix milliseconds).
    pub at: u64,
    /// Why.
    pub reason: String,
    /// The gateway decided it (410 Gone, the breaker) and the operator
    /// endpoint's `endpoint.disabled` event is not stored yet
    /// ([`super::Store::announced`]).
    pub announce: bool,
}

/// One write of a change to the stored objects
/// ([`super::Catalog::change_objects`]): a kind (`source`, `endpoint`,
/// `route`, `plugin`) and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectWrite {
    /// Creates or replaces the object with this JSON.
    Put(&'static str, String, Vec<u8>),
    /// Removes the object.
    Delete(&'static str, String),
}

/// What one pruning pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Where the next pass resumes (the last message id looked at); `None`
    /// when every message before the cutoff was looked at.
    pub resume: Option<String>,
    /// Messages removed, with their deliveries.
    pub messages: usize,
    /// Deliveries removed.
    pub deliveries: usize,
    /// Idempotency keys forgotten.
    pub dedup_keys: usize,
}
