//! What only the shared engine promises: two stores on one schema (two
//! nodes) change the stored objects under a compare-and-set on their
//! version, a change on one wakes the other's listener, and so does work
//! one stores for any node.

use std::time::Duration;

use super::test_support::postgres_options;
use super::{
    Catalog, Completion, Holder, MessageStatus, NewDelivery, NewMessage, ObjectWrite,
    PostgresStore, Store,
};

async fn two_nodes() -> (tempfile::TempDir, PostgresStore, PostgresStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = postgres_options(dir.path());
    let a = PostgresStore::open(&options).await.expect("node A opens");
    let b = PostgresStore::open(&options).await.expect("node B opens");
    (dir, a, b)
}

fn put(name: &str) -> ObjectWrite {
    ObjectWrite::Put("endpoint", name.to_owned(), b"{}".to_vec())
}

#[tokio::test]
async fn a_change_written_on_a_stale_version_is_refused_and_writes_nothing() {
    let (_dir, a, b) = two_nodes().await;
    assert_eq!(a.objects_version().await.expect("reads"), 0);
    assert_eq!(
        a.change_objects(0, &[put("from-a")]).await.expect("writes"),
        Some(1)
    );
    // B read version 0 before A's change: its write loses.
    assert_eq!(
        b.change_objects(0, &[put("from-b")]).await.expect("runs"),
        None
    );
    let names: Vec<String> = b
        .objects("endpoint")
        .await
        .expect("reads")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["from-a"]);
    // On the version it now reads, it goes through.
    assert_eq!(b.objects_version().await.expect("reads"), 1);
    assert_eq!(
        b.change_objects(
            1,
            &[
                put("from-b"),
                ObjectWrite::Delete("endpoint", "from-a".into())
            ]
        )
        .await
        .expect("writes"),
        Some(2)
    );
    let names: Vec<String> = a
        .objects("endpoint")
        .await
        .expect("reads")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["from-b"]);
}

#[tokio::test]
async fn a_change_on_one_node_wakes_the_other_nodes_listener() {
    let (_dir, a, b) = two_nodes().await;
    let changed = b
        .objects_changed()
        .expect("the shared store announces changes");
    // The listener wakes once when it starts listening (it may have
    // missed something before); after that, only a change wakes it.
    tokio::time::timeout(Duration::from_secs(10), changed.notified())
        .await
        .expect("the listener starts listening");
    let version = a.objects_version().await.expect("reads");
    a.change_objects(version, &[put("crm")])
        .await
        .expect("writes")
        .expect("no other writer");
    tokio::time::timeout(Duration::from_secs(10), changed.notified())
        .await
        .expect("B's listener hears of A's change");
}

#[tokio::test]
async fn work_stored_on_one_node_for_anyone_wakes_the_other() {
    let (_dir, a, b) = two_nodes().await;
    let work = b.work_announced().expect("the shared store announces work");
    let woken = || async {
        tokio::time::timeout(Duration::from_secs(10), work.notified())
            .await
            .expect("B is woken");
    };
    // Once when B's listener starts listening; then only for work.
    woken().await;

    // A message stored under no lease (A's hand-over had no room).
    let message = NewMessage {
        source: "calls".into(),
        event_type: "call.completed".into(),
        received_at: 1_000,
        headers: Vec::new(),
        body: b"{}".to_vec(),
        idempotency_key: None,
        target_url: None,
    };
    a.ingest(&message, Duration::from_secs(60), None)
        .await
        .expect("ingests");
    woken().await;

    // Its deliveries created unclaimed (no room on A): due for anyone.
    let holder = Holder {
        node: "a".into(),
        until: 100_000,
    };
    let leased = a.pipeline_batch(1_000, &holder, 10).await.expect("scans");
    let completion = Completion {
        status: MessageStatus::Routed {
            event_type: "call.completed".into(),
            body: None,
            deliveries: 1,
        },
        deliveries: vec![NewDelivery {
            endpoint: "crm".into(),
            event_type: "call.completed".into(),
            url: None,
            body: None,
            headers: Vec::new(),
        }],
        skipped: Vec::new(),
        now: 1_000,
        claim: None,
        steps: Vec::new(),
    };
    let created = a
        .complete_pipeline(&leased[0].message.id, leased[0].token, completion)
        .await
        .expect("completes")
        .expect("was waiting");
    woken().await;

    // Replayed (rescheduled without a claim).
    a.reschedule(&created.deliveries[0].id, 2_000, None)
        .await
        .expect("reschedules")
        .expect("exists");
    woken().await;
}
