//! The management API: authentication, the OpenAPI document, endpoints,
//! sources and routes (validation, conflicts, pagination, config-file
//! objects being read-only), messages and the delivery log, replay and bulk
//! recovery, secret rotation, test events, and persistence across restart.

use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually, hmac_hex};

const WHSEC: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WHSEC_NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config(extra: &str) -> String {
    admin_config("", extra)
}

fn endpoint(name: &str, url: &str) -> Value {
    json!({
        "name": name,
        "url": url,
        "event_types": ["*"],
        "signing": {"scheme": "standard-webhooks", "secrets": [WHSEC]},
        "retry": {"schedule": ["1h"]},
    })
}

#[tokio::test]
async fn requests_without_the_admin_token_get_401_and_the_document_is_public() {
    let gateway = TestGateway::start(&config("")).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/endpoints", gateway.url);
    let missing = client.get(&url).send().await.expect("answers");
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.expect("JSON");
    assert_eq!(body["code"], "unauthorized");
    let wrong = client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("answers");
    assert_eq!(right.status(), 200);

    let document: Value = client
        .get(format!("{}/v1/openapi.json", gateway.url))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    for path in [
        "/v1/endpoints",
        "/v1/endpoints/{name}/rotate-secret",
        "/v1/plugins/{name}",
        "/v1/messages",
        "/v1/deliveries/{id}/replay",
        "/v1/dead-letter",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    assert!(document["components"]["schemas"]["EndpointConfig"].is_object());
    assert!(document["components"]["securitySchemes"]["admin_token"].is_object());
}

#[tokio::test]
async fn every_resource_refuses_a_missing_or_wrong_token_and_answers_404_for_unknown_names() {
    let gateway = TestGateway::start(&config("")).await;
    let client = reqwest::Client::new();
    let resources = [
        ("/v1/endpoints", "/v1/endpoints/nope"),
        ("/v1/sources", "/v1/sources/nope"),
        ("/v1/routes", "/v1/routes/nope"),
        ("/v1/plugins", "/v1/plugins/nope"),
        ("/v1/messages", "/v1/messages/msg_nope"),
        ("/v1/deliveries", "/v1/deliveries/dlv_nope"),
        ("/v1/dead-letter", "/v1/messages/msg_nope/attempts"),
    ];
    for (list, one) in resources {
        for token in [None, Some("wrong")] {
            let mut request = client.get(format!("{}{list}", gateway.url));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("answers");
            assert_eq!(response.status(), 401, "{list} with {token:?}");
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["code"], "unauthorized");
        }
        assert_eq!(gateway.admin("GET", list, None).await.0, 200, "{list}");
        let (status, body) = gateway.admin("GET", one, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{one}"
        );
    }
}

#[tokio::test]
async fn without_a_configured_token_the_api_refuses_everything() {
    let gateway =
        TestGateway::start("[server.targets]\nallow_http = true\nallow_loopback = true\n").await;
    let (status, body) = gateway.admin("GET", "/v1/endpoints", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "admin_api_disabled");
}

