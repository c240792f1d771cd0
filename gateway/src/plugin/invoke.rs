//! One invocation: a fresh store and instance, the call, and the
//! classification of whatever went wrong.
//!
//! Where it runs: a typical invocation takes tens of microseconds, and
//! handing it to tokio's blocking pool and back costs more than that (under
//! load the pipeline spent most of its time on the hand-off; BENCHMARKS.md).
//! So an invocation runs inline on the async worker when the plugin's wall
//! time limit is short ([`INLINE_LIMIT`]) and the plugin has not recently
//! run past [`INLINE_BUDGET`]; one that did is sent to the blocking pool for
//! [`OFFLOAD_FOR`]. The epoch deadline bounds an inline call either way: the
//! worst a plugin can do is hold one worker for its wall time, once per
//! [`OFFLOAD_FOR`].

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
/// An invocation that uses more CPU time than this sends its plugin's next
/// ones to the blocking pool...
const INLINE_BUDGET: Duration = Duration::from_millis(2);
/// ...for this long.
const OFFLOAD_FOR: Duration = Duration::from_secs(10);

/// What one invocation produced.
#[derive(Debug)]
pub struct Invocation {
    /// The validated outcome, or the classified failure.
    pub result: Result<Outcome, Error>,
    /// What the plugin logged.
    pub logs: Logs,
    /// Time from store creation to the end of the call.
    pub elapsed: Duration,
}

impl Invocation {
    fn failed(error: Error, elapsed: Duration) -> Self {
        Self {
            result: Err(error),
            logs: Logs::default(),
            elapsed,
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
        Invocation {
            result,
            logs: store.data().logs.take(),
            elapsed: started.elapsed(),
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
        let now = u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let inline = limit <= INLINE_LIMIT && plugin.offload_until.load(Ordering::Relaxed) <= now;
        let (invocation, spent) = if inline {
            let _permit = permit;
            let cpu = cpu_time::ThreadTime::try_now().ok();
            let invocation = self.invoke_blocking(&plugin, &context, &event);
            // CPU time, not wall time: on a loaded machine a quick call is
            // sometimes preempted for longer than the budget.
            let spent = cpu
                .and_then(|t| t.try_elapsed().ok())
                .unwrap_or(invocation.elapsed);
            (invocation, spent)
        } else {
            let invocation = self
                .offload(permit, plugin.clone(), context, event, started)
                .await;
            let spent = invocation.elapsed;
            (invocation, spent)
        };
        if spent > INLINE_BUDGET {
            let until = now.saturating_add(u64::try_from(OFFLOAD_FOR.as_millis()).unwrap_or(0));
            plugin.offload_until.store(until, Ordering::Relaxed);
        }
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
