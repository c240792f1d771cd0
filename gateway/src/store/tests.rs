//! The store against its contract, across reopenings of the same directory.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

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
    }
}

fn routed() -> MessageStatus {
    MessageStatus::Routed {
        event_type: "call.completed".into(),
        body: None,
        deliveries: 1,
    }
}

#[tokio::test]
async fn an_ingested_message_survives_a_reopen_and_waits_for_the_pipeline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = {
        let store = SledStore::open(dir.path()).expect("opens");
        store
            .ingest(message("s", None, 1_000), HOUR)
            .await
            .expect("ingests")
    };
    let store = SledStore::open(dir.path()).expect("reopens");
    let stored = store
        .message(id.id())
        .await
        .expect("reads")
        .expect("present");
    assert_eq!(stored.received, message("s", None, 1_000));
    assert_eq!(stored.status, MessageStatus::Pending);
    let batch = store.pipeline_batch(10).await.expect("reads");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].id, id.id());
}

#[tokio::test]
async fn a_repeated_key_within_the_window_returns_the_first_id_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path()).expect("opens");
    let first = store
        .ingest(message("s", Some("k"), 1_000), HOUR)
        .await
        .expect("ingests");
    let again = store
        .ingest(message("s", Some("k"), 2_000), HOUR)
        .await
        .expect("ingests");
    assert_eq!(again, Ingested::Duplicate(first.id().to_owned()));
    assert_eq!(store.pipeline_count().await.expect("counts"), 1);
    assert_eq!(store.message_count().await.expect("counts"), 1);

    let other_source = store
        .ingest(message("t", Some("k"), 2_000), HOUR)
        .await
        .expect("ingests");
    assert!(matches!(other_source, Ingested::New(_)));
    let after_window = store
        .ingest(message("s", Some("k"), 1_000 + 3_600_000), HOUR)
        .await
        .expect("ingests");
    assert!(matches!(after_window, Ingested::New(ref id) if id != first.id()));
}

#[tokio::test]
async fn concurrent_ingests_all_land_with_distinct_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(SledStore::open(dir.path()).expect("opens"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u64 {
        let store = store.clone();
        tasks.spawn(async move { store.ingest(message("s", None, i), HOUR).await });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let ingested = result.expect("task").expect("ingests");
        assert!(ids.insert(ingested.id().to_owned()));
    }
    assert_eq!(store.pipeline_count().await.expect("counts"), 200);
}

#[tokio::test]
async fn completing_the_pipeline_schedules_deliveries_and_claims_lease_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path()).expect("opens");
    let id = store
        .ingest(message("s", None, 1_000), HOUR)
        .await
        .expect("ingests");
    let created = store
        .complete_pipeline(id.id(), routed(), vec![plan("a"), plan("b")], 2_000)
        .await
        .expect("completes");
    assert_eq!(created.len(), 2);
    assert_eq!(store.pipeline_count().await.expect("counts"), 0);
    assert_eq!(store.next_due().await.expect("reads"), Some(2_000));
    assert!(
        store
            .claim_due(1_999, HOUR, 10)
            .await
            .expect("claims")
            .is_empty()
    );

    let lease = Duration::from_secs(30);
    let claimed = store.claim_due(2_000, lease, 10).await.expect("claims");
    assert_eq!(claimed.len(), 2);
    assert!(
        store
            .claim_due(2_001, lease, 10)
            .await
            .expect("claims")
            .is_empty(),
        "leased"
    );
    assert_eq!(store.next_due().await.expect("reads"), Some(32_000));
    // A lease that lapses (the process died mid-attempt) hands it out again.
    assert_eq!(
        store
            .claim_due(32_000, lease, 10)
            .await
            .expect("claims")
            .len(),
        2
    );
    assert_eq!(store.deliveries_of(id.id()).await.expect("reads").len(), 2);
}

