//! The registry: the live configuration of sources, endpoints, routes and
//! plugins, seeded from the config file at start and changed at run time by
//! the management API.
//!
//! Readers take the current [`Snapshot`] (one atomic load). Writers take one
//! lock, apply the change to a copy of the model, check the whole model,
//! build the new snapshot, persist the change, and only then publish it: a
//! change that fails any step leaves nothing behind, and a published change
//! survives a restart.
//!
//! How the file and the API relate: objects named in the file are
//! [`Origin::Config`] and read-only through the API (409
//! `managed_by_config`); edit the file and restart. Everything the API
//! creates is [`Origin::Api`], kept in the store, and restored at start. If
//! the file later defines a name the API created, the file wins and the
//! stored object is ignored (with a warning). Operational state (disabled
//! endpoints, the circuit breaker) applies to both.

mod endpoints;
mod model;
mod objects;
mod plugins;
mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

pub use endpoints::{OPERATOR_SOURCE, Rotated};
pub use model::{Origin, PluginVersion};
pub(crate) use objects::{Endpoints, Routes, Sources};
pub use plugins::PluginView;
pub use snapshot::Snapshot;

pub(crate) use model::Model;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::validate::Invalid;
use crate::delivery::EndpointState;
use crate::metrics::Metrics;
use crate::pipeline::Inbox;
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

/// The live configuration. See the module docs.
pub struct Registry {
    /// What readers see.
    current: ArcSwap<Snapshot>,
    /// What writers edit; the lock serializes changes.
    model: tokio::sync::Mutex<Model>,
    /// Per-endpoint protection state, kept across snapshots.
    states: Mutex<HashMap<String, Arc<EndpointState>>>,
    store: Arc<dyn Store>,
    catalog: Arc<dyn Catalog>,
    host: PluginHost,
    targets: TargetPolicy,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// Hands operator events to the pipeline once they are stored.
    inbox: Inbox,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// A change to persist with a new model.
pub(crate) enum Persist {
    Put(&'static str, String, Vec<u8>),
    Delete(&'static str, String),
}

impl Registry {
    /// Builds the registry from the config file and what the API stored, and
    /// restores which endpoints are disabled.
    pub async fn open(
        config: &Config,
        store: Arc<dyn Store>,
        catalog: Arc<dyn Catalog>,
        host: PluginHost,
        clock: Clock,
        metrics: Arc<Metrics>,
        inbox: Inbox,
    ) -> Result<Self, RegistryError> {
        let mut model = objects::from_config(config, &host, clock.now_millis())?;
        objects::restore(&mut model, catalog.as_ref()).await?;
        plugins::restore(&mut model, catalog.as_ref(), &host).await?;
        model.check(config.server.targets)?;
        let registry = Self {
            current: ArcSwap::from_pointee(Snapshot::default()),
            model: tokio::sync::Mutex::new(Model::default()),
            states: Mutex::new(HashMap::new()),
            store,
            catalog,
            host,
            targets: config.server.targets,
            clock,
            metrics,
            inbox,
        };
        for disabled in registry.store.disabled_endpoints().await? {
            registry
                .state(&disabled.name, 1)
                .disable(disabled.at, disabled.reason);
        }
        let snapshot = registry.build(&model)?;
        registry.current.store(Arc::new(snapshot));
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

    /// The pipeline's hand-over, for operator events.
    fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The wall clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// An endpoint's protection state: the one it had, or a fresh one; a new
    /// concurrency limit gives a fresh semaphore and keeps the rest.
    fn state(&self, name: &str, max_in_flight: usize) -> Arc<EndpointState> {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let state = states
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(EndpointState::new(max_in_flight)));
        if state.max_in_flight != max_in_flight && max_in_flight > 0 {
            *state = Arc::new(state.resized(max_in_flight));
        }
        state.clone()
    }

    fn forget_state(&self, name: &str) {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    fn build(&self, model: &Model) -> Result<Snapshot, RegistryError> {
        Snapshot::build(model, |name, size| self.state(name, size)).map_err(|message| {
            RegistryError::Invalid(Invalid {
                field: String::new(),
                message,
            })
        })
    }

    /// Applies `change` to a copy of the model; if the result checks and
    /// builds, persists what `change` returned and publishes it.
    pub(crate) async fn mutate<R>(
        &self,
        change: impl FnOnce(&mut Model) -> Result<(R, Vec<Persist>), RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut model = self.model.lock().await;
        let mut next = model.clone();
        let (result, writes) = change(&mut next)?;
        next.check(self.targets)?;
        let snapshot = self.build(&next)?;
        for write in writes {
            match write {
                Persist::Put(kind, name, json) => {
                    self.catalog.put_object(kind, &name, json).await?;
                }
                Persist::Delete(kind, name) => self.catalog.delete_object(kind, &name).await?,
            }
        }
        *model = next;
        self.current.store(Arc::new(snapshot));
        Ok(result)
    }

    /// Reads the model.
    pub(crate) async fn read<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(&*self.model.lock().await)
    }
}
