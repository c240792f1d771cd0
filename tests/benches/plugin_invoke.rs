//! One plugin invocation, measured: a fresh store, an instance from the
//! pre-instantiated component, the call, and the drop; for the no-op plugin
//! and for `livekit-summary` on the VoiceKit fixture, in Rust, in Python, in
//! TypeScript and in Go (each SDK's `only_calls` passing the event stands
//! for that language's no-op),
//! beside the same summary as a native Rust function. Each case's p50 is
//! also given as events per second on one core.
//!
//! Run with `cargo bench -p hookgate-tests --bench plugin_invoke`. After
//! criterion's report it prints p50/p90/p99 from individually timed calls.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hookgate::plugin::{Event, HostConfig, LoadedPlugin, PluginContext, PluginHost};

const SAMPLES: usize = 20_000;

fn wasm(name: &str) -> std::path::PathBuf {
    Path::new(env!("HOOKGATE_WASM_DIR")).join(format!("{name}.wasm"))
}

fn python(name: &str) -> std::path::PathBuf {
    Path::new(env!("HOOKGATE_PYTHON_WASM_DIR")).join(format!("{name}.wasm"))
}

fn javascript(name: &str) -> std::path::PathBuf {
    Path::new(env!("HOOKGATE_JAVASCRIPT_WASM_DIR")).join(format!("{name}.wasm"))
}

fn go(name: &str) -> std::path::PathBuf {
    Path::new(env!("HOOKGATE_GO_WASM_DIR")).join(format!("{name}.wasm"))
}

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/voicekit/call_finalized.json"
    );
    std::fs::read(path).expect("fixture exists")
}

fn event(event_type: &str, body: Vec<u8>) -> Event {
    Event {
        id: "msg_bench".into(),
        source: "bench".into(),
        event_type: event_type.into(),
        received_at: 1_700_000_000_000,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    }
}

struct Case {
    name: &'static str,
    plugin: LoadedPlugin,
    event: Event,
}

fn native_summary(body: &[u8]) -> Vec<u8> {
    let payload: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    let summary = livekit_summary::summarize(&payload).expect("summarises");
    serde_json::to_vec(&summary).expect("serialises")
}

fn percentiles(mut samples: Vec<Duration>) -> [Duration; 3] {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    [at(0.50), at(0.90), at(0.99)]
}

#[allow(clippy::print_stdout)]
fn main() {
    let host = PluginHost::new(HostConfig::default()).expect("host starts");
    let context = Arc::new(PluginContext::new("bench", BTreeMap::new(), Vec::new()));
    let body = fixture();
    let cases = [
        Case {
            name: "noop",
            plugin: host.load_file(&wasm("noop")).expect("loads"),
            event: event("call_finalized", body.clone()),
        },
        Case {
            name: "livekit-summary",
            plugin: host.load_file(&wasm("livekit_summary")).expect("loads"),
            event: event("call_finalized", body.clone()),
        },
        Case {
            name: "python-pass",
            plugin: host.load_file(&python("only_calls")).expect("loads"),
            event: event("call.completed", body.clone()),
        },
        Case {
            name: "python-summary",
            plugin: host.load_file(&python("livekit_summary")).expect("loads"),
            event: event("call_finalized", body.clone()),
        },
        Case {
            name: "js-pass",
            plugin: host.load_file(&javascript("only_calls")).expect("loads"),
            event: event("call.completed", body.clone()),
        },
        Case {
            name: "ts-summary",
            plugin: host
                .load_file(&javascript("livekit_summary"))
                .expect("loads"),
            event: event("call_finalized", body.clone()),
        },
        Case {
            name: "go-pass",
            plugin: host.load_file(&go("only_calls")).expect("loads"),
            event: event("call.completed", body.clone()),
        },
        Case {
            name: "go-summary",
            plugin: host.load_file(&go("livekit_summary")).expect("loads"),
            event: event("call_finalized", body.clone()),
        },
    ];

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("invoke");
        for case in &cases {
            group.bench_function(case.name, |b| {
                b.iter(|| {
                    let invocation = host.invoke_blocking(&case.plugin, &context, &case.event);
                    black_box(invocation.result.expect("succeeds"))
                })
            });
        }
        group.bench_function("native-summary", |b| {
            b.iter(|| black_box(native_summary(&body)))
        });
        group.finish();
    }
    criterion.final_summary();

    println!("\nper-call latency over {SAMPLES} individually timed calls:");
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>14}",
        "case", "p50", "p90", "p99", "events/s/core"
    );
    let mut p50s = BTreeMap::new();
    for case in &cases {
        let samples = (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                let invocation = host.invoke_blocking(&case.plugin, &context, &case.event);
                black_box(invocation.result.expect("succeeds"));
                start.elapsed()
            })
            .collect();
        let [p50, p90, p99] = percentiles(samples);
        println!(
            "{:<18} {:>10.2?} {:>10.2?} {:>10.2?} {:>14.0}",
            case.name,
            p50,
            p90,
            p99,
            1.0 / p50.as_secs_f64()
        );
        p50s.insert(case.name, p50);
    }
    let samples = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            black_box(native_summary(&body));
            start.elapsed()
        })
        .collect();
    let [p50, p90, p99] = percentiles(samples);
    println!(
        "{:<18} {:>10.2?} {:>10.2?} {:>10.2?}",
        "native-summary", p50, p90, p99
    );
    let ratio = p50s["livekit-summary"].as_secs_f64() / p50.as_secs_f64();
    println!("livekit-summary p50 / native p50 = {ratio:.1}x");
    let python = p50s["python-summary"].as_secs_f64() / p50s["livekit-summary"].as_secs_f64();
    println!("python-summary p50 / livekit-summary p50 = {python:.0}x");
}
