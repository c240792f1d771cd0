//! Plugin deployment through the management API: refused components, new
//! versions, hot swap under load (every event wholly on one version, events
//! after the deploy on the new one), rollback, and deletion rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::harness::{
    ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually, python_wasm, wasm,
};

fn config(receiver: &TestReceiver) -> String {
    let endpoint = format!(
        "[[endpoint]]\nname = \"receiver\"\nurl = \"{}\"\nevent_types = [\"*\"]\nsigning = {{ scheme = \"none\" }}\n",
        receiver.url
    );
    admin_config("", &endpoint)
}

fn stamps(body: &[u8]) -> (u64, Vec<String>) {
    let value: Value = serde_json::from_slice(body).expect("JSON");
    let n = value["n"].as_u64().expect("n");
    let stamps = value["stamps"]
        .as_array()
        .expect("stamps")
        .iter()
        .map(|s| s.as_str().expect("text").to_owned())
        .collect();
    (n, stamps)
}

#[tokio::test]
async fn a_bad_component_is_refused_with_the_hosts_reason_and_nothing_is_deployed() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver)).await;
    let response = reqwest::Client::new()
        .put(format!("{}/v1/plugins/broken", gateway.url))
        .bearer_auth(ADMIN_TOKEN)
        .body(b"\0asm\x01\0\0\0".to_vec())
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "invalid_plugin");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("core WebAssembly module")),
        "{body}"
    );
    let (status, refused) = gateway
        .deploy("unknown", &wasm("unknown-import"), &[])
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("test:unknown/thing")),
        "{refused}"
    );
    let (status, _) = gateway.admin("GET", "/v1/plugins/broken", None).await;
    assert_eq!(status, 404);
    let (_, list) = gateway.admin("GET", "/v1/plugins", None).await;
    assert_eq!(list["items"], json!([]));
}

/// Deploys `component` as `name` and checks it is refused with 400
/// `invalid_plugin`, its message naming `setting`, and nothing deployed.
async fn refused_naming(
    gateway: &TestGateway,
    name: &str,
    component: &std::path::Path,
    setting: &str,
) {
    let (status, body) = gateway.deploy(name, component, &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_plugin")),
        "{body}"
    );
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(setting), "{message}");
    let (status, _) = gateway
        .admin("GET", &format!("/v1/plugins/{name}"), None)
        .await;
    assert_eq!(status, 404, "nothing was deployed");
}

#[tokio::test]
async fn a_component_over_the_size_or_compile_time_limit_is_refused_with_400() {
    let receiver = TestReceiver::start().await;
    let small = format!(
        "{}\n[plugin_host]\nmax_component_bytes = 1000\n",
        config(&receiver)
    );
    let gateway = TestGateway::start(&small).await;
    refused_naming(
        &gateway,
        "noop",
        &wasm("noop"),
        "plugin_host.max_component_bytes",
    )
    .await;

    // A compile that cannot finish in time (nothing is cached in a fresh
    // data directory) is refused, and the gateway goes on serving.
    let hasty = format!(
        "{}\n[plugin_host]\ncompile_timeout = \"1ms\"\n",
        config(&receiver)
    );
    let gateway = TestGateway::start(&hasty).await;
    refused_naming(
        &gateway,
        "summary",
        &wasm("livekit-summary"),
        "plugin_host.compile_timeout",
    )
    .await;
    let (status, _) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn a_compile_over_the_memory_bound_is_refused_with_400_and_a_small_one_still_deploys() {
    let receiver = TestReceiver::start().await;
    // 64 MiB, the least allowed: a Rust plugin compiles within it, an
    // 18 MB Python component (CPython and its modules) does not.
    let bounded = format!(
        "{}\n[plugin_host]\ncompile_memory_bytes = 67108864\n",
        config(&receiver)
    );
    let gateway = TestGateway::start(&bounded).await;
    refused_naming(
        &gateway,
        "python",
        &python_wasm("livekit_summary"),
        "plugin_host.compile_memory_bytes",
    )
    .await;

    // The gateway is unharmed, and a component that fits compiles and
    // deploys.
    let (status, body) = gateway
        .deploy("summary", &wasm("livekit-summary"), &[])
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(1)), "{body}");
    let (status, _) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    assert_eq!(status, 202);
}

