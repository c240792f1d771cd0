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

use crate::config::Config;
use crate::ingest::{self, IngestState};
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
    /// The server task; ends after shutdown.
    server: JoinHandle<Result<(), Error>>,
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
        let new_message = Arc::new(Notify::new());
        let ingest = IngestState::new(
            store.clone() as Arc<dyn Store>,
            &config.sources,
            config.server.targets,
            new_message,
        )
        .map_err(Error::Setup)?;
        let router = crate::api::health_routes().merge(ingest::routes(ingest));
        let addr = listener.local_addr().map_err(Error::Serve)?;
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
            server,
        })
    }

    /// Waits until the server has stopped (after the shutdown token fired)
    /// and everything written is on disk.
    pub async fn stopped(self) -> Result<(), Error> {
        let served = self
            .server
            .await
            .map_err(|e| Error::Setup(format!("the server task failed: {e}")))?;
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
