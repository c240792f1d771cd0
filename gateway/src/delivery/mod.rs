//! Delivery: signs each request, sends it, records the attempt, and decides
//! what follows (delivered, retry at a time, dead letter), on a schedule
//! kept in the store.
//!
//! **Invariant:** an attempt's outcome is recorded before the delivery can be
//! handed out again; a crash in between re-sends it after the claim's lease
//! (at-least-once; receivers de-duplicate on `webhook-id`, the message id).
//! **Invariant:** each endpoint has its own concurrency limit, so a slow or
//! dead endpoint never delays deliveries to others.

mod alerts;
mod attempt;
mod batch;
mod control;
mod endpoint;
mod error;
mod hook;
mod in_flight;
mod live;
mod outcome;
pub mod policy;
pub mod protection;
mod test_event;
mod verdict;
mod worker;

pub use control::OPERATOR_SOURCE;
pub use endpoint::{Endpoint, Recipient, Signing, Unavailable};
pub use error::Error;
pub use hook::{HOOK_RESPONSE_LIMIT, HookAnswer, HookCall};
pub use live::Endpoints;
pub use policy::RetryPolicy;
pub use protection::{EndpointState, Gate, Recorded};
pub use test_event::{
    SAMPLES, Sample, TEST_ENDPOINT_HEADER, TEST_HEADER, TEST_SOURCE, TestSent, sample,
};
pub use worker::{Claiming, Deliverer, DispatchClaim, Parts};

/// Response bodies are kept up to this many bytes in the attempt log.
pub const RESPONSE_BODY_LIMIT: usize = 4096;