/// Drives load from 4 writers, runs `change` (a deploy or a rollback) while
/// events flow, then posts 10 more events; waits until every event of the
/// round has arrived and checks that each ran wholly on one version, that
/// the 10 ran on `expected_after`, and that both `before` and
/// `expected_after` were seen.
async fn swap_under_load<F, Fut>(
    gateway: &Arc<TestGateway>,
    receiver: &TestReceiver,
    round: u64,
    before: &str,
    expected_after: &str,
    change: F,
) where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = receiver.received().len();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let gateway = gateway.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut sent = 0u64;
            // At most 50 each, so the round stays short in a debug build.
            while !stop.load(Ordering::SeqCst) && sent < 50 {
                let n = round * 10_000_000 + w * 1_000_000 + sent;
                let body = json!({"type": "call.completed", "n": n});
                assert_eq!(gateway.post("calls", body.to_string(), &[]).await.0, 202);
                sent += 1;
            }
            sent
        }));
    }
    receiver.wait_for(start + 20).await;
    change().await;
    let after = round * 10_000_000 + 5_000_000;
    for i in 0..10 {
        let body = json!({"type": "call.completed", "n": after + i});
        assert_eq!(gateway.post("calls", body.to_string(), &[]).await.0, 202);
    }
    stop.store(true, Ordering::SeqCst);
    let mut total = 10;
    for writer in writers {
        total += writer.await.expect("writer");
    }
    let got = receiver.wait_for(start + total as usize).await;
    let mut versions = std::collections::BTreeSet::new();
    for request in &got[start..] {
        let (n, stamps) = stamps(&request.body);
        assert_eq!(stamps.len(), 2, "each event ran through the chain once");
        assert_eq!(
            stamps[0], stamps[1],
            "event {n} ran on one version: {stamps:?}"
        );
        if n >= after {
            assert_eq!(
                stamps[0], expected_after,
                "event {n} was ingested after the change returned"
            );
        }
        versions.insert(stamps[0].clone());
    }
    let expected: std::collections::BTreeSet<String> =
        [before.to_owned(), expected_after.to_owned()].into();
    assert_eq!(versions, expected, "both versions ran in round {round}");
}

