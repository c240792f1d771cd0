//! The store against its contract, across reopenings of the same directory.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

use super::test_support::for_each_engine;

for_each_engine!(
    an_ingested_message_survives_a_reopen_and_waits_for_the_pipeline,
    a_repeated_key_within_the_window_returns_the_first_id_and_stores_nothing,
    a_scan_takes_only_lapsed_leases_and_only_their_token_completes,
    concurrent_ingests_all_land_with_distinct_ids,
    completing_the_pipeline_schedules_deliveries_and_claims_lease_them,
    attempts_are_recorded_and_decide_the_next_step,
    random_operations_with_restarts_match_a_model,
    a_lapsed_claim_taken_over_refuses_the_old_holders_outcome,
    a_replay_ends_any_claim,
    a_restart_releases_its_own_and_lapsed_claims_but_not_a_live_peers,
    a_message_completed_twice_gets_its_deliveries_once,
    deliveries_created_claimed_wait_out_their_lease_or_a_restart,
    listings_page_newest_first_with_filters,
    pruning_removes_finished_messages_and_keeps_scheduled_ones,
    objects_and_blobs_survive_a_reopen,
    a_clock_set_back_across_a_restart_loses_no_queued_message,
    a_huge_idempotency_key_is_deduplicated_by_its_hash,
    claims_take_each_endpoint_up_to_its_room_past_a_backlog,
    a_message_a_plugin_failed_on_is_queued_again_once_and_survives_a_reopen,
    a_skipped_delivery_is_stored_with_its_message_and_never_falls_due,
);

/// The pipeline's routed outcome with these deliveries, due at `now`.
fn completion(deliveries: Vec<NewDelivery>, now: u64) -> Completion {
    Completion {
        status: routed(),
        deliveries,
        skipped: Vec::new(),
        now,
        claim: None,
        steps: Vec::new(),
    }
}

/// The token of the lease the tests store their messages under.
const TOKEN: u64 = 0x7e57;

/// The lease the tests store their messages under: it has lapsed already,
/// so scans take the messages too (with new tokens).
/// The steps of a chain whose second plugin failed after logging.
fn failed_steps() -> Vec<PluginStep> {
    vec![
        PluginStep {
            plugin: "first".into(),
            hash: "aa".into(),
            elapsed_us: 7,
            action: StepAction::Continued {
                event_type: Some("call.summary".into()),
                headers: false,
                body_bytes: Some(12),
            },
            logs: Vec::new(),
            logs_truncated: false,
        },
        PluginStep {
            plugin: "p".into(),
            hash: "bb".into(),
            elapsed_us: 30,
            action: StepAction::Failed {
                kind: "trap".into(),
                error: "boom".into(),
            },
            logs: vec![StepLog {
                level: "error".into(),
                stream: "stderr".into(),
                message: "about to fail".into(),
            }],
            logs_truncated: true,
        },
    ]
}

fn test_lease() -> Lease {
    Lease {
        node: "t".into(),
        token: TOKEN,
        until: 0,
    }
}

/// Node `node`'s claim from `now` for `lease`.
fn holder(node: &str, now: u64, lease: Duration) -> Holder {
    Holder {
        node: node.into(),
        until: now + u64::try_from(lease.as_millis()).expect("fits"),
    }
}

/// The claimed deliveries' tokens, by delivery id.
fn tokens(claimed: &[Claimed]) -> BTreeMap<String, u64> {
    claimed
        .iter()
        .map(|c| (c.delivery.id.clone(), c.token))
        .collect()
}

/// The ids of the deliveries a completion created.
fn created_ids(created: Option<Created>) -> Vec<String> {
    created
        .expect("was waiting")
        .deliveries
        .into_iter()
        .map(|d| d.id)
        .collect()
}

async fn open(engine: Engine, dir: &std::path::Path) -> std::sync::Arc<dyn Backend> {
    test_support::open(engine, dir).await
}

fn message(source: &str, key: Option<&str>, at: u64) -> NewMessage {
    NewMessage {
        source: source.into(),
        event_type: "call.completed".into(),
        received_at: at,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!("{{\"at\":{at}}}").into_bytes(),
        idempotency_key: key.map(str::to_owned),
        target_url: None,
    }
}

fn plan(endpoint: &str) -> NewDelivery {
    NewDelivery {
        endpoint: endpoint.into(),
        event_type: "call.completed".into(),
        url: None,
        body: None,
        headers: Vec::new(),
    }
}

fn attempt(at: u64, status: u16) -> Attempt {
    Attempt {
        at,
        status: Some(status),
        latency_ms: 3,
        response_body: String::new(),
        error: None,
        batch: None,
    }
}

fn routed() -> MessageStatus {
    MessageStatus::Routed {
        event_type: "call.completed".into(),
        body: None,
        deliveries: 1,
    }
}

async fn an_ingested_message_survives_a_reopen_and_waits_for_the_pipeline(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = {
        let store = open(engine, dir.path()).await;
        store
            .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
            .await
            .expect("ingests")
    };
    let store = open(engine, dir.path()).await;
    let stored = store
        .message(id.id())
        .await
        .expect("reads")
        .expect("present");
    assert_eq!(stored.received, message("s", None, 1_000));
    assert_eq!(stored.status, MessageStatus::Pending);
    let batch = scan(&*store, 10).await;
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].message.id, id.id());
}

/// Every queued message, whatever its lease, leased to a holder whose
/// lease lapses at once (so the next scan sees them again).
async fn scan(store: &dyn Backend, limit: usize) -> Vec<Leased> {
    let holder = Holder {
        node: "scan".into(),
        until: 0,
    };
    store
        .pipeline_batch(u64::MAX, &holder, limit)
        .await
        .expect("reads")
}

