//! The running gateway: opens the store, wires ingest and the health check
//! into one router, and serves until the shutdown token fires.
//!
//! `main` parses, loads config, starts tracing, binds, and calls [`run`];
//! tests call [`Gateway::start`] on `127.0.0.1:0` and a temporary directory.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use std::collections::HashMap;

use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::{Deliverer, Endpoint};
use crate::ingest::{self, IngestState};
use crate::metrics::{Metrics, MetricsState};
use crate::pipeline::{Pipeline, RouteTarget};
use crate::plugin::{EndpointInfo, HostConfig, PluginContext, PluginHost, Step};
use crate::store::{SledStore, Store};

/// A failure to start or run the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be opened.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// The data directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: crate::store::Error,
    },
    /// The configuration could not be turned into running parts.
    #[error("{0}")]
    Setup(String),
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
    pub store: Arc<SledStore>,
    /// The delivery worker, for tests that inject time.
    pub deliverer: Arc<Deliverer>,
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
        let store =
            Arc::new(
                SledStore::open(&data_dir.join("store")).map_err(|source| Error::Store {
                    path: data_dir.clone(),
                    source,
                })?,
            );
        let dyn_store = store.clone() as Arc<dyn Store>;
        let new_message = Arc::new(Notify::new());
        let new_delivery = Arc::new(Notify::new());
        let clock = Clock::new();
        let metrics = Arc::new(Metrics::new());
        let released = dyn_store
            .release_claims(clock.now_millis())
            .await
            .map_err(|source| Error::Store {
                path: data_dir.clone(),
                source,
            })?;
        if released > 0 {
            tracing::info!(
                released,
                "deliveries in flight when the last run stopped are due again"
            );
        }

        let host = PluginHost::new(HostConfig {
            limits: config.plugin_host.limits,
            pool_size: config.plugin_host.pool_size,
            queue_timeout: config.plugin_host.queue_timeout,
            cache_dir: Some(data_dir.join("plugin-cache")),
        })
        .map_err(|e| Error::Setup(e.to_string()))?;
        let pipeline = Pipeline {
            store: dyn_store.clone(),
            chains: chains(&config, &host)?,
            host,
            endpoints: config
                .endpoints
                .iter()
                .map(|e| RouteTarget {
                    name: e.name.clone(),
                    event_types: e.event_types.clone(),
                    active: e.active,
                })
                .collect(),
            new_message: new_message.clone(),
            new_delivery: new_delivery.clone(),
            clock,
            metrics: metrics.clone(),
        };
        let endpoints = config
            .endpoints
            .iter()
            .map(Endpoint::from_config)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Setup)?;
        let deliverer = Arc::new(
            Deliverer::new(
                dyn_store.clone(),
                endpoints,
                config.server.targets,
                clock,
                new_delivery,
                metrics.clone(),
            )
            .map_err(Error::Setup)?,
        );

        let disabled = deliverer
            .restore_disabled()
            .await
            .map_err(|source| Error::Store {
                path: data_dir.clone(),
                source,
            })?;
        if !disabled.is_empty() {
            tracing::warn!(
                ?disabled,
                "endpoints disabled by an earlier run (410 Gone) stay disabled"
            );
        }
        let ingest = IngestState::new(
            dyn_store.clone(),
            &config.sources,
            config.server.targets,
            new_message,
            metrics.clone(),
        )
        .map_err(Error::Setup)?;
        let router = crate::api::health_routes()
            .merge(ingest::routes(ingest))
            .merge(crate::metrics::routes(MetricsState {
                metrics,
                store: dyn_store,
                clock,
            }));
        let addr = listener.local_addr().map_err(Error::Serve)?;
        let grace = config.server.shutdown_grace;
        let workers = vec![
            tokio::spawn(pipeline.run(shutdown.clone())),
            tokio::spawn(deliverer.clone().run(shutdown.clone(), grace)),
        ];
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(Error::Serve)
        });
        Ok(Self {
            addr,
            store,
            deliverer,
            server,
            workers,
        })
    }

    /// Waits until the server has stopped (after the shutdown token fired)
    /// and everything written is on disk.
    pub async fn stopped(self) -> Result<(), Error> {
        let served = self
            .server
            .await
            .map_err(|e| Error::Setup(format!("the server task failed: {e}")))?;
        for worker in self.workers {
            worker
                .await
                .map_err(|e| Error::Setup(format!("a worker task failed: {e}")))?;
        }
        self.store.flush().await.map_err(|source| Error::Store {
            path: std::path::PathBuf::new(),
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

/// Loads every configured plugin and builds each source's chain.
fn chains(config: &Config, host: &PluginHost) -> Result<HashMap<String, Vec<Step>>, Error> {
    let endpoints: Vec<EndpointInfo> = config
        .endpoints
        .iter()
        .map(|e| EndpointInfo {
            name: e.name.clone(),
            event_types: e.event_types.clone(),
            tags: e.tags.clone(),
        })
        .collect();
    let mut loaded = HashMap::new();
    for plugin in &config.plugins {
        let component = host.load_file(&plugin.file).map_err(|e| {
            Error::Setup(format!(
                "plugin {} ({}): {e}",
                plugin.name,
                plugin.file.display()
            ))
        })?;
        let step = Step {
            plugin: Arc::new(component),
            context: Arc::new(PluginContext::new(
                plugin.name.clone(),
                plugin.config.clone(),
                endpoints.clone(),
            )),
        };
        loaded.insert(plugin.name.clone(), step);
    }
    Ok(config
        .routes
        .iter()
        .map(|route| {
            let steps = route
                .plugins
                .iter()
                .filter_map(|name| loaded.get(name).cloned())
                .collect();
            (route.source.clone(), steps)
        })
        .collect())
}
