//! The per-invocation store data and the host side of the plugin's imports
//! (log, config, endpoints), for every contract version the host runs.
//!
//! **Invariant:** a `HostState` lives for exactly one invocation; nothing in
//! it is shared with another event except the read-only [`PluginContext`].

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::context::PluginContext;
use super::limits::MemoryLimiter;
use super::logs::{Level, LogSink, Stream};
use super::network::{self, DenyHttp};

/// Store data for one invocation.
pub(crate) struct HostState {
    /// WASI with no preopens, no environment, no network; stdio to `logs`.
    wasi: WasiCtx,
    /// `wasi:http`, linked so toolchains that import it load; every
    /// request is denied by `http_hooks`.
    http: WasiHttpCtx,
    http_hooks: DenyHttp,
    /// WASI resources (streams, requests) the guest holds.
    table: ResourceTable,
    /// Enforces the memory limit and remembers when it bit.
    pub(crate) limiter: MemoryLimiter,
    /// Everything the guest logs.
    pub(crate) logs: LogSink,
    /// The panic message the SDK's hook reported, if any.
    pub(crate) panic: Option<String>,
    /// Configuration and endpoints, shared read-only.
    context: Arc<PluginContext>,
}

impl HostState {
    pub(crate) fn new(context: Arc<PluginContext>, memory_bytes: usize, log_bytes: usize) -> Self {
        let logs = LogSink::new(log_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(logs.stream(Stream::Stdout))
            .stderr(logs.stream(Stream::Stderr));
        network::deny_sockets(&mut wasi);
        Self {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            http_hooks: DenyHttp,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes),
            logs,
            panic: None,
            context,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// The plugin's imports, implemented once for each contract version the
/// host runs (their generated traits and types differ only by version).
macro_rules! plugin_imports {
    ($version:ident) => {
        mod $version {
            use super::super::bindings::$version::hookgate::plugin::{
                config, endpoints, log, types,
            };
            use super::{HostState, Level, Stream};

            impl types::Host for HostState {}

            impl log::Host for HostState {
                fn log(&mut self, level: log::Level, message: String) {
                    let level = match level {
                        log::Level::Trace => Level::Trace,
                        log::Level::Debug => Level::Debug,
                        log::Level::Info => Level::Info,
                        log::Level::Warn => Level::Warn,
                        log::Level::Error => Level::Error,
                    };
                    self.logs.push(level, Stream::Log, &message);
                }

                fn report_panic(&mut self, message: String) {
                    self.panic
                        .get_or_insert_with(|| super::super::bounds::text(message));
                }
            }

            impl config::Host for HostState {
                fn get(&mut self, key: String) -> Option<String> {
                    self.context.config().get(&key).cloned()
                }

                fn entries(&mut self) -> Vec<(String, String)> {
                    self.context
                        .config()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                }
            }

            impl endpoints::Host for HostState {
                fn all(&mut self) -> Vec<endpoints::Endpoint> {
                    self.context
                        .endpoints()
                        .iter()
                        .map(|e| endpoints::Endpoint {
                            name: e.name.clone(),
                            event_types: e.event_types.clone(),
                            tags: e.tags.clone(),
                        })
                        .collect()
                }
            }
        }
    };
}

plugin_imports!(current);
plugin_imports!(v0_1);