#[tokio::test]
async fn endpoints_are_validated_naming_the_field_and_conflicts_get_409() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    let (status, created) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["origin"], "api");
    assert_eq!(
        created["signing"]["secrets"],
        json!(["***"]),
        "secrets are never shown"
    );

    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_exists"))
    );

    let mut bad = endpoint("bad", "ftp://example.com/x");
    let (status, body) = gateway
        .admin("POST", "/v1/endpoints", Some(bad.clone()))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`url`")),
        "{body}"
    );
    bad["url"] = json!(receiver.url);
    bad["retry"] = json!({"multiplier": 0.5});
    let (status, body) = gateway
        .admin("POST", "/v1/endpoints", Some(bad.clone()))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry.multiplier")),
        "{body}"
    );
    // The field is named for a form to show the message beside it.
    assert_eq!(body["field"], "retry.multiplier", "{body}");
    bad["retry"] = json!({});
    bad["colour"] = json!("blue");
    let (status, body) = gateway.admin("POST", "/v1/endpoints", Some(bad)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field"))
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("colour")),
        "{body}"
    );

    let (status, _) = gateway.admin("GET", "/v1/endpoints/nope", None).await;
    assert_eq!(status, 404);
    let (status, body) = gateway
        .admin(
            "PATCH",
            "/v1/endpoints/crm",
            Some(json!({"timeout": "forever"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = gateway
        .admin(
            "PATCH",
            "/v1/endpoints/crm",
            Some(json!({"event_types": ["call.*"], "rate_limit": 5.0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event_types"], json!(["call.*"]));
    assert_eq!(
        body["signing"]["secrets"],
        json!(["***"]),
        "a patch keeps the secrets"
    );
    let (status, _) = gateway.admin("DELETE", "/v1/endpoints/crm", None).await;
    assert_eq!(status, 204);
    let (status, _) = gateway.admin("GET", "/v1/endpoints/crm", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_api_refuses_environment_references_and_forbidden_literal_addresses() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    let mut with_header = endpoint("leaky", &receiver.url);
    with_header["headers"] = json!({"Authorization": {"env": "HOME"}});
    let mut with_secret = endpoint("leaky", &receiver.url);
    with_secret["signing"] =
        json!({"scheme": "hmac", "header": "X-Sig", "secret": {"env": "HOME"}});
    let source = json!({"name": "guess", "auth": {"type": "bearer", "tokens": [{"env": "HOME"}]}});
    for (path, body, field) in [
        ("/v1/endpoints", with_header, "headers.Authorization"),
        // Inside internally tagged enums the path ends at the enum.
        ("/v1/endpoints", with_secret, "signing"),
        ("/v1/sources", source, "auth"),
    ] {
        let (status, answer) = gateway.admin("POST", path, Some(body)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid_field")),
            "{answer}"
        );
        let message = answer["message"].as_str().expect("message");
        assert!(
            message.contains(field) && message.contains("only in the config file"),
            "{message}"
        );
    }
    // The PATCH path too.
    let (status, _) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    assert_eq!(status, 201);
    let (status, answer) = gateway
        .admin(
            "PATCH",
            "/v1/endpoints/crm",
            Some(json!({"headers": {"X-Api-Key": {"env": "PATH"}}})),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_field")),
        "{answer}"
    );

    // A literal metadata address is refused at create, not dead-lettered
    // later (the test config allows loopback, not this).
    let (status, answer) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("metadata", "http://[64:ff9b::a9fe:a9fe]/latest")),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_field")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("cloud metadata")),
        "{answer}"
    );
}

#[tokio::test]
async fn objects_from_the_config_file_are_read_only() {
    let receiver = TestReceiver::start().await;
    let extra = format!(
        "[[endpoint]]\nname = \"filed\"\nurl = \"{}\"\n",
        receiver.url
    );
    let gateway = TestGateway::start(&config(&extra)).await;
    let (status, body) = gateway.admin("GET", "/v1/endpoints/filed", None).await;
    assert_eq!((status, body["origin"].as_str()), (200, Some("config")));
    let (status, body) = gateway
        .admin(
            "PATCH",
            "/v1/endpoints/filed",
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("managed_by_config"))
    );
    let (status, _) = gateway.admin("DELETE", "/v1/sources/calls", None).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn endpoint_lists_page_through_every_endpoint_once() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    for i in 0..5 {
        let (status, _) = gateway
            .admin(
                "POST",
                "/v1/endpoints",
                Some(endpoint(&format!("e{i}"), &receiver.url)),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (items, pages) = gateway.all_pages("/v1/endpoints?limit=2").await;
    let seen: Vec<&str> = items
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(pages, 3);
    assert_eq!(seen, ["e0", "e1", "e2", "e3", "e4"]);
    let (status, body) = gateway.admin("GET", "/v1/endpoints?limit=0", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field"))
    );
}

#[tokio::test]
async fn sources_and_routes_are_checked_against_what_exists() {
    let gateway = TestGateway::start(&config("")).await;
    let (status, _) = gateway
        .admin(
            "POST",
            "/v1/sources",
            Some(json!({"name": "fresh", "auth": {"type": "bearer", "tokens": ["t0k"]}})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = gateway
        .post("fresh", "{}", &[("authorization", "Bearer t0k")])
        .await;
    assert_eq!(
        status, 202,
        "a source created through the API takes events at once"
    );
    let (status, _) = gateway.post("fresh", "{}", &[]).await;
    assert_eq!(status, 401);

    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "fresh", "plugins": ["ghost"]})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("plugins[0]")),
        "{body}"
    );
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "nowhere", "plugins": []})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "fresh", "plugins": []})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = gateway.admin("DELETE", "/v1/sources/fresh", None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("in_use")));
    assert_eq!(
        gateway.admin("DELETE", "/v1/routes/fresh", None).await.0,
        204
    );
    assert_eq!(
        gateway.admin("DELETE", "/v1/sources/fresh", None).await.0,
        204
    );
    assert_eq!(gateway.post("fresh", "{}", &[]).await.0, 404);
}

