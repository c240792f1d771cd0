//! The load tool: starts the real gateway binary and a receiver on loopback,
//! drives load, and prints throughput, latency percentiles and peak RSS.
//!
//! `cargo bench -p hookgate-tests --bench load` runs three phases with 1 KB
//! events:
//! 1. durable ingest: N posts at fixed concurrency to a source with no
//!    endpoints (each 202 means fsync'd);
//! 2. end to end: N posts through one plugin (`provider-normalizer`) to a
//!    receiver, timed until the last delivery arrives;
//! 3. end-to-end latency at a fixed 1,000 events per second.
//!
//! It runs the phases once per storage engine (`sled`, then `fjall`), or
//! on one: `cargo bench -p hookgate-tests --bench load -- --engine fjall`;
//! `--concurrency N` sets the clients of phases 1 and 2 (default 64).
//! `--engine postgres --nodes N` starts N nodes on one fresh schema of the
//! database `HOOKGATE_BENCH_DATABASE_URL` names (default: the local server's
//! `postgres` database), spreads the clients over them, adds the
//! PostgreSQL server's CPU per event, and drops the schema at the end.
//! It stops by itself; every request goes to 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

/// Events in the durable-ingest phase: long enough (a few seconds) that
/// start-up and the first memtable do not dominate.
const INGEST_EVENTS: usize = 60_000;
/// Events in the end-to-end phase.
const EVENTS: usize = 20_000;
/// Clients posting at once in the throughput phases (`--concurrency N`).
const CONCURRENCY: usize = 64;
const PACED_RATE: u64 = 1_000;
const PACED_SECONDS: u64 = 5;

struct Gateway(Child, String);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Gateway {
    fn start(dir: &Path, receiver: &str, engine: &str, schema: &str) -> Self {
        let wasm = Path::new(env!("HOOKGATE_WASM_DIR")).join("provider_normalizer.wasm");
        let config = dir.join("hookgate.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
[server.targets]
allow_http = true
allow_loopback = true

[storage]
engine = "{engine}"
{postgres}

[[source]]
name = "ingest-only"

[[source]]
name = "callintel"
event_type = {{ pointer = "/event_type" }}

[[plugin]]
name = "normalizer"
file = "{wasm}"

[[route]]
source = "callintel"
plugins = ["normalizer"]

# Only the plugin's events are delivered; "ingest-only" events have no type.
[[endpoint]]
name = "receiver"
url = "{receiver}"
event_types = ["call.*"]
max_in_flight = 64
"#,
                data = dir.join("data").display(),
                wasm = wasm.display(),
                postgres = if engine == "postgres" {
                    format!("url = \"{}\"\nschema = \"{schema}\"", database())
                } else {
                    String::new()
                },
            ),
        )
        .expect("writes the config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = line
            .trim()
            .trim_start_matches("hookgate listening on ")
            .to_owned();
        Self(child, url)
    }

    /// CPU time (user and system) the gateway process has used, from /proc.
    fn cpu_time(&self) -> Duration {
        process_cpu(&self.0.id().to_string())
    }

