//! Plugin deployment at run time: each deploy or configuration change adds a
//! version; rollback makes an earlier one current again. Components are kept
//! in the store by content hash, so every version can come back.
//!
//! **Invariant:** a version becomes current only after its component loaded
//! (validated, compiled, pre-instantiated) and its record is durable; the
//! snapshot swap is the moment new events start using it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{Model, Origin, PluginEntry, PluginRecord, PluginVersion};
use super::{Persist, Registry, RegistryError};
use crate::config::validate;
use crate::config::validate::Invalid;
use crate::plugin::{LoadedPlugin, PluginHost, PluginLimits};
use crate::store::Catalog;

const KIND: &str = "plugin";

/// A plugin as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginView {
    /// Its name, as routes refer to it.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
    /// The version that runs.
    pub version: u32,
    /// Hex SHA-256 of the running component.
    pub hash: String,
    /// Size of the running component in bytes.
    pub size: u64,
    /// When the running version was deployed (Unix milliseconds).
    pub deployed_at: u64,
    /// The running version's configuration.
    pub config: BTreeMap<String, String>,
    /// Invocations since the gateway started.
    pub invocations: u64,
    /// Failed invocations since the gateway started.
    pub errors: u64,
    /// Sources whose route uses it.
    pub used_by: Vec<String>,
    /// Endpoints whose own chain uses it.
    pub used_by_endpoints: Vec<String>,
    /// Every version, oldest first.
    pub versions: Vec<PluginVersion>,
}

/// Adds the plugins the API deployed, loading each current version (or
/// keeping the component `previous` has loaded, when it is the same).
pub(super) async fn restore(
    model: &mut Model,
    catalog: &dyn Catalog,
    host: &PluginHost,
    previous: Option<&Model>,
) -> Result<(), RegistryError> {
    for (name, json) in catalog.objects(KIND).await? {
        if model.plugins.contains_key(&name) {
            tracing::warn!(%name, "the config file defines this plugin now; the versions the API deployed are ignored");
            continue;
        }
        let record: PluginRecord = serde_json::from_slice(&json).map_err(|e| {
            RegistryError::Conflict(format!("stored plugin {name:?} does not decode: {e}"))
        })?;
        let same = previous
            .and_then(|p| p.plugins.get(&name))
            .filter(|p| p.origin == Origin::Api)
            .filter(|p| record.current().is_some_and(|v| v.hash == p.loaded.hash()))
            .map(|p| p.loaded.clone());
        let loaded = match same {
            Some(loaded) => loaded,
            None => load_version(catalog, host, &name, &record, record.current).await?,
        };
        model.plugins.insert(
            name,
            PluginEntry {
                origin: Origin::Api,
                record,
                loaded,
            },
        );
    }
    Ok(())
}

async fn load_version(
    catalog: &dyn Catalog,
    host: &PluginHost,
    name: &str,
    record: &PluginRecord,
    version: u32,
) -> Result<Arc<LoadedPlugin>, RegistryError> {
    let Some(v) = record.version(version) else {
        return Err(RegistryError::NotFound {
            kind: "plugin version",
            name: format!("{name} v{version}"),
        });
    };
    let Some(bytes) = catalog.blob(&v.hash).await? else {
        return Err(RegistryError::Conflict(format!(
            "the component of plugin {name} v{version} ({}) is missing from the store",
            v.hash
        )));
    };
    Ok(Arc::new(host.load_async(Arc::new(bytes)).await?))
}

fn editable(model: &Model, name: &str) -> Result<(), RegistryError> {
    match model.plugins.get(name) {
        Some(entry) if entry.origin == Origin::Config => Err(RegistryError::ManagedByConfig {
            kind: KIND,
            name: name.to_owned(),
        }),
        _ => Ok(()),
    }
}

fn record_json(record: &PluginRecord) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

