//! The store's part in endpoint protection, on every engine: a disable's
//! first record stands and owes its operator event until announced; and a
//! shared store paces an endpoint for every node on it.

use super::test_support::{for_each_engine, open, postgres_options};
use super::*;

for_each_engine!(
    a_disable_keeps_the_first_record_and_owes_its_event_until_announced,
    only_a_shared_store_paces,
);

fn disabled(at: u64, reason: &str, announce: bool) -> DisabledEndpoint {
    DisabledEndpoint {
        name: "crm".into(),
        at,
        reason: reason.into(),
        announce,
    }
}

async fn a_disable_keeps_the_first_record_and_owes_its_event_until_announced(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(engine, dir.path()).await;
        let first = disabled(1_000, "answered 410 Gone", true);
        assert_eq!(
            store
                .disable_endpoint(first.clone())
                .await
                .expect("disables"),
            first
        );
        // A later disable (another node's breaker, an operator) finds the
        // first record and gets it back.
        let later = disabled(2_000, "disabled by an operator", false);
        assert_eq!(
            store.disable_endpoint(later).await.expect("disables"),
            first
        );
        // Announcing another disable's event changes nothing.
        store.announced("crm", 2_000).await.expect("announces");
        assert!(store.disabled_endpoints().await.expect("reads")[0].announce);
    }
    // Across a reopen the event is still owed, until it is announced.
    let store = open(engine, dir.path()).await;
    assert_eq!(
        store.disabled_endpoints().await.expect("reads"),
        [disabled(1_000, "answered 410 Gone", true)]
    );
    store.announced("crm", 1_000).await.expect("announces");
    assert_eq!(
        store.disabled_endpoints().await.expect("reads"),
        [disabled(1_000, "answered 410 Gone", false)]
    );
    // Enabled and disabled again: a new record, owing a new event.
    store.enable_endpoint("crm").await.expect("enables");
    assert_eq!(store.disabled_endpoints().await.expect("reads"), []);
    let again = disabled(3_000, "circuit breaker", true);
    assert_eq!(
        store
            .disable_endpoint(again.clone())
            .await
            .expect("disables"),
        again
    );
}

async fn only_a_shared_store_paces(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(engine, dir.path()).await;
    let paced = store.pace("crm", 1_000, 500).await.expect("paces");
    match engine {
        Engine::Postgres => assert_eq!(paced, Some(Pace::Go)),
        _ => assert_eq!(paced, None, "an embedded store leaves pacing to memory"),
    }
}

/// Two stores on one schema stand for two nodes: their attempts to one
/// endpoint are paced as one sequence, as a single pacer would.
#[tokio::test]
async fn nodes_on_one_database_share_an_endpoints_pace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = postgres_options(dir.path());
    let a = PostgresStore::open(&options).await.expect("opens");
    let b = PostgresStore::open(&options).await.expect("opens");
    let mut model = Pacer::default();
    for (i, now) in [1_000, 1_000, 1_000, 1_500, 1_500, 2_000, 2_600]
        .into_iter()
        .enumerate()
    {
        let node = if i % 2 == 0 { &a } else { &b };
        let paced = node.pace("crm", now, 500).await.expect("paces");
        assert_eq!(paced, Some(model.admit(now, 500)), "attempt {i} at {now}");
    }
    // Another endpoint has a pace of its own.
    assert_eq!(
        a.pace("billing", 1_000, 500).await.expect("paces"),
        Some(Pace::Go)
    );
}

/// Two nodes deciding to disable one endpoint at once: one record stands,
/// and both get it back, so only one event is owed.
#[tokio::test]
async fn concurrent_disables_on_two_nodes_keep_one_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = postgres_options(dir.path());
    let a = PostgresStore::open(&options).await.expect("opens");
    let b = PostgresStore::open(&options).await.expect("opens");
    for round in 0..20u64 {
        let (x, y) = tokio::join!(
            a.disable_endpoint(disabled(round * 10, "from a", true)),
            b.disable_endpoint(disabled(round * 10 + 1, "from b", true)),
        );
        let (x, y) = (x.expect("disables"), y.expect("disables"));
        assert_eq!(x, y, "round {round}: both nodes see the one record");
        assert_eq!(a.disabled_endpoints().await.expect("reads"), [x]);
        a.enable_endpoint("crm").await.expect("enables");
    }
}