/// The pipeline queue is leased as deliveries are claimed: a scan takes
/// only what no live lease holds, leases it with a fresh token, and only
/// that token completes or defers it; a node's release at start lets its
/// own leases lapse.
async fn a_scan_takes_only_lapsed_leases_and_only_their_token_completes(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let lease = |token, until| Lease {
        node: "a".into(),
        token,
        until,
    };
    let ingest = |at, lease: Option<Lease>| {
        let store = store.clone();
        async move {
            store
                .ingest(&message("s", None, at), HOUR, lease.as_ref())
                .await
                .expect("ingests")
                .id()
                .to_owned()
        }
    };
    let live = ingest(1_000, Some(lease(11, 5_000))).await;
    let open = ingest(1_001, None).await;
    let lapsed = ingest(1_002, Some(lease(13, 1_000))).await;
    let b = |until| Holder {
        node: "b".into(),
        until,
    };

    let taken = store
        .pipeline_batch(2_000, &b(62_000), 10)
        .await
        .expect("scans");
    let got: Vec<&str> = taken.iter().map(|l| l.message.id.as_str()).collect();
    assert_eq!(
        got,
        [open.as_str(), lapsed.as_str()],
        "a live lease is left"
    );
    assert!(taken.iter().all(|l| l.token != 13));
    assert!(
        store
            .pipeline_batch(2_000, &b(62_000), 10)
            .await
            .expect("scans")
            .is_empty(),
        "what a scan took is leased"
    );
    assert_eq!(
        store
            .complete_pipeline(&lapsed, 13, completion(vec![plan("e")], 2_100))
            .await
            .expect("answers"),
        None,
        "the lapsed lease's holder cannot complete it"
    );
    let done = store
        .complete_pipeline(&lapsed, taken[1].token, completion(vec![plan("e")], 2_100))
        .await
        .expect("completes");
    assert_eq!(created_ids(done).len(), 1);

    assert!(
        !store
            .defer_pipeline(&open, 13, 3_000)
            .await
            .expect("answers"),
        "another token cannot defer it"
    );
    assert!(
        store
            .defer_pipeline(&open, taken[0].token, 3_000)
            .await
            .expect("defers")
    );
    let after_wait = store
        .pipeline_batch(3_000, &b(63_000), 10)
        .await
        .expect("scans");
    let got: Vec<&str> = after_wait.iter().map(|l| l.message.id.as_str()).collect();
    assert_eq!(
        got,
        [open.as_str()],
        "deferred until 3 000, the other until 5 000"
    );
    assert_eq!(
        store.release_claims(4_000, "b").await.expect("releases"),
        1,
        "b's own lease"
    );
    let after_restart = store
        .pipeline_batch(4_000, &b(64_000), 10)
        .await
        .expect("scans");
    let got: Vec<&str> = after_restart
        .iter()
        .map(|l| l.message.id.as_str())
        .collect();
    assert_eq!(got, [open.as_str()], "a's live lease is still left alone");
    let at_lapse = store
        .pipeline_batch(5_000, &b(65_000), 10)
        .await
        .expect("scans");
    let got: Vec<&str> = at_lapse.iter().map(|l| l.message.id.as_str()).collect();
    assert_eq!(got, [live.as_str()], "a's lease lapsed: taken over");
    assert_eq!(store.pipeline_count().await.expect("counts"), 2);
}

