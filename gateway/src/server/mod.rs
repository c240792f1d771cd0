//! The running gateway: opens the store and the registry, wires ingest, the
//! management API, metrics and the health check into one router, starts the
//! pipeline, delivery and retention tasks, and serves until the shutdown
//! token fires.
//!
//! `main` parses, loads config, starts tracing, binds, and calls [`run`];
//! tests call [`Gateway::start`] on `127.0.0.1:0` and a temporary directory.

mod deadline;
mod listen;
mod open_store;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::AdminState;
use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::{Claiming, Deliverer};
use crate::ingest::{self, IngestState};
use crate::metrics::{Metrics, MetricsState};
use crate::pipeline::Pipeline;
use crate::plugin::{HostConfig, PluginHost};
use crate::registry::Registry;
use crate::store::{Backend, Catalog, Store};

pub use crate::http_error::BodyTimeout;
pub use listen::{ConnectionLimits, raise_descriptor_limit};
pub use tls::{CHECK_EVERY as TLS_CHECK_EVERY, TlsError};

/// A failure to start or run the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be opened (or flushed at the end).
    #[error("the store in {place}: {source}")]
    Store {
        /// The data directory, or the database's schema.
        place: String,
        /// Why.
        #[source]
        source: crate::store::Error,
    },
    /// The plugin host could not start.
    #[error("cannot start the plugin host: {0}")]
    Plugins(#[source] crate::plugin::Error),
    /// The configuration could not be loaded into the registry.
    #[error("{0}")]
    Registry(#[source] crate::registry::RegistryError),
    /// The delivery worker could not be built.
    #[error("{0}")]
    Delivery(#[source] crate::delivery::Error),
    /// A task of the gateway ended abnormally (a panic).
    #[error("the {what} task failed: {source}")]
    Task {
        /// Which task.
        what: &'static str,
        /// How.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The listener's TLS certificate could not be loaded.
    #[error("TLS certificate: {0}")]
    Tls(#[source] tls::TlsError),
    /// Serving HTTP failed.
    #[error("HTTP server: {0}")]
    Serve(#[source] std::io::Error),
}

/// A started gateway: its address and its parts, for tests and `main`.
#[derive(Debug)]
pub struct Gateway {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its store, shared with the server.
    pub store: Arc<dyn Backend>,
    /// The delivery worker, for tests that inject time.
    pub deliverer: Arc<Deliverer>,
    /// The live configuration.
    pub registry: Arc<Registry>,
    /// The server task; ends after shutdown.
    server: JoinHandle<Result<(), Error>>,
    /// The pipeline and delivery tasks; end after shutdown.
    workers: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Opens the store and starts serving on `listener`; returns at once.
    pub async fn start(
        config: Config,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        let data_dir = config.server.data_dir.clone();
        // Before anything is opened: a certificate that does not load is a
        // setup mistake to report at once.
        let tls = config
            .server
            .tls
            .as_ref()
            .map(tls::Certificate::load)
            .transpose()
            .map_err(Error::Tls)?;
        let (engine, store) = open_store::open(&config, &shutdown).await?;
        let place = open_store::place(&config);
        tracing::debug!(%engine, %place, "store open");
        let dyn_store = store.clone() as Arc<dyn Store>;

        let clock = Clock::new();
        let metrics = Arc::new(Metrics::new());
        let node = config.server.node_id();
        // Woken for a pipeline scan, and for a delivery pass.
        let (rescan, delivery_wake) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (inbox, queue) =
            crate::handover::inbox(rescan.clone(), &node, config.server.pipeline_lease);
        let released = dyn_store
            .release_claims(clock.now_millis(), &node)
            .await
            .map_err(|source| Error::Store {
                place: place.clone(),
                source,
            })?;
        if released > 0 {
            tracing::info!(
                released,
                "deliveries in flight when the last run stopped are due again"
            );
        }
        tracing::debug!(%node, "claiming as this node");

        let host = PluginHost::new(HostConfig {
            limits: config.plugin_host.limits,
            max_limits: config.plugin_host.max_limits,
            pool_size: config.plugin_host.pool_size,
            queue_timeout: config.plugin_host.queue_timeout,
            cache_dir: Some(data_dir.join("plugin-cache")),
            threads: config
                .plugin_host
                .threads
                .unwrap_or_else(crate::plugin::default_threads),
            max_component_bytes: config.plugin_host.max_component_bytes,
            compile_timeout: config.plugin_host.compile_timeout,
            compiler: config.plugin_host.compiler.clone().map(|program| {
                crate::plugin::compiler::Compiler {
                    program,
                    memory_bytes: config.plugin_host.compile_memory_bytes,
                }
            }),
        })
        .map_err(Error::Plugins)?;
        let registry = Arc::new(
            Registry::open(
                &config,
                dyn_store.clone(),
                store.clone() as Arc<dyn Catalog>,
                host.clone(),
                clock,
                metrics.clone(),
            )
            .await
            .map_err(Error::Registry)?,
        );
        let deliverer = Arc::new(
            Deliverer::new(crate::delivery::Parts {
                store: dyn_store.clone(),
                registry: registry.clone(),
                targets: config.server.targets,
                clock,
                wake: delivery_wake.clone(),
                inbox: inbox.clone(),
                metrics: metrics.clone(),
                claims: Claiming {
                    node,
                    margin: config.server.lease_margin,
                },
            })
            .await
            .map_err(Error::Delivery)?,
        );
        let exchange = Arc::new(crate::exchange::Exchange {
            store: dyn_store.clone(),
            host: host.clone(),
            registry: registry.clone(),
            deliverer: deliverer.clone(),
            clock,
            metrics: metrics.clone(),
        });
        let pipeline = Pipeline {
            store: dyn_store.clone(),
            host,
            registry: registry.clone(),
            queue,
            deliverer: deliverer.clone(),
            clock,
            metrics: metrics.clone(),
        };
        let health = Arc::new(crate::health::StoreHealth::default());
        let ingest = IngestState::new(
            exchange,
            config.server.targets,
            inbox,
            metrics.clone(),
            health.clone(),
            config.server.trusted_proxies.clone(),
        );
        let admin = AdminState {
            registry: registry.clone(),
            deliverer: deliverer.clone(),
        };
        let router = crate::api::health_routes(crate::api::HealthState {
            health,
            catalog: store.clone() as Arc<dyn Catalog>,
            clock,
        })
        .merge(ingest::routes(ingest))
        .merge(crate::api::management_routes(
            admin,
            config.admin.token.clone(),
        ))
        .merge(crate::console::routes(
            config.admin.token.clone(),
            config.server.tls.is_some(),
        ))
        .merge(crate::metrics::routes(MetricsState {
            metrics,
            store: dyn_store.clone(),
            clock,
        }))
        // Last: every route above answers a wrong method as JSON too.
        .fallback(crate::http_error::no_route)
        .method_not_allowed_fallback(crate::http_error::method_not_allowed);
        let addr = listener.local_addr().map_err(Error::Serve)?;
        let grace = config.server.shutdown_grace;
        let mut workers = vec![
            tokio::spawn(pipeline.run(shutdown.clone())),
            tokio::spawn(deliverer.clone().run(shutdown.clone(), grace)),
            tokio::spawn(crate::retention::run(
                store.clone() as Arc<dyn Catalog>,
                config.retention.clone(),
                clock,
                shutdown.clone(),
            )),
        ];
        if engine == crate::store::Engine::Postgres {
            // Other nodes change the configuration too.
            workers.push(tokio::spawn(registry.clone().follow(shutdown.clone())));
            workers.push(tokio::spawn(
                deliverer.clone().follow_disabled(shutdown.clone()),
            ));
        }
        if let Some(work) = dyn_store.work_announced() {
            // Work another node stored for anyone: look at once.
            let stop = shutdown.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = work.notified() => {
                            delivery_wake.notify_one();
                            rescan.notify_one();
                        }
                    }
                }
            }));
        }
        let acceptor = tls.map(|(certificate, acceptor)| {
            workers.push(tokio::spawn(certificate.watch(shutdown.clone())));
            acceptor
        });
        let limits = listen::ConnectionLimits {
            header_read_timeout: config.server.header_read_timeout,
            body_read_timeout: config.server.body_read_timeout,
            max_connections: config.server.max_connections,
            shutdown_grace: config.server.shutdown_grace,
        };
        let server = tokio::spawn(async move {
            listen::serve(listener, router, limits, acceptor, shutdown).await;
            Ok(())
        });
        Ok(Self {
            addr,
            store,
            deliverer,
            registry,
            server,
            workers,
        })
    }

    /// Waits until the server has stopped (after the shutdown token fired)
    /// and everything written is on disk.
    pub async fn stopped(self) -> Result<(), Error> {
        let served = self.server.await.map_err(|source| Error::Task {
            what: "server",
            source,
        })?;
        for worker in self.workers {
            worker.await.map_err(|source| Error::Task {
                what: "worker",
                source,
            })?;
        }
        self.store.flush().await.map_err(|source| Error::Store {
            place: "flush at shutdown".into(),
            source,
        })?;
        served
    }
}

/// Runs the gateway until `shutdown` fires.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    Gateway::start(config, listener, shutdown)
        .await?
        .stopped()
        .await
}