#[tokio::test]
async fn attempts_are_recorded_and_decide_the_next_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path()).expect("opens");
    let id = store
        .ingest(message("s", None, 1_000), HOUR)
        .await
        .expect("ingests");
    let ids = store
        .complete_pipeline(
            id.id(),
            routed(),
            vec![plan("a"), plan("b"), plan("c")],
            2_000,
        )
        .await
        .expect("completes");
    store.claim_due(2_000, HOUR, 10).await.expect("claims");

    let retried = store
        .record_attempt(&ids[0], attempt(2_000, 503), NextStep::RetryAt(7_000))
        .await
        .expect("records");
    assert_eq!(retried.state, DeliveryState::Scheduled { at: 7_000 });
    let delivered = store
        .record_attempt(&ids[1], attempt(2_000, 200), NextStep::Delivered)
        .await
        .expect("records");
    assert_eq!(delivered.state, DeliveryState::Delivered { at: 2_000 });
    store
        .record_attempt(
            &ids[2],
            attempt(2_000, 410),
            NextStep::Dead("endpoint gone".into()),
        )
        .await
        .expect("records");
    assert_eq!(store.scheduled_count().await.expect("counts"), 1);

    drop(store);
    let store = SledStore::open(dir.path()).expect("reopens");
    let due = store.claim_due(7_000, HOUR, 10).await.expect("claims");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, ids[0]);
    assert_eq!(due[0].attempts, vec![attempt(2_000, 503)]);
    let dead = store
        .delivery(&ids[2])
        .await
        .expect("reads")
        .expect("present");
    assert!(
        matches!(dead.state, DeliveryState::Dead { ref reason, .. } if reason == "endpoint gone")
    );
}

/// Random operations with reopenings, checked against a model kept in plain
/// maps: what the store says is pending, scheduled and stored must match.
#[tokio::test]
async fn random_operations_with_restarts_match_a_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = StdRng::seed_from_u64(0x600d_5eed);
    let mut store = SledStore::open(dir.path()).expect("opens");
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
                    .ingest(message("s", key.as_deref(), now), window)
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
                        .complete_pipeline(&id, routed(), vec![plan("e")], now)
                        .await
                        .expect("completes");
                    pending.remove(&id);
                    scheduled.insert(ids[0].clone(), now);
                }
            }
            6..=7 => {
                for delivery in store
                    .claim_due(now, Duration::ZERO, 3)
                    .await
                    .expect("claims")
                {
                    let next = if rng.random_bool(0.5) {
                        scheduled.remove(&delivery.id);
                        NextStep::Delivered
                    } else {
                        let at = now + 10_000;
                        scheduled.insert(delivery.id.clone(), at);
                        NextStep::RetryAt(at)
                    };
                    store
                        .record_attempt(&delivery.id, attempt(now, 200), next)
                        .await
                        .expect("records");
                }
            }
            _ => {
                drop(store);
                store = SledStore::open(dir.path()).expect("reopens");
            }
        }
        assert_eq!(store.pipeline_count().await.expect("counts"), pending.len());
        assert_eq!(
            store.scheduled_count().await.expect("counts"),
            scheduled.len()
        );
    }
    let batch = store.pipeline_batch(usize::MAX).await.expect("reads");
    let ids: Vec<&String> = batch.iter().map(|m| &m.id).collect();
    assert_eq!(ids, pending.keys().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_restart_releases_the_claims_of_the_previous_run_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (id, delivered) = {
        let store = SledStore::open(dir.path()).expect("opens");
        let id = store
            .ingest(message("s", None, 1_000), HOUR)
            .await
            .expect("ingests");
        let ids = store
            .complete_pipeline(id.id(), routed(), vec![plan("a"), plan("b")], 2_000)
            .await
            .expect("completes");
        store.claim_due(2_000, HOUR, 10).await.expect("claims");
        // One attempt finishes; the other is cut off by the "crash".
        store
            .record_attempt(&ids[0], attempt(2_100, 200), NextStep::Delivered)
            .await
            .expect("records");
        (id, ids[0].clone())
    };
    let store = SledStore::open(dir.path()).expect("reopens");
    assert_eq!(store.release_claims(3_000).await.expect("releases"), 1);
    let due = store.claim_due(3_000, HOUR, 10).await.expect("claims");
    assert_eq!(
        due.len(),
        1,
        "the cut-off delivery is due at once, not after its lease"
    );
    assert_ne!(due[0].id, delivered);
    assert_eq!(due[0].message_id, id.id());
}
