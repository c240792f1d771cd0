//! The database lost under load, for real: a gateway on `postgres` reaches
//! the database through a loopback TCP proxy that the test cuts (every
//! connection dropped, new ones refused) and then restores on the same
//! port. Meanwhile ingest answers 503 `storage_unavailable` with
//! `Retry-After`, and `/healthz` and `/readyz` say why; nothing that got a
//! 202 is lost, and ingest and delivery resume by themselves, without a
//! restart. And every backend of a node terminated under load
//! (`pg_terminate_backend`): ingest refuses with 503 meanwhile, never
//! loses what it acknowledged, and goes on by itself.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use hookgate::store::Engine;

use crate::harness::{TestGateway, TestReceiver};

/// Events acknowledged before the cut, and again after the database is
/// back.
const EACH_SIDE: usize = 25;

/// A TCP proxy on loopback to the test database.
struct Proxy {
    addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on `addr` and forwards every connection to `upstream`.
    async fn start(addr: SocketAddr, upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("the proxy binds");
        let addr = listener.local_addr().expect("address");
        let accepting = tokio::spawn(async move {
            // Dropped with this task: every forwarded connection ends too.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, accepting }
    }

    /// Drops every connection and stops listening; the address it had.
    async fn cut(self) -> SocketAddr {
        self.accepting.abort();
        let _ = self.accepting.await;
        self.addr
    }
}

/// A gateway on the database at `url` (with `storage`'s further keys)
/// taking source `open` and delivering to `receiver`. Claims are short: a
/// commit whose answer was lost with its connection (the deliveries it
/// created are claimed by this node, which never heard so) is found again
/// when the claim lapses.
fn config(url: &reqwest::Url, storage: &str, receiver: &str) -> String {
    format!(
        r#"
[server]
lease_margin = "1s"

[server.targets]
allow_http = true
allow_loopback = true

[storage]
engine = "postgres"
url = "{url}"
{storage}

[[source]]
name = "open"

[[endpoint]]
name = "receiver"
url = "{receiver}"
event_types = ["*"]
timeout = "1s"
"#
    )
}

/// `POST /v1/ingest/open`: the status, the `Retry-After` and the body.
async fn post(gateway: &TestGateway, n: usize) -> (u16, Option<String>, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/ingest/open", gateway.url))
        .body(format!("{{\"n\":{n}}}"))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry_after, json)
}

/// `GET` a health route: the status and the body.
async fn health(gateway: &TestGateway, route: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{}{route}", gateway.url))
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_gets_503_loses_nothing_and_everything_resumes_by_itself() {
    let receiver = TestReceiver::start().await;
    let database = reqwest::Url::parse(&crate::process::test_database()).expect("a URL");
    let upstream = format!(
        "{}:{}",
        database.host_str().expect("a host"),
        database.port().unwrap_or(5432)
    );
    let proxy = Proxy::start("127.0.0.1:0".parse().expect("address"), upstream.clone()).await;
    let mut through_proxy = database.clone();
    through_proxy
        .set_port(Some(proxy.addr.port()))
        .expect("a port");
    let toml = config(&through_proxy, "connect_timeout = \"1s\"", &receiver.url);
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = TestGateway::start_on(&toml, dir, Some(Engine::Postgres)).await;

    let mut acked = HashSet::new();
    for n in 0..EACH_SIDE {
        let (status, _, json) = post(&gateway, n).await;
        assert_eq!(status, 202, "{json}");
        acked.insert(json["id"].as_str().expect("an id").to_owned());
    }

    let addr = proxy.cut().await;
    // A load balancer's check finds out first, before any ingest fails.
    let (status, json) = health(&gateway, "/readyz").await;
    assert_eq!(status, 503, "{json}");
    let (status, retry_after, json) = post(&gateway, EACH_SIDE).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{json}"
    );
    assert!(retry_after.is_some(), "a 503 says when to retry");
    assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    let (status, json) = health(&gateway, "/readyz").await;
    assert_eq!(status, 503, "{json}");
    let (status, json) = health(&gateway, "/healthz").await;
    assert_eq!((status, json["status"].as_str()), (200, Some("degraded")));
    assert_eq!(json["store"]["writable"], false, "{json}");

    let _proxy = Proxy::start(addr, upstream).await;
    // Back without a restart: the readiness check's own write finds the
    // database, and ingest takes events again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, json) = health(&gateway, "/readyz").await;
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway never found the database again: {json}"
        );
        tokio::task::yield_now().await;
    }
    for n in 0..EACH_SIDE {
        let (status, _, json) = post(&gateway, EACH_SIDE + 1 + n).await;
        assert_eq!(status, 202, "{json}");
        acked.insert(json["id"].as_str().expect("an id").to_owned());
    }
    let (_, json) = health(&gateway, "/healthz").await;
    assert_eq!(json["status"], "ok", "{json}");

    // Delivery resumed too: every acknowledged event arrives.
    receiver
        .assert_all_arrive(&acked, Duration::from_secs(60))
        .await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_terminated_under_load_loses_nothing_and_the_node_recovers() {
    let receiver = TestReceiver::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Its own application name, so terminating its backends touches no
    // other test's gateway.
    let name = crate::process::test_schema(dir.path()).replace("it_", "term_");
    let mut url = reqwest::Url::parse(&crate::process::test_database()).expect("a URL");
    url.query_pairs_mut().append_pair("application_name", &name);
    let toml = config(&url, "", &receiver.url);
    let gateway = TestGateway::start_on(&toml, dir, Some(Engine::Postgres)).await;

    let acked = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..4 {
        let (url, acked, stop) = (gateway.url.clone(), acked.clone(), stop.clone());
        writers.spawn(async move {
            let client = reqwest::Client::new();
            let mut refused = 0;
            for n in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return refused;
                }
                let response = client
                    .post(format!("{url}/v1/ingest/open"))
                    .body(format!("{{\"n\":\"{writer}-{n}\"}}"))
                    .send()
                    .await
                    .expect("the gateway answers");
                let status = response.status().as_u16();
                let json: serde_json::Value = response.json().await.expect("JSON");
                match status {
                    202 => {
                        acked
                            .lock()
                            .expect("lock")
                            .insert(json["id"].as_str().expect("an id").to_owned());
                    }
                    503 => {
                        assert_eq!(json["code"], "storage_unavailable", "{json}");
                        refused += 1;
                    }
                    other => panic!("{other}: {json}"),
                }
            }
            refused
        });
    }
    let count = || acked.lock().expect("lock").len();
    let wait_for = |n: usize| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while count() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "ingest stalled at {} acknowledged",
                count()
            );
            tokio::task::yield_now().await;
        }
    };
    wait_for(100).await;

    let (admin, connection) =
        tokio_postgres::connect(&crate::process::test_database(), tokio_postgres::NoTls)
            .await
            .expect("connects");
    tokio::spawn(connection);
    let terminated = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminates");
    assert!(!terminated.is_empty(), "the gateway had connections to end");

    // It goes on by itself: a new pool connection per lost one.
    let after = count() + 200;
    wait_for(after).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    while let Some(writer) = writers.join_next().await {
        // Each refusal was a 503 `storage_unavailable`, or the writer panicked.
        writer.expect("every answer was a 202 or a 503 storage_unavailable");
    }

    let acked = acked.lock().expect("lock").clone();
    receiver
        .assert_all_arrive(&acked, Duration::from_secs(60))
        .await;
    gateway.stop().await;
}
