//! The real binary under load, killed with SIGKILL mid-stream and started
//! again on the same data directory: every id that got a 202 reaches the
//! receiver at least once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use hookgate::store::Engine;

use crate::harness::TestReceiver;
use crate::process::{spawn, write_config};

/// Events acknowledged before the kill.
const ACKED_BEFORE_KILL: usize = 300;
/// Concurrent posting tasks.
const WRITERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_is_delivered_after_a_kill_9_on_sled() {
    every_acknowledged_event_is_delivered_after_a_kill_9(Engine::Sled).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_is_delivered_after_a_kill_9_on_fjall() {
    every_acknowledged_event_is_delivered_after_a_kill_9(Engine::Fjall).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_is_delivered_after_a_kill_9_on_postgres() {
    every_acknowledged_event_is_delivered_after_a_kill_9(Engine::Postgres).await;
}

async fn every_acknowledged_event_is_delivered_after_a_kill_9(engine: Engine) {
    let receiver = TestReceiver::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        engine,
        &format!(
            r#"
[[source]]
name = "load"
idempotency_key = {{ pointer = "/n" }}

[[endpoint]]
name = "receiver"
url = "{url}"
event_types = ["*"]
"#,
            url = receiver.url,
        ),
    );

    let (mut first, url) = spawn(&config);
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let client = reqwest::Client::new();
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
        writers.spawn(async move {
            for n in 0.. {
                let body = format!("{{\"n\":\"{writer}-{n}\",\"pad\":\"{}\"}}", "x".repeat(900));
                let Ok(response) = client
                    .post(format!("{url}/v1/ingest/load"))
                    .body(body)
                    .send()
                    .await
                else {
                    return; // the gateway is gone
                };
                if response.status() != 202 {
                    return;
                }
                let Ok(json) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let id = json["id"].as_str().expect("an id").to_owned();
                acked.lock().expect("lock").insert(id);
            }
        });
    }
    // Kill once enough events were acknowledged, with writers still going.
    loop {
        if acked.lock().expect("lock").len() >= ACKED_BEFORE_KILL {
            break;
        }
        assert!(
            !writers.is_empty(),
            "the writers stopped before {ACKED_BEFORE_KILL} acks"
        );
        if let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(1), writers.join_next()).await
        {
            panic!("a writer stopped while the gateway should be up");
        }
    }
    first.kill();
    while writers.join_next().await.is_some() {}
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL);

    let (mut second, _) = spawn(&config);
    let missing = receiver
        .missing_after(&acked, std::time::Duration::from_secs(60))
        .await;
    second.kill();
    if !missing.is_empty() {
        let store = crate::process::open_store(dir.path(), engine).await;
        let mut states = Vec::new();
        for id in missing.iter().take(5) {
            let message = store.message(id).await.expect("reads");
            let deliveries = store.deliveries_of(id).await.expect("reads");
            states.push(format!(
                "{id}: {:?} / {:?}",
                message.map(|m| m.status),
                deliveries.iter().map(|d| &d.state).collect::<Vec<_>>()
            ));
        }
        panic!(
            "{} of {} acknowledged events never arrived: {states:#?}",
            missing.len(),
            acked.len()
        );
    }
    // The real binary wrote the store under its umask: the owner's only.
    if engine != Engine::Postgres {
        assert_private(&dir.path().join("data"));
    }
}

/// Every directory under `path` is 0700 and every file 0600.
fn assert_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).expect("stat");
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_dir() {
        assert_eq!(mode, 0o700, "{} is {mode:o}", path.display());
        for entry in std::fs::read_dir(path).expect("lists") {
            assert_private(&entry.expect("entry").path());
        }
    } else if meta.is_file() {
        assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
    }
}
