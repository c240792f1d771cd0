//! `POST /v1/ingest/{source}` over real HTTP: each provider's authentication,
//! every bad input with its 4xx and nothing stored, dedup, and durability of
//! what was acknowledged.

use base64::Engine as _;
use serde_json::Value;

use crate::harness::{TestGateway, fixture, hmac_hex};

const CALLINTEL_SECRET: &str = "callintel-shared-secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const CONFIG: &str = r#"
[[source]]
name = "callintel"
event_type = { pointer = "/event_type" }
idempotency_key = { pointer = "/webhook_id" }
auth = { type = "hmac", header = "X-Callintel-Signature", secrets = ["callintel-shared-secret"] }

[[source]]
name = "github-style"
max_body_bytes = 64
auth = { type = "hmac", header = "X-Hub-Signature-256", prefix = "sha256=", secrets = ["gh"] }

[[source]]
name = "standard"
idempotency_key = { header = "webhook-id" }
auth = { type = "standard-webhooks", secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }

[[source]]
name = "keyed"
auth = { type = "api-key", header = "X-Api-Key", keys = ["k-123"] }

[[source]]
name = "bearer"
auth = { type = "bearer", tokens = ["t-456"] }

[[source]]
name = "basic"
auth = { type = "basic", username = "roark", password = "pw" }

[[source]]
name = "office-only"
allow_ips = ["10.0.0.0/8"]

[[source]]
name = "callcov"
target_url = { pointer = "/webhook_url" }

[[source]]
name = "raw"
json = false

[[source]]
name = "open"
"#;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

async fn stored(gateway: &TestGateway) -> usize {
    gateway.store().message_count().await.expect("counts")
}

#[tokio::test]
async fn health_check_answers_ok() {
    let gateway = TestGateway::start(CONFIG).await;
    let response = reqwest::get(format!("{}/healthz", gateway.url))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let gateway = TestGateway::start(CONFIG).await;
    let client = reqwest::Client::new();
    let answer = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("answers");
        let status = response.status().as_u16();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().expect("text").to_owned());
        let body: Value = response.json().await.expect("a JSON body");
        (status, allow, body)
    };

    let (status, _, body) = answer(client.get(format!("{}/nowhere", gateway.url))).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "no_route", "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("a message")
            .contains("/nowhere")
    );

    // A known path with another method: 405, naming the methods it takes.
    let (status, allow, body) =
        answer(client.delete(format!("{}/v1/ingest/callintel", gateway.url))).await;
    assert_eq!(status, 405);
    assert_eq!(body["code"], "method_not_allowed", "{body}");
    assert!(allow.is_some_and(|a| a.contains("POST")), "an Allow header");
    let (status, _, body) = answer(client.post(format!("{}/healthz", gateway.url))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    assert_eq!(stored(&gateway).await, 0);
}

#[tokio::test]
async fn every_callintel_fixture_is_accepted_with_its_signature_and_stored_durably() {
    let gateway = TestGateway::start(CONFIG).await;
    let mut ids = Vec::new();
    for name in ["call.completed", "call.transcript_ready", "batch.completed"] {
        let body = fixture(&format!("callintel/{name}.json"));
        let signature = hmac_hex(CALLINTEL_SECRET, &body);
        let (status, json) = gateway
            .post("callintel", body, &[("X-Callintel-Signature", &signature)])
            .await;
        assert_eq!(status, 202, "{name}: {json}");
        assert_eq!(json["duplicate"], false);
        ids.push((name, json["id"].as_str().expect("an id").to_owned()));
    }
    // Acknowledged means on disk: reopen the data directory and look.
    let gateway = gateway.restart().await;
    for (name, id) in ids {
        let message = gateway
            .store()
            .message(&id)
            .await
            .expect("reads")
            .expect("stored");
        assert_eq!(message.received.event_type, name);
        assert_eq!(message.received.source, "callintel");
        assert_eq!(
            message.received.body,
            fixture(&format!("callintel/{name}.json"))
        );
    }
}

