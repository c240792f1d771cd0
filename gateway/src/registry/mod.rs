//! The registry: the live configuration of sources, endpoints, routes and
//! plugins, seeded from the config file at start and changed at run time by
//! the management API.
//!
//! Readers take the current [`Snapshot`] (one atomic load). Writers take one
//! lock, apply the change to a copy of the model, check the whole model,
//! persist the change, and only then publish the new snapshot, with the
//! next version: a change that fails any step leaves nothing behind, and a
//! published change survives a restart.
//!
//! Several nodes on one shared store (PostgreSQL) keep one configuration:
//! nodes take turns to change it (a cluster-wide lock from reading the
//! stored objects' version to writing), a change is written as a
//! compare-and-set on that version (one that lost anyway is applied again
//! on top of the winner's) and announced, and every node takes in what
//! moved when told, or at the latest after [`FOLLOW_EVERY`]
//! ([`Registry::follow`]).
//!
//! The registry's one job is configuration. What runs on it is built by
//! the layers above from each version ([`Derived`]): ingest's sources with
//! parsed secrets, delivery's endpoints with their protection state (which
//! is delivery's, as are disabling, enabling and operator events). It
//! imports none of them.
//!
//! How the file and the API relate: objects named in the file are
//! [`Origin::Config`] and read-only through the API (409
//! `managed_by_config`); edit the file and restart. Everything the API
//! creates is [`Origin::Api`], kept in the store, and restored at start. If
//! the file later defines a name the API created, the file wins and the
//! stored object is ignored (with a warning). Operational state (disabled
//! endpoints, the circuit breaker) applies to both.

mod derived;
mod endpoints;
mod model;
mod objects;
mod plugins;
mod snapshot;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

pub use derived::Derived;
pub use endpoints::Rotated;
pub use model::{Origin, PluginVersion};
pub(crate) use objects::{Endpoints, Routes, Sources};
pub use plugins::PluginView;
pub use snapshot::Snapshot;

pub(crate) use model::Model;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::validate::Invalid;
use crate::metrics::Metrics;
use crate::plugin::PluginHost;
use crate::store::{Catalog, Store};
use crate::targets::TargetPolicy;

