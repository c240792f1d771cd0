//! `hookgate plugin check` and `hookgate plugin run`: the local runner for
//! plugin authors, using the same host and limits as the server.
//! (`hookgate plugin deploy` talks to a running gateway: see `remote.rs`;
//! the two meet only in `mod.rs`, which defines the `plugin` command.)

#![allow(
    clippy::print_stdout,
    reason = "printing the report is what these commands do"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::plugin::{
    EndpointInfo, Event, HostConfig, Invocation, LoadedPlugin, MaxLimits, Outcome, PluginContext,
    PluginHost, PluginLimits,
};

/// Exit code when the plugin ran and failed.
const EXIT_PLUGIN_FAILED: u8 = 1;
/// Exit code when the component or the arguments are unusable.
const EXIT_UNUSABLE: u8 = 2;

/// The plugin subcommands that run here, without a gateway.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Validate a component: is a component, implements the hookgate:plugin
    /// world, imports only what the sandbox allows. Prints its imports
    /// (marking those linked as denied, such as sockets) and exports.
    Check {
        /// The component file (`.wasm`).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cache: Cache,
    },
    /// Run a plugin on one event through the server's host and limits, and
    /// print the outcome as JSON.
    Run {
        /// The component file (`.wasm`).
        file: PathBuf,
        #[command(flatten)]
        cache: Cache,
        /// The event body, a file (usually JSON).
        #[arg(long)]
        event: PathBuf,
        /// A configuration entry for the plugin, `key=value`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = super::args::key_value)]
        config: Vec<(String, String)>,
        /// The source name the event appears to come from.
        #[arg(long, default_value = "local")]
        source: String,
        /// The event type; by default the body's `event`, `event_type` or
        /// `type` field, if it has one.
        #[arg(long)]
        event_type: Option<String>,
        /// A request header, `Name: value`; repeatable.
        #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
        headers: Vec<(String, String)>,
        /// An endpoint the plugin may route to, `NAME[:TYPE,TYPE..[:TAG,TAG..]]`;
        /// repeatable.
        #[arg(long = "endpoint", value_name = "NAME[:TYPES[:TAGS]]", value_parser = parse_endpoint)]
        endpoints: Vec<EndpointInfo>,
        /// Run with this memory limit in bytes instead of the default, as a
        /// deploy with `--memory-bytes` would.
        #[arg(long, value_name = "BYTES")]
        memory_bytes: Option<usize>,
        /// Run with this wall time in milliseconds instead of the default.
        #[arg(long, value_name = "MS")]
        wall_time_ms: Option<u64>,
    },
}

/// Where compiled components are kept between runs, as the server keeps
/// them in its data directory: a large component (a Python or JavaScript
/// one is 12 to 18 MB) compiles once, not on every check or run.
#[derive(Debug, clap::Args)]
pub struct Cache {
    /// The compile cache's folder; by default `$XDG_CACHE_HOME/hookgate/plugin-cache`
    /// (`~/.cache/hookgate/plugin-cache`).
    #[arg(long = "cache-dir", env = "HOOKGATE_PLUGIN_CACHE", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Compile from scratch and keep nothing (whatever the cache folder).
    #[arg(long = "no-cache")]
    off: bool,
}

impl Cache {
    fn folder(&self) -> Option<PathBuf> {
        if self.off {
            return None;
        }
        self.dir.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(base.join("hookgate").join("plugin-cache"))
        })
    }
}