#[tokio::test]
async fn wrong_or_missing_signatures_get_401_and_store_nothing() {
    let gateway = TestGateway::start(CONFIG).await;
    let body = fixture("callintel/call.completed.json");
    let wrong = hmac_hex("another-secret", &body);
    let (status, json) = gateway
        .post(
            "callintel",
            body.clone(),
            &[("X-Callintel-Signature", &wrong)],
        )
        .await;
    assert_eq!(
        (status, json["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    let (status, json) = gateway.post("callintel", body, &[]).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (401, Some("missing_signature"))
    );
    assert!(
        json["message"]
            .as_str()
            .expect("message")
            .contains("X-Callintel-Signature"),
        "{json}"
    );
    assert_eq!(stored(&gateway).await, 0);
}

#[tokio::test]
async fn github_style_prefixed_signatures_are_verified() {
    let gateway = TestGateway::start(CONFIG).await;
    let body = br#"{"zen":"keep it simple"}"#.to_vec();
    let signature = format!("sha256={}", hmac_hex("gh", &body));
    let (status, _) = gateway
        .post(
            "github-style",
            body.clone(),
            &[("X-Hub-Signature-256", &signature)],
        )
        .await;
    assert_eq!(status, 202);
    let unprefixed = hmac_hex("gh", &body);
    let (status, _) = gateway
        .post(
            "github-style",
            body,
            &[("X-Hub-Signature-256", &unprefixed)],
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn standard_webhooks_signatures_are_verified_with_a_five_minute_tolerance() {
    let gateway = TestGateway::start(CONFIG).await;
    let signer = standardwebhooks::Webhook::new(WHSEC).expect("secret");
    let body = fixture("roark/call.analysis.completed.json");
    let send = |id: &'static str, ts: i64| {
        let signature = signer.sign(id, ts, &body).expect("signs");
        let ts = ts.to_string();
        let body = body.clone();
        let gateway = &gateway;
        async move {
            gateway
                .post(
                    "standard",
                    body,
                    &[
                        ("webhook-id", id),
                        ("webhook-timestamp", &ts),
                        ("webhook-signature", &signature),
                    ],
                )
                .await
        }
    };
    let (status, json) = send("msg_fresh", now()).await;
    assert_eq!(status, 202, "{json}");
    // Well past the tolerance either way (the exact boundary is pinned in
    // `signing::standard`), so a step of the machine's clock between the
    // test's reading and the gateway's cannot move it.
    let (status, json) = send("msg_stale", now() - 330).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (401, Some("stale_timestamp"))
    );
    let (status, json) = send("msg_future", now() + 330).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (401, Some("stale_timestamp"))
    );
    assert_eq!(stored(&gateway).await, 1);
}

#[tokio::test]
async fn api_keys_bearer_tokens_and_basic_auth_are_checked() {
    let gateway = TestGateway::start(CONFIG).await;
    let body = "{}";
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("roark:pw")
    );
    let wrong_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("roark:nope")
    );
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: [Case<'_>; 7] = [
        ("keyed", vec![("X-Api-Key", "k-123")], 202),
        ("keyed", vec![("X-Api-Key", "k-999")], 401),
        ("keyed", vec![], 401),
        ("bearer", vec![("Authorization", "Bearer t-456")], 202),
        ("bearer", vec![("Authorization", "Bearer t-457")], 401),
        ("basic", vec![("Authorization", basic.as_str())], 202),
        ("basic", vec![("Authorization", wrong_basic.as_str())], 401),
    ];
    for (source, headers, expected) in cases {
        let (status, json) = gateway.post(source, body, &headers).await;
        assert_eq!(status, expected, "{source} {headers:?}: {json}");
    }
    assert_eq!(stored(&gateway).await, 3);
}

#[tokio::test]
async fn credentials_are_not_stored_with_the_message() {
    let gateway = TestGateway::start(CONFIG).await;
    let (_, json) = gateway
        .post("keyed", "{}", &[("X-Api-Key", "k-123"), ("X-Trace", "t1")])
        .await;
    let id = json["id"].as_str().expect("id");
    let message = gateway
        .store()
        .message(id)
        .await
        .expect("reads")
        .expect("stored");
    let names: Vec<&str> = message
        .received
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(names.contains(&"x-trace"), "{names:?}");
    assert!(!names.contains(&"x-api-key"), "{names:?}");
}

#[tokio::test]
async fn a_client_outside_the_allow_list_gets_403() {
    let gateway = TestGateway::start(CONFIG).await;
    let (status, json) = gateway.post("office-only", "{}", &[]).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (403, Some("ip_not_allowed"))
    );
    assert_eq!(stored(&gateway).await, 0);
}

