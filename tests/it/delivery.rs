//! End to end: seed fixtures ingested with their providers' authentication,
//! run through plugins, delivered and verified at a receiver with an
//! independent Standard Webhooks verifier; retries driven by injected time.

use hookgate::store::{DeliveryState, MessageStatus};
use serde_json::Value;

use crate::harness::{TestGateway, TestReceiver, eventually, fixture, hmac_hex, wasm};

const WHSEC: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn config(receiver: &TestReceiver, retry: &str) -> String {
    format!(
        r#"
[server.targets]
allow_http = true
allow_loopback = true

[[source]]
name = "roark"
event_type = {{ pointer = "/event" }}
auth = {{ type = "hmac", header = "X-Roark-Signature", secrets = ["roark-secret"] }}

[[source]]
name = "callcov"
event_type = {{ pointer = "/status" }}
idempotency_key = {{ pointer = "/id" }}
auth = {{ type = "hmac", header = "X-CallCov-Signature", secrets = ["callcov-secret"] }}

[[source]]
name = "callintel"
event_type = {{ pointer = "/event_type" }}
idempotency_key = {{ pointer = "/webhook_id" }}
auth = {{ type = "hmac", header = "X-Callintel-Signature", secrets = ["callintel-secret"] }}

[[source]]
name = "voicekit"
event_type = {{ pointer = "/event" }}

[[plugin]]
name = "normalizer"
file = "{normalizer}"

[[plugin]]
name = "summary"
file = "{summary}"

[[route]]
source = "roark"
plugins = ["normalizer"]

[[route]]
source = "callcov"
plugins = ["normalizer"]

[[route]]
source = "callintel"
plugins = ["normalizer"]

[[route]]
source = "voicekit"
plugins = ["summary"]

[[endpoint]]
name = "receiver"
url = "{url}"
event_types = ["*"]
signing = {{ scheme = "standard-webhooks", secrets = ["{WHSEC}"] }}
{retry}
"#,
        normalizer = wasm("provider-normalizer").display(),
        summary = wasm("livekit-summary").display(),
        url = receiver.url,
    )
}

