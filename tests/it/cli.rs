//! The real `hookgate` binary's `plugin check` and `plugin run`, spawned.

use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::wasm;

fn hookgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
        .args(args)
        .output()
        .expect("the binary runs")
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
        stdout.contains("ok, a hookgate:plugin@0.1.0 component"),
        "{stdout}"
    );
    assert!(stdout.contains("hookgate:plugin/log@0.1.0"), "{stdout}");
    assert!(stdout.contains("exports\n    handle"), "{stdout}");
}

#[test]
fn plugin_check_refuses_a_forbidden_import_with_a_reason() {
    let file = wasm("socket-import");
    let out = hookgate(&["plugin", "check", file.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("does not allow: wasi:sockets/"), "{stderr}");
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
