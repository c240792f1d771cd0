//! Endpoint protection with injected time: the rate limit holds deliveries
//! back (no failed attempts), the circuit breaker pauses a failing endpoint,
//! probes it, and disables it after a long failing period with an
//! `endpoint.disabled` event to the operator endpoint; retention prunes
//! finished messages.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually, now_millis};

fn config(extra: &str) -> String {
    admin_config("", extra)
}

async fn post(gateway: &TestGateway, n: u64) -> String {
    let (status, reply) = gateway
        .post(
            "calls",
            json!({"type": "call.completed", "n": n}).to_string(),
            &[],
        )
        .await;
    assert_eq!(status, 202);
    reply["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn the_rate_limit_holds_deliveries_back_without_failing_them() {
    let receiver = TestReceiver::start().await;
    let extra = format!(
        "[[endpoint]]\nname = \"slow\"\nurl = \"{}\"\nevent_types = [\"*\"]\nrate_limit = 0.001\n",
        receiver.url
    );
    let gateway = TestGateway::start(&config(&extra)).await;
    for n in 0..3 {
        post(&gateway, n).await;
    }
    receiver.wait_for(1).await;
    // One went; two wait their turns, 1000 s apart, with no attempt made.
    // Held back means due far later than a claim's lease (seconds).
    let later = now_millis() + 100_000;
    let held = eventually("two deliveries held back", || async {
        let pending = gateway.deliveries("status=pending").await;
        let both_held = pending.len() == 2
            && pending
                .iter()
                .all(|d| d["next_attempt_at"].as_u64() > Some(later));
        both_held.then_some(pending)
    })
    .await;
    let mut due: Vec<u64> = held
        .iter()
        .map(|d| {
            assert_eq!(d["attempt_count"], 0, "held back, not failed");
            d["next_attempt_at"].as_u64().expect("due")
        })
        .collect();
    due.sort_unstable();
    assert_eq!(due[1] - due[0], 1_000_000);
    assert_eq!(receiver.received().len(), 1);

    let deliverer = gateway.deliverer();
    assert_eq!(deliverer.deliver_due(due[0] - 1).await.expect("runs"), 0);
    assert_eq!(deliverer.deliver_due(due[0]).await.expect("runs"), 1);
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(deliverer.deliver_due(due[1]).await.expect("runs"), 1);
    assert_eq!(receiver.received().len(), 3);
    let delivered = gateway.deliveries("status=delivered").await;
    assert_eq!(delivered.len(), 3);
    assert!(delivered.iter().all(|d| d["attempt_count"] == 1));
}

#[tokio::test]
async fn the_breaker_pauses_probes_and_disables_a_failing_endpoint_and_tells_the_operator() {
    let failing = TestReceiver::start().await;
    failing.answer(500);
    let operator = TestReceiver::start().await;
    let extra = format!(
        r#"
[[endpoint]]
name = "flaky"
url = "{flaky}"
event_types = ["call.*"]
retry = {{ schedule = ["1h", "1h", "1h"] }}
circuit_breaker = {{ failures = 2, probe_interval = "1m", disable_after = "30m", hold_schedule = true }}

[[endpoint]]
name = "ops"
url = "{ops}"
event_types = ["endpoint.*"]
"#,
        flaky = failing.url,
        ops = operator.url,
    );
    let gateway = TestGateway::start(&admin_config("operator_endpoint = \"ops\"", &extra)).await;
    post(&gateway, 0).await;
    failing.wait_for(1).await;
    post(&gateway, 1).await;
    failing.wait_for(2).await;
    // Two failures in a row: open. The third is held for the probe, a
    // minute out; a claim's lease would be 40 s (timeout and margin).
    let third = post(&gateway, 2).await;
    let later = now_millis() + 50_000;
    let (held, probe_at) = eventually("the third delivery is held for the probe", || async {
        let (_, message) = gateway
            .admin("GET", &format!("/v1/messages/{third}"), None)
            .await;
        let d = message["deliveries"].get(0)?.clone();
        let at = d["next_attempt_at"].as_u64()?;
        (d["attempt_count"] == 0 && d["status"] == "pending" && at > later)
            .then_some((d["id"].clone(), at))
    })
    .await;
    let (_, endpoint) = gateway.admin("GET", "/v1/endpoints/flaky", None).await;
    assert_eq!(endpoint["circuit"]["state"], "open", "{endpoint}");
    assert_eq!(endpoint["circuit"]["failures"], 2);
    assert_eq!(failing.received().len(), 2, "nothing goes while open");

    // At the probe time exactly one attempt goes; it fails; still open.
    let deliverer = gateway.deliverer();
    assert_eq!(deliverer.deliver_due(probe_at).await.expect("runs"), 1);
    assert_eq!(failing.received().len(), 3);
    let (_, d) = gateway
        .admin(
            "GET",
            &format!("/v1/deliveries/{}", held.as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(d["attempt_count"], 1);

    // The retries come due about an hour after the first failures: the probe
    // among them fails after more than 30 minutes of failing, so the
    // endpoint is disabled and the operator is told.
    // Retries are an hour apart with 20% jitter: two hours covers them all.
    let later = probe_at + 7_200_000;
    deliverer.deliver_due(later).await.expect("runs");
    let (_, endpoint) = gateway.admin("GET", "/v1/endpoints/flaky", None).await;
    let reason = endpoint["disabled"]["reason"]
        .as_str()
        .expect("disabled")
        .to_owned();
    assert!(reason.starts_with("circuit breaker"), "{reason}");
    // Among the operator's events (the circuit opened first).
    let (got, event) = eventually("the endpoint.disabled event", || async {
        operator.received().into_iter().find_map(|r| {
            let event: Value = serde_json::from_slice(&r.body).ok()?;
            (event["type"] == "endpoint.disabled").then_some((r, event))
        })
    })
    .await;
    assert_eq!(event["data"]["endpoint"], "flaky");
    let webhook_id = got.headers["webhook-id"].to_str().expect("text");
    assert!(
        webhook_id.starts_with("msg_"),
        "operator events are stored messages, sent with their id: {webhook_id}"
    );

    // Enabling closes the circuit and lets deliveries go again.
    failing.answer(200);
    let (status, endpoint) = gateway
        .admin("POST", "/v1/endpoints/flaky/enable", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(endpoint["circuit"]["state"], "closed");
    let before = failing.received().len();
    post(&gateway, 3).await;
    failing.wait_for(before + 1).await;
}

#[tokio::test]
async fn a_successful_probe_releases_the_deliveries_the_breaker_held() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let extra = format!(
        r#"
[[endpoint]]
name = "flaky"
url = "{url}"
event_types = ["call.*"]
retry = {{ schedule = ["1h"] }}
circuit_breaker = {{ failures = 2, probe_interval = "1m", disable_after = "1d", hold_schedule = true }}
"#,
        url = receiver.url,
    );
    let gateway = TestGateway::start(&config(&extra)).await;
    post(&gateway, 0).await;
    receiver.wait_for(1).await;
    post(&gateway, 1).await;
    receiver.wait_for(2).await;
    // Open: these wait for the probe, a minute out.
    let held = [
        post(&gateway, 2).await,
        post(&gateway, 3).await,
        post(&gateway, 4).await,
    ];
    let later = now_millis() + 50_000;
    let probe_at = eventually("three deliveries held for the probe", || async {
        let mut at = Vec::new();
        for id in &held {
            let (_, message) = gateway
                .admin("GET", &format!("/v1/messages/{id}"), None)
                .await;
            let d = message["deliveries"].get(0)?.clone();
            let due = d["next_attempt_at"].as_u64()?;
            (d["attempt_count"] == 0 && due > later).then_some(())?;
            at.push(due);
        }
        at.into_iter().max()
    })
    .await;
    // The receiver is back: the probe at its time succeeds, and what the
    // breaker held is due at once, not a probe interval later.
    receiver.answer(200);
    let deliverer = gateway.deliverer();
    deliverer.deliver_due(probe_at).await.expect("runs");
    deliverer.deliver_due(probe_at).await.expect("runs");
    for id in &held {
        let (_, message) = gateway
            .admin("GET", &format!("/v1/messages/{id}"), None)
            .await;
        let d = &message["deliveries"][0];
        assert_eq!(d["status"], "delivered", "{id}: {d}");
    }
}

#[tokio::test]
async fn retention_prunes_finished_messages_and_keeps_pending_ones() {
    let receiver = TestReceiver::start().await;
    let extra = format!(
        "[[endpoint]]\nname = \"r\"\nurl = \"{}\"\nevent_types = [\"*\"]\nretry = {{ schedule = [\"1h\"] }}\n",
        receiver.url
    );
    let gateway = TestGateway::start(&config(&extra)).await;
    let delivered = post(&gateway, 0).await;
    receiver.wait_for(1).await;
    receiver.answer(500);
    let retrying = post(&gateway, 1).await;
    receiver.wait_for(2).await;
    eventually("both attempts are recorded", || async {
        (gateway.deliveries("status=retrying").await.len() == 1).then_some(())
    })
    .await;
    let now = gateway.registry().clock().now_millis();
    let month = Duration::from_secs(30 * 24 * 3600);
    let catalog = gateway.store() as &dyn hookgate::store::Catalog;
    let nothing = hookgate::retention::prune_once(catalog, now, month)
        .await
        .expect("prunes");
    assert_eq!(nothing.messages, 0, "nothing is old enough yet");
    let pruned = hookgate::retention::prune_once(catalog, now + 31 * 24 * 3_600_000, month)
        .await
        .expect("prunes");
    assert_eq!((pruned.messages, pruned.deliveries), (1, 1));
    assert_eq!(
        gateway
            .admin("GET", &format!("/v1/messages/{delivered}"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        gateway
            .admin("GET", &format!("/v1/messages/{retrying}"), None)
            .await
            .0,
        200
    );
}
