//! What this node's delivery worker has in flight, per endpoint: the room
//! each endpoint's concurrency leaves for claims, so a slow endpoint's
//! backlog stays in the store instead of waiting in memory; reservations
//! for deliveries the pipeline creates already claimed; and which endpoints
//! left due deliveries in the store, so that a pass looks again when one
//! of their attempts ends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::store::{Claims, Room};

/// The deliverer's count of attempts in flight; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(super) struct InFlight(Arc<Mutex<Counts>>);

#[derive(Debug, Default)]
struct Counts {
    /// Delivery id → its endpoint, for attempts running here.
    ids: HashMap<String, String>,
    /// Endpoint → attempts running or reserved.
    per_endpoint: HashMap<String, usize>,
    /// Endpoints that left due deliveries in the store.
    waiting: HashSet<String>,
}

impl Counts {
    fn add(&mut self, endpoint: &str) {
        *self.per_endpoint.entry(endpoint.to_owned()).or_default() += 1;
    }

    fn sub(&mut self, endpoint: &str) {
        if let Some(n) = self.per_endpoint.get_mut(endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_endpoint.remove(endpoint);
            }
        }
    }

    fn held(&self, endpoint: &str) -> usize {
        self.per_endpoint.get(endpoint).copied().unwrap_or(0)
    }
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks delivery `id`, of `endpoint`, in flight; false if it already
    /// was.
    pub(super) fn start(&self, id: &str, endpoint: &str) -> bool {
        let mut counts = self.lock();
        if counts.ids.contains_key(id) {
            return false;
        }
        counts.ids.insert(id.to_owned(), endpoint.to_owned());
        counts.add(endpoint);
        true
    }

    /// Unmarks delivery `id`. True if its endpoint left due deliveries in
    /// the store: the slot it frees is theirs, and a pass should claim.
    pub(super) fn finish(&self, id: &str) -> bool {
        let mut counts = self.lock();
        let Some(endpoint) = counts.ids.remove(id) else {
            return false;
        };
        counts.sub(&endpoint);
        counts.waiting.remove(&endpoint)
    }

    /// Whether delivery `id` is in flight here.
    pub(super) fn contains(&self, id: &str) -> bool {
        self.lock().ids.contains_key(id)
    }

    /// The room each endpoint (name, concurrency) has for a claim; `others`
    /// for an endpoint not listed; at most `limit` in all.
    pub(super) fn room<'a>(
        &self,
        endpoints: impl Iterator<Item = (&'a str, usize)>,
        others: usize,
        limit: usize,
    ) -> Room {
        let counts = self.lock();
        Room {
            endpoints: endpoints
                .map(|(name, capacity)| {
                    (name.to_owned(), capacity.saturating_sub(counts.held(name)))
                })
                .collect(),
            others,
            limit,
        }
    }

    /// Notes which endpoints a claim left due deliveries of.
    pub(super) fn claimed(&self, claims: &Claims) {
        self.lock().waiting.extend(claims.waiting.iter().cloned());
    }

    /// Reserves one attempt for each of `endpoints` (name, concurrency;
    /// an endpoint named twice counts twice) if every one has room; else
    /// reserves nothing and notes them as waiting: their deliveries go
    /// through the store, and a pass claims them as room frees.
    pub(super) fn reserve(&self, endpoints: &[(String, usize)]) -> Option<Reservation> {
        let mut counts = self.lock();
        let mut wanted: HashMap<&str, usize> = HashMap::new();
        for (name, _) in endpoints {
            *wanted.entry(name).or_default() += 1;
        }
        let fits = endpoints
            .iter()
            .all(|(name, capacity)| counts.held(name) + wanted[name.as_str()] <= *capacity);
        if !fits {
            counts
                .waiting
                .extend(endpoints.iter().map(|(name, _)| name.clone()));
            return None;
        }
        for (name, _) in endpoints {
            counts.add(name);
        }
        Some(Reservation {
            in_flight: self.clone(),
            endpoints: endpoints.iter().map(|(name, _)| name.clone()).collect(),
        })
    }
}

/// Room held for deliveries being created claimed, until their attempts
/// start (each then counts itself) or they are not created after all.
/// Dropping it gives the room back.
#[derive(Debug)]
pub(super) struct Reservation {
    in_flight: InFlight,
    endpoints: Vec<String>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut counts = self.in_flight.lock();
        for endpoint in &self.endpoints {
            counts.sub(endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room_of(in_flight: &InFlight, name: &str, capacity: usize) -> usize {
        in_flight
            .room([(name, capacity)].into_iter(), 0, 100)
            .of(name)
    }

    #[test]
    fn room_is_the_concurrency_less_what_runs_and_what_is_reserved() {
        let in_flight = InFlight::default();
        assert!(in_flight.start("dlv_1", "e"));
        assert!(!in_flight.start("dlv_1", "e"), "already running");
        let reserved = in_flight
            .reserve(&[("e".to_owned(), 3), ("e".to_owned(), 3)])
            .expect("fits");
        assert_eq!(room_of(&in_flight, "e", 3), 0);
        assert!(in_flight.reserve(&[("e".to_owned(), 3)]).is_none(), "full");
        drop(reserved);
        assert_eq!(room_of(&in_flight, "e", 3), 2);
        assert!(!in_flight.finish("dlv_2"), "never started");
        assert!(
            in_flight.finish("dlv_1"),
            "a refused reservation left it waiting"
        );
        assert_eq!(room_of(&in_flight, "e", 3), 3);
        assert!(in_flight.start("dlv_1", "e"));
        assert!(
            !in_flight.finish("dlv_1"),
            "waiting is cleared once looked at"
        );
    }

    #[test]
    fn an_endpoint_a_claim_left_behind_wakes_a_pass_when_a_slot_frees() {
        let in_flight = InFlight::default();
        assert!(in_flight.start("dlv_a", "slow"));
        assert!(in_flight.start("dlv_b", "fast"));
        in_flight.claimed(&Claims {
            claimed: Vec::new(),
            waiting: vec!["slow".to_owned()],
        });
        assert!(!in_flight.finish("dlv_b"));
        assert!(in_flight.finish("dlv_a"));
    }
}
