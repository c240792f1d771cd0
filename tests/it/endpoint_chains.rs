//! Endpoints' own plugin chains (`plugins` on an endpoint): each receiver
//! gets its own payload shape, a drop skips only that endpoint's delivery
//! (recorded as skipped, never sent), a failure dead-letters the message
//! until it is reprocessed, and a plugin an endpoint uses is not deleted.

use serde_json::{Value, json};

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually, fixture, wasm};

const VOICEKIT: &str = r#"
[[source]]
name = "voicekit"
event_type = { pointer = "/event" }
"#;

async fn create_endpoint(gateway: &TestGateway, spec: Value) {
    let (status, body) = gateway.admin("POST", "/v1/endpoints", Some(spec)).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_gets_its_own_shape_and_a_drop_skips_only_its_delivery() {
    let raw = TestReceiver::start().await;
    let summary = TestReceiver::start().await;
    let inbound = TestReceiver::start().await;
    let gateway = TestGateway::start(&admin_config("", VOICEKIT)).await;
    let (status, body) = gateway
        .deploy("summary", &wasm("livekit-summary"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .deploy(
            "inbound-only",
            &wasm("call-filter"),
            &[("direction", "inbound")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    create_endpoint(&gateway, json!({"name": "raw", "url": raw.url})).await;
    create_endpoint(
        &gateway,
        json!({"name": "summary", "url": summary.url, "plugins": ["summary"]}),
    )
    .await;
    create_endpoint(
        &gateway,
        json!({"name": "inbound", "url": inbound.url, "plugins": ["inbound-only"]}),
    )
    .await;

    let original = fixture("voicekit/call_finalized.json");
    let (status, reply) = gateway.post("voicekit", original.clone(), &[]).await;
    assert_eq!(status, 202, "{reply}");
    let id = reply["id"].as_str().expect("id").to_owned();

    // The endpoint without a chain gets the event as it came; the one
    // with the summary plugin gets the summary, under its event type.
    let got = raw.wait_for(1).await;
    assert_eq!(got[0].body, original);
    let got = summary.wait_for(1).await;
    let sent: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(sent["recording_duration_seconds"], 88.757, "{sent}");

    // The filter dropped the event for its endpoint alone: a skipped
    // delivery, with the plugin and its reason, and nothing sent.
    let skipped = eventually("the inbound endpoint's delivery is skipped", || async {
        let items = gateway.deliveries("endpoint=inbound").await;
        (items.len() == 1 && items[0]["status"] == "skipped").then(|| items[0].clone())
    })
    .await;
    assert_eq!(skipped["message_id"], id.as_str());
    assert_eq!(skipped["skipped"]["plugin"], "inbound-only", "{skipped}");
    let reason = skipped["skipped"]["reason"].as_str().expect("a reason");
    assert!(reason.contains("direction"), "{reason}");
    assert_eq!(skipped["attempt_count"], 0);
    assert!(inbound.received().is_empty());
    let listed = gateway.deliveries("status=skipped").await;
    assert_eq!(listed.len(), 1);

    // The summary's delivery records what it sends.
    let shaped = gateway.deliveries("endpoint=summary").await;
    assert_eq!(shaped[0]["event_type"], "call.summary", "{}", shaped[0]);
    let (status, detail) = gateway
        .admin(
            "GET",
            &format!("/v1/deliveries/{}", shaped[0]["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    let recorded: Value =
        serde_json::from_str(detail["body"].as_str().expect("its own body")).expect("JSON");
    assert_eq!(recorded, sent);

    // A skipped delivery is not sent by a replay.
    let (status, body) = gateway
        .admin(
            "POST",
            &format!(
                "/v1/deliveries/{}/replay",
                skipped["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );

    // The plugins an endpoint uses say so, and are not deleted from under it.
    let (_, plugin) = gateway.admin("GET", "/v1/plugins/summary", None).await;
    assert_eq!(plugin["used_by_endpoints"], json!(["summary"]), "{plugin}");
    let (status, body) = gateway.admin("DELETE", "/v1/plugins/summary", None).await;
    assert_eq!(status, 409, "{body}");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("summary"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_plugin_dead_letters_the_message_until_it_is_reprocessed() {
    let crm = TestReceiver::start().await;
    let gateway = TestGateway::start(&admin_config("", "")).await;
    // Version 1 delivers to an endpoint that does not exist: it fails.
    let (status, body) = gateway
        .deploy("shape", &wasm("scripted"), &[("deliver_to", "nope")])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(json!({"name": "crm", "url": crm.url, "plugins": ["missing"]})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field")),
        "{body}"
    );
    assert!(body.to_string().contains("plugins[0]"), "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"missing\"")),
        "{body}"
    );
    create_endpoint(
        &gateway,
        json!({"name": "crm", "url": crm.url, "plugins": ["shape"]}),
    )
    .await;

    let (_, reply) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    let id = reply["id"].as_str().expect("id").to_owned();
    let failed = eventually("the message fails in the endpoint's plugin", || async {
        let (_, m) = gateway
            .admin("GET", &format!("/v1/messages/{id}"), None)
            .await;
        (m["outcome"]["status"] == "failed").then_some(m)
    })
    .await;
    assert_eq!(failed["outcome"]["plugin"], "shape", "{failed}");
    let error = failed["outcome"]["error"].as_str().expect("an error");
    assert!(error.contains("endpoint crm"), "{error}");

    // Version 2 stamps the event: reprocessing runs the endpoint's chain
    // again, and the endpoint gets the stamped event once.
    let (status, body) = gateway
        .admin(
            "PUT",
            "/v1/plugins/shape/config",
            Some(json!({"config": {"stamp": "v2"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .admin("POST", &format!("/v1/messages/{id}/reprocess"), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let got = crm.wait_for(1).await;
    let sent: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(sent["stamps"], json!(["v2"]), "{sent}");
}
