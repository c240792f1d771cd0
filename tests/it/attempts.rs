//! What each attempt carries: the time it is sent (not the time it was
//! claimed) in its signature and its record, and only the headers meant
//! for where it goes.

use crate::harness::{TestGateway, TestReceiver, eventually, now_millis};

/// How long the second attempt is kept waiting for the slot.
const GAP: u64 = 50;
/// How far the gateway's clock (tokio's, anchored to the system clock at
/// start, both read in whole milliseconds) may lag the system clock.
const CLOCK_SKEW: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_waited_for_its_endpoints_slot_is_signed_when_it_is_sent() {
    let receiver = TestReceiver::start().await;
    let config = format!(
        r#"
[server.targets]
allow_http = true
allow_loopback = true

[[source]]
name = "calls"

[[endpoint]]
name = "one-at-a-time"
url = "{url}"
event_types = ["*"]
max_in_flight = 1
"#,
        url = receiver.url
    );
    let gateway = TestGateway::start(&config).await;
    receiver.hold();
    let (_, first) = gateway.post("calls", r#"{"n":1}"#, &[]).await;
    let (_, second) = gateway.post("calls", r#"{"n":2}"#, &[]).await;
    // The first is at the receiver, unanswered: the second waits for the
    // endpoint's only slot.
    receiver.wait_for(1).await;
    let arrived = now_millis();
    while now_millis() <= arrived + GAP {
        tokio::task::yield_now().await;
    }
    let released = now_millis();
    receiver.release();
    let got = receiver.wait_for(2).await;

    // The one that waited is whichever reached the receiver second (the
    // pipeline may hand the two over in either order).
    assert_ne!(first["id"], second["id"]);
    let second_id = got[1].headers["webhook-id"].to_str().expect("text");
    assert!(
        [&first["id"], &second["id"]].contains(&&serde_json::Value::from(second_id)),
        "{second_id}"
    );
    let store = gateway.store();
    let at = eventually("the second attempt recorded", || async {
        let deliveries = store.deliveries_of(second_id).await.expect("reads");
        deliveries.first()?.attempts.first().map(|a| a.at)
    })
    .await;
    // Claimed before the first arrived; sent once the slot was free.
    assert!(
        at + CLOCK_SKEW >= released,
        "recorded at {at}, before the slot was free at {released}"
    );
    let stamp: u64 = got[1].headers["webhook-timestamp"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(
        stamp * 1000 + 999 + CLOCK_SKEW >= released,
        "signed at {stamp} s, before {released} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_message_target_gets_the_signature_but_not_the_endpoints_credentials() {
    let own = TestReceiver::start().await;
    let chosen = TestReceiver::start().await;
    let config = format!(
        r#"
[server.targets]
allow_http = true
allow_loopback = true

[[source]]
name = "callcov"
target_url = {{ pointer = "/webhook_url" }}

[[endpoint]]
name = "crm"
url = "{own}"
event_types = ["*"]
signing = {{ scheme = "standard-webhooks", secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }}
headers = {{ Authorization = "Bearer endpoint-secret", X-Api-Key = "endpoint-key" }}
"#,
        own = own.url
    );
    let gateway = TestGateway::start(&config).await;
    let body = format!(r#"{{"id":"c1","webhook_url":"{}"}}"#, chosen.url);
    let (status, _) = gateway.post("callcov", body, &[]).await;
    assert_eq!(status, 202);
    let got = chosen.wait_for(1).await;
    let headers = &got[0].headers;
    assert!(headers.get("authorization").is_none(), "{headers:?}");
    assert!(headers.get("x-api-key").is_none(), "{headers:?}");
    assert!(headers.get("webhook-signature").is_some(), "{headers:?}");
    assert!(headers.get("webhook-id").is_some(), "{headers:?}");

    // The endpoint's own URL still gets its headers, and only this message:
    // the first went to the message's target alone.
    let (status, _) = gateway.post("callcov", r#"{"id":"c2"}"#, &[]).await;
    assert_eq!(status, 202);
    let got = own.wait_for(1).await;
    assert_eq!(got[0].headers["authorization"], "Bearer endpoint-secret");
    assert_eq!(got[0].headers["x-api-key"], "endpoint-key");
    assert_eq!(got.len(), 1, "the endpoint's own URL got only its message");
    assert_eq!(got[0].body, br#"{"id":"c2"}"#);
    assert_eq!(chosen.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callcov_webhook_url_gets_an_hmac_signed_delivery_with_an_id_header() {
    // CallCov's customers name a `webhook_url` per analysis; CallCov signs
    // with `X-CallCov-Signature` (HMAC-SHA256 of the body, hex) and puts the
    // id in a header of its own, so receivers de-duplicate without parsing.
    let customer = TestReceiver::start().await;
    let config = crate::harness::admin_config(
        "",
        &format!(
            r#"
[[source]]
name = "callcov"
event_type = {{ pointer = "/status" }}
target_url = {{ pointer = "/webhook_url" }}

[[endpoint]]
name = "customers"
url = "{default}"
event_types = ["*"]
signing = {{ scheme = "hmac", header = "X-CallCov-Signature", secret = "callcov-secret", id_header = "X-CallCov-Delivery-Id" }}
"#,
            default = customer.url
        ),
    );
    let gateway = TestGateway::start(&config).await;
    let mut event: serde_json::Value =
        serde_json::from_slice(&crate::harness::fixture("callcov/analysis.completed.json"))
            .expect("JSON");
    event["webhook_url"] = customer.url.clone().into();
    let (status, answer) = gateway.post("callcov", event.to_string(), &[]).await;
    assert_eq!(status, 202, "{answer}");
    let got = customer.wait_for(1).await;
    let headers = &got[0].headers;
    assert_eq!(
        headers["x-callcov-signature"],
        crate::harness::hmac_hex("callcov-secret", &got[0].body).as_str()
    );
    assert_eq!(
        headers["x-callcov-delivery-id"],
        answer["id"].as_str().expect("an id")
    );
    assert!(headers.get("webhook-signature").is_none(), "{headers:?}");

    // The id header must be a header name other than the signature's.
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(serde_json::json!({
                "name": "bad", "url": customer.url,
                "signing": {"scheme": "hmac", "header": "X-Sig", "secret": "k", "id_header": "x-sig"},
            })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("signing.id_header"),
        "{body}"
    );
}