/// Runs a plugin subcommand and returns the exit code.
pub(super) fn run(command: LocalCommand) -> ExitCode {
    let result = match command {
        LocalCommand::Check { file, json, cache } => check(&file, json, &cache),
        LocalCommand::Run {
            file,
            cache,
            event,
            config,
            source,
            event_type,
            headers,
            endpoints,
            memory_bytes,
            wall_time_ms,
        } => {
            let mut context = PluginContext::new(
                file.file_stem()
                    .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned()),
                config.into_iter().collect::<BTreeMap<_, _>>(),
                endpoints,
            );
            let own = PluginLimits {
                memory_bytes,
                wall_time_ms,
            };
            if !own.is_empty() {
                match HostConfig::default()
                    .limits
                    .with(&own, &MaxLimits::default())
                {
                    Ok(limits) => context = context.with_limits(limits),
                    Err(error) => {
                        eprintln!("error: {error}");
                        return ExitCode::from(EXIT_UNUSABLE);
                    }
                }
            }
            run_plugin(&file, &cache, &event, context, source, event_type, headers)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

fn load(file: &std::path::Path, cache: &Cache) -> anyhow::Result<(PluginHost, LoadedPlugin)> {
    let host = PluginHost::new(HostConfig {
        pool_size: 1,
        cache_dir: cache.folder(),
        ..HostConfig::default()
    })?;
    let plugin = host
        .load_file(file)
        .with_context(|| format!("{} is not a usable plugin", file.display()))?;
    Ok((host, plugin))
}

fn check(file: &std::path::Path, as_json: bool, cache: &Cache) -> anyhow::Result<ExitCode> {
    let (_, plugin) = load(file, cache)?;
    let interface = plugin.interface();
    if as_json {
        let report = json!({
            "file": file.display().to_string(),
            "ok": true,
            "sha256": plugin.hash(),
            "size": plugin.size(),
            "contract": format!("hookgate:plugin@{}", plugin.contract_version()),
            "imports": interface.imports,
            "denied": interface.denied,
            "exports": interface.exports,
        });
        println!("{report:#}");
    } else {
        println!(
            "{}: ok, a hookgate:plugin@{} component",
            file.display(),
            plugin.contract_version()
        );
        println!("  sha256  {}", plugin.hash());
        println!("  size    {} bytes", plugin.size());
        println!("  imports");
        for name in &interface.imports {
            if interface.denied.contains(name) {
                println!("    {name}  (linked as denied: every call fails)");
            } else {
                println!("    {name}");
            }
        }
        println!("  exports");
        for name in &interface.exports {
            println!("    {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_plugin(
    file: &std::path::Path,
    cache: &Cache,
    event_file: &std::path::Path,
    context: PluginContext,
    source: String,
    event_type: Option<String>,
    headers: Vec<(String, String)>,
) -> anyhow::Result<ExitCode> {
    let body = std::fs::read(event_file)
        .with_context(|| format!("cannot read the event file {}", event_file.display()))?;
    let event_type = event_type.unwrap_or_else(|| detect_event_type(&body));
    let (host, plugin) = load(file, cache)?;
    let event = Event {
        id: "msg_local".into(),
        source,
        event_type,
        received_at: crate::clock::system_millis(),
        headers,
        body,
    };
    let invocation = host.invoke_blocking(&plugin, &Arc::new(context), &event);
    let failed = invocation.result.is_err();
    let report = report(&event, invocation);
    println!("{report:#}");
    if failed {
        eprintln!(
            "error: {}",
            report["error"]["message"]
                .as_str()
                .unwrap_or("plugin failed")
        );
        return Ok(ExitCode::from(EXIT_PLUGIN_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON the local runner prints for one invocation.
fn report(event: &Event, invocation: Invocation) -> Value {
    let mut report = match invocation.result {
        Ok(Outcome::Drop { reason }) => json!({"outcome": "drop", "reason": reason}),
        Ok(Outcome::Continue(rewrite)) => {
            let mut event = event.clone();
            rewrite.apply(&mut event);
            json!({
                "outcome": "continue",
                "event": {
                    "event_type": event.event_type,
                    "headers": headers_json(&event.headers),
                    "body": body_json(&event.body),
                },
            })
        }
        Ok(Outcome::Deliver(targets)) => json!({
            "outcome": "deliver",
            "targets": targets.iter().map(|t| json!({
                "endpoint": t.endpoint,
                "headers": headers_json(&t.headers),
                "body": body_json(t.body.as_deref().unwrap_or(&event.body)),
            })).collect::<Vec<_>>(),
        }),
        Ok(Outcome::Respond(response)) => json!({
            "outcome": "respond",
            "response": {
                "status": response.status,
                "headers": headers_json(&response.headers),
                "body": body_json(&response.body),
            },
        }),
        Err(error) => json!({
            "outcome": "error",
            "error": {"kind": error.kind(), "message": error.to_string()},
        }),
    };
    report["logs"] = json!(invocation.logs.lines);
    report["logs_truncated"] = json!(invocation.logs.truncated);
    report["elapsed_us"] = json!(invocation.elapsed.as_micros());
    report
}

fn headers_json(headers: &[(String, String)]) -> Value {
    Value::Array(headers.iter().map(|(n, v)| json!([n, v])).collect())
}

/// A body as JSON if it is JSON, else as a string if it is UTF-8, else as
/// `{"base64": ...}`.
fn body_json(body: &[u8]) -> Value {
    use base64::Engine as _;
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value;
    }
    match std::str::from_utf8(body) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(body)}),
    }
}

/// The event type from a JSON body's `event`, `event_type` or `type` field,
/// or empty.
fn detect_event_type(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    ["event", "event_type", "type"]
        .iter()
        .find_map(|key| value.get(key).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

fn parse_header(raw: &str) -> anyhow::Result<(String, String)> {
    match raw.split_once(':') {
        Some((name, value)) if http::HeaderName::from_bytes(name.trim().as_bytes()).is_ok() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => bail!("expected `Name: value` with a valid header name, got {raw:?}"),
    }
}

fn parse_endpoint(raw: &str) -> anyhow::Result<EndpointInfo> {
    let mut parts = raw.splitn(3, ':');
    let name = parts.next().unwrap_or_default().trim();
    if name.is_empty() {
        bail!("expected NAME[:TYPES[:TAGS]], got {raw:?}");
    }
    let list = |part: Option<&str>| -> Vec<String> {
        part.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(EndpointInfo {
        name: name.to_owned(),
        event_types: list(parts.next()),
        tags: list(parts.next()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_argument_parses_name_types_and_tags() {
        let endpoint = parse_endpoint("crm:call.*,batch.completed:team:sales").expect("parses");
        assert_eq!(endpoint.name, "crm");
        assert_eq!(endpoint.event_types, ["call.*", "batch.completed"]);
        assert_eq!(endpoint.tags, ["team:sales"]);
    }

    #[test]
    fn event_type_is_detected_from_common_fields() {
        assert_eq!(
            detect_event_type(br#"{"event_type":"call.completed"}"#),
            "call.completed"
        );
        assert_eq!(
            detect_event_type(br#"{"event":"call_finalized"}"#),
            "call_finalized"
        );
        assert_eq!(detect_event_type(b"not json"), "");
    }
}
