//! Endpoint protection holds for a cluster, not per node: a rate limit of
//! R/s is R/s across all nodes together, and an endpoint that several
//! nodes find gone at once is announced to the operator once.

use serde_json::{Value, json};

use crate::cluster::{new_cluster, node_with};
use crate::harness::{TestGateway, TestReceiver, eventually};

/// Posts `n` events, one after another round the nodes; their ids.
async fn post_round(nodes: &[&TestGateway], n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = format!(r#"{{"type":"call.completed","n":{i}}}"#);
        let (status, answer) = nodes[i % nodes.len()].post("calls", body, &[]).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().expect("an id").to_owned());
    }
    ids
}

/// Waits until each of `nodes` shows the endpoint `paced` as `check` wants.
async fn every_node_sees(nodes: &[&TestGateway], what: &str, check: impl Fn(&Value) -> bool) {
    for node in nodes {
        eventually(&format!("every node sees {what}"), || async {
            let (_, view) = node.admin("GET", "/v1/endpoints/paced", None).await;
            check(&view).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_within_ten_percent_across_three_nodes() {
    const RATE: f64 = 10.0;
    const EVENTS: usize = 50;
    let _timing = crate::harness::timing().await;
    let receiver = TestReceiver::start().await;
    let cluster = new_cluster();
    let a = node_with(&cluster, "", "").await;
    let b = node_with(&cluster, "", "").await;
    let c = node_with(&cluster, "", "").await;
    let (status, body) = a
        .admin(
            "POST",
            "/v1/endpoints",
            Some(json!({
                "name": "paced", "url": receiver.url, "event_types": ["*"],
                "rate_limit": RATE,
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    every_node_sees(&[&b, &c], "the endpoint", |view| view["name"] == "paced").await;

    // The backlog is made first, so the ingest rate (which a loaded machine
    // may bring below the limit) does not set the pace: the endpoint is
    // disabled on every node, the events (a third on each node, so
    // per-node limits would let three times the rate through) are
    // dead-lettered, and then all of them are recovered at once.
    let (status, body) = a.admin("POST", "/v1/endpoints/paced/disable", None).await;
    assert_eq!(status, 200, "{body}");
    every_node_sees(&[&b, &c], "it disabled", |view| {
        view["disabled"].is_object()
    })
    .await;
    post_round(&[&a, &b, &c], EVENTS).await;
    eventually("every delivery is dead-lettered", || async {
        let dead = a.deliveries("endpoint=paced&status=dead&limit=500").await;
        (dead.len() == EVENTS).then_some(())
    })
    .await;
    let (status, body) = a.admin("POST", "/v1/endpoints/paced/enable", None).await;
    assert_eq!(status, 200, "{body}");
    every_node_sees(&[&b, &c], "it enabled", |view| {
        view["name"] == "paced" && view["disabled"].is_null()
    })
    .await;
    assert!(
        receiver.received().is_empty(),
        "nothing went while disabled"
    );
    let (status, body) = a
        .admin(
            "POST",
            "/v1/endpoints/paced/recover",
            Some(json!({"since": 0})),
        )
        .await;
    assert_eq!(
        (status, body["recovered"].as_u64()),
        (200, Some(EVENTS as u64)),
        "{body}"
    );
    let got = receiver.wait_for(EVENTS).await;
    let span = got[EVENTS - 1].at.duration_since(got[0].at);
    let gaps: Vec<u128> = got
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).as_millis())
        .collect();
    let rate = (EVENTS - 1) as f64 / span.as_secs_f64();
    assert!(
        (RATE * 0.9..=RATE * 1.1).contains(&rate),
        "{EVENTS} deliveries over {span:?}: {rate:.2}/s against a limit of {RATE}/s; \
         gaps between arrivals (ms): {gaps:?}"
    );
    assert_eq!(receiver.arrivals().len(), EVENTS, "each event once");
    for node in [a, b, c] {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_two_nodes_find_gone_at_once_is_announced_once() {
    const EACH: usize = 10;
    let gone = TestReceiver::start().await;
    gone.answer(410);
    let operator = TestReceiver::start().await;
    let endpoints = format!(
        "[[endpoint]]\nname = \"gone\"\nurl = \"{}\"\nevent_types = [\"call.*\"]\n\n\
         [[endpoint]]\nname = \"ops\"\nurl = \"{}\"\nevent_types = [\"endpoint.*\"]\n",
        gone.url, operator.url
    );
    let cluster = new_cluster();
    let admin = "operator_endpoint = \"ops\"";
    let a = node_with(&cluster, admin, &endpoints).await;
    let b = node_with(&cluster, admin, &endpoints).await;

    // Both nodes deliver their own events at once and get 410 Gone.
    let (only_a, only_b) = ([&a], [&b]);
    let (from_a, from_b) = tokio::join!(post_round(&only_a, EACH), post_round(&only_b, EACH));
    assert_eq!(from_a.len() + from_b.len(), 2 * EACH);

    // Every delivery ends dead (the 410 ones, and those given up because
    // the endpoint was disabled); each disable and its event is stored
    // before its delivery's outcome, so every decision has been made.
    eventually("every delivery to the gone endpoint is dead", || async {
        let deliveries = a.deliveries("endpoint=gone&limit=500").await;
        (deliveries.len() == 2 * EACH && deliveries.iter().all(|d| d["status"] == "dead"))
            .then_some(())
    })
    .await;
    let (status, page) = a
        .admin("GET", "/v1/messages?event_type=endpoint.disabled", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let events = page["items"].as_array().expect("items");
    assert_eq!(events.len(), 1, "one operator event: {page}");
    let got = operator.wait_for(1).await;
    let event: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(event["data"]["endpoint"], "gone", "{event}");
    let delivered = eventually("the operator event's delivery is recorded", || async {
        let d = a.deliveries("endpoint=ops").await;
        (d.first()?["status"] == "delivered").then_some(d)
    })
    .await;
    assert_eq!(delivered.len(), 1, "only endpoint.disabled: {delivered:?}");
    assert_eq!(operator.received().len(), 1);
    a.stop().await;
    b.stop().await;
}
