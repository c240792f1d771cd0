//! Synchronous hooks, as VoiceKit's `callStartedHook` uses them: a source
//! with `mode = "sync"` runs its chain, calls the one endpoint it routes to
//! and answers the caller with that endpoint's answer (or a plugin answers
//! itself), within the source's deadline; every exchange is recorded like
//! any message, and nothing is retried.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::harness::{
    TestGateway, TestReceiver, admin_config, eventually, fixture, now_millis, wasm,
};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The customer's hook server: answers a `call_started` with the runtime
/// data VoiceKit merges into the call, with a header the source passes on
/// and one it does not; records what it got.
#[derive(Clone, Default)]
struct HookServer {
    got: Arc<Mutex<Vec<(http::HeaderMap, axum::body::Bytes)>>>,
    status: Arc<std::sync::atomic::AtomicU16>,
}

impl HookServer {
    async fn start() -> (Self, String) {
        let server = Self::default();
        server
            .status
            .store(200, std::sync::atomic::Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!(
            "http://{}/call-started",
            listener.local_addr().expect("addr")
        );
        let state = server.clone();
        let app = axum::Router::new().route(
            "/call-started",
            axum::routing::post(
                |axum::extract::State(state): axum::extract::State<HookServer>,
                 headers: http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let data = &event["data"];
                    let answer = json!({
                        "runtime_data": {
                            "greeting": format!("Hello, caller from {}", data["phone_number"].as_str().unwrap_or("?")),
                            "workflow": data["workflow_slug"],
                            "stamps": event["stamps"],
                        }
                    });
                    state.got.lock().expect("lock").push((headers, body));
                    let status = state.status.load(std::sync::atomic::Ordering::SeqCst);
                    http::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .header("x-voicekit-trace", "trace-1")
                        .header("x-internal-secret", "not for the caller")
                        .body(axum::body::Body::from(answer.to_string()))
                        .expect("response")
                },
            ),
        );
        tokio::spawn(async move {
            axum::serve(listener, app.with_state(state))
                .await
                .expect("serves");
        });
        (server, url)
    }

    fn got(&self) -> Vec<(http::HeaderMap, axum::body::Bytes)> {
        self.got.lock().expect("lock").clone()
    }
}

/// `POST /v1/ingest/{source}`, the raw answer.
async fn call(gateway: &TestGateway, source: &str, body: &[u8]) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/ingest/{source}", gateway.url))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("the request completes")
}

async fn message(gateway: &TestGateway, id: &str) -> Value {
    let (status, message) = gateway
        .admin("GET", &format!("/v1/messages/{id}"), None)
        .await;
    assert_eq!(status, 200, "{message}");
    message
}

