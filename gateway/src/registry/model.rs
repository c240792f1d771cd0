//! The editable model behind the registry: every source, endpoint, route and
//! plugin with where it came from, and the checks that span objects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::RegistryError;
use crate::config::validate::{self, Invalid};
use crate::config::{EndpointConfig, RouteConfig, SourceConfig};
use crate::plugin::{LoadedPlugin, PluginLimits};
use crate::targets::TargetPolicy;

/// Where an object came from, which decides who may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The config file: read-only through the API; edit the file and restart.
    Config,
    /// Created through the management API and kept in the store.
    Api,
}

/// An object with its origin and, for API objects, the JSON as written
/// (secrets included), which updates are merged into.
#[derive(Debug, Clone)]
pub(crate) struct Entry<T> {
    pub(crate) origin: Origin,
    pub(crate) raw: Value,
    pub(crate) spec: T,
    /// Which incarnation of the name this is: new when the object is
    /// created (or loaded), kept through updates, so state kept by name
    /// elsewhere can tell a re-created object from an updated one.
    pub(crate) id: u64,
}

/// One deployed version of a plugin: a component and a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PluginVersion {
    /// 1, 2, ...: each deploy or configuration change adds one.
    pub version: u32,
    /// Hex SHA-256 of the component.
    pub hash: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// When it was deployed (Unix milliseconds).
    pub deployed_at: u64,
    /// The plugin's key/value configuration.
    pub config: BTreeMap<String, String>,
    /// Its own wall time and memory; what is unset is the gateway's
    /// default.
    #[serde(default, skip_serializing_if = "PluginLimits::is_empty")]
    pub limits: PluginLimits,
}

/// A plugin's versions and which one runs; stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PluginRecord {
    pub(crate) current: u32,
    pub(crate) versions: Vec<PluginVersion>,
}

impl PluginRecord {
    pub(crate) fn current(&self) -> Option<&PluginVersion> {
        self.version(self.current)
    }

    pub(crate) fn version(&self, version: u32) -> Option<&PluginVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    pub(crate) fn next_version(&self) -> u32 {
        self.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1
    }
}

/// A plugin with its running (current) version loaded.
#[derive(Debug, Clone)]
pub(crate) struct PluginEntry {
    pub(crate) origin: Origin,
    pub(crate) record: PluginRecord,
    pub(crate) loaded: Arc<LoadedPlugin>,
}

/// Everything the registry manages.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub(crate) sources: BTreeMap<String, Entry<SourceConfig>>,
    pub(crate) endpoints: BTreeMap<String, Entry<EndpointConfig>>,
    pub(crate) routes: BTreeMap<String, Entry<RouteConfig>>,
    pub(crate) plugins: BTreeMap<String, PluginEntry>,
    /// The endpoint operator events go to.
    pub(crate) operator_endpoint: Option<String>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RegistryError {
    RegistryError::Invalid(Invalid {
        field: field.into(),
        message: message.into(),
    })
}

impl Model {
    /// Checks every object and every reference between them.
    pub(crate) fn check(&self, targets: TargetPolicy) -> Result<(), RegistryError> {
        for entry in self.sources.values() {
            validate::source(&entry.spec).map_err(RegistryError::Invalid)?;
        }
        for entry in self.endpoints.values() {
            validate::endpoint(&entry.spec, targets).map_err(RegistryError::Invalid)?;
            self.plugins_exist(&entry.spec.plugins)?;
        }
        for entry in self.routes.values() {
            let route = &entry.spec;
            if !self.sources.contains_key(&route.source) {
                return Err(invalid(
                    "source",
                    format!("no source is named {:?}", route.source),
                ));
            }
            self.plugins_exist(&route.plugins)?;
        }
        Ok(())
    }

    /// Every plugin a chain names exists.
    fn plugins_exist(&self, chain: &[String]) -> Result<(), RegistryError> {
        for (j, plugin) in chain.iter().enumerate() {
            if !self.plugins.contains_key(plugin) {
                return Err(invalid(
                    format!("plugins[{j}]"),
                    format!("no plugin is named {plugin:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The objects the config file defined, without what the API stored.
    pub(crate) fn config_only(&self) -> Self {
        fn from_file<T: Clone>(entries: &BTreeMap<String, Entry<T>>) -> BTreeMap<String, Entry<T>> {
            entries
                .iter()
                .filter(|(_, e)| e.origin == Origin::Config)
                .map(|(name, e)| (name.clone(), e.clone()))
                .collect()
        }
        Self {
            sources: from_file(&self.sources),
            endpoints: from_file(&self.endpoints),
            routes: from_file(&self.routes),
            plugins: self
                .plugins
                .iter()
                .filter(|(_, p)| p.origin == Origin::Config)
                .map(|(name, p)| (name.clone(), p.clone()))
                .collect(),
            operator_endpoint: self.operator_endpoint.clone(),
        }
    }

    /// Gives each object the API stored the incarnation id it has in
    /// `previous`, where the name was there already.
    pub(crate) fn keep_ids(&mut self, previous: &Self) {
        fn keep<T>(
            entries: &mut BTreeMap<String, Entry<T>>,
            previous: &BTreeMap<String, Entry<T>>,
        ) {
            for (name, entry) in entries.iter_mut() {
                if let Some(was) = previous.get(name).filter(|w| w.origin == entry.origin) {
                    entry.id = was.id;
                }
            }
        }
        keep(&mut self.sources, &previous.sources);
        keep(&mut self.endpoints, &previous.endpoints);
        keep(&mut self.routes, &previous.routes);
    }

    /// The endpoints whose own chain uses a plugin.
    pub(crate) fn endpoints_using(&self, plugin: &str) -> BTreeSet<String> {
        self.endpoints
            .values()
            .filter(|e| e.spec.plugins.iter().any(|p| p == plugin))
            .map(|e| e.spec.name.clone())
            .collect()
    }

    /// The routes whose chain uses a plugin.
    pub(crate) fn routes_using(&self, plugin: &str) -> BTreeSet<String> {
        self.routes
            .values()
            .filter(|r| r.spec.plugins.iter().any(|p| p == plugin))
            .map(|r| r.spec.source.clone())
            .collect()
    }
}
