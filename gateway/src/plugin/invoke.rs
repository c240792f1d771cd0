//! One invocation: a fresh store and instance, the call, and the
//! classification of whatever went wrong.
//!
//! An invocation is a future: wasmtime runs the guest on a fiber, and a
//! host call that waits (a WASI sleep, a poll, a write to stdout) awaits
//! rather than blocking the thread, so it works on any tokio worker and
//! never starts a runtime inside one. Its time limit is charged to the
//! guest ([`super::meter`]): CPU while polled plus waits in host calls, cut
//! off at the limit by the epoch callback (running) or a timer (waiting).
//! Every epoch tick the guest yields, so a long call shares its worker.
//!
//! Where it runs: a typical invocation takes tens of microseconds, and
//! handing it to another thread and back costs more than that (under load
//! the pipeline spent most of its time on the hand-off; BENCHMARKS.md). So
//! an invocation runs inline in the calling task when the plugin's time
//! limit is short ([`INLINE_LIMIT`]) and its recent calls used little CPU:
//! a moving average of each call's CPU time (weight [`AVERAGE_WEIGHT`]) at
//! most [`INLINE_BUDGET`]. Above that it runs on the host's plugin runtime
//! (threads of its own, `plugin_host.threads`), away from the workers that
//! serve ingest and delivery, where its calls are measured the same way,
//! until the average comes back down. The pool slot is part of the future:
//! when the invocation ends, is cut off or is abandoned, the slot is free.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, WasmBacktrace};

use super::bindings::wit;
use super::host::{LoadedPlugin, PluginHost, Pre};
use super::logs::Logs;
use super::meter::{Meter, Metered};
use super::outcome::{self, Event, Outcome};
use super::state::HostState;
use super::{Error, PluginContext};

/// How much wall time an offloaded invocation may take, as a multiple of
/// its limit, before it is abandoned: its charge is what stops it, this only
/// bounds how long a starved or stuck one holds its caller.
const ABANDON_FACTOR: u32 = 20;
/// Added to that bound.
const ABANDON_GRACE: Duration = Duration::from_secs(1);

/// Plugins whose time limit is longer than this always run on the plugin
/// runtime.
const INLINE_LIMIT: Duration = Duration::from_millis(100);
/// A plugin whose calls average more CPU time than this runs on the
/// plugin runtime.
const INLINE_BUDGET: Duration = Duration::from_millis(1);
/// Each call's share of the moving average: 1/8.
const AVERAGE_WEIGHT: u64 = 8;
/// Calls in a row ending at a limit or in a trap after which a plugin is
/// throttled: its calls run one at a time, so it holds at most one pool slot
/// and one thread while the rest of the pool serves other plugins. Its next
/// call that ends otherwise lifts it.
pub(super) const THROTTLE_AFTER: u32 = 5;

/// What one invocation produced.
#[derive(Debug)]
pub struct Invocation {
    /// The validated outcome, or the classified failure.
    pub result: Result<Outcome, Error>,
    /// What the plugin logged.
    pub logs: Logs,
    /// Wall time from store creation to the end of the call.
    pub elapsed: Duration,
    /// CPU time the guest (and the host's work in its calls) used.
    pub cpu: Option<Duration>,
    /// Whether it ran on the plugin runtime rather than inline in the
    /// caller's task.
    pub offloaded: bool,
}

impl Invocation {
    fn failed(error: Error, elapsed: Duration) -> Self {
        Self {
            result: Err(error),
            logs: Logs::default(),
            elapsed,
            cpu: None,
            offloaded: false,
        }
    }
}

impl PluginHost {
    /// Runs a plugin on one event and waits for it, for callers without an
    /// async runtime (the CLI's local runner, benchmarks, synchronous
    /// tests); it drives the invocation on a runtime of the host's own.
    ///
    /// This does not take a pool slot: use [`PluginHost::invoke`] from async
    /// code. Called from inside a tokio runtime it panics, as any
    /// `block_on` does.
    pub fn invoke_blocking(
        &self,
        plugin: &LoadedPlugin,
        context: &Arc<PluginContext>,
        event: &Event,
    ) -> Invocation {
        self.local_runtime()
            .block_on(self.run(plugin, context, event))
    }

