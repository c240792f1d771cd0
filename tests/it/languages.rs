//! Plugins written in other languages than Rust, as real components through
//! the real host: the Python SDK's `livekit-summary` and `call-filter` give
//! the Rust plugins' outcomes on every fixture (drop reasons and their own
//! error messages included), and an exception, a memory bomb and an
//! infinite loop are contained as in Rust.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hookgate::plugin::{Error, HostConfig, LoadedPlugin, Outcome, PluginHost};
use serde_json::{Value, json};

use crate::harness::{context, event, fixture, host, python_wasm, wasm};

/// One host for the Python components, whose compile takes seconds: the
/// default limits, and a cache of compiled components beside them that
/// later runs reuse.
fn python_host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| host(cached(HostConfig::default())))
}

fn cached(config: HostConfig) -> HostConfig {
    HostConfig {
        cache_dir: Some(python_wasm("").with_file_name("component-cache")),
        ..config
    }
}

fn load_python(host: &PluginHost, module: &str) -> Arc<LoadedPlugin> {
    let plugin = host
        .load_file(&python_wasm(module))
        .unwrap_or_else(|e| panic!("{module}.wasm loads: {e}"));
    Arc::new(plugin)
}

/// An outcome with the body parsed, so two languages' JSON compare by
/// value, not by key order.
fn normalized(result: Result<Outcome, Error>) -> Value {
    let body = |bytes: &[u8]| {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
    };
    match result {
        Ok(Outcome::Continue(rewrite)) => json!({"continue": {
            "event_type": rewrite.event_type,
            "headers": rewrite.headers,
            "body": rewrite.body.as_deref().map(body),
        }}),
        Ok(Outcome::Drop { reason }) => json!({ "drop": reason }),
        Err(Error::Plugin(error)) => json!({ "error": error }),
        other => json!({ "unexpected": format!("{other:?}") }),
    }
}

/// One comparison: a config, an event type and a body.
struct Case {
    config: Vec<(&'static str, &'static str)>,
    event_type: String,
    body: Vec<u8>,
    /// When the error message ends in the language runtime's own words (a
    /// JSON parser's, a number parser's): the part both must start with.
    runtime_message: Option<&'static str>,
}

fn case(
    config: &[(&'static str, &'static str)],
    event_type: &str,
    body: impl Into<Vec<u8>>,
) -> Case {
    Case {
        config: config.to_vec(),
        event_type: event_type.into(),
        body: body.into(),
        runtime_message: None,
    }
}

/// Every fixture, with the event type its file is named for.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for provider in ["callcov", "callintel", "roark", "voicekit"] {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(provider);
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .expect("the fixtures are readable")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            let event_type = name.trim_end_matches(".json").to_owned();
            all.push((event_type, fixture(&format!("{provider}/{name}"))));
        }
    }
    all
}

/// Runs every case on both and compares; returns which outcomes were seen
/// (`continue`, `drop`, `error`), so a test can check its cases reach
/// each.
fn compare(rust: &str, python: &str, cases: &[Case]) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let host = python_host();
    let rust_plugin = Arc::new(host.load_file(&wasm(rust)).expect("the Rust plugin loads"));
    let python_plugin = load_python(host, python);
    for case in cases {
        let context = context(rust, &case.config, &[]);
        let event = event(&case.event_type, case.body.clone());
        let expected = normalized(host.invoke_blocking(&rust_plugin, &context, &event).result);
        let got = normalized(
            host.invoke_blocking(&python_plugin, &context, &event)
                .result,
        );
        let what = format!(
            "{python} on {} with {:?}: {}",
            case.event_type,
            case.config,
            String::from_utf8_lossy(&case.body[..case.body.len().min(80)])
        );
        assert!(expected.get("unexpected").is_none(), "{what}: {expected}");
        seen.extend(
            expected
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys().cloned()),
        );
        match case.runtime_message {
            None => assert_eq!(got, expected, "{what}"),
            Some(prefix) => {
                assert_eq!(got["error"]["kind"], expected["error"]["kind"], "{what}");
                for message in [&got, &expected] {
                    let text = message["error"]["message"].as_str().unwrap_or_default();
                    assert!(text.starts_with(prefix), "{what}: {message}");
                }
            }
        }
    }
    seen
}

fn finalized_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&fixture("voicekit/call_finalized.json")).expect("JSON");
    edit(&mut payload);
    serde_json::to_vec(&payload).expect("serialises")
}