    /// Peak resident memory of the gateway process, from /proc.
    fn peak_rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// A receiver that notes when each message id arrived. It is plain hyper
/// (HTTP/1.1, keep-alive), so that as little of the machine as possible goes
/// to the receiving end.
#[derive(Clone, Default)]
struct Receiver {
    arrived: Arc<Mutex<HashMap<String, Instant>>>,
    changed: Arc<Notify>,
}

impl Receiver {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let this = this.clone();
                let service = service_fn(move |request: http::Request<Incoming>| {
                    let this = this.clone();
                    async move { this.arrive(request).await }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        url
    }

    async fn arrive(
        &self,
        request: http::Request<Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, hyper::Error> {
        let id = request
            .headers()
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Read the body, so the connection stays usable for the next one.
        request.into_body().collect().await?;
        if let Some(id) = id {
            self.arrived
                .lock()
                .expect("lock")
                .entry(id)
                .or_insert_with(Instant::now);
            self.changed.notify_waiters();
        }
        Ok(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
    }

    async fn wait_for(&self, n: usize, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                let changed = self.changed.notified();
                if self.arrived.lock().expect("lock").len() >= n {
                    return;
                }
                changed.await;
            }
        })
        .await
        .is_ok()
    }
}

/// Event `i`: ~1 KB of JSON, each with its own ids.
fn body(i: usize) -> Bytes {
    let pad = "x".repeat(760);
    Bytes::from(format!(
        r#"{{"event_type":"call.completed","timestamp":"2024-12-16T10:30:45Z","webhook_id":"wh_{i}","data":{{"id":"call_{i}","agent_id":"agent_abc123","direction":"outbound","status":"completed","duration_seconds":345,"pad":"{pad}"}}}}"#
    ))
}

/// The database the postgres runs use.
fn database() -> String {
    std::env::var("HOOKGATE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// CPU time of a process from /proc (user and system).
fn process_cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and
    // stime are the 12th and 13th, in clock ticks.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// CPU time used so far by the PostgreSQL server's processes on this
/// machine (the postmaster and every backend, live ones only: a backend
/// that exited takes its time with it, so the pools' long-lived
/// connections are what is counted).
fn postgres_cpu() -> Duration {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| process_cpu(&pid))
        .sum()
}

fn per_event(cpu: Duration, events: usize) -> String {
    format!("{:.0?}", cpu / u32::try_from(events).unwrap_or(u32::MAX))
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    if samples.is_empty() {
        return "(no samples)".into();
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    format!(
        "p50 {:.2?}  p90 {:.2?}  p99 {:.2?}  max {:.2?}",
        at(0.50),
        at(0.90),
        at(0.99),
        samples[samples.len() - 1]
    )
}

/// One keep-alive HTTP/1.1 connection to the gateway's ingest route: plain
/// hyper with the request bodies made beforehand, so that the client side
/// takes as little of the machine as it can (as wrk or oha would).
struct Poster {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
    path: String,
}

impl Poster {
    async fn connect(base: &str, path: &str) -> Self {
        let authority = base
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Self {
            sender,
            authority,
            path: path.to_owned(),
        }
    }

    /// Posts one event; returns the message id of a 202 (none from the
    /// receiver, which answers 200).
    async fn post(&mut self, body: Bytes) -> Option<String> {
        self.sender.ready().await.expect("connection ready");
        let request = http::Request::post(self.path.as_str())
            .header(http::header::HOST, self.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("request");
        let response = self.sender.send_request(request).await.expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        match status.as_u16() {
            202 => {
                let accepted: Accepted<'_> = serde_json::from_slice(&bytes).expect("JSON");
                Some(accepted.id.to_owned())
            }
            200 => None,
            other => panic!("HTTP {other}: {}", String::from_utf8_lossy(&bytes)),
        }
    }
}

#[derive(serde::Deserialize)]
struct Accepted<'a> {
    id: &'a str,
}

/// Posts events `first..first + count` to `path` over `concurrency`
/// connections; returns when the first was sent, per-request latency and,
/// per acknowledged id, when its request started.
async fn blast(
    concurrency: usize,
    urls: &[String],
    path: &str,
    first: usize,
    count: usize,
) -> (Instant, Vec<Duration>, HashMap<String, Instant>) {
    let bodies: Arc<Vec<Bytes>> = Arc::new((first..first + count).map(body).collect());
    let mut posters = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        posters.push(Poster::connect(&urls[i % urls.len()], path).await);
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for mut poster in posters {
        let (next, bodies) = (next.clone(), bodies.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut sent = HashMap::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return (latencies, sent);
                };
                let t = Instant::now();
                let id = poster.post(body.clone()).await;
                latencies.push(t.elapsed());
                sent.extend(id.map(|id| (id, t)));
            }
        });
    }
    let mut latencies = Vec::with_capacity(count);
    let mut sent = HashMap::with_capacity(count);
    while let Some(done) = workers.join_next().await {
        let (l, s) = done.expect("worker");
        latencies.extend(l);
        sent.extend(s);
    }
    (started, latencies, sent)
}

