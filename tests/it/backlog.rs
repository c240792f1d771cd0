//! A slow endpoint under sustained load: its backlog waits in the store,
//! not in the gateway's memory. Two real gateways side by side take 60,000
//! events each, at up to 1,000 a second: one delivers to an endpoint that answers at
//! once, the other to one that answers after 2 s, so that nearly every
//! event waits. The slow one's resident memory must grow no more than the
//! fast one's (the store's buffers and caches filling, the same in both)
//! and a margin, and its endpoint never holds more requests than its
//! `max_in_flight`. Before claims were per endpoint, each waiting delivery
//! was a task in memory with its message: 430 MiB more over the last
//! 40,000 events.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::process::{engine, spawn, write_config};

/// Events per second posted to each gateway, at most.
const RATE: u64 = 1_000;
/// Events posted to each: 60 s at [`RATE`]. Counted rather than timed, so
/// a machine busy with other tests posts them all, only more slowly.
const EVENTS: u64 = 60_000;
/// After how many events memory is first sampled, once the gateway has
/// warmed up.
const WARM: u64 = 20_000;
/// How long the slow endpoint takes to answer.
const SLOW: Duration = Duration::from_secs(2);
/// The endpoints' concurrency.
const MAX_IN_FLIGHT: usize = 8;
/// How much more the slow gateway's memory may grow than the fast one's:
/// the schedule's in-memory index of ~40,000 waiting deliveries (fjall
/// keeps one, about 200 bytes each) and run-to-run noise.
const MARGIN_KIB: u64 = 24 * 1024;

/// A receiver that answers 200 after `delay`, and the most requests it
/// held at once.
async fn receiver(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let holding = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let (h, m) = (holding, most.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (holding, most) = (h.clone(), m.clone());
            async move {
                let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // The endpoint's behaviour under test, not a wait for it.
                tokio::time::sleep(delay).await;
                holding.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    (url, most)
}

/// What one gateway did under the load.
#[derive(Debug)]
struct Run {
    acked: usize,
    /// Resident memory growth from event [`WARM`] to the end.
    grew_kib: u64,
    /// Resident memory every 10,000 events, in MiB.
    samples: Vec<u64>,
    /// The most requests its endpoint held at once.
    most_held: usize,
}

/// Starts a gateway in `dir` delivering to an endpoint answering after
/// `delay`, posts [`EVENTS`] events to it at up to [`RATE`] a second, and
/// measures it.
async fn load(dir: &Path, delay: Duration) -> Run {
    let (endpoint, most) = receiver(delay).await;
    let config = write_config(
        dir,
        engine(),
        &format!(
            r#"
[[source]]
name = "load"

[[endpoint]]
name = "receiver"
url = "{endpoint}"
event_types = ["*"]
max_in_flight = {MAX_IN_FLIGHT}
timeout = "10s"
"#
        ),
    );
    let (server, url) = spawn(&config);
    let client = reqwest::Client::new();
    let posts = Arc::new(tokio::sync::Semaphore::new(64));
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tick = tokio::time::interval(Duration::from_millis(1_000 / RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut warm = None;
    let mut samples = Vec::new();
    for n in 0..EVENTS {
        tick.tick().await;
        if n == WARM {
            warm = Some(server.rss_kib());
        }
        if n.is_multiple_of(10_000) {
            samples.push(server.rss_kib() / 1024);
        }
        let permit = posts.clone().acquire_owned().await.expect("open");
        let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
        tokio::spawn(async move {
            let response = client
                .post(format!("{url}/v1/ingest/load"))
                .header("content-type", "application/json")
                .body(format!(r#"{{"type":"call.completed","n":{n}}}"#))
                .send()
                .await
                .expect("the gateway answers");
            assert_eq!(response.status(), 202);
            acked.fetch_add(1, Ordering::SeqCst);
            drop(permit);
        });
    }
    let _ = posts.acquire_many(64).await.expect("open");
    let end = server.rss_kib();
    Run {
        acked: acked.load(Ordering::SeqCst),
        grew_kib: end.saturating_sub(warm.expect("sampled")),
        samples,
        most_held: most.load(Ordering::SeqCst),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoints_backlog_stays_on_disk_and_memory_stays_flat() {
    let _timing = crate::harness::timing().await;
    let (fast_dir, slow_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    // One after the other, not side by side: two gateways taking 1,000
    // events a second each, beside the rest of the suite, starve two cores,
    // and a starved gateway's memory says nothing about its backlog.
    let fast = load(fast_dir.path(), Duration::ZERO).await;
    let slow = load(slow_dir.path(), SLOW).await;
    eprintln!(
        "RSS every 10,000 events (MiB): fast endpoint {:?}, slow endpoint {:?}",
        fast.samples, slow.samples
    );
    let posted = usize::try_from(EVENTS).expect("fits");
    assert_eq!(
        (fast.acked, slow.acked),
        (posted, posted),
        "every event was acknowledged"
    );
    assert!(
        slow.grew_kib < fast.grew_kib + MARGIN_KIB,
        "behind a slow endpoint memory grew {} KiB, against {} KiB when every event is delivered at once",
        slow.grew_kib,
        fast.grew_kib
    );
    assert!(
        slow.most_held <= MAX_IN_FLIGHT,
        "the slow endpoint held {} requests at once",
        slow.most_held
    );
}
