//! Claims on deliveries as the worker uses them: renewed while an attempt
//! runs, so a long attempt is not taken over and sent twice; and when a
//! claim was taken over anyway (here by an operator's replay), the old
//! attempt's outcome is dropped and counted, and the delivery is sent again
//! at once rather than after a lease.

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually};

/// `hookgate_delivery_stale_outcomes_total` for `endpoint`, 0 when absent.
async fn stale_outcomes(gateway: &TestGateway, endpoint: &str) -> u64 {
    let text = gateway.metrics_text().await;
    let series = format!("hookgate_delivery_stale_outcomes_total{{endpoint=\"{endpoint}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_outlasts_its_lease_keeps_its_claim_and_is_recorded() {
    let receiver = TestReceiver::start().await;
    // A lease of 1.1 s (the 1 s timeout and a 100 ms margin); one attempt
    // at a time, so the third delivery waits about 2 s for the slot and is
    // in flight for about 3 s, across several passes of the loop.
    let config = format!(
        r#"
[server]
lease_margin = "100ms"

[server.targets]
allow_http = true
allow_loopback = true

[[source]]
name = "calls"

[[endpoint]]
name = "slow"
url = "{url}"
event_types = ["*"]
max_in_flight = 1
timeout = "1s"
retry = {{ schedule = ["1h"] }}
"#,
        url = receiver.url
    );
    let gateway = TestGateway::start(&config).await;
    receiver.hold();
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, json) = gateway.post("calls", format!("{{\"n\":{n}}}"), &[]).await;
        assert_eq!(status, 202);
        ids.push(json["id"].as_str().expect("id").to_owned());
    }
    let store = gateway.store();
    for id in &ids {
        eventually("each attempt times out and is recorded", || async {
            let deliveries = store.deliveries_of(id).await.expect("reads");
            (deliveries.first()?.attempts.len() == 1).then_some(())
        })
        .await;
    }
    assert_eq!(
        stale_outcomes(&gateway, "slow").await,
        0,
        "no claim lapsed while its attempt ran"
    );
    assert_eq!(receiver.received().len(), 3, "each was sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_during_an_attempt_drops_its_outcome_and_sends_it_again_at_once() {
    let receiver = TestReceiver::start().await;
    let config = admin_config(
        "",
        &format!(
            r#"
[[endpoint]]
name = "held"
url = "{url}"
event_types = ["*"]
"#,
            url = receiver.url
        ),
    );
    let gateway = TestGateway::start(&config).await;
    receiver.hold();
    let (_, message) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    let message = message["id"].as_str().expect("id").to_owned();
    receiver.wait_for(1).await;
    let store = gateway.store();
    let delivery = store.deliveries_of(&message).await.expect("reads")[0]
        .id
        .clone();
    let (status, _) = gateway
        .admin("POST", &format!("/v1/deliveries/{delivery}/replay"), None)
        .await;
    assert_eq!(status, 202);
    receiver.release();
    // The lease is 40 s: within the 10 s wait only if the replay's claim
    // is released when the attempt in flight ends.
    receiver.wait_for(2).await;
    let recorded = eventually("the replay's attempt is recorded", || async {
        let found = store.delivery(&delivery).await.expect("reads")?;
        matches!(
            found.state,
            hookgate::store::DeliveryState::Delivered { .. }
        )
        .then_some(found)
    })
    .await;
    assert_eq!(
        recorded.attempts.len(),
        1,
        "the attempt the replay overtook is not recorded: {:?}",
        recorded.attempts
    );
    assert_eq!(stale_outcomes(&gateway, "held").await, 1);
}