    /// Runs a plugin on one event in a pool slot, inline or on the plugin
    /// runtime (see the module docs).
    ///
    /// Waits up to the queue timeout for a free slot. The slot is held until
    /// the invocation's future is dropped: when it ended, was cut off at its
    /// limit, or was abandoned.
    pub async fn invoke(
        &self,
        plugin: Arc<LoadedPlugin>,
        context: Arc<PluginContext>,
        event: Arc<Event>,
    ) -> Invocation {
        let started = Instant::now();
        let config = &self.inner.config;
        let exhausted = || {
            Invocation::failed(
                Error::PoolExhausted(config.queue_timeout),
                started.elapsed(),
            )
        };
        // A throttled plugin runs one call at a time and does not queue:
        // a call that finds its one permit taken is refused at once (the
        // pipeline leaves the message queued and backs off), so a hot source
        // routed to it holds neither pool slots nor the pipeline's tasks.
        let throttle = if plugin.throttled() {
            match plugin.throttle.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => return exhausted(),
            }
        } else {
            None
        };
        let left = config.queue_timeout.saturating_sub(started.elapsed());
        let slot = self.inner.slots.clone().acquire_owned();
        let permit = match tokio::time::timeout(left, slot).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return exhausted(),
        };
        let limit = context.limits().unwrap_or(&config.limits).wall_time;
        let average = plugin.cpu_average.load(Ordering::Relaxed);
        let inline = limit <= INLINE_LIMIT && average <= nanos(INLINE_BUDGET);
        let host = self.clone();
        let measured = plugin.clone();
        let name = context.clone();
        let run = async move {
            let _permits = (permit, throttle);
            host.run(&plugin, &context, &event).await
        };
        let invocation = if inline {
            run.await
        } else {
            Invocation {
                offloaded: true,
                ..self.offload(run, limit, started).await
            }
        };
        // Without a CPU reading (the invocation was abandoned), its wall
        // time stands in: at least the limit, so it counts as slow.
        let spent = nanos(invocation.cpu.unwrap_or(invocation.elapsed));
        let _ =
            measured
                .cpu_average
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |average| {
                    Some(average - average / AVERAGE_WEIGHT + spent / AVERAGE_WEIGHT)
                });
        strike(&measured, &name.name, &invocation.result);
        invocation
    }

    /// Runs an invocation on the plugin runtime; abandons (and so drops,
    /// freeing its slot) one that has not ended long after its limit.
    async fn offload(
        &self,
        run: impl Future<Output = Invocation> + Send + 'static,
        limit: Duration,
        started: Instant,
    ) -> Invocation {
        let mut task = self.plugin_runtime().spawn(run);
        let bound = limit.saturating_mul(ABANDON_FACTOR) + ABANDON_GRACE;
        match tokio::time::timeout(bound, &mut task).await {
            Ok(Ok(invocation)) => invocation,
            Ok(Err(join)) => Invocation::failed(
                Error::Trap {
                    message: format!("the invocation task failed: {join}"),
                    backtrace: None,
                },
                started.elapsed(),
            ),
            Err(_) => {
                task.abort();
                Invocation::failed(
                    Error::Timeout {
                        limit,
                        elapsed: started.elapsed(),
                    },
                    started.elapsed(),
                )
            }
        }
    }

    /// One invocation, from a fresh store to its validated outcome, under
    /// its meter.
    async fn run(
        &self,
        plugin: &LoadedPlugin,
        context: &Arc<PluginContext>,
        event: &Event,
    ) -> Invocation {
        let started = Instant::now();
        let limits = *context.limits().unwrap_or(&self.inner.config.limits);
        let meter = Meter::new(limits.wall_time);
        let state = HostState::new(context.clone(), limits.memory_bytes, limits.log_bytes);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        let ticks = meter.clone();
        store.epoch_deadline_callback(move |_| Ok(ticks.tick()));

        let call = async {
            let event = wit::Event::from(event);
            let called = match &plugin.pre {
                Pre::Current(pre) => match pre.instantiate_async(&mut store).await {
                    Ok(instance) => instance.call_handle(&mut store, &event).await,
                    Err(error) => return Err(instantiate_error(error, store.data(), &meter)),
                },
                Pre::V0_1(pre) => match pre.instantiate_async(&mut store).await {
                    Ok(instance) => instance
                        .call_handle(&mut store, &(&event).into())
                        .await
                        .map(|r| r.map(wit::Action::from).map_err(wit::PluginError::from)),
                    Err(error) => return Err(instantiate_error(error, store.data(), &meter)),
                },
            };
            match called {
                Ok(Ok(action)) => outcome::validate(
                    action,
                    |name| context.has_endpoint(name),
                    limits.output_bytes,
                ),
                Ok(Err(error)) => Err(Error::Plugin(error.into())),
                Err(error) => Err(classify(error, store.data_mut(), &meter)),
            }
        };
        let result = Metered::new(meter.clone(), call).await.unwrap_or_else(|| {
            Err(Error::Timeout {
                limit: meter.limit(),
                elapsed: meter.total(),
            })
        });
        let logs = store.data().logs.take();
        drop(store);
        Invocation {
            result,
            logs,
            elapsed: started.elapsed(),
            cpu: Some(meter.cpu()),
            offloaded: false,
        }
    }
}