/// Posts `total` events at `rate` per second, each at its own time, over a
/// few connections; returns, per acknowledged id, when it was due, and each
/// 202's latency from that time (so a stall in the client counts too).
async fn paced(
    url: &str,
    source: &str,
    first: usize,
    total: usize,
    rate: u64,
) -> (HashMap<String, Instant>, Vec<Duration>) {
    const CONNECTIONS: usize = 32;
    let mut queues = Vec::with_capacity(CONNECTIONS);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let mut poster = Poster::connect(url, &format!("/v1/ingest/{source}")).await;
        let (queue, mut due) = tokio::sync::mpsc::unbounded_channel::<(Instant, Bytes)>();
        queues.push(queue);
        workers.spawn(async move {
            let mut done = Vec::new();
            while let Some((t, body)) = due.recv().await {
                let id = poster.post(body).await.expect("a 202 with an id");
                done.push((id, t, t.elapsed()));
            }
            done
        });
    }
    let bodies: Vec<Bytes> = (first..first + total).map(body).collect();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for (i, body) in bodies.into_iter().enumerate() {
        ticker.tick().await;
        queues[i % CONNECTIONS]
            .send((Instant::now(), body))
            .expect("worker alive");
    }
    drop(queues);
    let mut sent = HashMap::with_capacity(total);
    let mut acknowledged = Vec::with_capacity(total);
    while let Some(done) = workers.join_next().await {
        for (id, t, latency) in done.expect("worker") {
            sent.insert(id, t);
            acknowledged.push(latency);
        }
    }
    (sent, acknowledged)
}

/// The gateway's queue depths, from `/metrics`.
async fn backlog(url: &str) -> String {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter_map(|line| line.strip_prefix("hookgate_queue_depth{queue=\""))
        .map(|rest| rest.replacen("\"} ", " ", 1))
        .collect::<Vec<_>>()
        .join(", ")
}

fn end_to_end(sent: &HashMap<String, Instant>, receiver: &Receiver) -> Vec<Duration> {
    let arrived = receiver.arrived.lock().expect("lock");
    sent.iter()
        .filter_map(|(id, t)| arrived.get(id).map(|a| a.duration_since(*t)))
        .collect()
}

#[allow(clippy::print_stdout)]
fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes targets; nothing to list.
    }
    let args: Vec<String> = std::env::args().collect();
    let engines = match args.iter().position(|a| a == "--engine") {
        Some(i) => vec![
            args.get(i + 1)
                .expect("--engine sled|fjall|postgres")
                .clone(),
        ],
        None => vec!["sled".to_owned(), "fjall".to_owned()],
    };
    let nodes = match args.iter().position(|a| a == "--nodes") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .filter(|n| *n >= 1)
            .expect("--nodes N"),
        None => 1,
    };
    assert!(
        nodes == 1 || engines == ["postgres"],
        "--nodes needs --engine postgres: the embedded engines are one process's"
    );
    let concurrency = match args.iter().position(|a| a == "--concurrency") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .expect("--concurrency N"),
        None => CONCURRENCY,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for engine in engines {
        runtime.block_on(run(&engine, concurrency, nodes));
    }
}

