//! The example plugins, compiled to components, run through the real host.

use hookgate::plugin::{ChainOutcome, Outcome, PluginHost, Step, run_chain};
use serde_json::Value;

use crate::harness::{context, default_host, endpoint, event, fixture, load, run};

fn continued_body(outcome: Outcome, event: &hookgate::plugin::Event) -> (String, Value) {
    match outcome {
        Outcome::Continue(rewrite) => {
            let mut event = event.clone();
            rewrite.apply(&mut event);
            let body = serde_json::from_slice(&event.body).expect("body is JSON");
            (event.event_type, body)
        }
        other => panic!("expected continue, got {other:?}"),
    }
}

#[test]
fn livekit_summary_turns_the_voicekit_fixture_into_a_summary() {
    let host = default_host();
    let plugin = load(host, "livekit-summary");
    let event = event("call_finalized", fixture("voicekit/call_finalized.json"));
    let invocation = run(host, &plugin, &event);
    let (event_type, body) = continued_body(invocation.result.expect("succeeds"), &event);
    assert_eq!(event_type, "call.summary");
    assert_eq!(body["recording_duration_seconds"], 88.757);
    assert_eq!(body["wall_time_seconds"], 91.422);
    assert_eq!(body["size_bytes"], 1_442_477);
    assert_eq!(body["size_mb"], 1.44);
    assert_eq!(body["room_name"], "VOICEKIT_workflow_abc12345_8453");
}

#[test]
fn livekit_summary_reports_a_missing_field_as_a_plugin_error() {
    let host = default_host();
    let plugin = load(host, "livekit-summary");
    let mut payload: Value =
        serde_json::from_slice(&fixture("voicekit/call_finalized.json")).expect("JSON");
    payload["data"]["egress_info"]
        .as_object_mut()
        .expect("object")
        .remove("duration");
    let invocation = run(host, &plugin, &event("call_finalized", payload.to_string()));
    let error = invocation.result.expect_err("fails");
    assert_eq!(error.kind(), "plugin_error");
    assert_eq!(
        error.to_string(),
        "plugin error: invalid event: data.egress_info.duration is missing"
    );
}

#[test]
fn call_filter_applies_its_configured_rules() {
    let host = default_host();
    let plugin = load(host, "call-filter");
    let ctx = context(
        "filter",
        &[("event_types", "call.*"), ("min_duration", "400")],
        &[],
    );
    let call = event("call.completed", fixture("callintel/call.completed.json"));
    let invocation = host.invoke_blocking(&plugin, &ctx, &call);
    assert_eq!(
        invocation.result.expect("succeeds"),
        Outcome::Drop {
            reason: "duration 345s is below min_duration 400s".into()
        }
    );
    let batch = event("batch.completed", fixture("callintel/batch.completed.json"));
    let invocation = host.invoke_blocking(&plugin, &ctx, &batch);
    assert!(
        matches!(invocation.result, Ok(Outcome::Drop { ref reason }) if reason.contains("does not match event_types")),
        "{:?}",
        invocation.result
    );
}

#[test]
fn endpoint_router_delivers_to_the_mapped_endpoints_it_was_shown() {
    let host = default_host();
    let plugin = load(host, "endpoint-router");
    let endpoints = [
        endpoint("crm", &["call.*"], &[]),
        endpoint("sales-eu", &[], &["team-sales"]),
    ];
    let ctx = context(
        "router",
        &[
            ("field", "data.agent_id"),
            ("route.agent_abc123", "crm,tag:team-sales"),
        ],
        &endpoints,
    );
    let call = event("call.completed", fixture("callintel/call.completed.json"));
    match host.invoke_blocking(&plugin, &ctx, &call).result {
        Ok(Outcome::Deliver(targets)) => {
            let names: Vec<_> = targets.iter().map(|t| t.endpoint.as_str()).collect();
            assert_eq!(names, ["crm", "sales-eu"]);
        }
        other => panic!("expected deliver, got {other:?}"),
    }
}

#[test]
fn provider_normalizer_maps_every_seed_fixture_to_the_canonical_envelope() {
    let host = default_host();
    let plugin = load(host, "provider-normalizer");
    let cases = [
        (
            "roark/call.analysis.completed.json",
            "roark",
            "call.analysis.completed",
        ),
        ("callcov/analysis.failed.json", "callcov", "analysis.failed"),
        (
            "callintel/call.transcript_ready.json",
            "callintel",
            "call.transcript_ready",
        ),
        ("voicekit/call_started.json", "voicekit", "call_started"),
    ];
    for (path, provider, event_type) in cases {
        let event = event("", fixture(path));
        let invocation = run(host, &plugin, &event);
        let (new_type, body) = continued_body(invocation.result.expect(path), &event);
        assert_eq!(new_type, event_type, "{path}");
        assert_eq!(body["type"], event_type, "{path}");
        assert_eq!(body["provider"], provider, "{path}");
        for key in ["occurred_at", "idempotency_key", "data"] {
            assert!(!body[key].is_null(), "{path}: {key} is missing");
        }
    }
}