/// Posts `n` events of a type and waits until each has its deliveries.
async fn post_events(gateway: &TestGateway, n: usize, event_type: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"type": event_type, "n": i}).to_string();
        let (status, reply) = gateway.post("calls", body, &[]).await;
        assert_eq!(status, 202);
        ids.push(reply["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test]
async fn messages_and_deliveries_are_listed_filtered_and_paged() {
    let ok = TestReceiver::start().await;
    let failing = TestReceiver::start().await;
    failing.answer(503);
    let gateway = TestGateway::start(&config("")).await;
    let mut good = endpoint("good", &ok.url);
    good["event_types"] = json!(["call.*"]);
    gateway.admin("POST", "/v1/endpoints", Some(good)).await;
    let mut bad = endpoint("bad", &failing.url);
    bad["event_types"] = json!(["call.completed"]);
    gateway.admin("POST", "/v1/endpoints", Some(bad)).await;

    let completed = post_events(&gateway, 3, "call.completed").await;
    let started = post_events(&gateway, 2, "call.started").await;
    ok.wait_for(5).await;
    failing.wait_for(3).await;
    // The receivers saw the requests; the outcomes are recorded after.
    eventually("every attempt is recorded", || async {
        let retrying = gateway.deliveries("endpoint=bad&status=retrying").await;
        let delivered = gateway.deliveries("endpoint=good&status=delivered").await;
        (retrying.len() == 3 && delivered.len() == 5).then_some(())
    })
    .await;

    let (status, page) = gateway
        .admin("GET", "/v1/messages?event_type=call.completed", None)
        .await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    let newest_first: Vec<&str> = completed.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);

    let (items, pages) = gateway.all_pages("/v1/messages?limit=2&source=calls").await;
    assert_eq!(pages, 3, "5 messages, 2 a page");
    let all: Vec<String> = items
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect();
    let mut expected: Vec<String> = completed.iter().chain(&started).cloned().collect();
    expected.reverse();
    assert_eq!(all, expected);

    let (status, message) = gateway
        .admin("GET", &format!("/v1/messages/{}", completed[0]), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        message["payload"],
        json!({"type": "call.completed", "n": 0})
    );
    assert_eq!(message["outcome"]["status"], "routed");
    assert_eq!(message["deliveries"].as_array().map(Vec::len), Some(2));
    let (_, attempts) = gateway
        .admin(
            "GET",
            &format!("/v1/messages/{}/attempts", completed[0]),
            None,
        )
        .await;
    let bad_one = attempts
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["endpoint"] == "bad")
        .expect("bad delivery")
        .clone();
    assert_eq!(bad_one["attempts"][0]["status"], 503);

    assert_eq!(gateway.deliveries("response_code=503").await.len(), 3);
    assert_eq!(gateway.deliveries("response_code=5xx").await.len(), 3);
    assert_eq!(gateway.deliveries("response_code=2xx").await.len(), 5);
    assert!(gateway.deliveries("response_code=4xx").await.is_empty());
    for bad in ["6xx", "50x", "+503", "99"] {
        let (status, body) = gateway
            .admin("GET", &format!("/v1/deliveries?response_code={bad}"), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_field")),
            "{bad}: {body}"
        );
    }
    // Event types take the patterns endpoints subscribe with.
    assert_eq!(gateway.deliveries("event_type=call.s*").await.len(), 2);
    let (_, wild) = gateway
        .admin("GET", "/v1/messages?event_type=*.started", None)
        .await;
    assert_eq!(wild["items"].as_array().map(Vec::len), Some(2), "{wild}");
    let (_, every) = gateway
        .admin("GET", "/v1/messages?event_type=call.*", None)
        .await;
    assert_eq!(every["items"].as_array().map(Vec::len), Some(5), "{every}");
    let (_, literal) = gateway
        .admin("GET", "/v1/messages?event_type=call_completed", None)
        .await;
    assert_eq!(
        literal["items"].as_array().map(Vec::len),
        Some(0),
        "`_` is no wildcard: {literal}"
    );
    let (status, keyed) = gateway
        .admin("GET", "/v1/messages?idempotency_key=never-sent", None)
        .await;
    assert_eq!(status, 200, "{keyed}");
    assert_eq!(keyed["items"].as_array().map(Vec::len), Some(0), "{keyed}");
    assert_eq!(
        gateway
            .deliveries("endpoint=good&status=delivered")
            .await
            .len(),
        5
    );
    assert_eq!(gateway.deliveries("event_type=call.started").await.len(), 2);
    let (status, body) = gateway
        .admin("GET", "/v1/deliveries?status=lost", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field"))
    );
    let (status, _) = gateway.admin("GET", "/v1/messages/msg_nope", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn replay_and_bulk_recover_send_exactly_the_selected_deliveries() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    let other = TestReceiver::start().await;
    other.answer(500);
    let mut e = endpoint("flaky", &receiver.url);
    e["event_types"] = json!(["call.completed"]);
    e["retry"] = json!({"max_attempts": 1, "initial_delay": "1s"});
    gateway.admin("POST", "/v1/endpoints", Some(e)).await;
    // Another endpoint that dead-letters everything: recovering `flaky`
    // must not touch it.
    let mut o = endpoint("other", &other.url);
    o["event_types"] = json!(["call.started"]);
    o["retry"] = json!({"max_attempts": 1, "initial_delay": "1s"});
    gateway.admin("POST", "/v1/endpoints", Some(o)).await;
    post_events(&gateway, 1, "call.started").await;
    other.wait_for(1).await;
    post_events(&gateway, 1, "call.completed").await;
    receiver.wait_for(1).await;
    receiver.answer(500);
    post_events(&gateway, 3, "call.completed").await;
    receiver.wait_for(4).await;
    let dead = eventually("three dead deliveries", || async {
        let dead = gateway.deliveries("status=dead&endpoint=flaky").await;
        (dead.len() == 3).then_some(dead)
    })
    .await;
    let (_, letter) = gateway
        .admin("GET", "/v1/dead-letter?endpoint=flaky", None)
        .await;
    assert_eq!(letter["items"].as_array().map(Vec::len), Some(3));

    receiver.answer(200);
    let one = dead[0]["id"].as_str().expect("id");
    let (status, _) = gateway
        .admin("POST", &format!("/v1/deliveries/{one}/replay"), None)
        .await;
    assert_eq!(status, 202);
    receiver.wait_for(5).await;
    eventually("the replayed delivery is delivered", || async {
        let (_, d) = gateway
            .admin("GET", &format!("/v1/deliveries/{one}"), None)
            .await;
        (d["status"] == "delivered").then_some(())
    })
    .await;
    let (status, recovered) = gateway
        .admin(
            "POST",
            "/v1/endpoints/flaky/recover",
            Some(json!({"since": 0})),
        )
        .await;
    assert_eq!(status, 200, "{recovered}");
    assert_eq!(recovered["recovered"], 2, "only the two still dead");
    let got = receiver.wait_for(7).await;
    eventually("everything is delivered", || async {
        (gateway.deliveries("status=delivered").await.len() == 4).then_some(())
    })
    .await;
    assert_eq!(
        got.len(),
        7,
        "4 first attempts (1 ok, 3 failed), 1 replay, 2 recovered"
    );
    assert_eq!(
        other.received().len(),
        1,
        "the other endpoint got nothing again"
    );
    let still_dead = gateway.deliveries("status=dead&endpoint=other").await;
    assert_eq!(still_dead.len(), 1);
    let (status, _) = gateway
        .admin("POST", "/v1/deliveries/dlv_nope/replay", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_test_events_report_the_attempt() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    let (status, rotated) = gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/rotate-secret",
            Some(json!({"secret": WHSEC_NEW, "grace": "1h"})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["secret"], WHSEC_NEW);

    let (status, result) = gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/test",
            Some(json!({"event_type": "call.completed"})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["delivered"], true);
    assert_eq!(result["attempt"]["status"], 200);
    let got = receiver.wait_for(1).await;
    let request = &got[0];
    for secret in [WHSEC, WHSEC_NEW] {
        let verifier = standardwebhooks::Webhook::new(secret).expect("secret");
        verifier
            .verify(&request.body, &request.headers)
            .expect("both secrets verify during the grace period");
    }
    let (status, _) = gateway
        .admin("POST", "/v1/endpoints/crm/test", Some(json!({})))
        .await;
    assert_eq!(status, 400, "event_type is required");
}

#[tokio::test]
async fn an_endpoint_created_without_a_secret_gets_one_shown_once_that_signs() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    let (status, created) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(json!({"name": "crm", "url": receiver.url, "event_types": ["*"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(created["signing"]["secrets"], json!(["***"]), "{created}");
    // Shown once: never again.
    let (_, shown) = gateway.admin("GET", "/v1/endpoints/crm", None).await;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert!(!shown.to_string().contains(&secret), "{shown}");

    let (status, _) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(1).await;
    standardwebhooks::Webhook::new(&secret)
        .expect("a secret")
        .verify(&got[0].body, &got[0].headers)
        .expect("the generated secret signs");

    // An endpoint given a secret, or signing otherwise, gets none.
    let (_, given) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("erp", &receiver.url)),
        )
        .await;
    assert!(given.get("secret").is_none(), "{given}");
    let (_, unsigned) = gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(json!({"name": "raw", "url": receiver.url, "signing": {"scheme": "none"}})),
        )
        .await;
    assert!(unsigned.get("secret").is_none(), "{unsigned}");
}

#[tokio::test]
async fn state_created_through_the_api_survives_a_restart() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    gateway
        .admin(
            "POST",
            "/v1/sources",
            Some(json!({"name": "later", "event_type": {"pointer": "/type"}})),
        )
        .await;
    let (status, _) = gateway
        .deploy(
            "stamp",
            &crate::harness::wasm("scripted"),
            &[("stamp", "v1")],
        )
        .await;
    assert_eq!(status, 200);
    gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "later", "plugins": ["stamp"]})),
        )
        .await;
    gateway
        .admin("POST", "/v1/endpoints/crm/disable", None)
        .await;
    gateway
        .admin("POST", "/v1/endpoints/crm/enable", None)
        .await;

    let gateway = gateway.restart().await;
    let (_, endpoint) = gateway.admin("GET", "/v1/endpoints/crm", None).await;
    assert_eq!(endpoint["origin"], "api");
    assert_eq!(endpoint["disabled"], Value::Null);
    let (_, plugin) = gateway.admin("GET", "/v1/plugins/stamp", None).await;
    assert_eq!(plugin["version"], 1);
    let (status, _) = gateway
        .post("later", json!({"type": "call.completed"}).to_string(), &[])
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(
        body["stamps"],
        json!(["v1"]),
        "the API-deployed plugin ran after the restart"
    );
}