#[test]
fn python_livekit_summary_gives_the_rust_outcomes_on_every_fixture() {
    let mut cases: Vec<Case> = fixtures()
        .into_iter()
        .map(|(event_type, body)| case(&[], &event_type, body))
        .collect();
    let edits: &[fn(&mut Value)] = &[
        |p| {
            p["data"]["egress_info"]
                .as_object_mut()
                .map(|e| e.remove("duration"));
        },
        |p| p["data"]["egress_info"]["file_size"] = json!("12kb"),
        |p| p["data"]["egress_info"]["file_size"] = json!(-4),
        |p| p["data"]["egress_info"]["duration"] = json!(2_000_000_000u64),
        |p| p["data"]["egress_info"]["duration"] = json!(" +7 "),
        |p| p["data"]["egress_info"]["ended_at"] = json!("1"),
        |p| p["data"]["egress_info"]["room_name"] = json!(12),
        |p| p["data"]["egress_info"] = json!("oops"),
        |p| p["data"]["egress_info"] = Value::Null,
        |p| p["data"]["call_id"] = Value::Null,
        |p| {
            p["data"].as_object_mut().map(|d| d.remove("egress_info"));
        },
        |p| *p = json!({"event": "call_finalized"}),
    ];
    for edit in edits {
        cases.push(case(&[], "call_finalized", finalized_with(*edit)));
    }
    cases.push(case(
        &[("event_type", "voicekit.summary")],
        "call_finalized",
        fixture("voicekit/call_finalized.json"),
    ));
    cases.push(Case {
        runtime_message: Some("body is not the expected JSON: "),
        ..case(&[], "call_finalized", "not json")
    });
    let seen = compare("livekit-summary", "livekit_summary", &cases);
    assert_eq!(seen, ["continue", "error"].map(String::from).into());
}

#[test]
fn python_call_filter_gives_the_rust_outcomes_on_every_fixture() {
    let configs: &[&[(&str, &str)]] = &[
        &[],
        &[("event_types", "call.*")],
        &[("event_types", "*.completed, analysis.*")],
        &[("min_duration", "60")],
        &[("min_duration", "400")],
        &[("min_duration", "125.25")],
        &[("direction", "outbound"), ("status", "completed")],
        &[("direction", "inbound")],
        &[("direction", "inbound"), ("on_missing", "keep")],
        &[("status", "ok"), ("status_field", "data.result")],
        &[("status", "completed"), ("status_field", "/data/status")],
        &[("on_missing", "maybe")],
        &[("min_duration", "-5")],
    ];
    let mut cases = Vec::new();
    for config in configs {
        for (event_type, body) in fixtures() {
            cases.push(case(config, &event_type, body));
        }
    }
    cases.push(Case {
        runtime_message: Some("config key `min_duration` has bad value \"a minute\": "),
        ..case(
            &[("min_duration", "a minute")],
            "call.completed",
            fixture("callintel/call.completed.json"),
        )
    });
    cases.push(Case {
        runtime_message: Some("body is not the expected JSON: "),
        ..case(&[("status", "completed")], "call.completed", "<xml/>")
    });
    let seen = compare("call-filter", "call_filter", &cases);
    assert_eq!(seen, ["continue", "drop", "error"].map(String::from).into());
}

#[test]
fn a_python_exception_is_a_panic_with_its_message_and_traceback() {
    let host = python_host();
    let plugin = load_python(host, "raises");
    let invocation = host.invoke_blocking(
        &plugin,
        &context("raises", &[], &[]),
        &event("call.completed", "{}"),
    );
    match invocation.result {
        Err(Error::Panic { message }) => {
            assert!(
                message.starts_with(
                    "ValueError: refusing event msg_test_1 of type call.completed\nTraceback (most recent call last):"
                ),
                "{message}"
            );
            assert!(
                message.contains("raises.py\", line 8, in refuse"),
                "{message}"
            );
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn a_python_memory_bomb_hits_the_memory_limit() {
    // Filling the rest of 32 MiB must be what stops it, not the deadline.
    let mut config = cached(HostConfig::default());
    config.limits.wall_time = Duration::from_secs(10);
    let host = host(config);
    let plugin = load_python(&host, "memory_bomb");
    match host
        .invoke_blocking(&plugin, &context("bomb", &[], &[]), &event("t", "{}"))
        .result
    {
        Err(Error::MemoryLimit { limit }) => assert_eq!(limit, 32 << 20),
        other => panic!("expected a memory-limit error, got {other:?}"),
    }
}

#[test]
fn a_python_infinite_loop_ends_in_a_timeout() {
    let host = python_host();
    let plugin = load_python(host, "infinite_loop");
    let limit = host.limits().wall_time;
    match host
        .invoke_blocking(&plugin, &context("loop", &[], &[]), &event("t", "{}"))
        .result
    {
        Err(Error::Timeout {
            limit: reported,
            elapsed,
        }) => {
            assert_eq!(reported, limit);
            assert!(elapsed >= limit, "stopped at {elapsed:?}, before {limit:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The host still runs a Python plugin normally afterwards.
    let only_calls = load_python(host, "only_calls");
    let invocation = host.invoke_blocking(
        &only_calls,
        &context("only", &[], &[]),
        &event("batch.completed", "{}"),
    );
    assert_eq!(
        normalized(invocation.result),
        json!({"drop": "batch.completed is not a call event"})
    );
}

#[test]
fn the_python_sdks_own_tests_pass_under_pytest() {
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("guest-sdk/python");
    let out = std::process::Command::new(env!("HOOKGATE_PYTHON"))
        .current_dir(&sdk)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .output()
        .expect("the toolchain's Python runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}
