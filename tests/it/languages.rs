//! Plugins written in other languages than Rust, as real components through
//! the real host: the Python, JavaScript and Go SDKs' `livekit-summary` and
//! `call-filter` give the Rust plugins' outcomes on every fixture (drop
//! reasons and their own error messages included), and an exception (a Go
//! panic), a memory bomb and an infinite loop are contained as in Rust.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hookgate::plugin::{Error, HostConfig, LoadedPlugin, Outcome, PluginHost};
use serde_json::{Value, json};

use crate::harness::{context, event, fixture, go_wasm, host, javascript_wasm, python_wasm, wasm};

/// A language with an SDK, by where its components are.
#[derive(Debug, Clone, Copy)]
enum Language {
    Python,
    JavaScript,
    Go,
}

impl Language {
    fn wasm(self, module: &str) -> std::path::PathBuf {
        match self {
            Self::Python => python_wasm(module),
            Self::JavaScript => javascript_wasm(module),
            Self::Go => go_wasm(module),
        }
    }
}

/// One host for the interpreted components, whose compile takes seconds:
/// the default limits, and a cache of compiled components that later runs
/// reuse.
fn shared_host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| host(cached(HostConfig::default())))
}

fn cached(config: HostConfig) -> HostConfig {
    HostConfig {
        cache_dir: Some(python_wasm("").with_file_name("component-cache")),
        ..config
    }
}

fn load(host: &PluginHost, language: Language, module: &str) -> Arc<LoadedPlugin> {
    let file = language.wasm(module);
    let plugin = host
        .load_file(&file)
        .unwrap_or_else(|e| panic!("{} loads: {e}", file.display()));
    Arc::new(plugin)
}

/// Every number as a float: JSON does not tell `2` from `2.0`, and
/// JavaScript writes the one where Rust writes the other.
fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_as_floats(v)))
                .collect(),
        ),
        other => other,
    }
}