#[tokio::test]
async fn replay_and_recover_refuse_a_disabled_endpoint_and_bad_ranges() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let gateway = TestGateway::start(&config("")).await;
    let mut e = endpoint("crm", &receiver.url);
    e["retry"] = json!({"max_attempts": 1});
    gateway.admin("POST", "/v1/endpoints", Some(e)).await;
    post_events(&gateway, 1, "call.completed").await;
    let dead = eventually("a dead delivery", || async {
        let dead = gateway.deliveries("status=dead").await;
        dead.first().cloned()
    })
    .await;
    let replay = format!("/v1/deliveries/{}/replay", dead["id"].as_str().expect("id"));

    gateway
        .admin("POST", "/v1/endpoints/crm/disable", None)
        .await;
    let (status, body) = gateway.admin("POST", &replay, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("endpoint_disabled"))
    );
    let recover = Some(json!({"since": 0}));
    let (status, _) = gateway
        .admin("POST", "/v1/endpoints/crm/recover", recover.clone())
        .await;
    assert_eq!(status, 409);
    gateway
        .admin("POST", "/v1/endpoints/crm/enable", None)
        .await;
    for since in [json!(-1), json!(1.5e12), json!("yesterday")] {
        let (status, body) = gateway
            .admin(
                "POST",
                "/v1/endpoints/crm/recover",
                Some(json!({"since": since})),
            )
            .await;
        assert_eq!(status, 400, "{since}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("since")),
            "{body}"
        );
    }
    receiver.answer(200);
    assert_eq!(gateway.admin("POST", &replay, None).await.0, 202);
    receiver.wait_for(2).await;

    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/rotate-secret",
            Some(json!({"grace": "10000years"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = gateway
        .admin(
            "PATCH",
            "/v1/endpoints/crm",
            Some(json!({"timeout": "100years"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("timeout")),
        "{body}"
    );
}

#[tokio::test]
async fn source_and_route_lists_page_through_every_object_once() {
    let gateway = TestGateway::start(&config("")).await;
    for name in ["s1", "s2", "s3"] {
        let (status, _) = gateway
            .admin("POST", "/v1/sources", Some(json!({"name": name})))
            .await;
        assert_eq!(status, 201);
        let (status, _) = gateway
            .admin(
                "POST",
                "/v1/routes",
                Some(json!({"source": name, "plugins": []})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (sources, pages) = gateway.all_pages("/v1/sources?limit=3").await;
    let names: Vec<&str> = sources
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!((names, pages), (vec!["calls", "s1", "s2", "s3"], 2));
    let (routes, pages) = gateway.all_pages("/v1/routes?limit=2").await;
    let names: Vec<&str> = routes
        .iter()
        .map(|r| r["source"].as_str().expect("source"))
        .collect();
    assert_eq!((names, pages), (vec!["s1", "s2", "s3"], 2));
}

/// Why endpoint `crm` is disabled, if it is.
async fn disabled(gateway: &TestGateway) -> Option<String> {
    let (_, endpoint) = gateway.admin("GET", "/v1/endpoints/crm", None).await;
    endpoint["disabled"]["reason"].as_str().map(str::to_owned)
}

/// An endpoint's run-time state is delivery's and outlives configuration
/// changes: disabled stays disabled through a change to its own settings
/// (a new concurrency limit too) and to other objects, and across a
/// restart; a deleted endpoint's state goes with it.
#[tokio::test]
async fn an_endpoints_state_outlives_configuration_changes_but_not_its_deletion() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    gateway
        .admin(
            "POST",
            "/v1/endpoints/crm/disable",
            Some(json!({"reason": "maintenance"})),
        )
        .await;
    let (status, _) = gateway
        .admin(
            "PATCH",
            "/v1/endpoints/crm",
            Some(json!({"max_in_flight": 3, "event_types": ["call.*"]})),
        )
        .await;
    assert_eq!(status, 200);
    gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("other", &receiver.url)),
        )
        .await;
    assert_eq!(disabled(&gateway).await.as_deref(), Some("maintenance"));
    let (status, _) = gateway
        .post("calls", json!({"type": "call.completed"}).to_string(), &[])
        .await;
    assert_eq!(status, 202);
    let dead = eventually("crm's delivery is dead-lettered while disabled", || async {
        gateway
            .deliveries("endpoint=crm&status=dead")
            .await
            .first()
            .cloned()
    })
    .await;
    assert!(
        dead.to_string().contains("disabled"),
        "dead-lettered as disabled: {dead}"
    );

    let gateway = gateway.restart().await;
    assert_eq!(disabled(&gateway).await.as_deref(), Some("maintenance"));
    let (status, _) = gateway.admin("DELETE", "/v1/endpoints/crm", None).await;
    assert_eq!(status, 204);
    gateway
        .admin(
            "POST",
            "/v1/endpoints",
            Some(endpoint("crm", &receiver.url)),
        )
        .await;
    assert_eq!(disabled(&gateway).await, None, "a new crm starts enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callintel_webhooks_each_receive_what_their_events_and_filters_allow() {
    // CallIntel registers webhooks with their own events and filters
    // (`direction`, `status`, a minimum duration).
    let (inbound, long_calls, everything) = (
        TestReceiver::start().await,
        TestReceiver::start().await,
        TestReceiver::start().await,
    );
    let gateway = TestGateway::start(&config(
        "[[source]]\nname = \"callintel\"\nevent_type = { pointer = \"/event_type\" }\n",
    ))
    .await;
    for (status_expected, body) in [
        (
            201,
            json!({"name": "inbound", "url": inbound.url, "event_types": ["call.completed"],
            "filter": {"all": [{"pointer": "/data/direction", "equals": "inbound"},
                               {"pointer": "/data/status", "one_of": ["completed"]}]}}),
        ),
        (
            201,
            json!({"name": "long", "url": long_calls.url, "event_types": ["call.*"],
            "filter": {"pointer": "/data/duration_seconds", "min": 300}}),
        ),
        // No event types: every event type, no filter.
        (201, json!({"name": "all", "url": everything.url})),
        (
            400,
            json!({"name": "bad", "url": everything.url,
            "filter": {"all": [{"pointer": "data/status", "equals": "x"}]}}),
        ),
    ] {
        let (status, answer) = gateway.admin("POST", "/v1/endpoints", Some(body)).await;
        assert_eq!(status, status_expected, "{answer}");
        if status == 400 {
            assert!(
                answer["message"]
                    .as_str()
                    .expect("message")
                    .contains("filter.all[0].pointer"),
                "{answer}"
            );
        }
    }
    let fixture: Value =
        serde_json::from_slice(&crate::harness::fixture("callintel/call.completed.json"))
            .expect("JSON");
    let call = |direction: &str, duration: u64| {
        let mut event = fixture.clone();
        event["data"]["direction"] = direction.into();
        event["data"]["duration_seconds"] = duration.into();
        event.to_string()
    };
    for body in [
        call("outbound", 345),                                      // long only
        call("inbound", 20),                                        // inbound only
        call("inbound", 600),                                       // both
        r#"{"event_type":"batch.completed","data":{}}"#.to_owned(), // neither
    ] {
        let (status, answer) = gateway.post("callintel", body, &[]).await;
        assert_eq!(status, 202, "{answer}");
    }
    let got = everything.wait_for(4).await;
    assert_eq!(
        got.len(),
        4,
        "an endpoint without event types gets every type"
    );
    let durations = |receiver: &TestReceiver| -> Vec<u64> {
        let mut d: Vec<u64> = receiver
            .received()
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_slice(&r.body).expect("JSON");
                v["data"]["duration_seconds"].as_u64().expect("a duration")
            })
            .collect();
        d.sort_unstable();
        d
    };
    // Every message is routed once everything got its copy; the deliveries
    // to the other two are created with it.
    eventually("the filtered deliveries arrive", || async {
        (inbound.received().len() >= 2 && long_calls.received().len() >= 2).then_some(())
    })
    .await;
    let all_deliveries = gateway.deliveries("limit=500").await;
    assert_eq!(
        all_deliveries.len(),
        8,
        "4 + 2 + 2 deliveries, nothing else"
    );
    assert_eq!(durations(&inbound), [20, 600]);
    assert_eq!(durations(&long_calls), [345, 600]);
}

#[tokio::test]
async fn an_hmac_endpoint_rotates_its_secret_at_the_end_of_the_grace_period() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    let mut e = endpoint("callcov", &receiver.url);
    e["signing"] = json!({
        "scheme": "hmac", "header": "X-CallCov-Signature", "encoding": "hex",
        "secret": "old-key",
    });
    let (status, body) = gateway.admin("POST", "/v1/endpoints", Some(e)).await;
    assert_eq!(status, 201, "{body}");
    let (status, rotated) = gateway
        .admin(
            "POST",
            "/v1/endpoints/callcov/rotate-secret",
            Some(json!({"grace": "1h"})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"]
        .as_str()
        .expect("the new secret, once")
        .to_owned();
    assert!(new.len() >= 32 && !new.starts_with("whsec_"), "{new}");
    let (_, shown) = gateway.admin("GET", "/v1/endpoints/callcov", None).await;
    assert_eq!(shown["signing"]["secret"], "***", "{shown}");
    assert_eq!(shown["signing"]["previous"]["secret"], "***", "{shown}");
    let until = |v: &Value| v.as_str().map(|t| t.replace("000000Z", "Z"));
    assert_eq!(
        until(&shown["signing"]["previous"]["until"]),
        until(&rotated["previous_until"])
    );

    // Within the grace period the old secret signs (one signature per
    // request): the receiver has until then to accept the new one.
    let (status, result) = gateway
        .admin(
            "POST",
            "/v1/endpoints/callcov/test",
            Some(json!({"event_type": "analysis.completed"})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let got = receiver.wait_for(1).await;
    let signature = got[0].headers["x-callcov-signature"]
        .to_str()
        .expect("text");
    assert_eq!(signature, hmac_hex("old-key", &got[0].body));

    // A second rotation within the grace period keeps the old one signing
    // until the first grace ends.
    let (status, again) = gateway
        .admin(
            "POST",
            "/v1/endpoints/callcov/rotate-secret",
            Some(json!({"grace": "2h"})),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    let (_, shown) = gateway.admin("GET", "/v1/endpoints/callcov", None).await;
    assert_eq!(
        until(&shown["signing"]["previous"]["until"]),
        until(&rotated["previous_until"]),
        "the first grace period's end stands"
    );
    let (_, result) = gateway
        .admin(
            "POST",
            "/v1/endpoints/callcov/test",
            Some(json!({"event_type": "analysis.completed"})),
        )
        .await;
    assert_eq!(result["delivered"], true, "{result}");
    let got = receiver.wait_for(2).await;
    let signature = got[1].headers["x-callcov-signature"]
        .to_str()
        .expect("text");
    assert_eq!(signature, hmac_hex("old-key", &got[1].body));
}

#[tokio::test]
async fn a_patch_that_switches_the_signing_scheme_replaces_the_old_schemes_fields() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config("")).await;
    let mut e = endpoint("switch", &receiver.url);
    e["signing"] = json!({"scheme": "hmac", "header": "X-Signature", "secret": "k"});
    let (status, body) = gateway.admin("POST", "/v1/endpoints", Some(e)).await;
    assert_eq!(status, 201, "{body}");
    let patch = json!({"signing": {"scheme": "standard-webhooks", "secrets": [WHSEC]}});
    let (status, body) = gateway
        .admin("PATCH", "/v1/endpoints/switch", Some(patch))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signing"]["scheme"], "standard-webhooks", "{body}");
    assert!(body["signing"].get("header").is_none(), "{body}");
    // Within one scheme a patch still merges: the secret stays.
    let patch = json!({"signing": {"scheme": "standard-webhooks", "retiring": []}});
    let (status, body) = gateway
        .admin("PATCH", "/v1/endpoints/switch", Some(patch))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signing"]["secrets"], json!(["***"]), "{body}");
}
