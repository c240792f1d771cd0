//! The hand-over against the store scan: whatever the in-memory queue holds
//! or refuses, every message is run and completed once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Pipeline;
use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::Deliverer;
use crate::handover::inbox_holding;
use crate::metrics::Metrics;
use crate::plugin::{HostConfig, PluginHost};
use crate::registry::Registry;
use crate::store::{Backend, Catalog, Engine, NewMessage, Store};

const CONFIG: &str = r#"
[[source]]
name = "s"

[[endpoint]]
name = "e"
url = "https://hooks.example.com/in"
event_types = ["call.*"]
"#;

/// A message received now, as ingest makes them.
fn message(clock: Clock) -> NewMessage {
    NewMessage {
        source: "s".into(),
        event_type: "call.completed".into(),
        received_at: clock.now_millis(),
        headers: Vec::new(),
        body: vec![b'x'; 1_000],
        idempotency_key: None,
        target_url: None,
    }
}

/// Ingests `count` messages, handing each to `push` as ingest does, while a
/// pipeline whose in-memory queue holds only `budget` bytes runs; then
/// waits until every message is completed, and checks each ran once and got
/// exactly its one delivery.
async fn every_message_completes_once(engine: Engine, count: usize, budget: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::from_toml("test.toml", CONFIG, dir.path()).expect("valid config");
    let store: Arc<dyn Backend> = crate::store::test_support::open(engine, dir.path()).await;
    let dyn_store = store.clone() as Arc<dyn Store>;
    let clock = Clock::new();
    let metrics = Arc::new(Metrics::new());
    let runs = metrics.clone();
    let (inbox, queue) = inbox_holding(
        Arc::new(Notify::new()),
        "node-a",
        std::time::Duration::from_secs(60),
        budget,
    );
    let host = PluginHost::new(HostConfig {
        pool_size: 2,
        ..HostConfig::default()
    })
    .expect("host");
    let registry = Arc::new(
        Registry::open(
            &config,
            dyn_store.clone(),
            store.clone() as Arc<dyn Catalog>,
            host.clone(),
            clock,
            metrics.clone(),
        )
        .await
        .expect("registry"),
    );
    // No delivery loop runs: deliveries go to the schedule, where they are
    // counted.
    let deliverer = Arc::new(
        Deliverer::new(crate::delivery::Parts {
            store: dyn_store.clone(),
            registry: registry.clone(),
            targets: config.server.targets,
            clock,
            wake: Arc::new(Notify::new()),
            inbox: inbox.clone(),
            metrics: metrics.clone(),
            claims: crate::delivery::Claiming {
                node: "node-a".into(),
                margin: Duration::from_secs(30),
            },
        })
        .await
        .expect("deliverer"),
    );
    let shutdown = CancellationToken::new();
    let pipeline = tokio::spawn(
        Pipeline {
            store: dyn_store.clone(),
            host,
            registry,
            queue,
            deliverer,
            clock,
            metrics,
        }
        .run(shutdown.clone()),
    );
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let received = message(clock);
        // As ingest does: in memory with this node's lease when there is
        // room, through the store's queue unleased when there is not.
        let id = inbox
            .ingest(dyn_store.as_ref(), received, Duration::ZERO)
            .await
            .expect("ingests")
            .id()
            .to_owned();
        ids.push(id);
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        // The store has no change notification; poll it, as the
        // integration harness does.
        while dyn_store.pipeline_count().await.expect("counts") > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every message leaves the pipeline queue");
    for id in &ids {
        let deliveries = dyn_store.deliveries_of(id).await.expect("reads");
        assert_eq!(deliveries.len(), 1, "{id} has exactly one delivery");
    }
    // Completed once is not enough: a second run would write nothing but
    // would have run the chain again.
    assert_eq!(
        runs.pipeline_runs("s"),
        count as u64,
        "each message ran once"
    );
    assert_eq!(dyn_store.scheduled_count().await.expect("counts"), count);
    shutdown.cancel();
    pipeline.await.expect("the pipeline stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_handed_over_in_memory_complete_once() {
    for engine in [Engine::Sled, Engine::Fjall, Engine::Postgres] {
        every_message_completes_once(engine, 500, 64 << 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_do_not_fit_in_memory_are_found_in_the_store_and_complete_once() {
    for engine in [Engine::Sled, Engine::Fjall, Engine::Postgres] {
        // Not one 1 KB message fits: every one goes through the store.
        every_message_completes_once(engine, 500, 500).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_some_messages_in_memory_and_some_only_in_the_store_each_completes_once() {
    for engine in [Engine::Sled, Engine::Fjall, Engine::Postgres] {
        // Room for about three messages: the hand-over and the scans take
        // turns.
        every_message_completes_once(engine, 500, 5_000).await;
    }
}