#[tokio::test]
async fn hot_swap_and_rollback_under_load_run_each_event_wholly_on_one_version() {
    let receiver = TestReceiver::start().await;
    let gateway = Arc::new(TestGateway::start(&config(&receiver)).await);
    let (status, v1) = gateway
        .deploy("stamp", &wasm("scripted"), &[("stamp", "v1")])
        .await;
    assert_eq!((status, v1["version"].as_u64()), (200, Some(1)), "{v1}");
    // The chain runs the plugin twice: a mixed event would carry v1 and v2.
    let (status, _) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["stamp", "stamp"]})),
        )
        .await;
    assert_eq!(status, 201);

    swap_under_load(&gateway, &receiver, 1, "v1", "v2", || async {
        let (status, v2) = gateway
            .deploy("stamp", &wasm("scripted"), &[("stamp", "v2")])
            .await;
        assert_eq!((status, v2["version"].as_u64()), (200, Some(2)), "{v2}");
    })
    .await;
    swap_under_load(&gateway, &receiver, 2, "v2", "v1", || async {
        let (status, back) = gateway
            .admin("POST", "/v1/plugins/stamp/rollback", None)
            .await;
        assert_eq!((status, back["version"].as_u64()), (200, Some(1)), "{back}");
        assert_eq!(back["versions"].as_array().map(Vec::len), Some(2));
    })
    .await;

    let (_, listed) = gateway.admin("GET", "/v1/plugins", None).await;
    let plugin = &listed["items"][0];
    assert_eq!(plugin["name"], "stamp");
    let events = receiver.received().len() as u64;
    assert_eq!(plugin["invocations"].as_u64(), Some(2 * events), "{plugin}");
    assert_eq!(plugin["errors"], 0);
    assert_eq!(plugin["hash"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn a_plugin_a_route_uses_cannot_be_deleted_and_config_changes_add_versions() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver)).await;
    gateway
        .deploy("stamp", &wasm("scripted"), &[("stamp", "a")])
        .await;
    gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["stamp"]})),
        )
        .await;
    let (status, body) = gateway.admin("DELETE", "/v1/plugins/stamp", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("in_use")),
        "{body}"
    );

    let (status, body) = gateway
        .admin(
            "PUT",
            "/v1/plugins/stamp/config",
            Some(json!({"config": {"stamp": "b"}})),
        )
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    assert_eq!(
        gateway
            .post("calls", json!({"type": "x", "n": 1}).to_string(), &[])
            .await
            .0,
        202
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(stamps(&got[0].body).1, ["b"]);
    let (status, _) = gateway
        .admin(
            "POST",
            "/v1/plugins/stamp/rollback",
            Some(json!({"version": 7})),
        )
        .await;
    assert_eq!(status, 404);

    assert_eq!(
        gateway.admin("DELETE", "/v1/routes/calls", None).await.0,
        204
    );
    assert_eq!(
        gateway.admin("DELETE", "/v1/plugins/stamp", None).await.0,
        204
    );
    eventually("the plugin is gone", || async {
        (gateway.admin("GET", "/v1/plugins/stamp", None).await.0 == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn plugin_lists_page_through_every_plugin_once() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver)).await;
    for name in ["a", "b", "c"] {
        let (status, _) = gateway.deploy(name, &wasm("noop"), &[]).await;
        assert_eq!(status, 200);
    }
    let (items, pages) = gateway.all_pages("/v1/plugins?limit=2").await;
    let names: Vec<&str> = items
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!((names, pages), (vec!["a", "b", "c"], 2));
}

#[tokio::test]
async fn a_deploy_gives_the_plugin_its_own_limits_within_the_operators_bounds() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver)).await;
    let bytes = std::fs::read(wasm("memory-bomb")).expect("built");
    let put = |query: &'static [(&'static str, &'static str)]| {
        reqwest::Client::new()
            .put(format!("{}/v1/plugins/bomb", gateway.url))
            .query(query)
            .bearer_auth(ADMIN_TOKEN)
            .body(bytes.clone())
            .send()
    };
    // Past the bound (256 MiB by default): refused, naming the field.
    let refused = put(&[("memory_bytes", "1073741824")])
        .await
        .expect("answers");
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["field"], "limits.memory_bytes", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("plugin_host.max_limits.memory_bytes")),
        "{body}"
    );
    // Within it: recorded with the version, and the calls run under it.
    let deployed = put(&[("memory_bytes", "8388608"), ("wall_time_ms", "1000")])
        .await
        .expect("answers");
    assert_eq!(deployed.status(), 200);
    let view: Value = deployed.json().await.expect("JSON");
    assert_eq!(
        view["versions"][0]["limits"],
        json!({"memory_bytes": 8_388_608, "wall_time_ms": 1000}),
        "{view}"
    );
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["bomb"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    gateway.post("calls", r#"{"type":"t"}"#, &[]).await;
    let failed = eventually("the bomb fails at its own memory limit", || async {
        let (_, page) = gateway
            .admin("GET", "/v1/messages?status=failed", None)
            .await;
        page["items"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(failed["outcome"]["kind"], "memory_limit", "{failed}");
    assert!(
        failed["outcome"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit of 8388608 bytes")),
        "{failed}"
    );
    // A configuration change keeps the limits unless it sets others.
    let (status, view) = gateway
        .admin(
            "PUT",
            "/v1/plugins/bomb/config",
            Some(json!({"config": {"a": "b"}})),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["versions"][1]["limits"]["memory_bytes"], 8_388_608);
    let (status, view) = gateway
        .admin(
            "PUT",
            "/v1/plugins/bomb/config",
            Some(json!({"config": {}, "limits": {"wall_time_ms": 0}})),
        )
        .await;
    assert_eq!(status, 400, "{view}");
    assert_eq!(view["field"], "limits.wall_time_ms", "{view}");
}
