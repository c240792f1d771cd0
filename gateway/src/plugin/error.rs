//! The plugin layer's one error type: every way loading or running a plugin
//! can fail, classified so a caller can act on it.

use std::time::Duration;

/// A failure to load or run a plugin.
///
/// Load errors (`NotAComponent` .. `Engine`) come from [`super::PluginHost::load`];
/// the rest from an invocation. None of them is ever a panic of the host.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a WebAssembly component (perhaps a core module).
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// The component is larger than the host accepts.
    #[error(
        "the component is {size} bytes, over the limit of {limit} bytes (plugin_host.max_component_bytes)"
    )]
    ComponentTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Compiling the component took longer than the host allows.
    #[error(
        "compiling the component took longer than {0:?} (plugin_host.compile_timeout); make it smaller or raise the limit"
    )]
    CompileTimeout(Duration),
    /// Compiling the component needed more memory than the host allows.
    #[error(
        "compiling the component needed more than {0} bytes of memory (plugin_host.compile_memory_bytes); make it smaller or raise the limit"
    )]
    CompileMemory(u64),
    /// The component failed to compile.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component imports interfaces the sandbox does not provide.
    #[error(
        "the component imports what the plugin sandbox does not allow: {}; plugins may import only wasi:cli, wasi:clocks, wasi:io, wasi:random, wasi:filesystem (with no directories), hookgate:plugin@0.1 and @0.2, and wasi:sockets and wasi:http's client interfaces (linked as denied: every call fails)",
        .imports.join(", ")
    )]
    ForbiddenImports {
        /// Each offending import, by name.
        imports: Vec<String>,
    },
    /// The component does not implement the `hookgate:plugin/plugin` world.
    #[error("the component is not a hookgate plugin: {0}")]
    WrongWorld(String),
    /// The component file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The compiled-component cache could not be used.
    #[error("plugin cache at {path}: {source}")]
    Cache {
        /// The file or directory involved.
        path: std::path::PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The engine could not be built from the configuration.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),

    /// An instance could not be created (for example the pool is full).
    #[error("cannot instantiate the plugin: {0}")]
    Instantiate(String),
    /// The call ran past its wall-time limit.
    #[error("plugin timed out after {elapsed:?} (limit {limit:?})")]
    Timeout {
        /// The configured limit.
        limit: Duration,
        /// How long it had run when stopped.
        elapsed: Duration,
    },
    /// The plugin tried to grow its memory past the limit.
    #[error("plugin exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The plugin returned more than allowed: body bytes (the configured
    /// limit), header bytes, event type bytes or targets (fixed bounds).
    #[error("plugin output of {size} {what} exceeds the limit of {limit}")]
    OutputTooLarge {
        /// What was too large: `bodies` (bytes), `header bytes`, `event
        /// type bytes`, `targets`.
        what: &'static str,
        /// How much was returned.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin panicked.
    #[error("plugin panicked: {message}")]
    Panic {
        /// The panic message, with its location.
        message: String,
    },
    /// The plugin trapped for another reason.
    #[error("plugin trapped: {message}{}", backtrace.as_deref().map(|b| format!("\n{b}")).unwrap_or_default())]
    Trap {
        /// What the trap was, for example `wasm 'unreachable' instruction executed`.
        message: String,
        /// The wasm backtrace, when one was captured.
        backtrace: Option<String>,
    },
    /// The plugin returned something the gateway cannot act on.
    #[error("plugin returned an invalid result: {0}")]
    InvalidResult(String),
    /// The plugin reported an error on purpose.
    #[error("plugin error: {0}")]
    Plugin(PluginError),
    /// No invocation slot became free within the queue timeout.
    #[error("no plugin slot became free within {0:?}")]
    PoolExhausted(Duration),
}

/// An error a plugin reported on purpose (the WIT `plugin-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum PluginError {
    /// The event lacks what the plugin needs.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// The plugin's configuration is wrong.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// Whether the failure is the host's rather than the plugin's (no slot
    /// became free): the event did not run, and running it again later may
    /// succeed, so it is retried rather than dead-lettered.
    pub fn is_host_side(&self) -> bool {
        matches!(self, Self::PoolExhausted(_))
    }

    /// A stable, machine-readable name for the kind of error, used in logs,
    /// metrics and API responses.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAComponent(_) => "not_a_component",
            Self::ComponentTooLarge { .. } => "component_too_large",
            Self::CompileTimeout(_) => "compile_timeout",
            Self::CompileMemory(_) => "compile_memory",
            Self::Compile(_) => "compile",
            Self::ForbiddenImports { .. } => "forbidden_imports",
            Self::WrongWorld(_) => "wrong_world",
            Self::Read { .. } => "read",
            Self::Cache { .. } => "cache",
            Self::Engine(_) => "engine",
            Self::Instantiate(_) => "instantiate",
            Self::Timeout { .. } => "timeout",
            Self::MemoryLimit { .. } => "memory_limit",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::Panic { .. } => "panic",
            Self::Trap { .. } => "trap",
            Self::InvalidResult(_) => "invalid_result",
            Self::Plugin(_) => "plugin_error",
            Self::PoolExhausted(_) => "pool_exhausted",
        }
    }
}