async fn a_repeated_key_within_the_window_returns_the_first_id_and_stores_nothing(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let first = store
        .ingest(&message("s", Some("k"), 1_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let again = store
        .ingest(&message("s", Some("k"), 2_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    assert_eq!(again, Ingested::Duplicate(first.id().to_owned()));
    assert_eq!(store.pipeline_count().await.expect("counts"), 1);
    assert_eq!(store.message_count().await.expect("counts"), 1);

    let other_source = store
        .ingest(&message("t", Some("k"), 2_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    assert!(matches!(other_source, Ingested::New(_)));
    let after_window = store
        .ingest(
            &message("s", Some("k"), 1_000 + 3_600_000),
            HOUR,
            Some(&test_lease()),
        )
        .await
        .expect("ingests");
    assert!(matches!(after_window, Ingested::New(ref id) if id != first.id()));
}

async fn concurrent_ingests_all_land_with_distinct_ids(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u64 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .ingest(&message("s", None, i), HOUR, Some(&test_lease()))
                .await
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let ingested = result.expect("task").expect("ingests");
        assert!(ids.insert(ingested.id().to_owned()));
    }
    assert_eq!(store.pipeline_count().await.expect("counts"), 200);
}

async fn completing_the_pipeline_schedules_deliveries_and_claims_lease_them(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let id = store
        .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let created = store
        .complete_pipeline(
            id.id(),
            TOKEN,
            completion(vec![plan("a"), plan("b")], 2_000),
        )
        .await
        .expect("completes");
    assert_eq!(created_ids(created).len(), 2);
    assert_eq!(store.pipeline_count().await.expect("counts"), 0);
    assert_eq!(store.next_due().await.expect("reads"), Some(2_000));
    assert!(
        store
            .claim_due(1_999, &holder("a", 1_999, HOUR), &Room::any(10))
            .await
            .expect("claims")
            .claimed
            .is_empty()
    );

    let lease = Duration::from_secs(30);
    let claimed = store
        .claim_due(2_000, &holder("a", 2_000, lease), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(claimed.len(), 2);
    assert!(
        store
            .claim_due(2_001, &holder("b", 2_001, lease), &Room::any(10))
            .await
            .expect("claims")
            .claimed
            .is_empty(),
        "leased"
    );
    assert_eq!(store.next_due().await.expect("reads"), Some(32_000));
    // A lease that lapses (its node died mid-attempt) hands it out again,
    // to any node, with a new token.
    let taken = store
        .claim_due(32_000, &holder("b", 32_000, lease), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(taken.len(), 2);
    for (old, new) in claimed.iter().zip(&taken) {
        assert_eq!(old.delivery.id, new.delivery.id);
        assert_ne!(old.token, new.token, "a new claim has a new token");
    }
    assert_eq!(store.deliveries_of(id.id()).await.expect("reads").len(), 2);
}

async fn attempts_are_recorded_and_decide_the_next_step(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let id = store
        .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let created = store
        .complete_pipeline(
            id.id(),
            TOKEN,
            completion(vec![plan("a"), plan("b"), plan("c")], 2_000),
        )
        .await
        .expect("completes");
    let ids = created_ids(created);
    let claimed = store
        .claim_due(2_000, &holder("a", 2_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    let token = tokens(&claimed);

    let retried = store
        .record_attempt(
            &ids[0],
            token[&ids[0]],
            attempt(2_000, 503),
            NextStep::RetryAt(7_000),
        )
        .await
        .expect("records")
        .expect("holds the claim");
    assert_eq!(retried.state, DeliveryState::Scheduled { at: 7_000 });
    let delivered = store
        .record_attempt(
            &ids[1],
            token[&ids[1]],
            attempt(2_000, 200),
            NextStep::Delivered,
        )
        .await
        .expect("records")
        .expect("holds the claim");
    assert_eq!(delivered.state, DeliveryState::Delivered { at: 2_000 });
    store
        .record_attempt(
            &ids[2],
            token[&ids[2]],
            attempt(2_000, 410),
            NextStep::Dead("endpoint gone".into()),
        )
        .await
        .expect("records")
        .expect("holds the claim");
    assert_eq!(store.scheduled_count().await.expect("counts"), 1);

    drop(store);
    let store = open(engine, dir.path()).await;
    let due = store
        .claim_due(7_000, &holder("a", 7_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery.id, ids[0]);
    assert_eq!(due[0].delivery.attempts, vec![attempt(2_000, 503)]);
    let dead = store
        .delivery(&ids[2])
        .await
        .expect("reads")
        .expect("present");
    assert!(
        matches!(dead.state, DeliveryState::Dead { ref reason, .. } if reason == "endpoint gone")
    );
}

/// The fencing: node `a`'s lease lapses and node `b` takes the delivery
/// over; `a`'s late outcome (an attempt, a renewal, a hold-back) is refused
/// and writes nothing, and `b`'s is recorded.
async fn a_lapsed_claim_taken_over_refuses_the_old_holders_outcome(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let (_, delivery) = routed_message(&*store, 1_000, "e").await;
    let lease = Duration::from_secs(30);
    let first = store
        .claim_due(1_000, &holder("a", 1_000, lease), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    let old = first[0].token;
    let second = store
        .claim_due(31_000, &holder("b", 31_000, lease), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(second.len(), 1, "the lapsed claim is taken over");
    let new = second[0].token;

    let late = store
        .record_attempt(&delivery, old, attempt(31_500, 200), NextStep::Delivered)
        .await
        .expect("answers");
    assert_eq!(late, None, "the old holder's outcome is refused");
    assert!(
        !store
            .renew_claim(&delivery, old, 90_000)
            .await
            .expect("answers"),
        "and so is its renewal"
    );
    assert_eq!(
        store
            .reschedule(&delivery, 90_000, Some(old))
            .await
            .expect("answers"),
        None,
        "and its hold-back"
    );
    let stored = store
        .delivery(&delivery)
        .await
        .expect("reads")
        .expect("present");
    assert!(stored.attempts.is_empty(), "nothing was written");
    assert_eq!(stored.state, DeliveryState::Scheduled { at: 61_000 });

    assert!(
        store
            .renew_claim(&delivery, new, 95_000)
            .await
            .expect("renews"),
        "the holder renews"
    );
    assert_eq!(store.next_due().await.expect("reads"), Some(95_000));
    assert!(
        store
            .claim_due(61_000, &holder("c", 61_000, lease), &Room::any(10))
            .await
            .expect("claims")
            .claimed
            .is_empty(),
        "a renewed claim is not taken over when the first lease would have lapsed"
    );
    let recorded = store
        .record_attempt(&delivery, new, attempt(62_000, 200), NextStep::Delivered)
        .await
        .expect("records")
        .expect("the holder's outcome is recorded");
    assert_eq!(recorded.attempts, vec![attempt(62_000, 200)]);
    assert_eq!(
        store
            .record_attempt(&delivery, new, attempt(63_000, 200), NextStep::Delivered)
            .await
            .expect("answers"),
        None,
        "a recorded outcome ends the claim"
    );
}

/// An operator's replay moves a delivery whoever holds it; the holder's
/// outcome is then refused (the replay sends it again).
async fn a_replay_ends_any_claim(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let (_, delivery) = routed_message(&*store, 1_000, "e").await;
    let claimed = store
        .claim_due(1_000, &holder("a", 1_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    let replayed = store
        .reschedule(&delivery, 2_000, None)
        .await
        .expect("replays")
        .expect("exists");
    assert_eq!(replayed.state, DeliveryState::Scheduled { at: 2_000 });
    assert_eq!(
        store
            .record_attempt(
                &delivery,
                claimed[0].token,
                attempt(2_500, 200),
                NextStep::Delivered
            )
            .await
            .expect("answers"),
        None
    );
    assert_eq!(
        store
            .claim_due(2_000, &holder("b", 2_000, HOUR), &Room::any(10))
            .await
            .expect("claims")
            .claimed
            .len(),
        1
    );
}

/// Random operations with reopenings, checked against a model kept in plain
/// maps: what the store says is pending, scheduled and stored must match.
async fn random_operations_with_restarts_match_a_model(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = StdRng::seed_from_u64(0x600d_5eed);
    let mut store = open(engine, dir.path()).await;
    let mut now = 1_000u64;
    let mut pending: BTreeMap<String, ()> = BTreeMap::new();
    let mut scheduled: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_by_key: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let window = Duration::from_secs(60);

    for _ in 0..400 {
        now += rng.random_range(1..5_000);
        match rng.random_range(0..10) {
            0..=3 => {
                let key = rng
                    .random_bool(0.5)
                    .then(|| format!("k{}", rng.random_range(0..5)));
                let got = store
                    .ingest(
                        &message("s", key.as_deref(), now),
                        window,
                        Some(&test_lease()),
                    )
                    .await
                    .expect("ingests");
                let expected_duplicate = key.as_ref().and_then(|k| {
                    first_by_key
                        .get(k)
                        .filter(|(_, at)| now - at < 60_000)
                        .map(|(id, _)| id.clone())
                });
                match (got, expected_duplicate) {
                    (Ingested::Duplicate(id), Some(expected)) => assert_eq!(id, expected),
                    (Ingested::New(id), None) => {
                        pending.insert(id.clone(), ());
                        if let Some(k) = key {
                            first_by_key.insert(k, (id, now));
                        }
                    }
                    (got, expected) => panic!("store said {got:?}, model expected {expected:?}"),
                }
            }
            4..=5 => {
                if let Some(id) = pending.keys().next().cloned() {
                    let ids = store
                        .complete_pipeline(&id, TOKEN, completion(vec![plan("e")], now))
                        .await
                        .expect("completes");
                    let ids = created_ids(ids);
                    pending.remove(&id);
                    scheduled.insert(ids[0].clone(), now);
                }
            }
            6..=7 => {
                for claimed in store
                    .claim_due(now, &holder("a", now, Duration::ZERO), &Room::any(3))
                    .await
                    .expect("claims")
                    .claimed
                {
                    let id = claimed.delivery.id;
                    let next = if rng.random_bool(0.5) {
                        scheduled.remove(&id);
                        NextStep::Delivered
                    } else {
                        let at = now + 10_000;
                        scheduled.insert(id.clone(), at);
                        NextStep::RetryAt(at)
                    };
                    store
                        .record_attempt(&id, claimed.token, attempt(now, 200), next)
                        .await
                        .expect("records")
                        .expect("holds the claim");
                }
            }
            _ => {
                drop(store);
                store = open(engine, dir.path()).await;
            }
        }
        assert_eq!(store.pipeline_count().await.expect("counts"), pending.len());
        assert_eq!(
            store.scheduled_count().await.expect("counts"),
            scheduled.len()
        );
    }
    let batch = scan(&*store, usize::MAX).await;
    let ids: Vec<&String> = batch.iter().map(|l| &l.message.id).collect();
    assert_eq!(ids, pending.keys().collect::<Vec<_>>());
}

async fn a_restart_releases_its_own_and_lapsed_claims_but_not_a_live_peers(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mine, lapsed, peers, delivered) = {
        let store = open(engine, dir.path()).await;
        let mine = routed_message(&*store, 1_000, "e").await.1;
        let lapsed = routed_message(&*store, 1_000, "e").await.1;
        let peers = routed_message(&*store, 1_000, "e").await.1;
        let delivered = routed_message(&*store, 1_000, "e").await.1;
        // Claims of this node ("a"), of a dead peer ("b", a short lease) and
        // of a live one ("c"); one of a's attempts finished before the
        // "crash".
        for (id, node, lease) in [
            (&mine, "a", HOUR),
            (&lapsed, "b", Duration::from_secs(1)),
            (&peers, "c", HOUR),
            (&delivered, "a", HOUR),
        ] {
            // Each claim takes one due delivery, oldest first.
            let claimed = store
                .claim_due(1_000, &holder(node, 1_000, lease), &Room::any(1))
                .await
                .expect("claims")
                .claimed;
            assert_eq!(&claimed[0].delivery.id, id);
            if id == &delivered {
                store
                    .record_attempt(
                        id,
                        claimed[0].token,
                        attempt(1_100, 200),
                        NextStep::Delivered,
                    )
                    .await
                    .expect("records")
                    .expect("holds the claim");
            }
        }
        (mine, lapsed, peers, delivered)
    };
    let store = open(engine, dir.path()).await;
    assert_eq!(
        store.release_claims(3_000, "a").await.expect("releases"),
        2,
        "this node's own claim and the lapsed one"
    );
    let due = store
        .claim_due(3_000, &holder("a", 3_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    let due: Vec<&str> = due.iter().map(|c| c.delivery.id.as_str()).collect();
    assert_eq!(due, vec![mine.as_str(), lapsed.as_str()], "due at once");
    assert!(
        !due.contains(&peers.as_str()),
        "a live peer's claim is left alone"
    );
    assert!(!due.contains(&delivered.as_str()));
    assert_eq!(
        store
            .delivery(&peers)
            .await
            .expect("reads")
            .expect("present")
            .state,
        DeliveryState::Scheduled { at: 3_601_000 },
        "still the peer's, until its lease"
    );
}

async fn a_message_completed_twice_gets_its_deliveries_once(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let id = store
        .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let first = store
        .complete_pipeline(id.id(), TOKEN, completion(vec![plan("a")], 2_000))
        .await
        .expect("completes");
    assert_eq!(first.map(|created| created.deliveries.len()), Some(1));
    let second = store
        .complete_pipeline(
            id.id(),
            TOKEN,
            completion(vec![plan("a"), plan("b")], 2_500),
        )
        .await
        .expect("completes");
    assert_eq!(second, None, "the message no longer waits for the pipeline");
    assert_eq!(store.deliveries_of(id.id()).await.expect("reads").len(), 1);
    assert_eq!(store.scheduled_count().await.expect("counts"), 1);
    let unknown = store
        .complete_pipeline("msg_unknown", TOKEN, completion(vec![plan("a")], 2_000))
        .await
        .expect("completes");
    assert_eq!(unknown, None);
    assert_eq!(store.scheduled_count().await.expect("counts"), 1);
}

async fn deliveries_created_claimed_wait_out_their_lease_or_a_restart(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = {
        let store = open(engine, dir.path()).await;
        let id = store
            .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
            .await
            .expect("ingests");
        let created = store
            .complete_pipeline(
                id.id(),
                TOKEN,
                Completion {
                    claim: Some(Holder {
                        node: "a".into(),
                        until: 32_000,
                    }),
                    ..completion(vec![plan("a"), plan("b")], 2_000)
                },
            )
            .await
            .expect("completes")
            .expect("was waiting");
        assert_eq!(created.deliveries.len(), 2);
        assert!(
            created
                .deliveries
                .iter()
                .all(|d| d.state == DeliveryState::Scheduled { at: 32_000 })
        );
        let token = created.token.expect("created claimed");
        assert!(
            store
                .claim_due(31_999, &holder("b", 31_999, HOUR), &Room::any(10))
                .await
                .expect("claims")
                .claimed
                .is_empty(),
            "claimed by the pipeline's worker"
        );
        assert_eq!(store.next_due().await.expect("reads"), Some(32_000));
        // One attempt is recorded, with the claim's token; the other is
        // cut off by the "crash".
        store
            .record_attempt(
                &created.deliveries[0].id,
                token,
                attempt(2_100, 200),
                NextStep::Delivered,
            )
            .await
            .expect("records")
            .expect("holds the claim");
        id
    };
    let store = open(engine, dir.path()).await;
    assert_eq!(store.release_claims(3_000, "a").await.expect("releases"), 1);
    let due = store
        .claim_due(3_000, &holder("a", 3_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(due.len(), 1, "the cut-off delivery is due at once");
    assert_eq!(due[0].delivery.message_id, id.id());
}

/// Ingests a message at `at` and routes it to `endpoint`; returns the
/// message and delivery ids.
async fn routed_message(store: &dyn Backend, at: u64, endpoint: &str) -> (String, String) {
    let id = store
        .ingest(&message("s", None, at), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let created = store
        .complete_pipeline(id.id(), TOKEN, completion(vec![plan(endpoint)], at))
        .await
        .expect("completes");
    (id.id().to_owned(), created_ids(created)[0].clone())
}

/// A claim takes each endpoint's due deliveries up to its room, however
/// long another endpoint's backlog; an endpoint not named gets `others`;
/// what is left stays scheduled, across a reopen.
async fn claims_take_each_endpoint_up_to_its_room_past_a_backlog(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let mut slow = Vec::new();
    for at in 1..=50u64 {
        slow.push(routed_message(&*store, at, "slow").await.1);
    }
    let (_, fast) = routed_message(&*store, 100, "fast").await;
    let (_, gone) = routed_message(&*store, 101, "deleted").await;
    let (_, later) = routed_message(&*store, 50_000, "fast").await;
    drop(store);
    let store = open(engine, dir.path()).await;

    let room = Room {
        endpoints: [("slow".to_owned(), 3), ("fast".to_owned(), 10)].into(),
        others: 1,
        limit: 100,
    };
    let claimed = store
        .claim_due(1_000, &holder("a", 1_000, HOUR), &room)
        .await
        .expect("claims")
        .claimed;
    let ids: Vec<&str> = claimed.iter().map(|c| c.delivery.id.as_str()).collect();
    let mut want = vec![slow[0].as_str(), slow[1].as_str(), slow[2].as_str()];
    want.extend([fast.as_str(), gone.as_str()]);
    let mut got = ids.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "the earliest of each endpoint, within its room");
    assert!(!ids.contains(&later.as_str()), "not due yet");
    assert_eq!(
        store.scheduled_count().await.expect("counts"),
        53,
        "claimed ones stay scheduled, at their lease's end"
    );

    let full = Room {
        endpoints: [("slow".to_owned(), 0)].into(),
        others: 10,
        limit: 100,
    };
    let claims = store
        .claim_due(1_000, &holder("a", 1_000, HOUR), &full)
        .await
        .expect("claims");
    assert!(
        claims.claimed.is_empty(),
        "a full endpoint's backlog stays in the store"
    );
    assert_eq!(claims.waiting, ["slow"], "and is named as waiting");
    let room = Room {
        endpoints: [("slow".to_owned(), 100)].into(),
        others: 0,
        limit: 5,
    };
    let claimed = store
        .claim_due(1_000, &holder("a", 1_000, HOUR), &room)
        .await
        .expect("claims")
        .claimed;
    let ids: Vec<&str> = claimed.iter().map(|c| c.delivery.id.as_str()).collect();
    let mut got = ids.clone();
    got.sort_unstable();
    let mut want: Vec<&str> = slow[3..8].iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(got, want, "the limit keeps the earliest due");
}

async fn listings_page_newest_first_with_filters(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let mut messages = Vec::new();
    for at in 1..=5u64 {
        let endpoint = if at % 2 == 0 { "even" } else { "odd" };
        messages.push(routed_message(&*store, at * 1_000, endpoint).await);
    }
    store
        .ingest(&message("other", None, 6_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");

    let mut query = MessageQuery {
        source: Some("s".into()),
        limit: 2,
        ..MessageQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_messages(&query).await.expect("lists");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|m| m.id));
        match page.next {
            Some(next) => query.before = Some(next),
            None => break,
        }
    }
    let newest_first: Vec<String> = messages.iter().rev().map(|(m, _)| m.clone()).collect();
    assert_eq!(seen, newest_first, "{engine}: every page, newest first");

    let pending = store
        .list_messages(&MessageQuery {
            status: Some(MessageStatusKind::Pending),
            limit: 10,
            ..MessageQuery::default()
        })
        .await
        .expect("lists");
    assert_eq!(pending.items.len(), 1, "{engine}: only the unrouted one");
    assert_eq!(pending.items[0].received.source, "other");

    let keyed = store
        .ingest(
            &message("s", Some("key-7"), 7_000),
            HOUR,
            Some(&test_lease()),
        )
        .await
        .expect("ingests");
    let found = store
        .list_messages(&MessageQuery {
            idempotency_key: Some("key-7".into()),
            limit: 10,
            ..MessageQuery::default()
        })
        .await
        .expect("lists");
    let ids: Vec<&str> = found.items.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [keyed.id()], "{engine}: only the one with the key");

    let windowed = store
        .list_messages(&MessageQuery {
            since: Some(2_000),
            until: Some(4_000),
            limit: 10,
            ..MessageQuery::default()
        })
        .await
        .expect("lists");
    let ids: Vec<&str> = windowed.items.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [messages[2].0.as_str(), messages[1].0.as_str()]);

    let even = store
        .list_deliveries(&DeliveryQuery {
            endpoint: Some("even".into()),
            limit: 10,
            ..DeliveryQuery::default()
        })
        .await
        .expect("lists");
    let ids: Vec<&str> = even.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [messages[3].1.as_str(), messages[1].1.as_str()]);
    assert!(even.next.is_none());
}

async fn pruning_removes_finished_messages_and_keeps_scheduled_ones(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let keyed = store
        .ingest(&message("s", Some("k"), 500), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    store
        .complete_pipeline(keyed.id(), TOKEN, completion(Vec::new(), 500))
        .await
        .expect("completes")
        .expect("was waiting");
    let (delivered, delivered_dlv) = routed_message(&*store, 1_000, "e").await;
    let (retrying, _) = routed_message(&*store, 2_000, "e").await;
    let waiting = store
        .ingest(&message("s", None, 3_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let (recent, _) = routed_message(&*store, 9_000, "e").await;
    for claimed in store
        .claim_due(9_000, &holder("a", 9_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed
    {
        let next = if claimed.delivery.message_id == delivered {
            NextStep::Delivered
        } else {
            NextStep::RetryAt(20_000)
        };
        store
            .record_attempt(
                &claimed.delivery.id,
                claimed.token,
                attempt(9_000, 200),
                next,
            )
            .await
            .expect("records")
            .expect("holds the claim");
    }

    let pruned = store.prune(5_000, None, 100).await.expect("prunes");
    assert_eq!(
        (pruned.messages, pruned.deliveries, pruned.dedup_keys),
        (2, 1, 1),
        "{engine}: the keyed one (no deliveries) and the delivered one, with its delivery and key"
    );
    assert!(pruned.resume.is_none());
    assert!(store.message(&delivered).await.expect("reads").is_none());
    assert!(
        store
            .delivery(&delivered_dlv)
            .await
            .expect("reads")
            .is_none()
    );
    assert!(store.message(keyed.id()).await.expect("reads").is_none());
    for kept in [&retrying, waiting.id(), &recent] {
        assert!(
            store.message(kept).await.expect("reads").is_some(),
            "{engine}: {kept} is kept"
        );
    }
    let again = store
        .ingest(&message("s", Some("k"), 5_500), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    assert!(
        matches!(again, Ingested::New(_)),
        "{engine}: a forgotten key is new again"
    );

    let first = store.prune(5_000, None, 1).await.expect("prunes");
    assert!(
        first.resume.is_some(),
        "{engine}: a full batch says where to resume"
    );
}

async fn objects_and_blobs_survive_a_reopen(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(engine, dir.path()).await;
        store
            .put_object("endpoint", "a", b"{\"url\":1}".to_vec())
            .await
            .expect("puts");
        store
            .put_object("endpoint", "b", b"{}".to_vec())
            .await
            .expect("puts");
        store
            .put_object("source", "a", b"{}".to_vec())
            .await
            .expect("puts");
        store.delete_object("endpoint", "b").await.expect("deletes");
        store.put_blob("h1", vec![7; 100_000]).await.expect("puts");
        store
            .disable_endpoint(DisabledEndpoint {
                name: "a".into(),
                at: 1_000,
                reason: "410 Gone".into(),
                announce: true,
            })
            .await
            .expect("disables");
    }
    let store = open(engine, dir.path()).await;
    assert_eq!(
        store.objects("endpoint").await.expect("lists"),
        [("a".to_owned(), b"{\"url\":1}".to_vec())]
    );
    assert_eq!(store.objects("source").await.expect("lists").len(), 1);
    assert_eq!(
        store.blob("h1").await.expect("reads"),
        Some(vec![7; 100_000])
    );
    assert_eq!(store.blob("h2").await.expect("reads"), None);
    let disabled = store.disabled_endpoints().await.expect("reads");
    assert_eq!(disabled.len(), 1);
    assert_eq!(
        (
            disabled[0].at,
            disabled[0].reason.as_str(),
            disabled[0].announce
        ),
        (1_000, "410 Gone", true)
    );
}

#[tokio::test]
async fn a_data_dir_refuses_the_other_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(open(Engine::Fjall, dir.path()).await);
    let error = Engine::Sled.open(dir.path()).expect_err("refused");
    assert!(
        matches!(
            error,
            Error::OtherEngine {
                found: Engine::Fjall,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("storage.engine"), "{error}");
    drop(open(Engine::Fjall, dir.path()).await);
}

#[test]
fn a_new_data_dir_gets_fjall_and_an_existing_one_keeps_its_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = dir.path().join("fresh");
    let (engine, store) = Engine::open_in(None, &fresh).expect("opens");
    assert_eq!(engine, Engine::Fjall);
    drop(store);
    let (engine, store) = Engine::open_in(None, &fresh).expect("reopens");
    assert_eq!(engine, Engine::Fjall);
    drop(store);

    let old = dir.path().join("old");
    let (engine, store) = Engine::open_in(Some(Engine::Sled), &old).expect("opens");
    assert_eq!(engine, Engine::Sled);
    drop(store);
    let (engine, store) = Engine::open_in(None, &old).expect("reopens");
    assert_eq!(engine, Engine::Sled, "an existing sled store is not moved");
    drop(store);
    let error = Engine::open_in(Some(Engine::Fjall), &old).expect_err("refused");
    assert!(
        matches!(
            error,
            Error::OtherEngine {
                found: Engine::Sled,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn the_data_dir_and_its_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    fn walk(path: &std::path::Path, seen: &mut Vec<(std::path::PathBuf, u32)>) {
        let meta = std::fs::symlink_metadata(path).expect("stat");
        seen.push((path.to_owned(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).expect("lists") {
                walk(&entry.expect("entry").path(), seen);
            }
        }
    }
    for engine in Engine::EMBEDDED {
        let dir = tempfile::tempdir().expect("temp dir");
        // A data directory the gateway creates is 0700, and all in it.
        let data = dir.path().join("new/data");
        let (_, store) = Engine::open_in(Some(engine), &data).expect("opens");
        let mut seen = Vec::new();
        walk(&data, &mut seen);
        drop(store);
        assert!(seen.len() > 2, "{engine}: {seen:?}");
        for (path, mode) in seen {
            let want = if path.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode, want, "{engine}: {} is {mode:o}", path.display());
        }
        // One made by hand with the usual umask is left as it is, but the
        // store inside it is private all the same.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let (engine, store) = Engine::open_in(Some(engine), &shared).expect("opens");
        let mut seen = Vec::new();
        walk(&engine.dir(&shared), &mut seen);
        drop(store);
        let mode = std::fs::metadata(&shared)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o755, "an existing data directory is not changed");
        assert!(seen.len() > 1, "{engine}: {seen:?}");
        for (path, mode) in seen {
            let want = if path.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode, want, "{engine}: {} is {mode:o}", path.display());
        }
    }
}

/// Bodies became byte strings in the record encoding; postcard writes a
/// byte string exactly as it wrote the sequence of bytes before, so data
/// stored by earlier versions still reads.
#[test]
fn a_message_stored_with_bodies_as_sequences_still_decodes() {
    #[derive(serde::Serialize)]
    struct Before {
        source: String,
        event_type: String,
        received_at: u64,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        idempotency_key: Option<String>,
        target_url: Option<String>,
    }
    let now = message("s", Some("k"), 7);
    let before = Before {
        source: now.source.clone(),
        event_type: now.event_type.clone(),
        received_at: now.received_at,
        headers: now.headers.clone(),
        body: now.body.clone(),
        idempotency_key: now.idempotency_key.clone(),
        target_url: None,
    };
    let stored = postcard::to_stdvec(&before).expect("encodes");
    assert_eq!(stored, postcard::to_stdvec(&now).expect("encodes"));
    let read: NewMessage = postcard::from_bytes(&stored).expect("decodes");
    assert_eq!(read, now);
}

async fn a_clock_set_back_across_a_restart_loses_no_queued_message(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let late = {
        let store = open(engine, dir.path()).await;
        store
            .ingest(&message("s", None, 10_000), HOUR, Some(&test_lease()))
            .await
            .expect("ingests")
    };
    let store = open(engine, dir.path()).await;
    assert_eq!(scan(&*store, 10).await.len(), 1);
    // The clock now reads earlier than the queued message's id.
    let early = store
        .ingest(&message("s", None, 5_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    assert!(early.id() < late.id());
    let ids: Vec<String> = scan(&*store, 10)
        .await
        .into_iter()
        .map(|l| l.message.id)
        .collect();
    assert_eq!(ids, [early.id(), late.id()], "{engine}");
}

async fn a_huge_idempotency_key_is_deduplicated_by_its_hash(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let huge = "k".repeat(70_000);
    let other = format!("{huge}!");
    let first = store
        .ingest(&message("s", Some(&huge), 1_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    let again = store
        .ingest(&message("s", Some(&huge), 2_000), HOUR, Some(&test_lease()))
        .await
        .expect("ingests");
    assert_eq!(
        again,
        Ingested::Duplicate(first.id().to_owned()),
        "{engine}"
    );
    let different = store
        .ingest(
            &message("s", Some(&other), 3_000),
            HOUR,
            Some(&test_lease()),
        )
        .await
        .expect("ingests");
    assert!(matches!(different, Ingested::New(_)), "{engine}");
    // The store still takes writes: nothing broke on the way.
    store.flush().await.expect("flushes");
}

#[test]
fn a_claim_stored_before_claims_had_holders_lapses_and_matches_no_token() {
    let lease = keys::decode_lease(&32_000u64.to_be_bytes()).expect("decodes");
    assert_eq!(
        lease,
        Lease {
            node: String::new(),
            token: 0,
            until: 32_000
        }
    );
    let now = keys::lease(&Holder {
        node: "a".into(),
        until: 1,
    });
    assert_ne!(now.token, 0, "a minted token is never the legacy one");
    let stored = keys::encode("claim", &now).expect("encodes");
    assert!(keys::holds(Some(&stored), now.token).expect("decodes"));
    assert!(
        !keys::holds(Some(&32_000u64.to_be_bytes()), 0).expect("decodes"),
        "no token holds a legacy claim"
    );
}

/// A sled store written before claims were per endpoint has no schedule by
/// endpoint: it is built at open, so what was scheduled is still claimed.
#[tokio::test]
async fn a_sled_schedule_without_its_endpoint_index_is_indexed_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_dir = Engine::Sled.dir(dir.path());
    let store = SledStore::open(&store_dir).expect("opens");
    let (_, delivery) = routed_message(&store, 1_000, "e").await;
    store.by_endpoint.clear().expect("clears");
    drop(store);
    let store = open(Engine::Sled, dir.path()).await;
    let claimed = store
        .claim_due(1_000, &holder("a", 1_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(tokens(&claimed).into_keys().collect::<Vec<_>>(), [delivery]);
}

/// Reprocessing: a failed message goes back on the pipeline queue, for any
/// node's scan, and a second request finds it no longer failed; a message
/// that did not fail, or does not exist, is left alone. The failed run's
/// plugin steps are kept with it until then, and its next run records its
/// own.
async fn a_message_a_plugin_failed_on_is_queued_again_once_and_survives_a_reopen(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (failed, routed_id) = {
        let store = open(engine, dir.path()).await;
        let failed = store
            .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
            .await
            .expect("ingests");
        let outcome = Completion {
            status: MessageStatus::Failed {
                plugin: "p".into(),
                kind: "trap".into(),
                error: "boom".into(),
            },
            deliveries: Vec::new(),
            skipped: Vec::new(),
            now: 2_000,
            claim: None,
            steps: failed_steps(),
        };
        let done = store.complete_pipeline(failed.id(), TOKEN, outcome).await;
        assert!(done.expect("completes").is_some());
        assert_eq!(
            store.message_steps(failed.id()).await.expect("reads"),
            failed_steps(),
            "{engine}"
        );
        let (routed_id, _) = routed_message(&*store, 3_000, "a").await;
        assert!(scan(&*store, 10).await.is_empty(), "nothing queued");
        assert_eq!(
            store.requeue_failed(&routed_id).await.expect("runs"),
            Some(false)
        );
        assert_eq!(
            store.requeue_failed("msg_unknown").await.expect("runs"),
            None
        );
        assert_eq!(
            store.requeue_failed(failed.id()).await.expect("runs"),
            Some(true)
        );
        assert_eq!(
            store.requeue_failed(failed.id()).await.expect("runs"),
            Some(false),
            "pending now, not failed"
        );
        (failed.id().to_owned(), routed_id)
    };
    let store = open(engine, dir.path()).await;
    let shown = store.message(&failed).await.expect("reads").expect("kept");
    assert_eq!(shown.status, MessageStatus::Pending);
    assert!(
        store
            .message_steps(&failed)
            .await
            .expect("reads")
            .is_empty(),
        "{engine}: a message queued again has no steps until it runs"
    );
    let queued = scan(&*store, 10).await;
    let ids: Vec<&str> = queued.iter().map(|l| l.message.id.as_str()).collect();
    assert_eq!(ids, [failed.as_str()], "only the failed one, once");
    let token = queued[0].token;
    let again = store
        .complete_pipeline(&failed, token, completion(vec![plan("a")], 4_000))
        .await
        .expect("completes");
    assert_eq!(again.map(|c| c.deliveries.len()), Some(1));
    assert_eq!(
        store.deliveries_of(&routed_id).await.expect("reads").len(),
        1
    );
}

async fn a_skipped_delivery_is_stored_with_its_message_and_never_falls_due(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = {
        let store = open(engine, dir.path()).await;
        let id = store
            .ingest(&message("s", None, 1_000), HOUR, Some(&test_lease()))
            .await
            .expect("ingests");
        let created = store
            .complete_pipeline(
                id.id(),
                TOKEN,
                Completion {
                    skipped: vec![Skip {
                        plan: plan("b"),
                        plugin: "inbound-only".into(),
                        reason: "an outbound call".into(),
                    }],
                    ..completion(vec![plan("a")], 2_000)
                },
            )
            .await
            .expect("completes");
        assert_eq!(created_ids(created).len(), 1, "only the one to send");
        id
    };
    let store = open(engine, dir.path()).await;
    let deliveries = store.deliveries_of(id.id()).await.expect("reads");
    assert_eq!(deliveries.len(), 2);
    let skipped = deliveries
        .iter()
        .find(|d| d.plan.endpoint == "b")
        .expect("the skipped one is stored");
    assert_eq!(
        skipped.state,
        DeliveryState::Skipped {
            at: 2_000,
            plugin: "inbound-only".into(),
            reason: "an outbound call".into(),
        }
    );
    assert!(skipped.attempts.is_empty());
    let claimed = store
        .claim_due(99_000, &holder("a", 99_000, HOUR), &Room::any(10))
        .await
        .expect("claims")
        .claimed;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].delivery.plan.endpoint, "a");
    let listed = store
        .list_deliveries(&DeliveryQuery {
            status: Some(DeliveryStatusKind::Skipped),
            limit: 10,
            ..DeliveryQuery::default()
        })
        .await
        .expect("lists");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, skipped.id);
}
