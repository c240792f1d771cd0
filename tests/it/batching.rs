//! Batching (`batch = { max_events, max_wait }` on an endpoint), as the
//! generic voice-agent platform offers it: events go as one signed JSON
//! array, each element keeping its message id; a batch goes when full or
//! when its wait is over; a failed batch is retried as a batch; and the
//! delivery log shows each message's part in it.

use serde_json::{Value, json};

use crate::harness::{TestGateway, TestReceiver, admin_config, eventually};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config(receiver: &TestReceiver, batch: &str, retry: &str) -> String {
    admin_config(
        "",
        &format!(
            r#"
[[endpoint]]
name = "analytics"
url = "{url}"
batch = {batch}
retry = {retry}
signing = {{ scheme = "standard-webhooks", secrets = ["{WHSEC}"] }}
"#,
            url = receiver.url,
        ),
    )
}

async fn post(gateway: &TestGateway, call: &str) -> String {
    let event = json!({"type": "call.completed", "data": {"call_id": call}});
    let (status, reply) = gateway.post("calls", event.to_string(), &[]).await;
    assert_eq!(status, 202, "{reply}");
    reply["id"].as_str().expect("id").to_owned()
}

/// The delivery of `message` to the endpoint, with its attempts.
async fn delivery_of(gateway: &TestGateway, message: &str) -> Value {
    let listed = gateway.deliveries("endpoint=analytics").await;
    let mine: Vec<&Value> = listed
        .iter()
        .filter(|d| d["message_id"] == message)
        .collect();
    assert_eq!(mine.len(), 1, "{listed:?}");
    let id = mine[0]["id"].as_str().expect("id");
    let (status, delivery) = gateway
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await;
    assert_eq!(status, 200, "{delivery}");
    delivery
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_goes_at_once_as_one_signed_array_and_a_lone_event_after_its_wait() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(
        &receiver,
        r#"{ max_events = 3, max_wait = "3s" }"#,
        "{}",
    ))
    .await;
    let mut ids = Vec::new();
    for call in ["c1", "c2", "c3"] {
        ids.push(post(&gateway, call).await);
    }
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "three events, one request");
    standardwebhooks::Webhook::new(WHSEC)
        .expect("secret")
        .verify(&got[0].body, &got[0].headers)
        .expect("the batch is signed like any request");
    let batch_id = got[0].headers["webhook-id"].to_str().expect("ASCII");
    assert!(batch_id.starts_with("bat_"), "{batch_id}");
    assert_eq!(got[0].headers["content-type"], "application/json");
    let array: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    let elements = array.as_array().expect("an array");
    let mut sent: Vec<(String, String)> = elements
        .iter()
        .map(|e| {
            assert_eq!(e["event_type"], "call.completed", "{e}");
            (
                e["id"]
                    .as_str()
                    .expect("each keeps its message id")
                    .to_owned(),
                e["payload"]["data"]["call_id"]
                    .as_str()
                    .expect("the payload as posted")
                    .to_owned(),
            )
        })
        .collect();
    sent.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .cloned()
        .zip(["c1", "c2", "c3"].map(str::to_owned))
        .collect();
    expected.sort();
    assert_eq!(sent, expected);

    // The log shows each message's part: one request, three positions.
    let mut positions = Vec::new();
    for id in &ids {
        let delivery = eventually("the batch's attempt is recorded", || async {
            let d = delivery_of(&gateway, id).await;
            (d["status"] == "delivered").then_some(d)
        })
        .await;
        let part = &delivery["attempts"][0]["batch"];
        assert_eq!(part["id"], batch_id, "{delivery}");
        assert_eq!(part["size"], 3, "{delivery}");
        let position = part["position"].as_u64().expect("a position");
        assert_eq!(elements[position as usize]["id"], id.as_str());
        positions.push(position);
    }
    positions.sort_unstable();
    assert_eq!(positions, [0, 1, 2]);

    // One event alone goes when its wait is over, as a batch of one.
    let lone = post(&gateway, "c4").await;
    let got = receiver.wait_for(2).await;
    let array: Value = serde_json::from_slice(&got[1].body).expect("JSON");
    assert_eq!(array.as_array().map(Vec::len), Some(1), "{array}");
    assert_eq!(array[0]["id"], lone.as_str());
    assert!(
        got[1].at.duration_since(got[0].at) >= std::time::Duration::from_secs(3),
        "it waited for more events first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_retried_as_a_batch_at_one_time() {
    let receiver = TestReceiver::start().await;
    receiver.answer(503);
    let gateway = TestGateway::start(&config(
        &receiver,
        r#"{ max_events = 3, max_wait = "1m" }"#,
        r#"{ schedule = ["1m", "10m"] }"#,
    ))
    .await;
    let mut ids = Vec::new();
    for call in ["c1", "c2", "c3"] {
        ids.push(post(&gateway, call).await);
    }
    receiver.wait_for(1).await;
    let mut due = Vec::new();
    let mut first_batch = None;
    for id in &ids {
        let delivery = eventually("the failed attempt is recorded", || async {
            let d = delivery_of(&gateway, id).await;
            (d["status"] == "retrying").then_some(d)
        })
        .await;
        due.push(delivery["next_attempt_at"].as_u64().expect("a retry"));
        let part = delivery["attempts"][0]["batch"]["id"].clone();
        assert_eq!(*first_batch.get_or_insert(part.clone()), part);
    }
    assert!(
        due.iter().all(|at| *at == due[0]),
        "one jitter draw for the batch: {due:?}"
    );

    // At their time they go together again, as one request.
    receiver.answer(200);
    let deliverer = gateway.deliverer();
    assert_eq!(deliverer.deliver_due(due[0] - 1).await.expect("runs"), 0);
    assert_eq!(deliverer.deliver_due(due[0]).await.expect("runs"), 3);
    let got = receiver.received();
    assert_eq!(got.len(), 2, "the retry is one request");
    let array: Value = serde_json::from_slice(&got[1].body).expect("JSON");
    let mut retried: Vec<&str> = array
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    retried.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(retried, expected);
    let retry_id = got[1].headers["webhook-id"].to_str().expect("ASCII");
    for id in &ids {
        let delivery = delivery_of(&gateway, id).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"][1]["batch"]["id"], retry_id);
        assert_eq!(delivery["attempts"][1]["at"], due[0]);
        assert_ne!(delivery["attempts"][0]["batch"]["id"], retry_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_setting_out_of_bounds_is_refused_with_the_field_named() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&admin_config("", "")).await;
    for (batch, field) in [
        (json!({"max_events": 0}), "batch.max_events"),
        (json!({"max_events": 1001}), "batch.max_events"),
        (
            json!({"max_events": 10, "max_wait": "2h"}),
            "batch.max_wait",
        ),
    ] {
        let (status, body) = gateway
            .admin(
                "POST",
                "/v1/endpoints",
                Some(json!({"name": "b", "url": receiver.url, "batch": batch})),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], "invalid_field", "{body}");
        let message = body["message"].as_str().expect("a message");
        assert!(message.contains(field), "{message}");
    }
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(json!({"name": "b", "url": receiver.url, "batch": {"max_events": 50}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["batch"], json!({"max_events": 50, "max_wait": "1s"}));
}
