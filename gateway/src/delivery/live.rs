//! The endpoints as delivery sees them: built from each version of the
//! registry's configuration (parsed secrets, retry policy) with each
//! endpoint's protection state, which is delivery's own and outlives
//! versions: the concurrency semaphore, the pacer, the breaker and the
//! disabled flag. A new concurrency limit gives a fresh semaphore and keeps
//! the rest; an endpoint gone from the configuration loses its state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Endpoint, EndpointState};
use crate::registry::{Derived, Registry, Snapshot};
use crate::store::DisabledEndpoint;

/// The endpoints in force, by name.
pub type Endpoints = HashMap<String, Arc<Endpoint>>;

/// Protection state by endpoint name, with the incarnation of the name it
/// belongs to (`None`: restored at start, before any was known).
type States = Arc<Mutex<HashMap<String, (Option<u64>, Arc<EndpointState>)>>>;

/// Delivery's view of the endpoints, rebuilt per configuration version.
#[derive(Debug)]
pub(super) struct Live {
    endpoints: Derived<Endpoints>,
}

impl Live {
    /// The view of `registry`'s endpoints; those in `disabled` (as the
    /// store recorded them) start disabled.
    pub(super) fn new(registry: Arc<Registry>, disabled: Vec<DisabledEndpoint>) -> Self {
        let states: States = Arc::default();
        {
            let mut map = states.lock().unwrap_or_else(PoisonError::into_inner);
            for record in disabled {
                let state = EndpointState::new(1);
                state.disable(record.at, record.reason);
                map.insert(record.name, (None, Arc::new(state)));
            }
        }
        let endpoints = Derived::new(registry, move |snapshot| build(snapshot, &states));
        Self { endpoints }
    }

    /// The endpoints in force.
    pub(super) fn current(&self) -> Arc<Endpoints> {
        self.endpoints.current()
    }
}

/// Builds the endpoints of `snapshot`, keeping each one's state.
fn build(snapshot: &Snapshot, states: &States) -> Endpoints {
    let mut states = states.lock().unwrap_or_else(PoisonError::into_inner);
    states.retain(|name, _| snapshot.endpoints.contains_key(name));
    let mut endpoints = HashMap::with_capacity(snapshot.endpoints.len());
    for (name, config) in &snapshot.endpoints {
        let id = snapshot.endpoint_ids.get(name).copied();
        let fresh = || Arc::new(EndpointState::new(config.max_in_flight));
        let (known, state) = states.entry(name.clone()).or_insert_with(|| (id, fresh()));
        if known.is_some() && *known != id {
            // Deleted and created again since the last build.
            *state = fresh();
        }
        *known = id;
        if state.max_in_flight != config.max_in_flight {
            *state = Arc::new(state.resized(config.max_in_flight));
        }
        match Endpoint::from_config(config, state.clone()) {
            Ok(endpoint) => {
                endpoints.insert(name.clone(), Arc::new(endpoint));
            }
            // Validation refuses what does not build, so this is a bug.
            Err(error) => {
                tracing::error!(endpoint = %name, %error, "an endpoint in force does not build; it receives nothing")
            }
        }
    }
    endpoints
}
