//! Concurrency: many invocations at once across tokio tasks, bounded waiting
//! for pool slots, and no slot ever leaked.

use std::sync::Arc;
use std::time::Duration;

use hookgate::plugin::{Error, HostConfig, Invocation, LoadedPlugin, Outcome, PluginHost};

use crate::harness::{context, event, fixture, host, load};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_invocations_all_succeed_and_return_their_slots() {
    let host = host(HostConfig {
        pool_size: 4,
        ..HostConfig::default()
    });
    let plugin = load(&host, "livekit-summary");
    let ctx = context("summary", &[], &[]);
    let event = Arc::new(event(
        "call_finalized",
        fixture("voicekit/call_finalized.json"),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let (host, plugin, ctx, event) = (host.clone(), plugin.clone(), ctx.clone(), event.clone());
        tasks.spawn(async move { host.invoke(plugin, ctx, event).await });
    }
    let mut succeeded = 0;
    while let Some(joined) = tasks.join_next().await {
        let invocation = joined.expect("task completes");
        assert!(
            matches!(invocation.result, Ok(Outcome::Continue(_))),
            "{:?}",
            invocation.result
        );
        succeeded += 1;
    }
    assert_eq!(succeeded, 1_000);
    assert_eq!(host.free_slots(), host.pool_size(), "every slot returned");
}

/// A one-slot host whose slot an infinite loop holds: returns the host, the
/// hog's task (it ends in a timeout), and the noop plugin to queue behind it.
async fn one_busy_slot(
    queue_timeout: Duration,
) -> (
    PluginHost,
    tokio::task::JoinHandle<Invocation>,
    Arc<LoadedPlugin>,
) {
    let host = host(HostConfig {
        pool_size: 1,
        queue_timeout,
        ..HostConfig::default()
    });
    // Both are loaded before the hog starts: compiling takes longer than the
    // hog holds its slot.
    let looping = load(&host, "infinite-loop");
    let noop = load(&host, "noop");
    let hog = tokio::spawn({
        let host = host.clone();
        async move {
            host.invoke(
                looping,
                context("hog", &[], &[]),
                Arc::new(event("t", "{}")),
            )
            .await
        }
    });
    while host.free_slots() > 0 {
        tokio::task::yield_now().await;
    }
    (host, hog, noop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_wait_for_a_busy_pool_instead_of_failing() {
    let (host, hog, noop) = one_busy_slot(Duration::from_secs(5)).await;
    let waited = host
        .invoke(noop, context("t", &[], &[]), Arc::new(event("t", "{}")))
        .await;
    assert!(
        matches!(waited.result, Ok(Outcome::Continue(_))),
        "{:?}",
        waited.result
    );
    let hog = hog.await.expect("task completes");
    assert!(
        matches!(hog.result, Err(Error::Timeout { .. })),
        "{:?}",
        hog.result
    );
    assert_eq!(host.free_slots(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_gives_up_after_the_queue_timeout() {
    let queue_timeout = Duration::from_millis(5);
    let (host, hog, noop) = one_busy_slot(queue_timeout).await;
    let refused = host
        .invoke(noop, context("t", &[], &[]), Arc::new(event("t", "{}")))
        .await;
    match refused.result {
        Err(Error::PoolExhausted(waited)) => assert_eq!(waited, queue_timeout),
        other => panic!("expected pool exhausted, got {other:?}"),
    }
    hog.await.expect("task completes");
    assert_eq!(host.free_slots(), 1, "the hog's slot came back");
}

/// Plugins run inline on the async worker while they are quick; one that ran
/// past the inline budget (here an infinite loop stopped at its deadline)
/// goes to the plugin runtime next time.
#[tokio::test(flavor = "current_thread")]
async fn a_plugin_that_ran_long_is_moved_off_the_async_worker() {
    let offloaded = second_call_offloaded(hookgate::plugin::Limits::default()).await;
    assert!(offloaded, "the hog runs on the plugin runtime");
}

/// A single slow call (a cold slot, say) moves a plugin's CPU average by an
/// eighth of its cost, so the plugin stays inline; with a budget per call, a
/// burst of them kept quick plugins on the blocking pool under load.
#[tokio::test(flavor = "current_thread")]
async fn one_slow_call_leaves_a_plugin_on_the_async_worker() {
    // The call runs to its 2 ms deadline: an eighth of that goes into the
    // plugin's average, well below the 1 ms budget even if the epoch tick
    // that stops it comes several milliseconds late.
    let offloaded = second_call_offloaded(hookgate::plugin::Limits {
        wall_time: Duration::from_millis(2),
        ..hookgate::plugin::Limits::default()
    })
    .await;
    assert!(!offloaded, "the second call ran inline");
}

/// Even inline, a long call yields its worker every tick: on this
/// single-threaded runtime a quick invocation completes while an infinite
/// loop runs inline beside it.
#[tokio::test(flavor = "current_thread")]
async fn an_inline_call_shares_its_worker_while_it_runs() {
    let host = host(HostConfig {
        pool_size: 2,
        ..HostConfig::default()
    });
    let looping = load(&host, "infinite-loop");
    let noop = load(&host, "noop");
    let hog = tokio::spawn({
        let host = host.clone();
        async move {
            host.invoke(
                looping,
                context("hog", &[], &[]),
                Arc::new(event("t", "{}")),
            )
            .await
        }
    });
    // Let the hog start: it runs inline (its average is still zero).
    tokio::task::yield_now().await;
    let quick = host
        .invoke(noop, context("t", &[], &[]), Arc::new(event("t", "{}")))
        .await;
    assert!(
        matches!(quick.result, Ok(Outcome::Continue(_))),
        "{:?}",
        quick.result
    );
    assert!(
        !hog.is_finished(),
        "the quick call ended while the loop ran"
    );
    let hog = hog.await.expect("task completes");
    assert!(!hog.offloaded);
    assert!(
        matches!(hog.result, Err(Error::Timeout { .. })),
        "{:?}",
        hog.result
    );
}

/// Runs the infinite loop once to its deadline, then again: whether the
/// second call ran on the plugin runtime.
async fn second_call_offloaded(limits: hookgate::plugin::Limits) -> bool {
    let host = host(HostConfig {
        pool_size: 2,
        limits,
        ..HostConfig::default()
    });
    let looping = load(&host, "infinite-loop");
    let first = host
        .invoke(
            looping.clone(),
            context("hog", &[], &[]),
            Arc::new(event("t", "{}")),
        )
        .await;
    assert!(
        matches!(first.result, Err(Error::Timeout { .. })),
        "{:?}",
        first.result
    );
    assert!(!first.offloaded, "a plugin starts inline");
    let second = host
        .invoke(
            looping,
            context("hog", &[], &[]),
            Arc::new(event("t", "{}")),
        )
        .await;
    assert!(matches!(second.result, Err(Error::Timeout { .. })));
    second.offloaded
}

/// A plugin that keeps hitting its limits is throttled: its calls run one
/// at a time, so the rest of the pool stays free for other plugins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_keeps_hitting_its_limits_holds_one_slot_at_most() {
    let host = host(HostConfig {
        pool_size: 4,
        queue_timeout: Duration::from_secs(30),
        ..HostConfig::default()
    });
    let looping = load(&host, "infinite-loop");
    for _ in 0..5 {
        let invocation = host
            .invoke(
                looping.clone(),
                context("hog", &[], &[]),
                Arc::new(event("t", "{}")),
            )
            .await;
        assert!(matches!(invocation.result, Err(Error::Timeout { .. })));
    }
    assert!(looping.throttled());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let (host, looping) = (host.clone(), looping.clone());
        calls.spawn(async move {
            host.invoke(
                looping,
                context("hog", &[], &[]),
                Arc::new(event("t", "{}")),
            )
            .await
        });
    }
    let mut fewest_free = host.pool_size();
    let (mut timeouts, mut refused) = (0, 0);
    while !calls.is_empty() {
        fewest_free = fewest_free.min(host.free_slots());
        if let Ok(Some(done)) =
            tokio::time::timeout(Duration::from_millis(1), calls.join_next()).await
        {
            // One runs to its limit; the others are refused at once rather
            // than queued behind it.
            match done.expect("completes").result {
                Err(Error::Timeout { .. }) => timeouts += 1,
                Err(Error::PoolExhausted(_)) => refused += 1,
                other => panic!("expected a timeout or a refusal, got {other:?}"),
            }
        }
    }
    assert!(
        timeouts >= 1 && timeouts + refused == 3,
        "{timeouts} timeouts, {refused} refused"
    );
    assert!(
        fewest_free >= host.pool_size() - 1,
        "{fewest_free} slots were free at the least"
    );
    assert!(looping.throttled(), "every call hit its limit again");
}
