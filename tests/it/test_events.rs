//! Test events as providers offer them: the chosen provider event's sample
//! payload, sent to one endpoint alone, signed, kept in the delivery log
//! marked as a test and retried like any delivery; from the API and the
//! command line.

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually, fixture};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A gateway with the endpoint `crm` (signed with [`WHSEC`]) and `other`,
/// both subscribed to every event type.
async fn gateway(crm: &TestReceiver, other: &TestReceiver) -> TestGateway {
    let endpoints = format!(
        "[[endpoint]]\nname = \"crm\"\nurl = \"{}\"\nretry = {{ schedule = [\"1h\"] }}\n\
         signing = {{ scheme = \"standard-webhooks\", secrets = [\"{WHSEC}\"] }}\n\n\
         [[endpoint]]\nname = \"other\"\nurl = \"{}\"\n",
        crm.url, other.url
    );
    TestGateway::start(&admin_config("", &endpoints)).await
}

#[tokio::test]
async fn a_test_event_carries_the_provider_sample_to_one_endpoint_and_is_logged_as_a_test() {
    let (crm, other) = (TestReceiver::start().await, TestReceiver::start().await);
    let gateway = gateway(&crm, &other).await;

    let (status, samples) = gateway.admin("GET", "/v1/samples", None).await;
    assert_eq!(status, 200, "{samples}");
    let listed: Vec<(&str, &str)> = samples
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["provider"].as_str().unwrap_or(""),
                s["event_type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        listed.contains(&("voicekit", "call_finalized")),
        "{listed:?}"
    );
    assert!(
        listed.contains(&("roark", "call.analysis.completed")),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 10, "every fixture: {listed:?}");

    let (status, result) = gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/test",
            Some(json!({"event_type": "call_finalized"})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["delivered"], true, "{result}");
    assert_eq!(result["attempt"]["status"], 200, "{result}");
    let got = crm.wait_for(1).await;
    let sample: Value =
        serde_json::from_slice(&fixture("voicekit/call_finalized.json")).expect("JSON");
    let sent: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(sent, sample, "the VoiceKit sample");
    assert_eq!(got[0].headers["hookgate-test"], "true");
    standardwebhooks::Webhook::new(WHSEC)
        .expect("secret")
        .verify(&got[0].body, &got[0].headers)
        .expect("signed like any delivery");
    assert_eq!(
        got[0].headers["webhook-id"],
        result["message_id"].as_str().expect("message id")
    );

    // In the logs: the delivery marked as a test, the message from `(test)`.
    let id = result["delivery_id"].as_str().expect("delivery id");
    let (_, delivery) = gateway
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await;
    assert_eq!(
        (
            &delivery["test"],
            &delivery["status"],
            &delivery["endpoint"]
        ),
        (&json!(true), &json!("delivered"), &json!("crm")),
        "{delivery}"
    );
    let message = result["message_id"].as_str().expect("message id");
    let (_, shown) = gateway
        .admin("GET", &format!("/v1/messages/{message}"), None)
        .await;
    assert_eq!(shown["source"], "(test)", "{shown}");
    assert_eq!(shown["event_type"], "call_finalized", "{shown}");

    // A real event is no test, and goes to both.
    gateway
        .post("calls", r#"{"type":"call_finalized"}"#, &[])
        .await;
    crm.wait_for(2).await;
    let real = eventually("the real event's delivery is recorded", || async {
        let all = gateway.deliveries("endpoint=crm&limit=10").await;
        (all.len() == 2).then_some(all)
    })
    .await;
    assert_eq!(
        real.iter().filter(|d| d["test"] == true).count(),
        1,
        "{real:?}"
    );
    other.wait_for(1).await;
    assert_eq!(other.received().len(), 1, "the test went to crm alone");
    assert!(other.received()[0].headers.get("hookgate-test").is_none());
}

#[tokio::test]
async fn a_failed_test_is_retried_and_a_disabled_endpoint_refuses_tests() {
    let (crm, other) = (TestReceiver::start().await, TestReceiver::start().await);
    let gateway = gateway(&crm, &other).await;
    crm.answer(503);
    let (status, result) = gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/test",
            Some(json!({"event_type": "custom.event", "payload": {"hello": "there"}})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        (&result["delivered"], &result["attempt"]["status"]),
        (&json!(false), &json!(503)),
        "{result}"
    );
    let sent: Value = serde_json::from_slice(&crm.wait_for(1).await[0].body).expect("JSON");
    assert_eq!(sent, json!({"hello": "there"}), "the payload given");
    let id = result["delivery_id"].as_str().expect("delivery id");
    let retrying = eventually("the test is scheduled again", || async {
        let (_, d) = gateway
            .admin("GET", &format!("/v1/deliveries/{id}"), None)
            .await;
        (d["status"] == "retrying").then_some(d)
    })
    .await;
    assert!(retrying["next_attempt_at"].is_u64(), "{retrying}");

    let (status, _) = gateway
        .admin("POST", "/v1/endpoints/crm/disable", None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/test",
            Some(json!({"event_type": "call_started"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("endpoint_disabled")),
        "{body}"
    );
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints/nope/test",
            Some(json!({"event_type": "call_started"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn the_cli_sends_a_test_event_and_prints_its_attempt() {
    let (crm, other) = (TestReceiver::start().await, TestReceiver::start().await);
    let gateway = gateway(&crm, &other).await;
    let url = gateway.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
            .args([
                "endpoints",
                "test",
                "crm",
                "--event-type",
                "call.analysis.completed",
            ])
            .env("HOOKGATE_URL", url)
            .env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("joins");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("attempt")
            && l.contains("HTTP 200")
            && l.ends_with("delivered")),
        "{stdout}"
    );
    let sent: Value = serde_json::from_slice(&crm.wait_for(1).await[0].body).expect("JSON");
    assert_eq!(sent["event"], "call.analysis.completed", "the Roark sample");
}
