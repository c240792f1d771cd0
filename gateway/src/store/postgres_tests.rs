//! What only the shared engine promises: two stores on one schema (two
//! nodes) change the stored objects under a compare-and-set on their
//! version, and a change on one wakes the other's listener.

use std::time::Duration;

use super::test_support::postgres_options;
use super::{Catalog, ObjectWrite, PostgresStore};

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