/// An outcome with the body parsed, so two languages' JSON compare by
/// value, not by key order.
fn normalized(result: Result<Outcome, Error>) -> Value {
    let body = |bytes: &[u8]| {
        serde_json::from_slice(bytes).map_or_else(
            |_| Value::String(String::from_utf8_lossy(bytes).into_owned()),
            numbers_as_floats,
        )
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
fn compare(
    rust: &str,
    language: Language,
    module: &str,
    cases: &[Case],
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let host = shared_host();
    let rust_plugin = Arc::new(host.load_file(&wasm(rust)).expect("the Rust plugin loads"));
    let other = load(host, language, module);
    for case in cases {
        let context = context(rust, &case.config, &[]);
        let event = event(&case.event_type, case.body.clone());
        let expected = normalized(host.invoke_blocking(&rust_plugin, &context, &event).result);
        let got = normalized(host.invoke_blocking(&other, &context, &event).result);
        let what = format!(
            "{language:?} {module} on {} with {:?}: {}",
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
    livekit_summary_matches(Language::Python, "livekit_summary");
}

#[test]
fn typescript_livekit_summary_gives_the_rust_outcomes_on_every_fixture() {
    livekit_summary_matches(Language::JavaScript, "livekit_summary");
}

#[test]
fn go_livekit_summary_gives_the_rust_outcomes_on_every_fixture() {
    livekit_summary_matches(Language::Go, "livekit_summary");
}

fn livekit_summary_matches(language: Language, module: &str) {
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
    let seen = compare("livekit-summary", language, module, &cases);
    assert_eq!(seen, ["continue", "error"].map(String::from).into());
}

#[test]
fn python_call_filter_gives_the_rust_outcomes_on_every_fixture() {
    call_filter_matches(Language::Python);
}

#[test]
fn javascript_call_filter_gives_the_rust_outcomes_on_every_fixture() {
    call_filter_matches(Language::JavaScript);
}

#[test]
fn go_call_filter_gives_the_rust_outcomes_on_every_fixture() {
    call_filter_matches(Language::Go);
}

fn call_filter_matches(language: Language) {
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
    let seen = compare("call-filter", language, "call_filter", &cases);
    assert_eq!(seen, ["continue", "drop", "error"].map(String::from).into());
}

/// Runs a language's `raises` test plugin and returns the panic message.
fn panic_message(language: Language) -> String {
    let host = shared_host();
    let plugin = load(host, language, "raises");
    let invocation = host.invoke_blocking(
        &plugin,
        &context("raises", &[], &[]),
        &event("call.completed", "{}"),
    );
    match invocation.result {
        Err(Error::Panic { message }) => message,
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn a_python_exception_is_a_panic_with_its_message_and_traceback() {
    let message = panic_message(Language::Python);
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

#[test]
fn a_javascript_error_is_a_panic_with_its_message_and_stack() {
    let message = panic_message(Language::JavaScript);
    assert!(
        message.starts_with("RangeError: refusing event msg_test_1 of type call.completed\n"),
        "{message}"
    );
    assert!(
        message.contains("refuse@"),
        "the stack names the function: {message}"
    );
}

#[test]
fn a_go_panic_is_a_panic_with_its_message_and_stack() {
    let message = panic_message(Language::Go);
    assert!(
        message.starts_with("panic: refusing event msg_test_1 of type call.completed\n"),
        "{message}"
    );
    assert!(
        message.contains("main.refuse("),
        "the stack names the function: {message}"
    );
}

/// A language's `memory_bomb` stops at the memory limit: with a generous
/// wall time, filling the rest of 32 MiB must be what stops it.
fn memory_bomb_hits_the_limit(language: Language) {
    let mut config = cached(HostConfig::default());
    config.limits.wall_time = Duration::from_secs(10);
    let host = host(config);
    let plugin = load(&host, language, "memory_bomb");
    match host
        .invoke_blocking(&plugin, &context("bomb", &[], &[]), &event("t", "{}"))
        .result
    {
        Err(Error::MemoryLimit { limit }) => assert_eq!(limit, 32 << 20),
        other => panic!("expected a memory-limit error, got {other:?}"),
    }
}

#[test]
fn a_python_memory_bomb_hits_the_memory_limit() {
    memory_bomb_hits_the_limit(Language::Python);
}

#[test]
fn a_javascript_memory_bomb_hits_the_memory_limit() {
    memory_bomb_hits_the_limit(Language::JavaScript);
}

#[test]
fn a_go_memory_bomb_hits_the_memory_limit() {
    memory_bomb_hits_the_limit(Language::Go);
}

/// A language's `infinite_loop` ends at the deadline, and the host runs
/// that language's `only_calls` normally afterwards.
fn infinite_loop_times_out(language: Language) {
    let host = shared_host();
    let plugin = load(host, language, "infinite_loop");
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
    let only_calls = load(host, language, "only_calls");
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
fn a_python_infinite_loop_ends_in_a_timeout() {
    infinite_loop_times_out(Language::Python);
}

#[test]
fn a_javascript_infinite_loop_ends_in_a_timeout() {
    infinite_loop_times_out(Language::JavaScript);
}

#[test]
fn a_go_infinite_loop_ends_in_a_timeout() {
    infinite_loop_times_out(Language::Go);
}

/// Runs an SDK's native test command in its folder; returns its output
/// once it passed.
fn native_tests(sdk: &str, command: &mut std::process::Command) -> String {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(sdk);
    let out = command
        .current_dir(&folder)
        .output()
        .expect("the test runner starts");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[test]
fn the_python_sdks_own_tests_pass_under_pytest() {
    let report = native_tests(
        "guest-sdk/python",
        std::process::Command::new(env!("HOOKGATE_PYTHON"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    assert!(report.contains(" passed"), "{report}");
}

#[test]
fn the_javascript_sdks_own_tests_pass_under_node() {
    let report = native_tests(
        "guest-sdk/javascript",
        std::process::Command::new("node").args(["--test", "test/"]),
    );
    assert!(report.contains("# fail 0"), "{report}");
}

#[test]
fn the_go_sdks_own_tests_pass_under_go_test() {
    let report = native_tests(
        "guest-sdk/go",
        std::process::Command::new(env!("HOOKGATE_GO"))
            .args(["test", "-count=1", "./..."])
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod"),
    );
    for package in [
        "guest-sdk/go\t",
        "examples/livekit_summary\t",
        "examples/call_filter\t",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("ok ") && l.contains(package)),
            "{package} has passing tests: {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_runs_a_chain_of_python_javascript_and_go_plugins_deployed_through_the_api() {
    let receiver = crate::harness::TestReceiver::start().await;
    let endpoint = format!(
        "[[endpoint]]\nname = \"crm\"\nurl = \"{}\"\nevent_types = [\"call.summary\"]\n",
        receiver.url
    );
    let gateway =
        crate::harness::TestGateway::start(&crate::harness::admin_config("", &endpoint)).await;
    let (status, body) = gateway
        .deploy("summary", &python_wasm("livekit_summary"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .deploy(
            "filter",
            &javascript_wasm("call_filter"),
            &[("event_types", "call.summary")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .deploy("calls-only", &go_wasm("only_calls"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["summary", "filter", "calls-only"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut finalized: Value =
        serde_json::from_slice(&fixture("voicekit/call_finalized.json")).expect("JSON");
    finalized["type"] = json!("call_finalized");
    let (status, reply) = gateway.post("calls", finalized.to_string(), &[]).await;
    assert_eq!(status, 202, "{reply}");
    // Another event type: the summary passes it on, the filter drops it.
    let (status, reply) = gateway
        .post("calls", r#"{"type":"call_started"}"#, &[])
        .await;
    assert_eq!(status, 202, "{reply}");
    // The summary went through all three (Go's only_calls passes
    // `call.summary` on).
    let got = receiver.wait_for(1).await;
    let summary: Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(summary["call_id"], 123, "{summary}");
    assert_eq!(summary["recording_duration_seconds"], 88.757, "{summary}");
    let dropped = crate::harness::eventually("the filter drops the other event", || async {
        let (_, page) = gateway
            .admin("GET", "/v1/messages?status=dropped", None)
            .await;
        page["items"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(dropped["outcome"]["plugin"], "filter", "{dropped}");
    assert_eq!(
        dropped["outcome"]["reason"],
        "event type call_started does not match event_types call.summary",
        "{dropped}"
    );
}

#[test]
fn a_python_plugin_given_more_memory_takes_a_payload_the_default_refuses() {
    let host = shared_host();
    let plugin = load(host, Language::Python, "livekit_summary");
    let mut payload: Value =
        serde_json::from_slice(&fixture("voicekit/call_finalized.json")).expect("JSON");
    payload["data"]["transcript"] = json!("x".repeat(12 << 20));
    let event = event(
        "call_finalized",
        serde_json::to_vec(&payload).expect("JSON"),
    );
    // A second for both, so memory is what differs.
    let with = |memory_bytes| {
        let own = hookgate::plugin::PluginLimits {
            memory_bytes,
            wall_time_ms: Some(1000),
        };
        let limits = host.limits_for(&own).expect("within the default bounds");
        Arc::new(
            hookgate::plugin::PluginContext::new("summary", Default::default(), Vec::new())
                .with_limits(limits),
        )
    };
    match host.invoke_blocking(&plugin, &with(None), &event).result {
        Err(Error::MemoryLimit { limit }) => assert_eq!(limit, 32 << 20),
        other => panic!("expected the default 32 MiB to be too little, got {other:?}"),
    }
    let invocation = host.invoke_blocking(&plugin, &with(Some(160 << 20)), &event);
    let outcome = normalized(invocation.result);
    assert_eq!(
        outcome["continue"]["body"]["recording_duration_seconds"], 88.757,
        "{outcome}"
    );
}
