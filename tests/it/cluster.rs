//! Several gateway nodes on one PostgreSQL schema keep one configuration:
//! what the management API changes on one node is in force on the others
//! (each checks the stored version every `registry::FOLLOW_EVERY`), and
//! changes made on two nodes at once are both kept (compare-and-set on
//! the version). These run on `postgres` whatever engine the suite runs
//! on: a cluster needs the shared store.

use serde_json::{Value, json};

use hookgate::store::Engine;

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually, wasm};

/// A node of a cluster whose nodes share the schema `cluster`.
async fn node(cluster: &str) -> TestGateway {
    node_with(cluster, "", "").await
}

/// A node of the cluster `cluster` with more settings: `admin` in the
/// `[admin]` table, `rest` after the rest.
pub(crate) async fn node_with(cluster: &str, admin: &str, rest: &str) -> TestGateway {
    let toml = admin_config(
        admin,
        &format!(
            "{rest}\n[storage]\nengine = \"postgres\"\nurl = \"{}\"\nschema = \"{cluster}\"\n",
            crate::process::test_database()
        ),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    TestGateway::start_on(&toml, dir, Some(Engine::Postgres)).await
}

/// A schema no other test uses.
pub(crate) fn new_cluster() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    crate::process::test_schema(dir.path()).replace("it_", "cluster_")
}

fn endpoint(name: &str, url: &str) -> Value {
    json!({"name": name, "url": url, "event_types": ["*"]})
}

/// Two nodes of a new cluster, and a receiver behind the endpoint `crm`,
/// created on node A and seen by node B.
async fn two_nodes_with_an_endpoint() -> (TestReceiver, TestGateway, TestGateway) {
    let receiver = TestReceiver::start().await;
    let cluster = new_cluster();
    let (a, b) = (node(&cluster).await, node(&cluster).await);
    let (status, body) = a
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("node B has the endpoint", || async {
        (b.admin("GET", "/v1/endpoints/crm", None).await.0 == 200).then_some(())
    })
    .await;
    (receiver, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_created_on_one_node_receives_events_ingested_on_another() {
    let (receiver, a, b) = two_nodes_with_an_endpoint().await;

    let (status, body) = b
        .post("calls", r#"{"type":"call.completed","n":1}"#, &[])
        .await;
    assert_eq!(status, 202, "{body}");
    let got = receiver.wait_for(1).await;
    let sent: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(sent["n"], 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_deployed_on_one_node_runs_on_another_for_the_next_event() {
    let receiver = TestReceiver::start().await;
    let cluster = new_cluster();
    let (a, b) = (node(&cluster).await, node(&cluster).await);
    let (status, body) = a
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = a
        .deploy("stamp", &wasm("scripted"), &[("stamp", "from-a")])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = a
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["stamp"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("node B runs the chain", || async {
        (b.admin("GET", "/v1/routes/calls", None).await.0 == 200).then_some(())
    })
    .await;

    let (status, body) = b.post("calls", r#"{"type":"call.completed"}"#, &[]).await;
    assert_eq!(status, 202, "{body}");
    let got = receiver.wait_for(1).await;
    let sent: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(sent["stamps"], json!(["from-a"]), "{sent}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_two_nodes_at_once_are_all_kept() {
    let receiver = TestReceiver::start().await;
    let cluster = new_cluster();
    let (a, b) = (node(&cluster).await, node(&cluster).await);
    const EACH: usize = 12;
    let create = |gateway: &TestGateway, prefix: &'static str| {
        let url = receiver.url.clone();
        let gateway_url = gateway.url.clone();
        async move {
            let client = reqwest::Client::new();
            for n in 0..EACH {
                let response = client
                    .post(format!("{gateway_url}/v1/endpoints"))
                    .bearer_auth(crate::harness::ADMIN_TOKEN)
                    .json(&endpoint(&format!("{prefix}-{n}"), &url))
                    .send()
                    .await
                    .expect("answers");
                assert_eq!(response.status(), 201, "{prefix}-{n}");
            }
        }
    };
    tokio::join!(create(&a, "a"), create(&b, "b"));

    for gateway in [&a, &b] {
        let names = eventually("every node has every endpoint", || async {
            let (items, _) = gateway.all_pages("/v1/endpoints").await;
            let names: Vec<String> = items
                .iter()
                .filter_map(|e| e["name"].as_str().map(str::to_owned))
                .collect();
            (names.len() == 2 * EACH).then_some(names)
        })
        .await;
        for n in 0..EACH {
            assert!(names.contains(&format!("a-{n}")), "{names:?}");
            assert!(names.contains(&format!("b-{n}")), "{names:?}");
        }
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_disabled_on_one_node_is_disabled_on_every_node_until_enabled() {
    let (receiver, a, b) = two_nodes_with_an_endpoint().await;

    let (status, body) = a
        .admin(
            "POST",
            "/v1/endpoints/crm/disable",
            Some(json!({"reason": "maintenance"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = eventually("node B holds the endpoint disabled", || async {
        let (_, shown) = b.admin("GET", "/v1/endpoints/crm", None).await;
        shown["disabled"].is_object().then_some(shown)
    })
    .await;
    assert_eq!(shown["disabled"]["reason"], "maintenance", "{shown}");
    // An event ingested on B is not sent: dead-lettered, with the reason.
    let (status, body) = b.post("calls", r#"{"type":"call.completed"}"#, &[]).await;
    assert_eq!(status, 202, "{body}");
    let delivery = eventually("the delivery is dead-lettered", || async {
        let first = b.deliveries("endpoint=crm").await.first().cloned()?;
        (first["status"] == "dead").then_some(first)
    })
    .await;
    assert!(delivery["last_status"].is_null(), "never sent: {delivery}");
    assert!(receiver.received().is_empty());
    assert!(
        delivery["dead_reason"]
            .as_str()
            .is_some_and(|r| r.contains("disabled: maintenance")),
        "{delivery}"
    );

    // Enabled on B: A takes it in too, and an event ingested on A goes out.
    let (status, body) = b.admin("POST", "/v1/endpoints/crm/enable", None).await;
    assert_eq!(status, 200, "{body}");
    eventually("node A holds the endpoint enabled", || async {
        let (_, shown) = a.admin("GET", "/v1/endpoints/crm", None).await;
        shown["disabled"].is_null().then_some(())
    })
    .await;
    let (status, body) = a.post("calls", r#"{"type":"call.completed"}"#, &[]).await;
    assert_eq!(status, 202, "{body}");
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "only the event sent after enabling arrives");
    a.stop().await;
    b.stop().await;
}
