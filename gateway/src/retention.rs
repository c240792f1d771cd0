//! Retention: a background task that prunes finished messages older than
//! `retention.max_age`, with their deliveries and attempt logs, in small
//! batches with a yield between them, so ingest and delivery never wait
//! for it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::RetentionConfig;
use crate::store::{Catalog, Pruned};

/// Messages looked at per batch.
const BATCH: usize = 256;

/// Prunes once: everything finished before `now - max_age`. Returns what
/// was removed.
pub async fn prune_once(
    catalog: &dyn Catalog,
    now: u64,
    max_age: Duration,
) -> Result<Pruned, crate::store::Error> {
    let before = now.saturating_sub(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
    let mut total = Pruned::default();
    let mut from = None;
    loop {
        let pruned = catalog.prune(before, from.as_deref(), BATCH).await?;
        total.messages += pruned.messages;
        total.deliveries += pruned.deliveries;
        total.dedup_keys += pruned.dedup_keys;
        match pruned.resume {
            Some(resume) => from = Some(resume),
            None => return Ok(total),
        }
        tokio::task::yield_now().await;
    }
}

/// Runs [`prune_once`] every `config.interval` until `shutdown` fires.
pub async fn run(
    catalog: Arc<dyn Catalog>,
    config: RetentionConfig,
    clock: Clock,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(config.interval) => {}
            () = shutdown.cancelled() => return,
        }
        match prune_once(catalog.as_ref(), clock.now_millis(), config.max_age).await {
            Ok(pruned) if pruned.messages > 0 || pruned.dedup_keys > 0 => {
                tracing::info!(
                    messages = pruned.messages,
                    deliveries = pruned.deliveries,
                    dedup_keys = pruned.dedup_keys,
                    "retention pruned old messages"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "retention pass failed"),
        }
    }
}
