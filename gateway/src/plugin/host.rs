//! [`PluginHost`]: the engine, the linker, and loading components into
//! pre-instantiated, validated [`LoadedPlugin`]s.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use super::bindings::{current, v0_1};
use super::compiler::{Compiler, Shape};
use super::engine::{self, EpochTicker};
use super::imports::{self, Interface};
use super::state::HostState;
use super::{Error, Limits, LimitsOutOfBounds, MaxLimits, PluginLimits, cache};

/// How the host is set up; the server's config fills it.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Limits applied to every invocation of a plugin deployed without its
    /// own.
    pub limits: Limits,
    /// How far a deployment may raise its own limits.
    pub max_limits: MaxLimits,
    /// Invocations that may run at once; also the size of the instance pool.
    pub pool_size: u32,
    /// How long a caller waits for a free slot before giving up.
    pub queue_timeout: Duration,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Threads of the runtime that runs expensive plugins, away from the
    /// workers that serve ingest and delivery.
    pub threads: usize,
    /// The largest component accepted, in bytes.
    pub max_component_bytes: usize,
    /// How long a deploy may compile before it is refused.
    pub compile_timeout: Duration,
    /// Where deployed components compile: a child process with a memory
    /// bound, or (`None`) this process.
    pub compiler: Option<Compiler>,
}

/// Threads for expensive plugins by default: half the cores, at least one,
/// so they cannot take the whole machine.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_limits: MaxLimits::default(),
            pool_size: 16,
            queue_timeout: Duration::from_secs(10),
            cache_dir: None,
            threads: default_threads(),
            max_component_bytes: 32 << 20,
            compile_timeout: Duration::from_secs(120),
            compiler: None,
        }
    }
}

/// Loads and runs plugins. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct PluginHost {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// The one engine of the process (pooling allocator, epochs).
    pub(super) engine: Engine,
    /// WASI p2 (no preopens or env; the network linked as denied) and the
    /// plugin imports.
    linker: Linker<HostState>,
    /// The configuration this host was built with.
    pub(super) config: HostConfig,
    /// One permit per pool slot; an invocation holds one until it ends.
    pub(super) slots: Arc<Semaphore>,
    /// Advances the epoch so deadlines fire; stops when the host is dropped.
    _ticker: EpochTicker,
    /// One compile at a time: a huge component takes one core, not all.
    compiling: Arc<Semaphore>,
    /// Runs expensive plugins (`invoke.rs`); started on first use.
    plugin_runtime: OnceLock<Runtime>,
    /// Drives [`PluginHost::invoke_blocking`]; started on first use.
    local_runtime: OnceLock<Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A runtime dropped inside another one panics; these are shut down
        // without waiting (invocations still on them are abandoned, and
        // their futures, with their slots, dropped).
        for runtime in [self.plugin_runtime.take(), self.local_runtime.take()]
            .into_iter()
            .flatten()
        {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("config", &self.inner.config)
            .field("free_slots", &self.free_slots())
            .finish_non_exhaustive()
    }
}

/// A validated, compiled and pre-instantiated plugin component.
pub struct LoadedPlugin {
    /// Hex SHA-256 of the component bytes.
    hash: String,
    /// Size of the component in bytes.
    size: usize,
    /// What it imports and exports.
    interface: Interface,
    /// Pre-instantiated with the host's linker: instantiating is cheap.
    pub(super) pre: Pre,
    /// A moving average of its calls' CPU time in nanoseconds, which decides
    /// whether they run inline or on the plugin runtime (`invoke.rs`).
    pub(super) cpu_average: AtomicU64,
    /// Calls in a row that ended at a limit (time, memory, output) or in a
    /// trap; past a few the plugin is throttled (`invoke.rs`).
    pub(super) strikes: AtomicU32,
    /// While throttled, its calls run one at a time, each holding this.
    pub(super) throttle: Arc<Semaphore>,
}

/// A pre-instantiated component, by the contract version it was built
/// against.
pub(super) enum Pre {
    /// `hookgate:plugin@0.2.0`.
    Current(current::PluginPre<HostState>),
    /// `hookgate:plugin@0.1.0`.
    V0_1(v0_1::PluginPre<HostState>),
}

