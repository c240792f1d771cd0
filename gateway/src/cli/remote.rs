//! The commands that talk to a running gateway's management API:
//! `plugin deploy`, `endpoints list|test`, `messages show` and `replay`. The
//! address and token come from flags or `HOOKGATE_URL` /
//! `HOOKGATE_ADMIN_TOKEN`; output is readable text, or JSON with `--json`.

#![allow(
    clippy::print_stdout,
    reason = "printing the answer is what these commands do"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the gateway is and how to talk to it.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The gateway's base URL.
    #[arg(long, env = "HOOKGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The admin token (`admin.token` in the gateway's config).
    #[arg(long, env = "HOOKGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `hookgate endpoints ...`.
#[derive(Debug, Subcommand)]
pub enum EndpointsCommand {
    /// List endpoints with their state.
    List {
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one endpoint: its settings (secrets hidden), state and circuit.
    Show {
        /// The endpoint's name.
        name: String,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Create an endpoint; a generated signing secret is shown this once.
    Create {
        /// Its name.
        name: String,
        /// Where deliveries go.
        #[arg(id = "endpoint_url", value_name = "URL")]
        url: String,
        /// An event type it receives (`call.*` for a family); repeatable.
        /// None: every event type.
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop deliveries to an endpoint until it is enabled.
    Disable {
        /// The endpoint's name.
        name: String,
        /// Why (shown with the endpoint).
        #[arg(long)]
        reason: Option<String>,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Let deliveries to an endpoint go again.
    Enable {
        /// The endpoint's name.
        name: String,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Give an endpoint a new signing secret; the old ones keep signing
    /// for the grace period.
    RotateSecret {
        /// The endpoint's name.
        name: String,
        /// How long the old secrets keep signing (default 24h).
        #[arg(long)]
        grace: Option<String>,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Send a test event to one endpoint (stored, signed and logged like any
    /// delivery, marked as a test) and print its first attempt.
    Test {
        /// The endpoint's name.
        name: String,
        /// The event type; a provider event type sends its sample payload.
        #[arg(long)]
        event_type: String,
        /// A JSON file to send instead of the sample.
        #[arg(long)]
        payload: Option<PathBuf>,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `hookgate messages ...`.
#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// The message log, newest first.
    List {
        /// Which messages.
        #[command(flatten)]
        filters: super::logs::MessageFilters,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a message: payload, plugin outcome, deliveries and attempts.
    Show {
        /// The message id (`msg_...`).
        id: String,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `hookgate replay`: one delivery, or an endpoint's failed deliveries.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The delivery to send again now (`dlv_...`).
    #[arg(conflicts_with_all = ["endpoint", "since"], required_unless_present = "endpoint")]
    pub delivery: Option<String>,
    /// Recover every failed or dead-lettered delivery of this endpoint.
    #[arg(long, requires = "since")]
    pub endpoint: Option<String>,
    /// With `--endpoint`: deliveries created since (RFC 3339 or Unix ms).
    #[arg(long)]
    pub since: Option<String>,
    /// With `--endpoint`: deliveries created before (RFC 3339 or Unix ms).
    #[arg(long, requires = "endpoint")]
    pub until: Option<String>,
    /// The gateway.
    #[command(flatten)]
    pub remote: Remote,
}

/// A plugin deployment.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The component file (`.wasm`).
    pub file: PathBuf,
    /// The plugin's name, as routes refer to it.
    #[arg(long)]
    pub name: String,
    /// A configuration entry, `key=value`; repeatable. Without any, the new
    /// version keeps the current configuration.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = super::args::key_value)]
    pub config: Vec<(String, String)>,
    /// The plugin's own memory limit in bytes, within the gateway's
    /// `plugin_host.max_limits` (a Python or JavaScript plugin taking large
    /// payloads may need more than the default 32 MiB).
    #[arg(long, value_name = "BYTES")]
    pub memory_bytes: Option<usize>,
    /// The plugin's own wall time per call in milliseconds, within the
    /// gateway's bound.
    #[arg(long, value_name = "MS")]
    pub wall_time_ms: Option<u64>,
    /// The gateway.
    #[command(flatten)]
    pub remote: Remote,
}

/// Runs a remote command on a small runtime and returns the exit code.
pub(super) fn run(command: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// One API call; a non-2xx answer becomes an error with the API's message.
pub(super) async fn call(
    remote: &Remote,
    method: reqwest::Method,
    path: &str,
    body: Option<reqwest::Body>,
    query: &[(&str, String)],
) -> anyhow::Result<Value> {
    let Some(token) = &remote.token else {
        bail!("the management API needs the admin token: pass --token or set HOOKGATE_ADMIN_TOKEN");
    };
    let url = format!("{}{path}", remote.url.trim_end_matches('/'));
    let mut request = reqwest::Client::new()
        .request(method, &url)
        .query(query)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {}", remote.url))?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = value["message"].as_str().unwrap_or("no message");
        let code = value["code"].as_str().unwrap_or("?");
        bail!("the gateway answered {status} ({code}): {message}");
    }
    Ok(value)
}

pub(super) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `hookgate plugin deploy`.
pub(super) async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut query = Vec::new();
    if !args.config.is_empty() {
        let config: BTreeMap<String, String> = args.config.into_iter().collect();
        query.push(("config", serde_json::to_string(&config)?));
    }
    query.extend(args.memory_bytes.map(|b| ("memory_bytes", b.to_string())));
    query.extend(args.wall_time_ms.map(|ms| ("wall_time_ms", ms.to_string())));
    let path = format!("/v1/plugins/{}", args.name);
    let plugin = call(
        &args.remote,
        reqwest::Method::PUT,
        &path,
        Some(bytes.into()),
        &query,
    )
    .await?;
    if args.remote.json {
        print_json(&plugin);
    } else {
        println!(
            "deployed {} v{} (sha256 {}, {} bytes); new events use it now",
            plugin["name"].as_str().unwrap_or("?"),
            plugin["version"],
            plugin["hash"].as_str().unwrap_or("?"),
            plugin["size"],
        );
    }
    Ok(())
}

/// `hookgate endpoints list`.
pub(super) async fn endpoints(command: EndpointsCommand) -> anyhow::Result<()> {
    let remote = match command {
        EndpointsCommand::List { remote } => remote,
        EndpointsCommand::Test {
            name,
            event_type,
            payload,
            remote,
        } => return test_endpoint(&name, event_type, payload, &remote).await,
        other => return manage_endpoint(other).await,
    };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "500".to_owned())];
        query.extend(cursor.take().map(|c| ("cursor", c)));
        let page = call(&remote, reqwest::Method::GET, "/v1/endpoints", None, &query).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    if remote.json {
        print_json(&json!(items));
        return Ok(());
    }
    println!("{:<20} {:<10} {:<24} URL", "NAME", "STATE", "EVENT TYPES");
    for e in &items {
        let state = if !e["disabled"].is_null() {
            "disabled"
        } else if e["active"] == false {
            "inactive"
        } else if e["circuit"]["state"] == "open" {
            "open"
        } else {
            "active"
        };
        let types: Vec<&str> = e["event_types"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "{:<20} {:<10} {:<24} {}",
            e["name"].as_str().unwrap_or("?"),
            state,
            types.join(","),
            e["url"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

/// `hookgate endpoints show|create|disable|enable|rotate-secret`.
async fn manage_endpoint(command: EndpointsCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let body = |value: Value| -> anyhow::Result<Option<reqwest::Body>> {
        Ok(Some(serde_json::to_vec(&value)?.into()))
    };
    let (remote, answer, done) = match command {
        EndpointsCommand::Show { name, remote } => {
            let path = format!("/v1/endpoints/{name}");
            let answer = call(&remote, Method::GET, &path, None, &[]).await?;
            (remote, answer, String::new())
        }
        EndpointsCommand::Create {
            name,
            url,
            event_types,
            remote,
        } => {
            let mut endpoint = json!({"name": name, "url": url});
            if !event_types.is_empty() {
                endpoint["event_types"] = json!(event_types);
            }
            let answer = call(&remote, Method::POST, "/v1/endpoints", body(endpoint)?, &[]).await?;
            let done = match answer["secret"].as_str() {
                Some(secret) => {
                    format!("created {name}; its signing secret, shown this once: {secret}")
                }
                None => format!("created {name}"),
            };
            (remote, answer, done)
        }
        EndpointsCommand::Disable {
            name,
            reason,
            remote,
        } => {
            let path = format!("/v1/endpoints/{name}/disable");
            let request = body(json!({"reason": reason}))?;
            let answer = call(&remote, Method::POST, &path, request, &[]).await?;
            (remote, answer, format!("{name} is disabled"))
        }
        EndpointsCommand::Enable { name, remote } => {
            let path = format!("/v1/endpoints/{name}/enable");
            let answer = call(&remote, Method::POST, &path, None, &[]).await?;
            (remote, answer, format!("{name} is enabled"))
        }
        EndpointsCommand::RotateSecret {
            name,
            grace,
            remote,
        } => {
            let path = format!("/v1/endpoints/{name}/rotate-secret");
            let request = body(grace.map_or_else(|| json!({}), |g| json!({"grace": g})))?;
            let answer = call(&remote, Method::POST, &path, request, &[]).await?;
            let secret = answer["secret"].as_str().unwrap_or("?");
            let done = format!("{name} signs with a new secret, shown this once: {secret}");
            (remote, answer, done)
        }
        EndpointsCommand::List { .. } | EndpointsCommand::Test { .. } => {
            bail!("not an endpoint change")
        }
    };
    if remote.json {
        print_json(&answer);
    } else if done.is_empty() {
        // `show`: the settings as the API gives them, then the state.
        print_json(&answer);
    } else {
        println!("{done}");
    }
    Ok(())
}

/// `hookgate endpoints test`.
async fn test_endpoint(
    name: &str,
    event_type: String,
    payload: Option<PathBuf>,
    remote: &Remote,
) -> anyhow::Result<()> {
    let mut request = json!({"event_type": event_type});
    if let Some(path) = payload {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        request["payload"] = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
    }
    let path = format!("/v1/endpoints/{name}/test");
    let body = Some(serde_json::to_vec(&request)?.into());
    let result = call(remote, reqwest::Method::POST, &path, body, &[]).await?;
    if remote.json {
        print_json(&result);
        return Ok(());
    }
    println!(
        "message     {}",
        result["message_id"].as_str().unwrap_or("?")
    );
    println!(
        "delivery    {}",
        result["delivery_id"].as_str().unwrap_or("not yet created")
    );
    let attempt = &result["attempt"];
    if attempt.is_null() {
        println!("attempt     not made yet; it is on its way (see `messages show`)");
    } else {
        let outcome = match attempt["status"].as_u64() {
            Some(code) => format!("HTTP {code}"),
            None => attempt["error"]
                .as_str()
                .unwrap_or("no response")
                .to_owned(),
        };
        let verdict = if result["delivered"] == true {
            "delivered"
        } else {
            "not delivered; retried on the endpoint's schedule"
        };
        println!(
            "attempt     {outcome} in {} ms: {verdict}",
            attempt["latency_ms"]
        );
    }
    Ok(())
}

/// `hookgate messages show`.
pub(super) async fn messages(command: MessagesCommand) -> anyhow::Result<()> {
    let (id, remote) = match command {
        MessagesCommand::Show { id, remote } => (id, remote),
        MessagesCommand::List { filters, remote } => {
            return super::logs::list_messages(filters, remote).await;
        }
    };
    let message = call(
        &remote,
        reqwest::Method::GET,
        &format!("/v1/messages/{id}"),
        None,
        &[],
    )
    .await?;
    let deliveries = call(
        &remote,
        reqwest::Method::GET,
        &format!("/v1/messages/{id}/attempts"),
        None,
        &[],
    )
    .await?;
    if remote.json {
        let mut all = message;
        all["deliveries"] = deliveries;
        print_json(&all);
        return Ok(());
    }
    println!("message     {}", message["id"].as_str().unwrap_or("?"));
    println!("source      {}", message["source"].as_str().unwrap_or("?"));
    println!(
        "event type  {}",
        message["event_type"].as_str().unwrap_or("?")
    );
    let received = message["received_at"]
        .as_u64()
        .map(super::args::readable_time);
    println!("received    {}", received.as_deref().unwrap_or("?"));
    let outcome = &message["outcome"];
    match outcome["status"].as_str() {
        Some("dropped") => println!(
            "outcome     dropped by {}: {}",
            outcome["plugin"], outcome["reason"]
        ),
        Some("failed") => println!(
            "outcome     failed in {} ({}): {}",
            outcome["plugin"], outcome["kind"], outcome["error"]
        ),
        Some("routed") => println!(
            "outcome     routed as {} to {} endpoint(s)",
            outcome["event_type"], outcome["deliveries"]
        ),
        Some("answered") => {
            let by = match (outcome["plugin"].as_str(), outcome["endpoint"].as_str()) {
                (Some(plugin), _) => format!("plugin {plugin}"),
                (None, Some(endpoint)) => format!("endpoint {endpoint}"),
                (None, None) => "the gateway".to_owned(),
            };
            let response = &outcome["response"];
            println!(
                "outcome     answered {} by {by}: {}",
                response["status"], response["body"]
            );
        }
        _ => println!("outcome     pending"),
    }
    println!("payload     {}", message["payload"]);
    for d in deliveries.as_array().cloned().unwrap_or_default() {
        println!(
            "delivery    {} -> {}: {}",
            d["id"].as_str().unwrap_or("?"),
            d["endpoint"].as_str().unwrap_or("?"),
            d["status"].as_str().unwrap_or("?"),
        );
        for a in d["attempts"].as_array().cloned().unwrap_or_default() {
            let result = match a["status"].as_u64() {
                Some(code) => format!("HTTP {code}"),
                None => a["error"].as_str().unwrap_or("no response").to_owned(),
            };
            let at = a["at"].as_u64().map(super::args::readable_time);
            println!(
                "  attempt   at {} in {} ms: {result}",
                at.as_deref().unwrap_or("?"),
                a["latency_ms"]
            );
        }
    }
    Ok(())
}

/// `hookgate replay`.
pub(super) async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let remote = &args.remote;
    if let Some(id) = &args.delivery {
        let delivery = call(
            remote,
            reqwest::Method::POST,
            &format!("/v1/deliveries/{id}/replay"),
            None,
            &[],
        )
        .await?;
        if remote.json {
            print_json(&delivery);
        } else {
            println!(
                "{id} to {} is due again now",
                delivery["endpoint"].as_str().unwrap_or("?")
            );
        }
        return Ok(());
    }
    let Some(endpoint) = &args.endpoint else {
        bail!("give a delivery id, or --endpoint with --since");
    };
    let mut body = json!({"since": args.since});
    if let Some(until) = &args.until {
        body["until"] = json!(until);
    }
    let url = format!("/v1/endpoints/{endpoint}/recover");
    let recovered = call(
        remote,
        reqwest::Method::POST,
        &url,
        Some(serde_json::to_vec(&body)?.into()),
        &[],
    )
    .await?;
    if remote.json {
        print_json(&recovered);
    } else {
        println!(
            "{} failed or dead-lettered deliveries to {endpoint} are due again now",
            recovered["recovered"]
        );
    }
    Ok(())
}
