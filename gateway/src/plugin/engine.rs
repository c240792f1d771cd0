//! The process-wide wasmtime engine: pooling allocator (instances and the
//! fibers' stacks of async calls), epoch interruption, and the thread that
//! advances the epoch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::{Error, Limits, MaxLimits};

/// How often the epoch advances; the timeout's resolution.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Core instances, memories and tables one component may have. Rust
/// components built for wasm32-wasip2 use a few core instances (the module
/// and its shims), one memory and a few tables; a componentize-py component
/// links libc, libpython and its extension modules as modules of their
/// own (14 and more), so 64 fits every toolchain tried.
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 8;

/// Linear memory kept resident between uses of a pool slot. With
/// `PAGEMAP_SCAN` (Linux 6.7+) only the pages an instance dirtied are reset,
/// by memset, so a reused slot takes no page faults; this covers a Rust
/// plugin's 1 MiB stack (at the bottom of memory), its data and a small heap.
const MEMORY_KEEP_RESIDENT: usize = 4 << 20;
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Builds the engine for `slots` concurrent instances under `limits`, with
/// room for memories as large as `max` lets a deployment ask.
pub(crate) fn build(limits: &Limits, max: &MaxLimits, slots: u32) -> Result<Engine, Error> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots * MEMORIES_PER_COMPONENT)
        .total_tables(slots * TABLES_PER_COMPONENT)
        .total_stacks(slots)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(limits.memory_bytes.max(max.memory_bytes))
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT.min(limits.memory_bytes))
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);

    let mut config = Config::new();
    // One thread per compile: a huge component compiled with every core
    // stalled all other traffic (and its memory grows with the threads).
    config
        .parallel_compilation(false)
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| Error::Engine(format!("{e:#}")))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    /// Set on drop to end the thread.
    stop: Arc<AtomicBool>,
    /// Joined on drop so the thread never outlives the host.
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine) -> Result<Self, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hookgate-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    #[allow(clippy::disallowed_methods, reason = "the epoch's own thread")]
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| Error::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