impl Pre {
    /// Type-checks a component's exports against the version its imports
    /// name (0.2.0 when they name none).
    fn new(
        instance_pre: wasmtime::component::InstancePre<HostState>,
        interface: &Interface,
    ) -> Result<Self, Error> {
        let wrong = |e: wasmtime::Error| Error::WrongWorld(format!("{e:#}"));
        if imports::contract_version(interface) == Some(imports::ContractVersion::V0_1) {
            v0_1::PluginPre::new(instance_pre)
                .map(Self::V0_1)
                .map_err(wrong)
        } else {
            current::PluginPre::new(instance_pre)
                .map(Self::Current)
                .map_err(wrong)
        }
    }

    /// The contract version, as `plugin check` shows it.
    pub(super) fn version(&self) -> &'static str {
        match self {
            Self::Current(_) => "0.2.0",
            Self::V0_1(_) => "0.1.0",
        }
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("hash", &self.hash)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// Hex SHA-256 of the component bytes.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// What the component imports and exports.
    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// The version of `hookgate:plugin` it was built against.
    pub fn contract_version(&self) -> &'static str {
        self.pre.version()
    }

    /// Whether it keeps hitting its limits, so that its calls run one at a
    /// time (see `invoke.rs`).
    pub fn throttled(&self) -> bool {
        self.strikes.load(Ordering::Relaxed) >= super::invoke::THROTTLE_AFTER
    }
}