/// Counts a call that ended at a limit or in a trap against the plugin, and
/// lifts its throttle after one that did not.
fn strike(plugin: &LoadedPlugin, name: &str, result: &Result<Outcome, Error>) {
    if matches!(result, Err(Error::PoolExhausted(_))) {
        return;
    }
    let hit_a_limit = matches!(
        result,
        Err(Error::Timeout { .. }
            | Error::MemoryLimit { .. }
            | Error::OutputTooLarge { .. }
            | Error::Trap { .. }
            | Error::Instantiate(_))
    );
    if hit_a_limit {
        let before = plugin.strikes.fetch_add(1, Ordering::Relaxed);
        if before + 1 == THROTTLE_AFTER {
            tracing::warn!(plugin = %name, strikes = THROTTLE_AFTER, "plugin keeps hitting its limits; its calls now run one at a time");
        }
    } else if plugin.strikes.swap(0, Ordering::Relaxed) >= THROTTLE_AFTER {
        tracing::info!(plugin = %name, "plugin no longer throttled");
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn instantiate_error(error: wasmtime::Error, state: &HostState, meter: &Meter) -> Error {
    // The start function runs under the same limits as the call.
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return Error::Timeout {
            limit: meter.limit(),
            elapsed: meter.total(),
        };
    }
    if state.limiter.hit {
        return Error::MemoryLimit {
            limit: state.limiter.max_bytes(),
        };
    }
    Error::Instantiate(format!("{error:#}"))
}

/// Turns a failed call into the most specific error: timeout first (the
/// deadline is what stopped it), then memory (a refused growth is the root
/// cause of the abort that follows), then a reported panic, then the trap.
fn classify(error: wasmtime::Error, state: &mut HostState, meter: &Meter) -> Error {
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return Error::Timeout {
            limit: meter.limit(),
            elapsed: meter.total(),
        };
    }
    if state.limiter.hit {
        return Error::MemoryLimit {
            limit: state.limiter.max_bytes(),
        };
    }
    if let Some(message) = state.panic.take() {
        return Error::Panic { message };
    }
    let backtrace = error
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| super::bounds::text(bt.to_string()))
        .filter(|bt| !bt.trim().is_empty());
    let message = match trap {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    Error::Trap { message, backtrace }
}