#[tokio::test]
async fn only_a_trusted_proxy_may_say_which_client_a_request_came_from() {
    let source = "[[source]]\nname = \"partner\"\nallow_ips = [\"203.0.113.0/24\"]\n";
    let behind_proxy = TestGateway::start(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n\n{source}"
    ))
    .await;
    let forwarded = |client: &'static str| [("x-forwarded-for", client)];
    let (status, body) = behind_proxy
        .post("partner", "{}", &forwarded("203.0.113.7"))
        .await;
    assert_eq!(status, 202, "the proxy says the client is allowed: {body}");
    let (status, body) = behind_proxy
        .post(
            "partner",
            "{}",
            &[("forwarded", "for=\"203.0.113.8:5000\"")],
        )
        .await;
    assert_eq!(status, 202, "RFC 7239 Forwarded: {body}");
    let (status, body) = behind_proxy
        .post("partner", "{}", &forwarded("198.51.100.1"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("ip_not_allowed"))
    );
    // The proxy's own address is not in the list either.
    let (status, _) = behind_proxy.post("partner", "{}", &[]).await;
    assert_eq!(status, 403);
    assert_eq!(stored(&behind_proxy).await, 2);

    // Without trusted proxies, a client's own header changes nothing.
    let direct = TestGateway::start(source).await;
    let (status, body) = direct
        .post("partner", "{}", &forwarded("203.0.113.7"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("ip_not_allowed"))
    );
    assert_eq!(stored(&direct).await, 0);
}

#[tokio::test]
async fn past_its_rate_limit_a_source_answers_429_and_stores_nothing() {
    // One request per 100 s: the second, right after, is over the limit.
    let gateway = TestGateway::start(
        "[[source]]\nname = \"limited\"\nrate_limit = 0.01\n\n[[source]]\nname = \"open\"\n",
    )
    .await;
    let (status, body) = gateway.post("limited", "{}", &[]).await;
    assert_eq!(status, 202, "{body}");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/ingest/limited", gateway.url))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((90..=100).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert!(body["message"].as_str().expect("message").contains("0.01"));
    // Another source has its own allowance.
    assert_eq!(gateway.post("open", "{}", &[]).await.0, 202);
    assert_eq!(stored(&gateway).await, 2);
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_errors_and_store_nothing() {
    let gateway = TestGateway::start(CONFIG).await;
    let (status, json) = gateway.post("nope", "{}", &[]).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (404, Some("unknown_source"))
    );

    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100));
    let signature = format!("sha256={}", hmac_hex("gh", big.as_bytes()));
    let (status, json) = gateway
        .post("github-style", big, &[("X-Hub-Signature-256", &signature)])
        .await;
    assert_eq!(
        (status, json["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    let (status, json) = gateway.post("open", "{\"a\": ", &[]).await;
    assert_eq!((status, json["code"].as_str()), (400, Some("invalid_json")));
    assert!(
        json["message"].as_str().expect("message").contains("EOF"),
        "{json}"
    );

    let body = r#"{"id":"a1","webhook_url":"https://169.254.169.254/latest/meta-data"}"#;
    let (status, json) = gateway.post("callcov", body, &[]).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (422, Some("target_not_allowed"))
    );
    let body = r#"{"id":"a2","webhook_url":"http://example.com/hook"}"#;
    let (status, json) = gateway.post("callcov", body, &[]).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (422, Some("target_not_allowed"))
    );

    assert_eq!(stored(&gateway).await, 0);
    // Raw sources take anything.
    let (status, _) = gateway.post("raw", "not json at all", &[]).await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_with_the_first_id_and_is_stored_once() {
    let gateway = TestGateway::start(CONFIG).await;
    let body = fixture("callintel/call.completed.json");
    let signature = hmac_hex(CALLINTEL_SECRET, &body);
    let headers = [("X-Callintel-Signature", signature.as_str())];
    let (status, first) = gateway.post("callintel", body.clone(), &headers).await;
    assert_eq!(status, 202);
    let (status, again) = gateway.post("callintel", body, &headers).await;
    assert_eq!(status, 202);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(stored(&gateway).await, 1);
}

/// Sends `request` as raw bytes and returns the status and the JSON body.
async fn raw_request(gateway: &TestGateway, request: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = gateway.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    stream.write_all(request).await.expect("writes");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("reads");
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400_not_413() {
    let gateway = TestGateway::start(CONFIG).await;
    // "zz" is not a hexadecimal chunk size.
    let request = b"POST /v1/ingest/open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
        Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n";
    let (status, json) = raw_request(&gateway, request).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (400, Some("malformed_body")),
        "{json}"
    );
    assert_eq!(stored(&gateway).await, 0);
    // A chunked body over the limit is still 413.
    let big = "x".repeat(100);
    let request = format!(
        "POST /v1/ingest/github-style HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let (status, json) = raw_request(&gateway, request.as_bytes()).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (413, Some("payload_too_large"))
    );
}
