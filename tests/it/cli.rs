//! The real `hookgate` binary, spawned: `plugin check` and `plugin run`, and
//! the commands that talk to a running gateway.

use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::wasm;

/// Runs the CLI with a compile cache of this test run's, not the user's.
fn hookgate(args: &[&str]) -> Output {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().expect("a temporary folder"));
    Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
        .args(args)
        .env("HOOKGATE_PLUGIN_CACHE", cache.path())
        .output()
        .expect("the binary runs")
}

#[test]
fn plugin_check_and_run_compile_once_into_the_cache() {
    let cache = tempfile::tempdir().expect("a temporary folder");
    let dir = cache.path().to_str().expect("UTF-8 path");
    let file = wasm("livekit-summary");
    let file = file.to_str().expect("UTF-8 path");
    let cached = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(cache.path())
            .map(|entries| {
                entries
                    .filter_map(|e| {
                        let e = e.ok()?;
                        Some((e.path(), e.metadata().ok()?.modified().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = hookgate(&["plugin", "check", "--cache-dir", dir, file]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let after_first = cached();
    assert_eq!(
        after_first.len(),
        1,
        "one compiled component: {after_first:?}"
    );
    assert!(
        after_first[0].0.extension().is_some_and(|e| e == "cwasm"),
        "{after_first:?}"
    );
    let event = fixture_path("voicekit/call_finalized.json");
    let second = hookgate(&["plugin", "run", "--cache-dir", dir, file, "--event", &event]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert_eq!(
        cached(),
        after_first,
        "the run loaded it, compiling nothing"
    );

    let none = tempfile::tempdir().expect("a temporary folder");
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
        .args(["plugin", "check", "--no-cache", file])
        .env("HOOKGATE_PLUGIN_CACHE", none.path())
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_dir(none.path()).expect("readable").count(),
        0,
        "--no-cache keeps nothing"
    );
}

fn fixture_path(path: &str) -> String {
    format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn plugin_check_prints_imports_and_exports() {
    let file = wasm("livekit-summary");
    let out = hookgate(&["plugin", "check", file.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok, a hookgate:plugin@0.2.0 component"),
        "{stdout}"
    );
    assert!(stdout.contains("hookgate:plugin/log@0.2.0"), "{stdout}");
    assert!(stdout.contains("exports\n    handle"), "{stdout}");
}

#[test]
fn plugin_check_refuses_a_forbidden_import_with_a_reason() {
    let file = wasm("unknown-import");
    let out = hookgate(&["plugin", "check", file.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("does not allow: test:unknown/thing;"),
        "{stderr}"
    );
}

#[test]
fn plugin_check_lists_the_imports_linked_as_denied() {
    let file = wasm("socket-import");
    let out = hookgate(&["plugin", "check", file.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("wasi:sockets/tcp@")
                && l.ends_with("(linked as denied: every call fails)")),
        "{stdout}"
    );
    let out = hookgate(&[
        "plugin",
        "check",
        "--json",
        file.to_str().expect("UTF-8 path"),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let denied = report["denied"].as_array().expect("a list");
    assert!(
        denied
            .iter()
            .filter_map(Value::as_str)
            .all(|i| i.starts_with("wasi:sockets/")),
        "{report}"
    );
    assert!(!denied.is_empty(), "{report}");
}

#[test]
fn plugin_run_prints_the_outcome_as_json() {
    let file = wasm("livekit-summary");
    let event = fixture_path("voicekit/call_finalized.json");
    let out = hookgate(&[
        "plugin",
        "run",
        file.to_str().expect("UTF-8 path"),
        "--event",
        &event,
        "--config",
        "event_type=voicekit.summary",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(report["outcome"], "continue");
    assert_eq!(report["event"]["event_type"], "voicekit.summary");
    assert_eq!(report["event"]["body"]["wall_time_seconds"], 91.422);
}

#[test]
fn plugin_run_exits_non_zero_with_the_classified_error() {
    let file = wasm("infinite-loop");
    let event = fixture_path("voicekit/call_started.json");
    let out = hookgate(&[
        "plugin",
        "run",
        file.to_str().expect("UTF-8 path"),
        "--event",
        &event,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(report["outcome"], "error");
    assert_eq!(report["error"]["kind"], "timeout");
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plugin_check_refuses_a_component_that_is_not_a_plugin() {
    let file = wasm("not-a-plugin");
    let out = hookgate(&["plugin", "check", file.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is not a hookgate plugin"), "{stderr}");
}

/// The remote commands against an in-process gateway: deploy a plugin, list
/// endpoints, show a message, replay its delivery.
#[tokio::test]
async fn remote_commands_deploy_list_show_and_replay() {
    use crate::harness::{ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually};

    let receiver = TestReceiver::start().await;
    let endpoint = format!(
        "[[endpoint]]\nname = \"crm\"\nurl = \"{}\"\nevent_types = [\"*\"]\n",
        receiver.url
    );
    let gateway = TestGateway::start(&admin_config("", &endpoint)).await;
    let remote = |args: &[&str]| {
        let url = gateway.url.clone();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
                    .args(&args)
                    .env("HOOKGATE_URL", url)
                    .env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
                    .output()
                    .expect("the binary runs")
            })
            .await
            .expect("joins")
        }
    };
    let scripted = wasm("scripted");
    let out = remote(&[
        "plugin",
        "deploy",
        scripted.to_str().expect("UTF-8 path"),
        "--name",
        "stamp",
        "--config",
        "stamp=cli",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("deployed stamp v1 (sha256 "),
        "{}",
        text(&out.stdout)
    );
    let (status, _) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(serde_json::json!({"source": "calls", "plugins": ["stamp"]})),
        )
        .await;
    assert_eq!(status, 201);

    let out = remote(&["endpoints", "list"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("crm ") && l.contains("active") && l.contains(&receiver.url)),
        "{listing}"
    );

    let (_, reply) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    let id = reply["id"].as_str().expect("id").to_owned();
    receiver.wait_for(1).await;
    let delivery = eventually("the delivery is recorded", || async {
        let (_, attempts) = gateway
            .admin("GET", &format!("/v1/messages/{id}/attempts"), None)
            .await;
        let d = attempts.get(0)?.clone();
        (d["status"] == "delivered").then_some(d)
    })
    .await;
    let out = remote(&["messages", "show", &id]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains(&format!("message     {id}")), "{shown}");
    assert!(
        shown.contains("routed as \"call.completed\" to 1 endpoint(s)"),
        "{shown}"
    );
    assert!(
        shown.contains("-> crm: delivered") && shown.contains("HTTP 200"),
        "{shown}"
    );

    let out = remote(&["messages", "show", &id, "--json"]).await;
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        json["outcome"]["payload"]["stamps"],
        serde_json::json!(["cli"])
    );

    let delivery_id = delivery["id"].as_str().expect("id");
    let out = remote(&["replay", delivery_id]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    receiver.wait_for(2).await;
    let out = remote(&["replay", "dlv_missing"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("404"), "{}", text(&out.stderr));
}