impl Registry {
    /// Refuses limits out of the operator's bounds, naming the field.
    fn check_limits(&self, limits: &PluginLimits) -> Result<(), RegistryError> {
        self.host.limits_for(limits).map(drop).map_err(|e| {
            RegistryError::Invalid(Invalid {
                field: e.field.to_owned(),
                message: e.message,
            })
        })
    }

    fn plugin_view(&self, model: &Model, name: &str, entry: &PluginEntry) -> PluginView {
        let current = entry.record.current().cloned().unwrap_or(PluginVersion {
            version: entry.record.current,
            hash: entry.loaded.hash().to_owned(),
            size: entry.loaded.size() as u64,
            deployed_at: 0,
            config: BTreeMap::new(),
            limits: PluginLimits::default(),
        });
        let (invocations, errors) = self.metrics.plugin_totals(name);
        PluginView {
            name: name.to_owned(),
            origin: entry.origin,
            version: current.version,
            hash: current.hash,
            size: current.size,
            deployed_at: current.deployed_at,
            config: current.config,
            invocations,
            errors,
            used_by: model.routes_using(name).into_iter().collect(),
            used_by_endpoints: model.endpoints_using(name).into_iter().collect(),
            versions: entry.record.versions.clone(),
        }
    }

    /// Deploys a component as the plugin's next version; `config` and
    /// `limits` replace the configuration and the plugin's own limits
    /// (`None` keeps the current version's).
    pub async fn deploy_plugin(
        &self,
        name: &str,
        bytes: Vec<u8>,
        config: Option<BTreeMap<String, String>>,
        limits: Option<PluginLimits>,
    ) -> Result<PluginView, RegistryError> {
        validate::name(name).map_err(RegistryError::Invalid)?;
        if let Some(limits) = &limits {
            self.check_limits(limits)?;
        }
        self.read(|model| editable(model, name)).await?;
        let bytes = Arc::new(bytes);
        let loaded = Arc::new(self.host.load_async(bytes.clone()).await?);
        let bytes = Arc::try_unwrap(bytes).unwrap_or_else(|shared| (*shared).clone());
        self.catalog.put_blob(loaded.hash(), bytes).await?;
        let now = self.clock.now_millis();
        let name = name.to_owned();
        self.mutate(|model| {
            editable(model, &name)?;
            let mut record = model.plugins.get(&name).map_or(
                PluginRecord {
                    current: 0,
                    versions: Vec::new(),
                },
                |e| e.record.clone(),
            );
            let config = config
                .clone()
                .or_else(|| record.current().map(|v| v.config.clone()))
                .unwrap_or_default();
            let limits = limits
                .or_else(|| record.current().map(|v| v.limits))
                .unwrap_or_default();
            let version = record.next_version();
            record.versions.push(PluginVersion {
                version,
                hash: loaded.hash().to_owned(),
                size: loaded.size() as u64,
                deployed_at: now,
                config,
                limits,
            });
            record.current = version;
            let json = record_json(&record);
            model.plugins.insert(
                name.clone(),
                PluginEntry {
                    origin: Origin::Api,
                    record,
                    loaded: loaded.clone(),
                },
            );
            Ok(((), vec![Persist::Put(KIND, name.clone(), json)]))
        })
        .await?;
        self.plugin(&name).await
    }

    /// Sets the plugin's configuration, and its own limits when given, as a
    /// new version of the same component.
    pub async fn configure_plugin(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        limits: Option<PluginLimits>,
    ) -> Result<PluginView, RegistryError> {
        if let Some(limits) = &limits {
            self.check_limits(limits)?;
        }
        let now = self.clock.now_millis();
        self.mutate(|model| {
            editable(model, name)?;
            let Some(entry) = model.plugins.get_mut(name) else {
                return Err(RegistryError::NotFound {
                    kind: KIND,
                    name: name.to_owned(),
                });
            };
            let Some(current) = entry.record.current().cloned() else {
                return Err(RegistryError::Conflict(format!(
                    "plugin {name} has no current version"
                )));
            };
            let version = entry.record.next_version();
            entry.record.versions.push(PluginVersion {
                version,
                deployed_at: now,
                config: config.clone(),
                limits: limits.unwrap_or(current.limits),
                ..current
            });
            entry.record.current = version;
            let json = record_json(&entry.record);
            Ok(((), vec![Persist::Put(KIND, name.to_owned(), json)]))
        })
        .await?;
        self.plugin(name).await
    }

