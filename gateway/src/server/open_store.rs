//! Opening the configured store at start. A database out of reach (not
//! yet up, restarting, a network blip) is waited for, with backoff and a
//! clear log line per try, until it answers or the gateway is told to stop;
//! a database that answers with a refusal (a wrong password, a missing
//! database, a schema newer than this build) is an error at once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Error;
use crate::config::Config;
use crate::store::{Backend, Engine};

/// The first wait after a failed try; it doubles up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(500);
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Where the store is, for messages: the data directory, or the schema.
pub(super) fn place(config: &Config) -> String {
    match (config.storage.engine, config.storage.postgres()) {
        (Some(Engine::Postgres), Some(options)) => {
            format!("PostgreSQL schema {}", options.schema_name())
        }
        _ => config.server.data_dir.display().to_string(),
    }
}

/// Opens the store, waiting out an unreachable database.
pub(super) async fn open(
    config: &Config,
    shutdown: &CancellationToken,
) -> Result<(Engine, Arc<dyn Backend>), Error> {
    let postgres = config.storage.postgres();
    let mut wait = FIRST_WAIT;
    loop {
        let opened = crate::store::open_configured(
            config.storage.engine,
            &config.server.data_dir,
            postgres.as_ref(),
        )
        .await;
        match opened {
            Err(source) if source.is_unreachable() => {
                tracing::error!(
                    error = %source,
                    retry_in = ?wait,
                    "the database is unreachable; trying again"
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => {
                        return Err(Error::Store { place: place(config), source });
                    }
                }
                wait = (wait * 2).min(MAX_WAIT);
            }
            other => {
                return other.map_err(|source| Error::Store {
                    place: place(config),
                    source,
                });
            }
        }
    }
}