#[allow(clippy::print_stdout)]
async fn run(engine: &str, concurrency: usize, nodes: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::default();
    let receiver_url = receiver.start().await;
    let schema = format!("bench_{}", std::process::id());
    let gateways: Vec<Gateway> = (0..nodes)
        .map(|n| {
            let node_dir = dir.path().join(format!("node-{n}"));
            std::fs::create_dir_all(&node_dir).expect("node dir");
            Gateway::start(&node_dir, &receiver_url, engine, &schema)
        })
        .collect();
    let urls: Vec<String> = gateways.iter().map(|g| g.1.clone()).collect();
    let gateway = &gateways[0];
    let cpu_time = || -> Duration { gateways.iter().map(Gateway::cpu_time).sum() };
    let on_postgres = engine == "postgres";
    let db_cpu = || {
        if on_postgres {
            postgres_cpu()
        } else {
            Duration::ZERO
        }
    };
    let db_per_event = |cpu: Duration, events: usize| {
        if on_postgres {
            format!("; PostgreSQL CPU {} per event", per_event(cpu, events))
        } else {
            String::new()
        }
    };
    println!(
        "hookgate load ({engine}, {nodes} node{}): events of ~1 KB, {concurrency} concurrent clients, loopback\n",
        if nodes == 1 { "" } else { "s" }
    );

    // What loopback HTTP alone costs here: the same client against the
    // receiver, which does nothing with what it gets.
    let (started, latencies, _) = blast(
        concurrency,
        std::slice::from_ref(&receiver_url),
        "/floor",
        0,
        INGEST_EVENTS,
    )
    .await;
    let elapsed = started.elapsed();
    println!(
        "HTTP floor:       {:>8.0} requests/s ({INGEST_EVENTS} posts to the receiver, no gateway) latency {}",
        INGEST_EVENTS as f64 / elapsed.as_secs_f64(),
        percentiles(latencies)
    );

    let (cpu, db) = (cpu_time(), db_cpu());
    let (started, latencies, _) = blast(
        concurrency,
        &urls,
        "/v1/ingest/ingest-only",
        0,
        INGEST_EVENTS,
    )
    .await;
    let elapsed = started.elapsed();
    println!(
        "durable ingest:   {:>8.0} events/s   ({INGEST_EVENTS} events; gateway CPU {} per event{}) latency {}",
        INGEST_EVENTS as f64 / elapsed.as_secs_f64(),
        per_event(cpu_time() - cpu, INGEST_EVENTS),
        db_per_event(db_cpu() - db, INGEST_EVENTS),
        percentiles(latencies)
    );

    let (cpu, db) = (cpu_time(), db_cpu());
    let (started, _, sent) = blast(
        concurrency,
        &urls,
        "/v1/ingest/callintel",
        INGEST_EVENTS,
        EVENTS,
    )
    .await;
    let acknowledged = started.elapsed();
    let backlog = backlog(&gateway.1).await;
    let complete = receiver.wait_for(EVENTS, Duration::from_secs(120)).await;
    let elapsed = started.elapsed();
    let delivered = receiver.arrived.lock().expect("lock").len();
    println!(
        "end to end:       {:>8.0} events/s   ({delivered}/{EVENTS} delivered{}; gateway CPU {} per event{}; all acknowledged after {acknowledged:.2?}, backlog then: {backlog}) ingest-to-receiver {}",
        delivered as f64 / elapsed.as_secs_f64(),
        if complete { "" } else { ", timed out" },
        per_event(cpu_time() - cpu, EVENTS),
        db_per_event(db_cpu() - db, EVENTS),
        percentiles(end_to_end(&sent, &receiver))
    );

    let before = receiver.arrived.lock().expect("lock").len();
    assert_eq!(before, EVENTS, "the paced phase starts with no backlog");
    let total = (PACED_RATE * PACED_SECONDS) as usize;
    let (sent, acknowledged) = paced(
        &gateway.1,
        "callintel",
        INGEST_EVENTS + EVENTS,
        total,
        PACED_RATE,
    )
    .await;
    receiver
        .wait_for(before + total, Duration::from_secs(60))
        .await;
    println!(
        "paced {PACED_RATE}/s:      ingest-to-receiver {}\n                   ingest (202) {}",
        percentiles(end_to_end(&sent, &receiver)),
        percentiles(acknowledged)
    );
    for (n, node) in gateways.iter().enumerate() {
        println!("peak RSS node {n}:  {:.1} MiB", node.peak_rss_mib());
    }
    println!();
    drop(gateways);
    if on_postgres {
        drop_schema(&schema).await;
    }
}

/// Drops the run's schema.
async fn drop_schema(schema: &str) {
    let (client, connection) = tokio_postgres::connect(&database(), tokio_postgres::NoTls)
        .await
        .expect("connects to drop the bench schema");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drops the bench schema");
}
