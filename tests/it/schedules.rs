//! Retry schedules as a provider states them, followed with injected time:
//! Roark promises retries 1 minute, 10 minutes and 1 hour after a failed
//! attempt; with `jitter = false` they go at exactly those times, and an
//! open circuit breaker does not bend a fixed schedule.

use serde_json::{Value, json};

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually};

/// The delivery `id` with its attempts.
async fn delivery(gateway: &TestGateway, id: &str) -> Value {
    let (status, d) = gateway
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await;
    assert_eq!(status, 200, "{d}");
    d
}

#[tokio::test]
async fn roarks_schedule_without_jitter_is_followed_to_the_millisecond_through_an_open_circuit() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let extra = format!(
        r#"
[[endpoint]]
name = "roark"
url = "{url}"
event_types = ["call.*"]
retry = {{ schedule = ["1m", "10m", "1h"], jitter = false }}
circuit_breaker = {{ failures = 2, probe_interval = "5m", disable_after = "1d" }}
"#,
        url = receiver.url,
    );
    let gateway = TestGateway::start(&admin_config("", &extra)).await;
    let (status, reply) = gateway
        .post(
            "calls",
            json!({"type": "call.completed", "data": {"call_id": "c1"}}).to_string(),
            &[],
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    receiver.wait_for(1).await;
    let id = eventually("the first attempt is recorded", || async {
        let d = gateway.deliveries("endpoint=roark").await;
        let d = d.first()?;
        (d["attempt_count"] == 1 && d["status"] == "retrying")
            .then(|| d["id"].as_str().map(str::to_owned))?
    })
    .await;
    let first = delivery(&gateway, &id).await["attempts"][0]["at"]
        .as_u64()
        .expect("the first attempt's time");

    // Each retry is due exactly its delay after the attempt before it,
    // not a millisecond earlier; the breaker opens after the second
    // failure and holds nothing back.
    let deliverer = gateway.deliverer();
    let mut at = first;
    for (retry, delay) in [60_000, 600_000, 3_600_000].into_iter().enumerate() {
        let due = delivery(&gateway, &id).await["next_attempt_at"]
            .as_u64()
            .expect("a retry is due");
        assert_eq!(due, at + delay, "retry {} due {delay} ms after", retry + 1);
        assert_eq!(deliverer.deliver_due(due - 1).await.expect("runs"), 0);
        assert_eq!(deliverer.deliver_due(due).await.expect("runs"), 1);
        assert_eq!(receiver.received().len(), retry + 2);
        at = due;
    }
    let done = delivery(&gateway, &id).await;
    assert_eq!(done["status"], "dead", "{done}");
    let times: Vec<u64> = done["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["at"].as_u64().expect("at"))
        .collect();
    assert_eq!(
        times,
        [first, first + 60_000, first + 660_000, first + 4_260_000],
        "four attempts in all, at the promised times"
    );
    let (_, endpoint) = gateway.admin("GET", "/v1/endpoints/roark", None).await;
    assert_eq!(endpoint["circuit"]["state"], "open", "{endpoint}");
    assert_eq!(endpoint["circuit"]["failures"], 4, "{endpoint}");
}