    /// Makes an earlier version current: `version`, or the one before the
    /// current one.
    pub async fn rollback_plugin(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<PluginView, RegistryError> {
        let (record, target) = self
            .read(|model| {
                editable(model, name)?;
                let entry = model
                    .plugins
                    .get(name)
                    .ok_or_else(|| RegistryError::NotFound {
                        kind: KIND,
                        name: name.to_owned(),
                    })?;
                let current = entry.record.current;
                let target = match version {
                    Some(v) => v,
                    None => entry
                        .record
                        .versions
                        .iter()
                        .map(|v| v.version)
                        .filter(|v| *v < current)
                        .max()
                        .ok_or_else(|| {
                            RegistryError::Conflict(format!(
                                "plugin {name} has no version before v{current} to roll back to"
                            ))
                        })?,
                };
                if target == current {
                    return Err(RegistryError::Conflict(format!(
                        "plugin {name} v{target} is already current"
                    )));
                }
                Ok((entry.record.clone(), target))
            })
            .await?;
        let loaded = load_version(self.catalog.as_ref(), &self.host, name, &record, target).await?;
        self.mutate(|model| {
            let Some(entry) = model.plugins.get_mut(name) else {
                return Err(RegistryError::NotFound {
                    kind: KIND,
                    name: name.to_owned(),
                });
            };
            entry.record.current = target;
            entry.loaded = loaded.clone();
            let json = record_json(&entry.record);
            Ok(((), vec![Persist::Put(KIND, name.to_owned(), json)]))
        })
        .await?;
        self.plugin(name).await
    }

    /// Deletes a plugin no route or endpoint uses.
    pub async fn delete_plugin(&self, name: &str) -> Result<(), RegistryError> {
        self.mutate(|model| {
            if !model.plugins.contains_key(name) {
                return Err(RegistryError::NotFound {
                    kind: KIND,
                    name: name.to_owned(),
                });
            }
            editable(model, name)?;
            let users = model.routes_using(name);
            if !users.is_empty() {
                let list: Vec<String> = users.into_iter().collect();
                return Err(RegistryError::InUse {
                    kind: KIND,
                    name: name.to_owned(),
                    by: format!("the routes of sources {list:?}; change those routes first"),
                });
            }
            let endpoints = model.endpoints_using(name);
            if !endpoints.is_empty() {
                let list: Vec<String> = endpoints.into_iter().collect();
                return Err(RegistryError::InUse {
                    kind: KIND,
                    name: name.to_owned(),
                    by: format!("the chains of endpoints {list:?}; change those endpoints first"),
                });
            }
            model.plugins.remove(name);
            Ok(((), vec![Persist::Delete(KIND, name.to_owned())]))
        })
        .await
    }

    /// One plugin.
    pub async fn plugin(&self, name: &str) -> Result<PluginView, RegistryError> {
        self.read(|model| {
            model
                .plugins
                .get(name)
                .map(|entry| self.plugin_view(model, name, entry))
                .ok_or_else(|| RegistryError::NotFound {
                    kind: KIND,
                    name: name.to_owned(),
                })
        })
        .await
    }

    /// Every plugin, by name.
    pub async fn plugins(&self) -> Vec<PluginView> {
        self.read(|model| {
            model
                .plugins
                .iter()
                .map(|(name, entry)| self.plugin_view(model, name, entry))
                .collect()
        })
        .await
    }
}