/// A source, a fixture, and the signature header with its secret.
type Fixture = (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

const FIXTURES: [Fixture; 4] = [
    (
        "roark",
        "roark/call.analysis.completed.json",
        Some(("X-Roark-Signature", "roark-secret")),
    ),
    (
        "callcov",
        "callcov/analysis.completed.json",
        Some(("X-CallCov-Signature", "callcov-secret")),
    ),
    (
        "callintel",
        "callintel/call.completed.json",
        Some(("X-Callintel-Signature", "callintel-secret")),
    ),
    ("voicekit", "voicekit/call_finalized.json", None),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_fixture_arrives_signed_and_transformed() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let mut ids = Vec::new();
    for (source, path, auth) in FIXTURES {
        let body = fixture(path);
        let signature = auth.map(|(header, secret)| (header, hmac_hex(secret, &body)));
        let headers: Vec<(&str, &str)> = signature.iter().map(|(h, s)| (*h, s.as_str())).collect();
        let (status, json) = gateway.post(source, body, &headers).await;
        assert_eq!(status, 202, "{source}: {json}");
        ids.push(json["id"].as_str().expect("id").to_owned());
    }
    let received = receiver.wait_for(FIXTURES.len()).await;
    let verifier = standardwebhooks::Webhook::new(WHSEC).expect("secret");
    let mut by_id = std::collections::HashMap::new();
    for request in &received {
        verifier
            .verify(&request.body, &request.headers)
            .expect("the signature verifies independently");
        let id = request.headers["webhook-id"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        by_id.insert(
            id,
            serde_json::from_slice::<Value>(&request.body).expect("JSON body"),
        );
    }
    for (id, (source, _, _)) in ids.iter().zip(FIXTURES) {
        let body = &by_id[id];
        if source == "voicekit" {
            assert_eq!(body["recording_duration_seconds"], 88.757, "{body}");
            assert_eq!(body["size_bytes"], 1_442_477);
        } else {
            assert_eq!(body["provider"], source, "{body}");
            assert!(body["idempotency_key"].is_string(), "{body}");
        }
    }
}

#[tokio::test]
async fn the_vectors_verify_with_the_independent_verifier_too() {
    let vectors: Value =
        serde_json::from_slice(&fixture("standard-webhooks-vectors.json")).expect("JSON");
    let mut checked = 0;
    for v in vectors["valid"].as_array().expect("list") {
        let secret = v["secret"].as_str().expect("secret");
        // The verifier may refuse a secret shorter than the spec's 24 bytes
        // (the third vector's is 18); the gateway's own known-answer test
        // covers that one.
        let Ok(verifier) = standardwebhooks::Webhook::new(secret) else {
            continue;
        };
        checked += 1;
        let signature = hookgate::signing::standard::sign(
            &hookgate::signing::SigningSecret::parse(secret).expect("parses"),
            v["msg_id"].as_str().expect("id"),
            v["timestamp"].as_i64().expect("timestamp"),
            v["payload"].as_str().expect("payload").as_bytes(),
        );
        let expected = verifier
            .sign(
                v["msg_id"].as_str().expect("id"),
                v["timestamp"].as_i64().expect("timestamp"),
                v["payload"].as_str().expect("payload").as_bytes(),
            )
            .expect("signs");
        assert_eq!(signature, expected);
        assert_eq!(signature, v["signature"].as_str().expect("signature"));
    }
    assert!(
        checked >= 2,
        "only {checked} vectors were checked against the verifier"
    );
}

/// Posts the VoiceKit fixture (no auth) and waits for its delivery's first
/// attempt to be recorded; returns the delivery id.
async fn first_attempt(gateway: &TestGateway) -> String {
    let (status, json) = gateway
        .post("voicekit", fixture("voicekit/call_started.json"), &[])
        .await;
    assert_eq!(status, 202);
    let id = json["id"].as_str().expect("id").to_owned();
    let store = gateway.store();
    eventually("the first attempt to be recorded", || async {
        let deliveries = store.deliveries_of(&id).await.expect("reads");
        deliveries
            .first()
            .filter(|d| !d.attempts.is_empty())
            .map(|d| d.id.clone())
    })
    .await
}

async fn delivery(gateway: &TestGateway, id: &str) -> hookgate::store::Delivery {
    gateway
        .store()
        .delivery(id)
        .await
        .expect("reads")
        .expect("exists")
}

fn due(state: &DeliveryState) -> u64 {
    match state {
        DeliveryState::Scheduled { at } => *at,
        other => panic!("expected a scheduled retry, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_retried_on_schedule_with_the_same_webhook_id() {
    let receiver = TestReceiver::start().await;
    receiver.answer(503);
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let id = first_attempt(&gateway).await;
    let failed = delivery(&gateway, &id).await;
    assert_eq!(failed.attempts[0].status, Some(503));
    let retry_at = due(&failed.state);
    let delay = retry_at - failed.attempts[0].at;
    assert!(
        (4_000..=6_000).contains(&delay),
        "first retry after 5 s ± 20%, got {delay} ms"
    );

    receiver.answer(200);
    assert_eq!(
        gateway
            .deliverer()
            .deliver_due(retry_at - 1)
            .await
            .expect("runs"),
        0,
        "not due yet"
    );
    assert_eq!(
        gateway
            .deliverer()
            .deliver_due(retry_at)
            .await
            .expect("runs"),
        1
    );
    let done = delivery(&gateway, &id).await;
    assert_eq!(done.state, DeliveryState::Delivered { at: retry_at });
    assert_eq!(done.attempts.len(), 2);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    assert_ne!(
        got[0].headers["webhook-timestamp"],
        got[1].headers["webhook-timestamp"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let receiver = TestReceiver::start().await;
    receiver.answer(429);
    receiver.retry_after("120");
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let id = first_attempt(&gateway).await;
    let failed = delivery(&gateway, &id).await;
    assert_eq!(due(&failed.state) - failed.attempts[0].at, 120_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_honoured() {
    let receiver = TestReceiver::start().await;
    receiver.answer(503);
    let when = std::time::SystemTime::now() + std::time::Duration::from_secs(300);
    receiver.retry_after(&httpdate::fmt_http_date(when));
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let id = first_attempt(&gateway).await;
    let failed = delivery(&gateway, &id).await;
    // The retry is due at the date (whole seconds, so up to a second before
    // `when`), less the time the answer took: the delay runs from when the
    // answer came to the date, from the attempt's start.
    let date = when
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        * 1000;
    let at = due(&failed.state);
    let latency = failed.attempts[0].latency_ms;
    assert!(
        at <= date + 50 && at + latency + 50 >= date,
        "due at {at}, the date is {date}, the answer took {latency} ms"
    );
    assert!(at - failed.attempts[0].at > 290_000, "not the default 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_land_in_the_dead_letter_with_every_attempt() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let retry = "[endpoint.retry]\nschedule = [\"1h\", \"2h\"]\n";
    let gateway = TestGateway::start(&config(&receiver, retry)).await;
    let id = first_attempt(&gateway).await;
    for expected_attempts in [2, 3] {
        let at = due(&delivery(&gateway, &id).await.state);
        assert_eq!(gateway.deliverer().deliver_due(at).await.expect("runs"), 1);
        assert_eq!(
            delivery(&gateway, &id).await.attempts.len(),
            expected_attempts
        );
    }
    let dead = delivery(&gateway, &id).await;
    match &dead.state {
        DeliveryState::Dead { reason, .. } => {
            assert_eq!(reason, "gave up after 3 attempts; the last: HTTP 500");
        }
        other => panic!("expected dead, got {other:?}"),
    }
    assert!(
        dead.attempts
            .iter()
            .all(|a| a.status == Some(500) && a.response_body == "ok")
    );
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_and_stops_its_retries() {
    let receiver = TestReceiver::start().await;
    receiver.answer(410);
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let id = first_attempt(&gateway).await;
    assert!(matches!(
        delivery(&gateway, &id).await.state,
        DeliveryState::Dead { ref reason, .. } if reason.contains("410 Gone")
    ));
    receiver.answer(200);
    let second = first_attempt(&gateway).await;
    assert!(matches!(
        delivery(&gateway, &second).await.state,
        DeliveryState::Dead { ref reason, .. } if reason.contains("disabled")
    ));
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing is sent to a disabled endpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_failure_dead_letters_the_message_with_the_classified_error() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let mut payload: Value =
        serde_json::from_slice(&fixture("voicekit/call_finalized.json")).expect("JSON");
    payload["data"]["egress_info"]["duration"] = "soon".into();
    let (_, json) = gateway.post("voicekit", payload.to_string(), &[]).await;
    let id = json["id"].as_str().expect("id").to_owned();
    let store = gateway.store();
    eventually("the pipeline to finish", || async {
        (store.pipeline_count().await.expect("counts") == 0).then_some(())
    })
    .await;
    let message = store.message(&id).await.expect("reads").expect("stored");
    match message.status {
        MessageStatus::Failed {
            plugin,
            kind,
            error,
        } => {
            assert_eq!(
                (plugin.as_str(), kind.as_str()),
                ("summary", "plugin_error")
            );
            assert!(error.contains("data.egress_info.duration"), "{error}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert!(store.deliveries_of(&id).await.expect("reads").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_pending_at_shutdown_are_delivered_after_a_restart() {
    let receiver = TestReceiver::start().await;
    receiver.answer(503);
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let id = first_attempt(&gateway).await;
    let retry_at = due(&delivery(&gateway, &id).await.state);

    let gateway = gateway.restart().await;
    receiver.answer(200);
    assert_eq!(
        gateway
            .deliverer()
            .deliver_due(retry_at)
            .await
            .expect("runs"),
        1
    );
    assert!(matches!(
        delivery(&gateway, &id).await.state,
        DeliveryState::Delivered { .. }
    ));
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_ingest_plugins_deliveries_and_queues() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    let body = fixture("callintel/call.completed.json");
    let signature = hmac_hex("callintel-secret", &body);
    let (status, _) = gateway
        .post(
            "callintel",
            body.clone(),
            &[("X-Callintel-Signature", &signature)],
        )
        .await;
    assert_eq!(status, 202);
    let (status, _) = gateway.post("callintel", body, &[]).await;
    assert_eq!(status, 401);
    let (status, _) = gateway.post("no-such-source", "{}", &[]).await;
    assert_eq!(status, 404);
    receiver.wait_for(1).await;
    let store = gateway.store();
    eventually("the attempt to be recorded", || async {
        (store.scheduled_count().await.expect("counts") == 0).then_some(())
    })
    .await;

    let text = gateway.metrics_text().await;
    for line in [
        "hookgate_ingested_total{source=\"callintel\"} 1",
        "hookgate_ingest_rejected_total{source=\"callintel\",reason=\"missing_signature\"} 1",
        "hookgate_ingest_rejected_total{source=\"(unknown)\",reason=\"unknown_source\"} 1",
        "hookgate_plugin_invocations_total{plugin=\"normalizer\",outcome=\"ok\"} 1",
        "hookgate_delivery_attempts_total{endpoint=\"receiver\",outcome=\"delivered\"} 1",
        "hookgate_queue_depth{queue=\"pipeline\"} 0",
        "hookgate_queue_depth{queue=\"deliveries\"} 0",
        "hookgate_oldest_due_seconds 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.contains("hookgate_delivery_attempt_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("hookgate_plugin_invocation_seconds_count{plugin=\"normalizer\"} 1"),
        "{text}"
    );
}