impl PluginHost {
    /// Builds the engine and linker and starts the epoch thread.
    pub fn new(config: HostConfig) -> Result<Self, Error> {
        let slots = config.pool_size.max(1);
        let engine = engine::build(&config.limits, &config.max_limits, slots)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link WASI: {e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link wasi:http: {e:#}")))?;
        let link =
            |e: wasmtime::Error| Error::Engine(format!("cannot link the plugin imports: {e:#}"));
        current::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(link)?;
        v0_1::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(link)?;
        let ticker = EpochTicker::start(engine.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                slots: Arc::new(Semaphore::new(slots as usize)),
                config,
                _ticker: ticker,
                compiling: Arc::new(Semaphore::new(1)),
                plugin_runtime: OnceLock::new(),
                local_runtime: OnceLock::new(),
            }),
        })
    }

    /// The runtime that runs expensive plugins, started on first use.
    pub(super) fn plugin_runtime(&self) -> tokio::runtime::Handle {
        self.inner
            .plugin_runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(self.inner.config.threads.max(1))
                    .thread_name("hookgate-plugin")
                    .enable_time()
                    .build()
                    .unwrap_or_else(|e| panic!("cannot start the plugin runtime: {e}"))
            })
            .handle()
            .clone()
    }

    /// The runtime [`PluginHost::invoke_blocking`] drives, started on first
    /// use.
    pub(super) fn local_runtime(&self) -> &Runtime {
        self.inner.local_runtime.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the plugin host's runtime: {e}"))
        })
    }

    /// The limits every invocation runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// The limits a deployment with `own` limits runs under, if they are
    /// within the operator's bounds.
    pub fn limits_for(&self, own: &PluginLimits) -> Result<Limits, LimitsOutOfBounds> {
        self.inner
            .config
            .limits
            .with(own, &self.inner.config.max_limits)
    }

    /// Pool slots not in use right now.
    pub fn free_slots(&self) -> usize {
        self.inner.slots.available_permits()
    }

    /// The number of pool slots.
    pub fn pool_size(&self) -> usize {
        self.inner.config.pool_size.max(1) as usize
    }

    /// [`Self::load`] for async code: one compile at a time, refused past
    /// `compile_timeout`. With a [`Compiler`] the compile runs in a child
    /// process, which is killed at the deadline and bounded in memory;
    /// without one, on a blocking thread (an abandoned compile then still
    /// holds the one compile slot until it ends, so abandoned compiles
    /// never pile up).
    pub async fn load_async(&self, bytes: Arc<Vec<u8>>) -> Result<LoadedPlugin, Error> {
        self.check_size(&bytes)?;
        let timeout = self.inner.config.compile_timeout;
        let started = tokio::time::Instant::now();
        if let Some(compiler) = &self.inner.config.compiler {
            // Hashing, reading the cache and pre-instantiating stay off
            // the async workers too.
            let host = self.clone();
            let component = bytes.clone();
            if let Some(loaded) = off_workers(move || host.load_cached(&component)).await? {
                return Ok(loaded);
            }
            let _slot = self.compile_slot(timeout).await?;
            let left = timeout.saturating_sub(started.elapsed());
            let artifact = compiler.compile(self.shape(), &bytes, left).await?;
            let host = self.clone();
            return off_workers(move || host.adopt(&bytes, &artifact)).await;
        }
        let slot = self.compile_slot(timeout).await?;
        let host = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            host.load(&bytes)
        });
        let left = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, task).await {
            Ok(Ok(loaded)) => loaded,
            Ok(Err(join)) => Err(Error::Compile(format!("the compile task failed: {join}"))),
            Err(_) => Err(Error::CompileTimeout(timeout)),
        }
    }

    /// The one compile slot, waited for at most `timeout`.
    async fn compile_slot(
        &self,
        timeout: Duration,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        tokio::time::timeout(timeout, self.inner.compiling.clone().acquire_owned())
            .await
            .map_err(|_| Error::CompileTimeout(timeout))?
            .map_err(|_| Error::Engine("the compile slot is closed".into()))
    }

    /// The engine's shape, for a compiler child to build the same one.
    fn shape(&self) -> Shape {
        let config = &self.inner.config;
        Shape {
            memory_bytes: config.limits.memory_bytes,
            max_memory_bytes: config.max_limits.memory_bytes,
            slots: config.pool_size.max(1),
        }
    }

    fn check_size(&self, bytes: &[u8]) -> Result<(), Error> {
        let limit = self.inner.config.max_component_bytes;
        if bytes.len() > limit {
            return Err(Error::ComponentTooLarge {
                size: bytes.len(),
                limit,
            });
        }
        Ok(())
    }

    /// Validates, compiles (or loads from the cache) and pre-instantiates a
    /// component, on the calling thread.
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedPlugin, Error> {
        self.check_size(bytes)?;
        check_component(bytes)?;
        let hash = cache::content_hash(bytes);
        let engine = &self.inner.engine;
        let component =
            cache::load_or_compile(engine, bytes, &hash, self.inner.config.cache_dir.as_deref())?;
        self.finish(component, hash, bytes.len())
    }

    /// The component as a previous compile left it in the cache, if there.
    fn load_cached(&self, bytes: &[u8]) -> Result<Option<LoadedPlugin>, Error> {
        check_component(bytes)?;
        let hash = cache::content_hash(bytes);
        let dir = self.inner.config.cache_dir.as_deref();
        cache::cached(&self.inner.engine, &hash, dir)
            .map(|component| self.finish(component, hash, bytes.len()))
            .transpose()
    }

    /// Loads the artifact a compiler child made of `bytes`.
    fn adopt(&self, bytes: &[u8], artifact: &[u8]) -> Result<LoadedPlugin, Error> {
        let hash = cache::content_hash(bytes);
        let dir = self.inner.config.cache_dir.as_deref();
        let component = cache::adopt(&self.inner.engine, artifact, &hash, dir)?;
        self.finish(component, hash, bytes.len())
    }

    /// Checks a compiled component's imports and exports and
    /// pre-instantiates it.
    fn finish(
        &self,
        component: wasmtime::component::Component,
        hash: String,
        size: usize,
    ) -> Result<LoadedPlugin, Error> {
        let interface = imports::describe(&component, &self.inner.engine);
        imports::check(&interface)?;
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| Error::WrongWorld(format!("{e:#}")))?;
        let pre = Pre::new(instance_pre, &interface)?;
        Ok(LoadedPlugin {
            hash,
            size,
            interface,
            pre,
            cpu_average: AtomicU64::new(0),
            strikes: AtomicU32::new(0),
            throttle: Arc::new(Semaphore::new(1)),
        })
    }

    /// Reads and loads a component file.
    pub fn load_file(&self, path: &Path) -> Result<LoadedPlugin, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        self.load(&bytes)
    }
}

/// Runs `work` on a blocking thread.
async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|join| Error::Compile(format!("the compile task failed: {join}")))?
}

/// Refuses bytes that are not a WebAssembly component, saying what they are.
fn check_component(bytes: &[u8]) -> Result<(), Error> {
    if wasmparser::Parser::is_component(bytes) {
        return Ok(());
    }
    let why = if wasmparser::Parser::is_core_wasm(bytes) {
        "this is a core WebAssembly module; build a component, for example with `--target wasm32-wasip2`"
    } else {
        "the bytes do not start with the WebAssembly magic number and component version"
    };
    Err(Error::NotAComponent(why.into()))
}
