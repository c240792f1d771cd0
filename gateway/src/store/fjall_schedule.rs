//! The fjall store's in-memory mirror of its schedule keyspace: every
//! scheduled delivery by due time, and the same entries by endpoint, so a
//! claim takes each endpoint's due deliveries up to its room without
//! walking past another endpoint's backlog.

use std::collections::{BTreeSet, HashMap};

use super::{Room, Selected};

/// The schedule's entries, `(due, delivery id)`, twice: in one order by
/// time, and per endpoint.
#[derive(Debug, Default)]
pub(super) struct Mirror {
    by_time: BTreeSet<(u64, String)>,
    by_endpoint: HashMap<String, BTreeSet<(u64, String)>>,
}

impl Mirror {
    /// Adds delivery `id`, of `endpoint`, due at `at`.
    pub(super) fn insert(&mut self, at: u64, id: &str, endpoint: &str) {
        self.by_time.insert((at, id.to_owned()));
        self.by_endpoint
            .entry(endpoint.to_owned())
            .or_default()
            .insert((at, id.to_owned()));
    }

    /// Removes delivery `id`, of `endpoint`, due at `at`.
    pub(super) fn remove(&mut self, at: u64, id: &str, endpoint: &str) {
        let entry = (at, id.to_owned());
        self.by_time.remove(&entry);
        if let Some(of_endpoint) = self.by_endpoint.get_mut(endpoint) {
            of_endpoint.remove(&entry);
            if of_endpoint.is_empty() {
                self.by_endpoint.remove(endpoint);
            }
        }
    }

    /// When the earliest entry is due.
    pub(super) fn first(&self) -> Option<u64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// How many entries there are.
    pub(super) fn len(&self) -> usize {
        self.by_time.len()
    }

    /// Entries due before `end`: of each endpoint, the earliest its room
    /// allows; of those, the earliest `room.limit` ([`Room::select`]).
    pub(super) fn due(&self, end: u64, room: &Room) -> Selected {
        let due = self
            .by_endpoint
            .iter()
            .map(|(endpoint, entries)| {
                let first: Vec<(u64, String)> = entries
                    .range(..(end, String::new()))
                    .take(room.of(endpoint).saturating_add(1))
                    .cloned()
                    .collect();
                (endpoint.clone(), first)
            })
            .filter(|(_, first)| !first.is_empty())
            .collect();
        room.select(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(pairs: &[(&str, usize)], limit: usize) -> Room {
        Room {
            endpoints: pairs.iter().map(|(e, n)| ((*e).to_owned(), *n)).collect(),
            others: 0,
            limit,
        }
    }

    #[test]
    fn due_takes_each_endpoint_up_to_its_room_past_another_backlog() {
        let mut mirror = Mirror::default();
        for i in 0..100 {
            mirror.insert(i, &format!("dlv_slow{i:03}"), "slow");
        }
        mirror.insert(500, "dlv_fast", "fast");
        mirror.insert(9_000, "dlv_later", "fast");
        let due = mirror.due(1_000, &room(&[("slow", 2), ("fast", 5)], 10));
        let ids: Vec<&str> = due.taken.iter().map(|(_, id, _)| id.as_str()).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.contains(&"dlv_slow000") && ids.contains(&"dlv_slow001"));
        assert!(
            ids.contains(&"dlv_fast"),
            "the fast endpoint is not behind the slow one"
        );
        assert_eq!(
            due.waiting,
            ["slow"],
            "only the slow endpoint left some due"
        );
    }

    #[test]
    fn due_keeps_the_earliest_within_the_limit() {
        let mut mirror = Mirror::default();
        mirror.insert(30, "dlv_c", "a");
        mirror.insert(10, "dlv_a", "b");
        mirror.insert(20, "dlv_b", "c");
        let due = mirror.due(100, &room(&[("a", 9), ("b", 9), ("c", 9)], 2));
        let ids: Vec<&str> = due.taken.iter().map(|(_, id, _)| id.as_str()).collect();
        assert_eq!(ids, ["dlv_a", "dlv_b"], "the earliest, in due order");
        assert_eq!(due.waiting, ["a"], "the limit left endpoint a's");
    }

    #[test]
    fn due_entries_of_many_endpoints_come_out_in_due_order() {
        let mut mirror = Mirror::default();
        let endpoints = ["e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"];
        for (i, endpoint) in endpoints.iter().enumerate().rev() {
            let at = u64::try_from(i).expect("small");
            mirror.insert(at, &format!("dlv_{i}"), endpoint);
        }
        let pairs: Vec<(&str, usize)> = endpoints.iter().map(|e| (*e, 9)).collect();
        let due = mirror.due(100, &room(&pairs, 100));
        let times: Vec<u64> = due.taken.iter().map(|(at, _, _)| *at).collect();
        assert_eq!(
            times,
            [0, 1, 2, 3, 4, 5, 6, 7],
            "not in the endpoints' map order"
        );
    }

    #[test]
    fn an_endpoint_without_room_is_waiting_only_if_it_has_something_due() {
        let mut mirror = Mirror::default();
        mirror.insert(10, "dlv_now", "full");
        mirror.insert(10_000, "dlv_later", "idle");
        let due = mirror.due(100, &room(&[("full", 0), ("idle", 0)], 10));
        assert!(due.taken.is_empty());
        assert_eq!(due.waiting, ["full"]);
    }

    #[test]
    fn removing_the_last_entry_forgets_the_endpoint() {
        let mut mirror = Mirror::default();
        mirror.insert(1, "dlv_a", "gone");
        mirror.remove(1, "dlv_a", "gone");
        assert_eq!(mirror.len(), 0);
        assert!(mirror.by_endpoint.is_empty());
        assert_eq!(mirror.first(), None);
    }
}