/// Why a change was refused or the registry could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A field has a bad value (400).
    #[error("{}", describe(.0))]
    Invalid(Invalid),
    /// No such object (404).
    #[error("no {kind} is named {name:?}")]
    NotFound {
        /// `endpoint`, `plugin`, ...
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The name is taken (409).
    #[error("a {kind} named {name:?} already exists")]
    Exists {
        /// The kind.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// The config file defines it (409).
    #[error("{kind} {name:?} is defined in the config file; change it there and restart")]
    ManagedByConfig {
        /// The kind.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// Something refers to it (409).
    #[error("{kind} {name:?} is in use by {by}")]
    InUse {
        /// The kind.
        kind: &'static str,
        /// The name.
        name: String,
        /// What uses it.
        by: String,
    },
    /// The request conflicts with the object's state (409).
    #[error("{0}")]
    Conflict(String),
    /// The component was refused by the plugin host (400).
    #[error("the component was refused: {0}")]
    Plugin(#[from] crate::plugin::Error),
    /// The store failed (500).
    #[error("store: {0}")]
    Store(#[from] crate::store::Error),
}

fn describe(invalid: &Invalid) -> String {
    if invalid.field.is_empty() {
        invalid.message.clone()
    } else {
        format!("`{}`: {}", invalid.field, invalid.message)
    }
}

/// How often a node checks whether another node changed the stored
/// configuration (a shared store's version moved).
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// How many times a change is applied again on top of other nodes'
/// changes that committed first, before it gives up with 409.
const CHANGE_TRIES: usize = 8;

/// The live configuration. See the module docs.
pub struct Registry {
    /// What readers see.
    current: ArcSwap<Snapshot>,
    /// What writers edit; the lock serializes this node's changes.
    model: tokio::sync::Mutex<Model>,
    /// The version of the stored objects the model reflects.
    stored: AtomicU64,
    store: Arc<dyn Store>,
    catalog: Arc<dyn Catalog>,
    host: PluginHost,
    targets: TargetPolicy,
    clock: Clock,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// A change to persist with a new model.
pub(crate) use crate::store::ObjectWrite as Persist;

impl Registry {
    /// Builds the registry from the config file and what the API stored.
    pub async fn open(
        config: &Config,
        store: Arc<dyn Store>,
        catalog: Arc<dyn Catalog>,
        host: PluginHost,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, RegistryError> {
        let mut model = objects::from_config(config, &host, clock.now_millis())?;
        // Read before the objects: a change landing in between is seen
        // again by the next check, never missed.
        let stored = catalog.objects_version().await?;
        objects::restore(&mut model, catalog.as_ref()).await?;
        plugins::restore(&mut model, catalog.as_ref(), &host, None).await?;
        model.check(config.server.targets)?;
        let registry = Self {
            current: ArcSwap::from_pointee(Snapshot::default()),
            model: tokio::sync::Mutex::new(Model::default()),
            stored: AtomicU64::new(stored),
            store,
            catalog,
            host,
            targets: config.server.targets,
            clock,
            metrics,
        };
        registry
            .current
            .store(Arc::new(Snapshot::build(&model, &registry.host, 1)));
        *registry.model.lock().await = model;
        Ok(registry)
    }

    /// The configuration in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The store, for the endpoint operations that record state.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The catalog, for listings and replay.
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// The wall clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The version of the configuration in force.
    pub fn version(&self) -> u64 {
        self.current.load().version
    }

    /// Applies `change` to a copy of the model; if the result checks and
    /// builds, persists what `change` returned and publishes it. On a
    /// shared store the write is a compare-and-set on the stored version:
    /// when another node's change committed first, this node takes it in
    /// and applies `change` again on top of it, so neither is lost.
    pub(crate) async fn mutate<R>(
        &self,
        change: impl Fn(&mut Model) -> Result<(R, Vec<Persist>), RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut model = self.model.lock().await;
        let _turn = self.catalog.lock_objects().await?;
        for _ in 0..CHANGE_TRIES {
            let stored = self.catalog.objects_version().await?;
            if stored != self.stored.load(Ordering::SeqCst) {
                self.take_in(&mut model, stored).await?;
            }
            let mut next = model.clone();
            let (result, writes) = change(&mut next)?;
            next.check(self.targets)?;
            let snapshot = Snapshot::build(&next, &self.host, self.version() + 1);
            if let Some(version) = self.catalog.change_objects(stored, &writes).await? {
                *model = next;
                self.stored.store(version, Ordering::SeqCst);
                self.current.store(Arc::new(snapshot));
                return Ok(result);
            }
        }
        Err(RegistryError::Conflict(
            "other nodes' changes kept committing first; try again".into(),
        ))
    }

    /// Keeps this node's configuration in step with the changes other
    /// nodes make to a shared store: when the store announces a change
    /// (PostgreSQL's `NOTIFY`), and every [`FOLLOW_EVERY`] in case an
    /// announcement was missed, takes in what the API stored when the
    /// stored version moved, until `shutdown`.
    pub async fn follow(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let changed = self.catalog.objects_changed();
        let notified = || async {
            match &changed {
                Some(changed) => changed.notified().await,
                None => std::future::pending().await,
            }
        };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                () = notified() => {}
            }
            if let Err(error) = self.catch_up().await {
                tracing::warn!(%error, "could not take in another node's configuration change");
            }
        }
    }

    /// Takes in other nodes' changes if the stored version moved; whether
    /// it had.
    pub async fn catch_up(&self) -> Result<bool, RegistryError> {
        if self.catalog.objects_version().await? == self.stored.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let mut model = self.model.lock().await;
        let stored = self.catalog.objects_version().await?;
        if stored == self.stored.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.take_in(&mut model, stored).await?;
        Ok(true)
    }

    /// Replaces what the API stored in `model` with what the store holds
    /// now (at least version `stored`), and publishes it. Objects keep
    /// their incarnation ids and plugins their loaded components where
    /// nothing about them changed, so state kept by name survives.
    async fn take_in(&self, model: &mut Model, stored: u64) -> Result<(), RegistryError> {
        let mut next = model.config_only();
        objects::restore(&mut next, self.catalog.as_ref()).await?;
        plugins::restore(&mut next, self.catalog.as_ref(), &self.host, Some(model)).await?;
        next.keep_ids(model);
        next.check(self.targets)?;
        let snapshot = Snapshot::build(&next, &self.host, self.version() + 1);
        *model = next;
        self.stored.store(stored, Ordering::SeqCst);
        self.current.store(Arc::new(snapshot));
        tracing::info!(
            version = stored,
            "took in a configuration change made on another node"
        );
        Ok(())
    }

    /// Reads the model.
    pub(crate) async fn read<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(&*self.model.lock().await)
    }
}