#[tokio::test]
async fn voicekits_call_started_goes_through_a_sync_source_and_the_caller_gets_the_hooks_runtime_data()
 {
    let (hook, url) = HookServer::start().await;
    let config = admin_config(
        "",
        &format!(
            r#"
[[source]]
name = "voicekit-hooks"
mode = "sync"
event_type = {{ pointer = "/event" }}
response_headers = ["x-voicekit-trace"]

[[plugin]]
name = "stamp"
file = "{stamp}"
config = {{ stamp = "normalized" }}

[[route]]
source = "voicekit-hooks"
plugins = ["stamp"]

[[endpoint]]
name = "call-started-hook"
url = "{url}"
event_types = ["call_started"]
signing = {{ scheme = "standard-webhooks", secrets = ["{WHSEC}"] }}
"#,
            stamp = wasm("scripted").display()
        ),
    );
    let gateway = TestGateway::start(&config).await;
    let started = fixture("voicekit/call_started.json");

    let answer = call(&gateway, "voicekit-hooks", &started).await;
    assert_eq!(answer.status(), 200);
    let headers = answer.headers().clone();
    assert_eq!(headers["x-voicekit-trace"], "trace-1", "allow-listed");
    assert!(
        headers.get("x-internal-secret").is_none(),
        "not allow-listed: {headers:?}"
    );
    assert_eq!(headers["content-type"], "application/json");
    let id = headers["hookgate-message-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"runtime_data": {
            "greeting": "Hello, caller from +1234567890",
            "workflow": "customer-support",
            "stamps": ["normalized"],
        }}),
        "the hook's runtime data, computed from the transformed request"
    );

    // The hook got the chain's output, signed like any delivery.
    let got = hook.got();
    assert_eq!(got.len(), 1);
    let (sent_headers, sent) = &got[0];
    let event: Value = serde_json::from_slice(sent).expect("JSON");
    assert_eq!(event["stamps"], json!(["normalized"]), "{event}");
    assert_eq!(sent_headers["webhook-id"], id.as_str());
    standardwebhooks::Webhook::new(WHSEC)
        .expect("secret")
        .verify(sent, sent_headers)
        .expect("signed like any delivery");

    // Recorded like any message: the request, the answer, the delivery
    // with its one attempt.
    let shown = message(&gateway, &id).await;
    assert_eq!(shown["status"], "answered", "{shown}");
    assert_eq!(shown["source"], "voicekit-hooks");
    assert_eq!(shown["event_type"], "call_started");
    let outcome = &shown["outcome"];
    assert_eq!(outcome["endpoint"], "call-started-hook", "{outcome}");
    assert_eq!(outcome["plugin"], Value::Null, "{outcome}");
    assert_eq!(outcome["response"]["status"], 200, "{outcome}");
    assert_eq!(outcome["response"]["body"], body, "{outcome}");
    let deliveries = shown["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 1, "{shown}");
    assert_eq!(deliveries[0]["status"], "delivered", "{shown}");
    let (_, attempts) = gateway
        .admin("GET", &format!("/v1/messages/{id}/attempts"), None)
        .await;
    assert_eq!(
        attempts.as_array().map(Vec::len),
        Some(1),
        "one attempt: {attempts}"
    );

    // A failing hook: the caller gets its answer, and it is not retried.
    hook.status.store(500, std::sync::atomic::Ordering::SeqCst);
    let failed = call(&gateway, "voicekit-hooks", &started).await;
    assert_eq!(failed.status(), 500, "the hook's own status is relayed");
    let failed_id = failed.headers()["hookgate-message-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let shown = message(&gateway, &failed_id).await;
    let delivery = &shown["deliveries"][0];
    assert_eq!(delivery["status"], "dead", "{shown}");
    assert_eq!(gateway.store().scheduled_count().await.expect("count"), 0);
    assert_eq!(hook.got().len(), 2);
}

#[tokio::test]
async fn a_plugin_answers_itself_and_a_hook_past_the_deadline_gets_504() {
    let slow = TestReceiver::start().await;
    slow.hold();
    let config = admin_config(
        "",
        &format!(
            r#"
[[source]]
name = "answered"
mode = "sync"
event_type = {{ pointer = "/event" }}

[[source]]
name = "slow"
mode = "sync"
response_timeout = "300ms"
event_type = {{ pointer = "/event" }}

[[source]]
name = "async-answered"
event_type = {{ pointer = "/event" }}

[[plugin]]
name = "old-contract"
file = "{old}"

[[plugin]]
name = "answer"
file = "{scripted}"
config = {{ respond = "201" }}

[[route]]
source = "answered"
plugins = ["old-contract", "answer"]

[[route]]
source = "async-answered"
plugins = ["answer"]

[[endpoint]]
name = "slow-hook"
url = "{url}"
event_types = ["call_started"]
"#,
            old = wasm("contract_v0_1").display(),
            scripted = wasm("scripted").display(),
            url = slow.url,
        ),
    );
    let gateway = TestGateway::start(&config).await;
    let started = fixture("voicekit/call_started.json");

    // A 0.1.0 plugin continues (adding its header) and a 0.2.0 one answers.
    let answer = call(&gateway, "answered", &started).await;
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.headers()["x-scripted"], "yes");
    let id = answer.headers()["hookgate-message-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["answered_by"], "scripted", "{body}");
    assert_eq!(body["received"]["event"], "call_started", "{body}");
    assert!(
        body["headers"]
            .as_array()
            .expect("names")
            .contains(&json!("x-contract")),
        "the 0.1.0 plugin ran first: {body}"
    );
    let shown = message(&gateway, &id).await;
    assert_eq!(shown["outcome"]["status"], "answered", "{shown}");
    assert_eq!(shown["outcome"]["plugin"], "answer", "{shown}");
    assert_eq!(shown["outcome"]["response"]["status"], 201, "{shown}");
    assert_eq!(shown["deliveries"], json!([]), "{shown}");
    assert!(slow.received().is_empty());

    // On an async source the answer is recorded, and goes nowhere.
    let (status, accepted) = gateway.post("async-answered", started.clone(), &[]).await;
    assert_eq!(status, 202, "{accepted}");
    let async_id = accepted["id"].as_str().expect("id").to_owned();
    let recorded = eventually("the async answer is recorded", || async {
        let shown = message(&gateway, &async_id).await;
        (shown["status"] == "answered").then_some(shown)
    })
    .await;
    assert_eq!(recorded["outcome"]["plugin"], "answer", "{recorded}");

    // Past the deadline: 504 with {code, message}, recorded, not retried.
    let late = call(&gateway, "slow", &started).await;
    assert_eq!(late.status(), 504);
    let late_id = late.headers()["hookgate-message-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let error: Value = late.json().await.expect("JSON");
    assert_eq!(error["code"], "hook_timeout", "{error}");
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("300ms"),
        "{error}"
    );
    let shown = message(&gateway, &late_id).await;
    assert_eq!(shown["outcome"]["status"], "answered", "{shown}");
    assert_eq!(shown["outcome"]["endpoint"], "slow-hook", "{shown}");
    assert_eq!(shown["outcome"]["response"]["status"], 504, "{shown}");
    assert_eq!(shown["deliveries"][0]["status"], "dead", "{shown}");
    assert_eq!(slow.received().len(), 1);
    slow.release();
}

#[tokio::test]
async fn a_sync_call_routed_to_no_endpoint_or_several_is_refused_by_name() {
    let (a, b) = (TestReceiver::start().await, TestReceiver::start().await);
    let config = admin_config(
        "",
        &format!(
            r#"
[[source]]
name = "hooks"
mode = "sync"
event_type = {{ pointer = "/event" }}

[[source]]
name = "hooks-to"
mode = "sync"
event_type = {{ pointer = "/event" }}
target_url = {{ pointer = "/hook_url" }}

[[endpoint]]
name = "a"
url = "{}"
event_types = ["call_started", "call_ended"]
headers = {{ x-api-key = "for-a-only" }}

[[endpoint]]
name = "b"
url = "{}"
event_types = ["call_ended"]
"#,
            a.url, b.url
        ),
    );
    let gateway = TestGateway::start(&config).await;
    for (body, names) in [
        (r#"{"event":"nothing"}"#, "to no endpoint"),
        (r#"{"event":"call_ended"}"#, "to 2 endpoints (a, b)"),
    ] {
        let answer = call(&gateway, "hooks", body.as_bytes()).await;
        assert_eq!(answer.status(), 502, "{body}");
        let error: Value = answer.json().await.expect("JSON");
        assert_eq!(error["code"], "hook_unrouted", "{error}");
        assert!(
            error["message"].as_str().expect("message").contains(names),
            "{error}"
        );
    }
    let one = call(&gateway, "hooks", br#"{"event":"call_started"}"#).await;
    assert_eq!(one.status(), 200);
    assert_eq!(one.text().await.expect("text"), "ok", "endpoint a's answer");
    assert!(b.received().is_empty());
    assert_eq!(a.received()[0].headers["x-api-key"], "for-a-only");

    // A per-message target: the URL the request names is the hook, with
    // a's settings but not a's static headers.
    let named = format!(r#"{{"event":"call_started","hook_url":"{}"}}"#, b.url);
    let answer = call(&gateway, "hooks-to", named.as_bytes()).await;
    assert_eq!(answer.status(), 200);
    let got = b.received();
    assert_eq!(got.len(), 1, "the named URL was called");
    assert!(
        got[0].headers.get("x-api-key").is_none(),
        "{:?}",
        got[0].headers
    );
    assert_eq!(a.received().len(), 1);
}

#[tokio::test]
async fn a_sync_message_whose_node_stopped_before_answering_is_marked_unanswered_not_delivered() {
    let receiver = TestReceiver::start().await;
    let config = admin_config(
        "",
        &format!(
            "[[source]]\nname = \"hooks\"\nmode = \"sync\"\n\n\
             [[endpoint]]\nname = \"hook\"\nurl = \"{}\"\n",
            receiver.url
        ),
    );
    let gateway = TestGateway::start(&config).await;
    // What a node leaves behind when it dies mid-exchange: the message
    // stored under its lease, which has lapsed.
    let lapsed = hookgate::store::Lease::mint(&hookgate::store::Holder {
        node: "dead-node".into(),
        until: now_millis() - 1,
    });
    let stored = gateway
        .store()
        .ingest(
            &hookgate::store::NewMessage {
                source: "hooks".into(),
                event_type: String::new(),
                received_at: now_millis(),
                headers: Vec::new(),
                body: b"{}".to_vec(),
                idempotency_key: None,
                target_url: None,
            },
            std::time::Duration::ZERO,
            Some(&lapsed),
        )
        .await
        .expect("stored");
    let id = stored.id().to_owned();
    let shown = eventually("a scan takes the leftover", || async {
        let shown = message(&gateway, &id).await;
        (shown["status"] == "failed").then_some(shown)
    })
    .await;
    assert_eq!(shown["outcome"]["kind"], "unanswered", "{shown}");
    assert_eq!(shown["deliveries"], json!([]), "{shown}");
    assert!(receiver.received().is_empty(), "never delivered later");
}
