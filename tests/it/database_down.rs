//! The database lost under load, for real: a gateway on `postgres` reaches
//! the database through a loopback TCP proxy that the test cuts (every
//! connection dropped, new ones refused) and then restores on the same
//! port. Meanwhile ingest answers 503 `storage_unavailable` with
//! `Retry-After`, and `/healthz` and `/readyz` say why; nothing that got a
//! 202 is lost, and ingest and delivery resume by themselves, without a
//! restart.

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
    let toml = format!(
        r#"
[server.targets]
allow_http = true
allow_loopback = true

[storage]
engine = "postgres"
url = "{through_proxy}"
connect_timeout = "1s"

[[source]]
name = "open"

[[endpoint]]
name = "receiver"
url = "{receiver}"
event_types = ["*"]
"#,
        receiver = receiver.url,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = TestGateway::start_on(&toml, dir, Some(Engine::Postgres)).await;

    let mut acked = HashSet::new();
    for n in 0..EACH_SIDE {
        let (status, _, json) = post(&gateway, n).await;
        assert_eq!(status, 202, "{json}");
        acked.insert(json["id"].as_str().expect("an id").to_owned());
    }

    let addr = proxy.cut().await;
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
    let delivered = || -> HashSet<String> {
        receiver
            .received()
            .iter()
            .filter_map(|r| {
                r.headers
                    .get("webhook-id")?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seen = receiver.received().len();
        if acked.is_subset(&delivered()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} acknowledged events never arrived",
            acked.difference(&delivered()).count(),
            acked.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), receiver.wait_for(seen + 1)).await;
    }
    gateway.stop().await;
}