#[test]
fn plugins_see_their_config_and_endpoints_and_logs_are_captured() {
    let host = default_host();
    let plugin = load(host, "scripted");
    let ctx = context(
        "scripted",
        &[
            ("echo_config", "true"),
            ("print", "to stdout"),
            ("eprint", "to stderr"),
        ],
        &[endpoint("b", &[], &[]), endpoint("a", &[], &[])],
    );
    let event = event("t", "{}");
    let invocation = host.invoke_blocking(&plugin, &ctx, &event);
    let Ok(Outcome::Continue(rewrite)) = invocation.result else {
        panic!("expected continue, got {:?}", invocation.result);
    };
    let headers = rewrite.headers.expect("headers were rewritten");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("x-config"),
        Some("echo_config=true;eprint=to stderr;print=to stdout")
    );
    assert_eq!(header("x-endpoints"), Some("a,b"));
    let lines: Vec<_> = invocation
        .logs
        .lines
        .iter()
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(lines, ["to stdout", "to stderr"]);
}

#[test]
fn log_output_is_truncated_at_the_limit_without_failing_the_plugin() {
    let host = default_host();
    let plugin = load(host, "scripted");
    let ctx = context("scripted", &[("log_lines", "1000")], &[]);
    let invocation = host.invoke_blocking(&plugin, &ctx, &event("t", "{}"));
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    let bytes: usize = invocation.logs.lines.iter().map(|l| l.message.len()).sum();
    assert_eq!(bytes, host.limits().log_bytes);
    assert!(invocation.logs.truncated);
}

#[test]
fn delivering_to_an_unknown_endpoint_is_an_invalid_result() {
    let host = default_host();
    let plugin = load(host, "scripted");
    let ctx = context(
        "scripted",
        &[("deliver_to", "crm,ghost")],
        &[endpoint("crm", &[], &[])],
    );
    let error = host
        .invoke_blocking(&plugin, &ctx, &event("t", "{}"))
        .result
        .expect_err("fails");
    assert_eq!(error.kind(), "invalid_result");
    assert!(error.to_string().contains("\"ghost\""), "{error}");
}

#[tokio::test]
async fn a_chain_passes_rewrites_on_and_stops_at_the_first_drop() {
    let host: &PluginHost = default_host();
    let steps = [
        Step {
            plugin: load(host, "provider-normalizer"),
            context: context("normalizer", &[], &[]),
        },
        Step {
            plugin: load(host, "call-filter"),
            context: context("filter", &[("event_types", "call.completed")], &[]),
        },
        Step {
            plugin: load(host, "noop"),
            context: context("never-reached", &[], &[]),
        },
    ];
    let kept = run_chain(
        host,
        &steps,
        event("", fixture("callintel/call.completed.json")),
    )
    .await;
    match kept.result {
        Ok(ChainOutcome::Continued(event)) => {
            assert_eq!(event.event_type, "call.completed");
            let body: Value = serde_json::from_slice(&event.body).expect("JSON");
            assert_eq!(body["provider"], "callintel");
        }
        other => panic!("expected continued, got {other:?}"),
    }
    assert_eq!(kept.steps.len(), 3);

    let dropped = run_chain(
        host,
        &steps,
        event("", fixture("callintel/batch.completed.json")),
    )
    .await;
    match dropped.result {
        Ok(ChainOutcome::Dropped { plugin, .. }) => assert_eq!(plugin, "filter"),
        other => panic!("expected dropped, got {other:?}"),
    }
    assert_eq!(dropped.steps.len(), 2, "the chain stopped at the drop");
}

#[tokio::test]
async fn a_failing_plugin_ends_the_chain_with_its_name_and_error() {
    let host = default_host();
    let steps = [
        Step {
            plugin: load(host, "noop"),
            context: context("first", &[], &[]),
        },
        Step {
            plugin: load(host, "panicker"),
            context: context("second", &[], &[]),
        },
    ];
    let run = run_chain(host, &steps, event("t", "{}")).await;
    let failure = run.result.expect_err("fails");
    assert_eq!(failure.plugin, "second");
    assert_eq!(failure.error.kind(), "panic");
}

#[test]
fn a_component_of_the_0_1_0_contract_runs_unchanged_beside_0_2_0_ones() {
    let host = default_host();
    let old = load(host, "contract-v0-1");
    assert_eq!(old.contract_version(), "0.1.0");
    assert!(
        old.interface()
            .imports
            .iter()
            .any(|name| name == "hookgate:plugin/endpoints@0.1.0"),
        "{:?}",
        old.interface().imports
    );
    assert_eq!(load(host, "noop").contract_version(), "0.2.0");

    let kept = event("call.completed", "{}");
    let ctx = context("old", &[], &[endpoint("crm", &["*"], &[])]);
    let invocation = host.invoke_blocking(&old, &ctx, &kept);
    match invocation.result.expect("runs") {
        Outcome::Continue(rewrite) => {
            let headers = rewrite.headers.expect("rewrites the headers");
            assert!(headers.contains(&("x-contract".into(), "0.1.0".into())));
        }
        other => panic!("expected continue, got {other:?}"),
    }
    assert_eq!(invocation.logs.lines[0].message, "endpoints: crm");
    let dropped = run(host, &old, &event("drop.me", "{}"));
    assert_eq!(
        dropped.result.expect("runs"),
        Outcome::Drop {
            reason: "a 0.1.0 plugin dropped it".into()
        }
    );
}
