//! Plugin-failed messages can be reprocessed: listed as failed, and run
//! again on the plugin versions in force now, their new outcome replacing
//! the failure.

use serde_json::json;

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually, wasm};

#[tokio::test]
async fn a_plugin_failed_message_runs_again_on_the_current_version() {
    let receiver = TestReceiver::start().await;
    let endpoint = format!("[[endpoint]]\nname = \"crm\"\nurl = \"{}\"\n", receiver.url);
    let gateway = TestGateway::start(&admin_config("", &endpoint)).await;
    // Version 1 names an endpoint that does not exist: every event fails.
    let (status, body) = gateway
        .deploy("flow", &wasm("scripted"), &[("deliver_to", "nope")])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["flow"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, reply) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    let id = reply["id"].as_str().expect("id").to_owned();
    let failed = eventually("the message fails in the plugin", || async {
        let (_, page) = gateway
            .admin("GET", "/v1/messages?status=failed", None)
            .await;
        let items = page["items"].as_array()?.clone();
        (items.len() == 1).then_some(items)
    })
    .await;
    assert_eq!(failed[0]["id"], id.as_str());
    assert_eq!(failed[0]["outcome"]["plugin"], "flow", "{}", failed[0]);
    // The message records how the plugin failed, with the version that ran.
    let (_, first) = gateway
        .admin("GET", &format!("/v1/messages/{id}"), None)
        .await;
    let (_, plugin) = gateway.admin("GET", "/v1/plugins/flow", None).await;
    assert_eq!(first["steps"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(first["steps"][0]["plugin"], "flow");
    assert_eq!(first["steps"][0]["hash"], plugin["hash"]);
    assert_eq!(
        first["steps"][0]["action"],
        json!({
            "decision": "failed",
            "kind": "invalid_result",
            "error": "plugin returned an invalid result: target names unknown endpoint \"nope\"",
        }),
        "{first}"
    );

    // Version 2 stamps the event and lets routing deliver it.
    let (status, body) = gateway
        .admin(
            "PUT",
            "/v1/plugins/flow/config",
            Some(json!({"config": {"stamp": "v2"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .admin("POST", &format!("/v1/messages/{id}/reprocess"), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let got = receiver.wait_for(1).await;
    let sent: serde_json::Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(sent["stamps"], json!(["v2"]), "run on version 2");
    let shown = eventually("the new outcome replaces the failure", || async {
        let (_, m) = gateway
            .admin("GET", &format!("/v1/messages/{id}"), None)
            .await;
        (m["outcome"]["status"] == "routed").then_some(m)
    })
    .await;
    assert_eq!(
        shown["deliveries"].as_array().map(Vec::len),
        Some(1),
        "{shown}"
    );
    // The new run's step replaces the failed run's.
    let step = &shown["steps"][0]["action"];
    assert_eq!(step["decision"], "continued", "{shown}");
    assert!(
        step["body_bytes"].as_u64().is_some_and(|n| n > 0),
        "{shown}"
    );
    assert_eq!(shown["steps"].as_array().map(Vec::len), Some(1), "{shown}");

    // Only a failed message is reprocessed.
    let (status, body) = gateway
        .admin("POST", &format!("/v1/messages/{id}/reprocess"), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, body) = gateway
        .admin("POST", "/v1/messages/msg_nope/reprocess", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    assert_eq!(receiver.received().len(), 1);
}
