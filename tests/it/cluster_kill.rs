//! Three real `hookgate` processes on one PostgreSQL schema, load spread
//! over them, one killed with SIGKILL mid-stream: every event any node
//! acknowledged reaches the receiver, the survivors taking over the dead
//! node's queued messages and claimed deliveries once its leases lapse, and
//! the duplicates are at most the attempts that were in flight on it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::TestReceiver;
use crate::process::{spawn, test_database, test_schema};

/// Nodes in the cluster.
const NODES: usize = 3;
/// Events acknowledged (by all nodes) before the kill, and in all.
const ACKED_BEFORE_KILL: usize = 300;
const ACKED_IN_ALL: usize = 600;
/// Posting tasks, spread over the nodes.
const WRITERS: usize = 9;
/// Attempts one node runs at once to the endpoint: the bound on what the
/// killed node had in flight.
const MAX_IN_FLIGHT: usize = 8;

/// Writes node `n`'s config under `dir`, on the shared `schema`, with short
/// leases so the survivors take over within seconds.
fn node_config(dir: &Path, n: usize, schema: &str, receiver: &str) -> std::path::PathBuf {
    let node = dir.join(format!("node-{n}"));
    std::fs::create_dir_all(&node).expect("node dir");
    let config = node.join("hookgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
node_id = "node-{n}"
lease_margin = "1s"
pipeline_lease = "2s"

[server.targets]
allow_http = true
allow_loopback = true

[storage]
engine = "postgres"
url = "{database}"
schema = "{schema}"

[[source]]
name = "load"
idempotency_key = {{ pointer = "/n" }}

[[endpoint]]
name = "receiver"
url = "{receiver}"
event_types = ["*"]
timeout = "1s"
max_in_flight = {MAX_IN_FLIGHT}
"#,
            data = node.join("data").display(),
            database = test_database(),
        ),
    )
    .expect("writes the config");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_of_three_nodes_loses_no_acknowledged_event() {
    let receiver = TestReceiver::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = test_schema(dir.path()).replace("it_", "kill_");
    // The first node to start creates the tables, under the migration lock.
    let configs: Vec<_> = (0..NODES)
        .map(|n| node_config(dir.path(), n, &schema, &receiver.url))
        .collect();
    let mut nodes: Vec<_> = configs.iter().map(|c| spawn(c)).collect();
    let urls: Vec<String> = nodes.iter().map(|(_, url)| url.clone()).collect();

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::new();
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let url = urls[writer % NODES].clone();
        let (client, acked, stop) = (client.clone(), acked.clone(), stop.clone());
        writers.spawn(async move {
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let body = format!("{{\"n\":\"{writer}-{n}\",\"pad\":\"{}\"}}", "x".repeat(900));
                let Ok(response) = client
                    .post(format!("{url}/v1/ingest/load"))
                    .body(body)
                    .send()
                    .await
                else {
                    return; // its node is gone
                };
                if response.status() != 202 {
                    return;
                }
                let Ok(json) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let id = json["id"].as_str().expect("an id").to_owned();
                let mut acked = acked.lock().expect("lock");
                acked.insert(id);
                if acked.len() >= ACKED_IN_ALL {
                    stop.store(true, Ordering::SeqCst);
                }
            }
        });
    }
    // Kill node 0 once enough is acknowledged, with every writer going.
    loop {
        if acked.lock().expect("lock").len() >= ACKED_BEFORE_KILL {
            break;
        }
        if let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(1), writers.join_next()).await
        {
            panic!("a writer stopped before the kill");
        }
    }
    // Held answers: node 0 dies with attempts in flight and deliveries
    // claimed, not just with an empty queue.
    receiver.hold();
    tokio::time::timeout(Duration::from_secs(10), async {
        while receiver.received().len() < MAX_IN_FLIGHT {
            receiver.wait_for(receiver.received().len() + 1).await;
        }
    })
    .await
    .expect("attempts reach the held receiver");
    nodes[0].0.kill();
    while writers.join_next().await.is_some() {}
    receiver.release();
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= ACKED_IN_ALL,
        "the surviving nodes kept acknowledging: {}",
        acked.len()
    );

    receiver
        .assert_all_arrive(&acked, Duration::from_secs(60))
        .await;
    let duplicates: usize = receiver.arrivals().values().map(|n| n - 1).sum();
    assert!(
        duplicates <= MAX_IN_FLIGHT,
        "{duplicates} duplicates, more than the {MAX_IN_FLIGHT} attempts the killed node could have had in flight"
    );
    for (node, _) in &mut nodes {
        node.kill();
    }
}
