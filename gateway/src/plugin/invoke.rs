//! One invocation: a fresh store and instance, the call, and the
//! classification of whatever went wrong.
//!
//! Where it runs: a typical invocation takes tens of microseconds, and
//! handing it to tokio's blocking pool and back costs more than that (under
//! load the pipeline spent most of its time on the hand-off; BENCHMARKS.md).
//! So an invocation runs inline on the async worker when the plugin's wall
//! time limit is short ([`INLINE_LIMIT`]) and its recent calls used little
//! CPU: a moving average of each call's CPU time (weight [`AVERAGE_WEIGHT`])
//! at most [`INLINE_BUDGET`]. Above that it runs on the blocking pool, where
//! its calls are measured the same way, until the average comes back down.
//! CPU time, not wall time: wall time counts preemption and, on the blocking
//! pool, the wait for a thread, and would keep a quick plugin there once a
//! burst had sent it. One slow call (a cold slot's page faults) moves the
//! average by an eighth of its cost; a plugin that is slow on every call
//! moves off the workers within a few calls. The epoch deadline bounds an
//! inline call either way: at worst a call holds one worker for the wall
//! time limit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, WasmBacktrace};

use super::bindings::wit;
use super::engine::deadline_ticks;
use super::host::{LoadedPlugin, PluginHost};
use super::logs::Logs;
use super::outcome::{self, Event, Outcome};
use super::state::HostState;
use super::{Error, PluginContext};

/// Extra time the outer timeout allows beyond the wall-time limit: the epoch
/// deadline is the real limit, this only catches a call stuck in host code.
const OUTER_GRACE: Duration = Duration::from_millis(250);

/// Plugins whose wall time limit is longer than this always run on the
/// blocking pool.
const INLINE_LIMIT: Duration = Duration::from_millis(100);
/// A plugin whose calls average more CPU time than this runs on the
/// blocking pool.
const INLINE_BUDGET: Duration = Duration::from_millis(1);
/// Each call's share of the moving average: 1/8.
const AVERAGE_WEIGHT: u64 = 8;

/// What one invocation produced.
#[derive(Debug)]
pub struct Invocation {
    /// The validated outcome, or the classified failure.
    pub result: Result<Outcome, Error>,
    /// What the plugin logged.
    pub logs: Logs,
    /// Time from store creation to the end of the call.
    pub elapsed: Duration,
    /// CPU time the calling thread spent on it, where it could be measured.
    pub cpu: Option<Duration>,
}

impl Invocation {
    fn failed(error: Error, elapsed: Duration) -> Self {
        Self {
            result: Err(error),
            logs: Logs::default(),
            elapsed,
            cpu: None,
        }
    }
}

impl PluginHost {
    /// Runs a plugin on one event on the current thread.
    ///
    /// This does not take a pool slot: use [`PluginHost::invoke`] from async
    /// code. It is public for the CLI's local runner and the benchmarks,
    /// which run one invocation at a time.
    pub fn invoke_blocking(
        &self,
        plugin: &LoadedPlugin,
        context: &Arc<PluginContext>,
        event: &Event,
    ) -> Invocation {
        let started = Instant::now();
        let cpu = cpu_time::ThreadTime::try_now().ok();
        let limits = self.inner.config.limits;
        let state = HostState::new(context.clone(), limits.memory_bytes, limits.log_bytes);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks(limits.wall_time));
        store.epoch_deadline_trap();

        let result = match plugin.pre.instantiate(&mut store) {
            Err(error) => Err(instantiate_error(error, store.data())),
            Ok(instance) => match instance.call_handle(&mut store, &wit::Event::from(event)) {
                Ok(Ok(action)) => outcome::validate(
                    action,
                    |name| context.has_endpoint(name),
                    limits.output_bytes,
                ),
                Ok(Err(error)) => Err(Error::Plugin(error.into())),
                Err(error) => Err(classify(
                    error,
                    store.data_mut(),
                    limits.wall_time,
                    started.elapsed(),
                )),
            },
        };
        let logs = store.data().logs.take();
        drop(store);
        Invocation {
            result,
            logs,
            elapsed: started.elapsed(),
            cpu: cpu.and_then(|t| t.try_elapsed().ok()),
        }
    }

    /// Runs a plugin on one event in a pool slot, inline or on tokio's
    /// blocking pool (see the module docs).
    ///
    /// Waits up to the queue timeout for a free slot. The slot is held until
    /// the wasm call has really ended, even if the outer timeout gave up on
    /// it first, so the pool never runs more instances than it has.
    pub async fn invoke(
        &self,
        plugin: Arc<LoadedPlugin>,
        context: Arc<PluginContext>,
        event: Arc<Event>,
    ) -> Invocation {
        let started = Instant::now();
        let config = &self.inner.config;
        let permit = match tokio::time::timeout(
            config.queue_timeout,
            self.inner.slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => {
                return Invocation::failed(
                    Error::PoolExhausted(config.queue_timeout),
                    started.elapsed(),
                );
            }
        };
        let limit = config.limits.wall_time;
        let average = plugin.cpu_average.load(Ordering::Relaxed);
        let inline = limit <= INLINE_LIMIT && average <= nanos(INLINE_BUDGET);
        let invocation = if inline {
            let _permit = permit;
            self.invoke_blocking(&plugin, &context, &event)
        } else {
            self.offload(permit, plugin.clone(), context, event, started)
                .await
        };
        // Without a CPU reading (the outer timeout gave up on the call), its
        // wall time stands in: at least the limit, so it counts as slow.
        let spent = nanos(invocation.cpu.unwrap_or(invocation.elapsed));
        let _ = plugin
            .cpu_average
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |average| {
                Some(average - average / AVERAGE_WEIGHT + spent / AVERAGE_WEIGHT)
            });
        invocation
    }

    /// Runs an invocation on tokio's blocking pool, holding `permit` until
    /// the call has really ended.
    async fn offload(
        &self,
        permit: tokio::sync::OwnedSemaphorePermit,
        plugin: Arc<LoadedPlugin>,
        context: Arc<PluginContext>,
        event: Arc<Event>,
        started: Instant,
    ) -> Invocation {
        let host = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            host.invoke_blocking(&plugin, &context, &event)
        });
        let limit = self.inner.config.limits.wall_time;
        match tokio::time::timeout(limit + OUTER_GRACE, task).await {
            Ok(Ok(invocation)) => invocation,
            Ok(Err(join)) => Invocation::failed(
                Error::Trap {
                    message: format!("the invocation task failed: {join}"),
                    backtrace: None,
                },
                started.elapsed(),
            ),
            Err(_) => Invocation::failed(
                Error::Timeout {
                    limit,
                    elapsed: started.elapsed(),
                },
                started.elapsed(),
            ),
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn instantiate_error(error: wasmtime::Error, state: &HostState) -> Error {
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
fn classify(
    error: wasmtime::Error,
    state: &mut HostState,
    limit: Duration,
    elapsed: Duration,
) -> Error {
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return Error::Timeout { limit, elapsed };
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
        .map(|bt| bt.to_string())
        .filter(|bt| !bt.trim().is_empty());
    let message = match trap {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    Error::Trap { message, backtrace }
}
