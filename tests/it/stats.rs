//! `GET /v1/stats/deliveries`: the statistics a dashboard shows, computed
//! from the stored log, so a restarted gateway answers the same.

use serde_json::json;

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually, now_millis};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_stats_count_outcomes_per_endpoint_and_survive_a_restart() {
    let good = TestReceiver::start().await;
    let bad = TestReceiver::start().await;
    bad.answer(500);
    let extra = format!(
        r#"
[[endpoint]]
name = "good"
url = "{good}"

[[endpoint]]
name = "bad"
url = "{bad}"
retry = {{ schedule = ["1h"] }}
"#,
        good = good.url,
        bad = bad.url,
    );
    let gateway = TestGateway::start(&admin_config("", &extra)).await;
    let since = now_millis();
    for call in ["c1", "c2", "c3"] {
        let event = json!({"type": "call.completed", "data": {"call_id": call}});
        let (status, reply) = gateway.post("calls", event.to_string(), &[]).await;
        assert_eq!(status, 202, "{reply}");
    }
    good.wait_for(3).await;
    bad.wait_for(3).await;
    let query = format!("/v1/stats/deliveries?since={since}&bucket=1m");
    let stats = eventually("every first attempt is recorded", || async {
        let (status, stats) = gateway.admin("GET", &query, None).await;
        assert_eq!(status, 200, "{stats}");
        (stats["total"]["attempts"] == 6).then_some(stats)
    })
    .await;
    assert_eq!(stats["complete"], true);
    assert_eq!(stats["total"]["succeeded"], 3, "{stats}");
    assert_eq!(stats["total"]["failed"], 3, "{stats}");
    assert_eq!(stats["total"]["success_rate"], 0.5, "{stats}");
    assert!(stats["total"]["latency_ms"]["p95"].is_u64(), "{stats}");
    let endpoints = stats["endpoints"].as_array().expect("per endpoint");
    let names: Vec<&str> = endpoints
        .iter()
        .map(|e| e["endpoint"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["bad", "good"]);
    assert_eq!(endpoints[0]["deliveries"]["retrying"], 3, "{stats}");
    assert_eq!(endpoints[0]["success_rate"], 0.0, "{stats}");
    assert_eq!(endpoints[1]["deliveries"]["delivered"], 3, "{stats}");
    assert_eq!(endpoints[1]["success_rate"], 1.0, "{stats}");
    let buckets = stats["total"]["buckets"].as_array().expect("buckets");
    let counted: u64 = buckets
        .iter()
        .map(|b| b["attempts"].as_u64().expect("a count"))
        .sum();
    assert_eq!(counted, 6, "each attempt in one bucket");
    // What waits now: the three retries, due in about an hour (the retry
    // schedule's jitter takes up to a fifth off), none overdue.
    assert_eq!(stats["queue"]["pipeline"], 0, "{stats}");
    assert_eq!(stats["queue"]["scheduled"], 3, "{stats}");
    assert!(
        stats["queue"]["next_due_at"]
            .as_u64()
            .is_some_and(|at| at > now_millis() + 2_400_000),
        "{stats}"
    );
    assert_eq!(stats["queue"]["oldest_due_ms"], 0, "{stats}");

    // The same from the store after a restart, for the same window.
    let until = stats["until"].as_u64().expect("until");
    let fixed = format!("/v1/stats/deliveries?since={since}&until={until}&bucket=1m");
    let (_, before) = gateway.admin("GET", &fixed, None).await;
    let gateway = gateway.restart().await;
    let (status, after) = gateway.admin("GET", &fixed, None).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after, before);

    // One endpoint's alone, and a bucket too narrow for the window refused.
    let (_, only) = gateway
        .admin(
            "GET",
            &format!("/v1/stats/deliveries?since={since}&endpoint=good"),
            None,
        )
        .await;
    assert_eq!(only["total"]["attempts"], 3, "{only}");
    let (status, body) = gateway
        .admin(
            "GET",
            "/v1/stats/deliveries?since=2026-01-01T00:00:00Z&bucket=1s",
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_field");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("bucket")),
        "{body}"
    );
}
