//! Operator alerts beside `endpoint.disabled`, each delivered once to the
//! operator endpoint: `endpoint.circuit_opened`, `endpoint.failure_rate`,
//! `delivery.dead` and `endpoint.recovered`, with injected time for the
//! retries.

use serde_json::{Value, json};

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually};

#[tokio::test]
async fn a_failing_endpoint_raises_each_alert_once_and_its_recovery_too() {
    let flaky = TestReceiver::start().await;
    flaky.answer(500);
    let operator = TestReceiver::start().await;
    let extra = format!(
        r#"
[[endpoint]]
name = "flaky"
url = "{flaky}"
event_types = ["call.*"]
retry = {{ schedule = ["1m"], jitter = false }}
circuit_breaker = {{ failures = 2, probe_interval = "1m" }}
failure_alert = {{ rate = 0.5, window = "1h", min_attempts = 2 }}

[[endpoint]]
name = "ops"
url = "{ops}"
event_types = []
"#,
        flaky = flaky.url,
        ops = operator.url,
    );
    let gateway = TestGateway::start(&admin_config("operator_endpoint = \"ops\"", &extra)).await;
    let post = |n: u64| {
        let gateway = &gateway;
        async move {
            let body = json!({"type": "call.completed", "n": n}).to_string();
            let (status, reply) = gateway.post("calls", body, &[]).await;
            assert_eq!(status, 202, "{reply}");
        }
    };
    // Two failures in a row: the circuit opens and half or more failed.
    post(1).await;
    post(2).await;
    flaky.wait_for(2).await;
    let retrying = eventually("both deliveries wait for their retry", || async {
        let d = gateway.deliveries("endpoint=flaky&status=retrying").await;
        (d.len() == 2).then_some(d)
    })
    .await;
    let got = operator.wait_for(2).await;
    let types: Vec<String> = got.iter().map(event_type).collect();
    assert!(
        types.contains(&"endpoint.circuit_opened".to_owned()),
        "{types:?}"
    );
    assert!(
        types.contains(&"endpoint.failure_rate".to_owned()),
        "{types:?}"
    );
    let rate = got
        .iter()
        .map(body)
        .find(|e| e["type"] == "endpoint.failure_rate");
    let rate = rate.expect("the failure rate alert");
    assert_eq!(
        (
            &rate["data"]["attempts"],
            &rate["data"]["failed"],
            &rate["data"]["threshold"]
        ),
        (&json!(2), &json!(2), &json!(0.5)),
        "{rate}"
    );

    // Both alerts delivered before time jumps ahead (a pass at a time past
    // their claims' leases would take them as abandoned and send them again).
    eventually("the alerts' deliveries are recorded", || async {
        let d = gateway.deliveries("endpoint=ops&status=delivered").await;
        (d.len() == 2).then_some(())
    })
    .await;

    // Their one retry fails too: each is dead, and the operator hears of
    // each once.
    let due = retrying
        .iter()
        .filter_map(|d| d["next_attempt_at"].as_u64())
        .max()
        .expect("due");
    let deliverer = gateway.deliverer();
    assert_eq!(deliverer.deliver_due(due).await.expect("runs"), 2);
    let dead_now = gateway.deliveries("endpoint=flaky&status=dead").await;
    assert_eq!(dead_now.len(), 2, "{dead_now:?}");
    let dead: Vec<Value> = eventually("two delivery.dead events", || async {
        let dead: Vec<Value> = operator
            .received()
            .iter()
            .map(body)
            .filter(|e| e["type"] == "delivery.dead")
            .collect();
        (dead.len() == 2).then_some(dead)
    })
    .await;
    for event in &dead {
        let data = &event["data"];
        assert_eq!(
            (&data["endpoint"], &data["attempts"], &data["last_status"]),
            (&json!("flaky"), &json!(2), &json!(500)),
            "{event}"
        );
        assert!(
            data["delivery_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("dlv_"))
        );
    }

    // The endpoint answers again: the circuit closes, and that is told too.
    flaky.answer(200);
    post(3).await;
    flaky.wait_for(5).await;
    let got = operator.wait_for(5).await;
    let recovered = got
        .iter()
        .map(body)
        .find(|e| e["type"] == "endpoint.recovered");
    let all: Vec<String> = got.iter().map(event_type).collect();
    let recovered = recovered.unwrap_or_else(|| panic!("no endpoint.recovered: {all:?}"));
    assert_eq!(recovered["data"]["endpoint"], "flaky");
    eventually("every alert's delivery is recorded", || async {
        let d = gateway.deliveries("endpoint=ops&status=delivered").await;
        (d.len() == 5).then_some(())
    })
    .await;
    assert_eq!(operator.received().len(), 5, "each alert once");
}

fn body(request: &crate::harness::Received) -> Value {
    serde_json::from_slice(&request.body).expect("JSON")
}

fn event_type(request: &crate::harness::Received) -> String {
    body(request)["type"].as_str().unwrap_or("").to_owned()
}
