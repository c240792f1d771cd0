//! Sources, endpoints and routes as API objects: one generic
//! create/read/list/update/delete over the three kinds, seeding from the
//! config file, and restoring what the API stored.
//!
//! An update is a JSON merge patch (RFC 7396) on the object as last written,
//! so secrets never have to be sent back.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{Entry, Model, Origin, PluginEntry, PluginRecord, PluginVersion};
use super::{Persist, Registry, RegistryError};
use crate::config::validate::Invalid;
use crate::config::{Config, EndpointConfig, RouteConfig, SourceConfig};
use crate::plugin::PluginHost;
use crate::store::Catalog;

/// One kind of API object.
pub(crate) trait Kind: Send + Sync + 'static {
    /// `source`, `endpoint` or `route`: the store's kind and the error
    /// messages' word.
    const KIND: &'static str;
    /// The object.
    type Spec: DeserializeOwned + serde::Serialize + Clone + Send + Sync + std::fmt::Debug;
    /// Its name (a route's is its source's).
    fn name(spec: &Self::Spec) -> &str;
    #[doc(hidden)]
    fn entries(model: &Model) -> &BTreeMap<String, Entry<Self::Spec>>;
    #[doc(hidden)]
    fn entries_mut(model: &mut Model) -> &mut BTreeMap<String, Entry<Self::Spec>>;
    /// What refers to the object, if anything: it cannot be deleted.
    #[doc(hidden)]
    fn used_by(model: &Model, name: &str) -> Option<String>;
}

/// `source` objects.
#[derive(Debug)]
pub(crate) struct Sources;
/// `endpoint` objects.
#[derive(Debug)]
pub(crate) struct Endpoints;
/// `route` objects.
#[derive(Debug)]
pub(crate) struct Routes;

impl Kind for Sources {
    const KIND: &'static str = "source";
    type Spec = SourceConfig;
    fn name(spec: &SourceConfig) -> &str {
        &spec.name
    }
    fn entries(model: &Model) -> &BTreeMap<String, Entry<SourceConfig>> {
        &model.sources
    }
    fn entries_mut(model: &mut Model) -> &mut BTreeMap<String, Entry<SourceConfig>> {
        &mut model.sources
    }
    fn used_by(model: &Model, name: &str) -> Option<String> {
        model
            .routes
            .contains_key(name)
            .then(|| format!("the route of source {name:?}; delete the route first"))
    }
}

impl Kind for Endpoints {
    const KIND: &'static str = "endpoint";
    type Spec = EndpointConfig;
    fn name(spec: &EndpointConfig) -> &str {
        &spec.name
    }
    fn entries(model: &Model) -> &BTreeMap<String, Entry<EndpointConfig>> {
        &model.endpoints
    }
    fn entries_mut(model: &mut Model) -> &mut BTreeMap<String, Entry<EndpointConfig>> {
        &mut model.endpoints
    }
    fn used_by(model: &Model, name: &str) -> Option<String> {
        (model.operator_endpoint.as_deref() == Some(name))
            .then(|| "admin.operator_endpoint in the config file".to_owned())
    }
}

impl Kind for Routes {
    const KIND: &'static str = "route";
    type Spec = RouteConfig;
    fn name(spec: &RouteConfig) -> &str {
        &spec.source
    }
    fn entries(model: &Model) -> &BTreeMap<String, Entry<RouteConfig>> {
        &model.routes
    }
    fn entries_mut(model: &mut Model) -> &mut BTreeMap<String, Entry<RouteConfig>> {
        &mut model.routes
    }
    fn used_by(_: &Model, _: &str) -> Option<String> {
        None
    }
}

/// Parses an object from the API (or stored by it), naming the field that
/// does not fit. Secrets in it must be values: environment references are
/// for the config file.
pub(crate) fn parse<T: DeserializeOwned>(raw: &Value) -> Result<T, RegistryError> {
    crate::config::secret::refusing_env(|| serde_path_to_error::deserialize(raw.clone())).map_err(
        |e| {
            let path = e.path().to_string();
            RegistryError::Invalid(Invalid {
                field: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
            })
        },
    )
}

fn config_entry<T: Clone>(spec: &T) -> Entry<T> {
    Entry {
        origin: Origin::Config,
        raw: Value::Null,
        spec: spec.clone(),
        id: rand::random(),
    }
}

/// The model the config file describes.
pub(super) fn from_config(
    config: &Config,
    host: &PluginHost,
    now: u64,
) -> Result<Model, RegistryError> {
    let mut model = Model {
        operator_endpoint: config.admin.operator_endpoint.clone(),
        ..Model::default()
    };
    for s in &config.sources {
        model.sources.insert(s.name.clone(), config_entry(s));
    }
    for e in &config.endpoints {
        model.endpoints.insert(e.name.clone(), config_entry(e));
    }
    for r in &config.routes {
        model.routes.insert(r.source.clone(), config_entry(r));
    }
    for p in &config.plugins {
        let loaded = host.load_file(&p.file).map_err(|e| {
            RegistryError::Invalid(Invalid {
                field: format!("plugin {} ({})", p.name, p.file.display()),
                message: e.to_string(),
            })
        })?;
        host.limits_for(&p.limits).map_err(|e| {
            RegistryError::Invalid(Invalid {
                field: format!("plugin {}: {}", p.name, e.field),
                message: e.message,
            })
        })?;
        let record = PluginRecord {
            current: 1,
            versions: vec![PluginVersion {
                version: 1,
                hash: loaded.hash().to_owned(),
                size: loaded.size() as u64,
                deployed_at: now,
                config: p.config.clone(),
                limits: p.limits,
            }],
        };
        model.plugins.insert(
            p.name.clone(),
            PluginEntry {
                origin: Origin::Config,
                record,
                loaded: std::sync::Arc::new(loaded),
            },
        );
    }
    Ok(model)
}

/// Adds what the API stored, of every kind but plugins.
pub(super) async fn restore(model: &mut Model, catalog: &dyn Catalog) -> Result<(), RegistryError> {
    restore_kind::<Sources>(model, catalog).await?;
    restore_kind::<Endpoints>(model, catalog).await?;
    restore_kind::<Routes>(model, catalog).await
}

async fn restore_kind<K: Kind>(
    model: &mut Model,
    catalog: &dyn Catalog,
) -> Result<(), RegistryError> {
    for (name, json) in catalog.objects(K::KIND).await? {
        if K::entries(model).contains_key(&name) {
            tracing::warn!(kind = K::KIND, %name, "the config file defines this name now; the object the API stored is ignored");
            continue;
        }
        let raw: Value = serde_json::from_slice(&json).map_err(|e| {
            RegistryError::Conflict(format!("stored {} {name:?} is not JSON: {e}", K::KIND))
        })?;
        // An object that no longer loads (say it was stored with an
        // environment reference, which API objects may no longer carry) is
        // left out, loudly, rather than keeping the gateway from starting:
        // it stays in the store, and creating it again replaces it.
        let spec = match parse::<K::Spec>(&raw) {
            Ok(spec) => spec,
            Err(error) => {
                tracing::error!(kind = K::KIND, %name, %error, "a stored object no longer loads and is not in force; create it again through the API");
                continue;
            }
        };
        K::entries_mut(model).insert(
            name,
            Entry {
                origin: Origin::Api,
                raw,
                spec,
                id: rand::random(),
            },
        );
    }
    Ok(())
}

/// An object and where it came from.
pub(crate) fn view<T: Clone>(entry: &Entry<T>) -> (T, Origin) {
    (entry.spec.clone(), entry.origin)
}

fn encode(raw: &Value) -> Vec<u8> {
    serde_json::to_vec(raw).unwrap_or_default()
}

fn editable<K: Kind>(model: &Model, name: &str) -> Result<(), RegistryError> {
    match K::entries(model).get(name) {
        None => Err(RegistryError::NotFound {
            kind: K::KIND,
            name: name.to_owned(),
        }),
        Some(entry) if entry.origin == Origin::Config => Err(RegistryError::ManagedByConfig {
            kind: K::KIND,
            name: name.to_owned(),
        }),
        Some(_) => Ok(()),
    }
}

impl Registry {
    /// Creates an object from its JSON.
    pub(crate) async fn create<K: Kind>(
        &self,
        raw: Value,
    ) -> Result<(K::Spec, Origin), RegistryError> {
        if !raw.is_object() {
            return Err(RegistryError::Invalid(Invalid {
                field: String::new(),
                message: "the body must be a JSON object".into(),
            }));
        }
        let spec: K::Spec = parse(&raw)?;
        let name = K::name(&spec).to_owned();
        crate::config::validate::name(&name).map_err(RegistryError::Invalid)?;
        self.mutate(|model| {
            if K::entries(model).contains_key(&name) {
                return Err(RegistryError::Exists {
                    kind: K::KIND,
                    name: name.clone(),
                });
            }
            let json = encode(&raw);
            let entry = Entry {
                origin: Origin::Api,
                raw: raw.clone(),
                spec: spec.clone(),
                id: rand::random(),
            };
            let shown = view(&entry);
            K::entries_mut(model).insert(name.clone(), entry);
            Ok((shown, vec![Persist::Put(K::KIND, name.clone(), json)]))
        })
        .await
    }

    /// One object.
    pub(crate) async fn get<K: Kind>(
        &self,
        name: &str,
    ) -> Result<(K::Spec, Origin), RegistryError> {
        self.read(|model| {
            K::entries(model)
                .get(name)
                .map(view)
                .ok_or_else(|| RegistryError::NotFound {
                    kind: K::KIND,
                    name: name.to_owned(),
                })
        })
        .await
    }

    /// Every object of a kind, by name, after `after` (a cursor), at most
    /// `limit`; and whether more follow.
    pub(crate) async fn list<K: Kind>(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<(K::Spec, Origin)>, bool) {
        self.read(|model| {
            let entries = K::entries(model);
            let mut iter: Box<dyn Iterator<Item = (&String, &Entry<K::Spec>)>> = match after {
                Some(cursor) => Box::new(entries.range::<str, _>((
                    std::ops::Bound::Excluded(cursor),
                    std::ops::Bound::Unbounded,
                ))),
                None => Box::new(entries.iter()),
            };
            let page: Vec<(K::Spec, Origin)> =
                iter.by_ref().take(limit).map(|(_, e)| view(e)).collect();
            (page, iter.next().is_some())
        })
        .await
    }

    /// Merges `patch` into an API object. Its name cannot change.
    pub(crate) async fn update<K: Kind>(
        &self,
        name: &str,
        patch: Value,
    ) -> Result<(K::Spec, Origin), RegistryError> {
        if !patch.is_object() {
            return Err(RegistryError::Invalid(Invalid {
                field: String::new(),
                message: "the body must be a JSON object (a merge patch)".into(),
            }));
        }
        self.mutate(|model| {
            editable::<K>(model, name)?;
            let entries = K::entries_mut(model);
            let Some(entry) = entries.get_mut(name) else {
                return Err(RegistryError::NotFound {
                    kind: K::KIND,
                    name: name.to_owned(),
                });
            };
            let mut raw = entry.raw.clone();
            drop_switched_variants(&mut raw, &patch);
            json_patch::merge(&mut raw, &patch);
            let spec: K::Spec = parse(&raw)?;
            if K::name(&spec) != name {
                return Err(RegistryError::Invalid(Invalid {
                    field: if K::KIND == "route" { "source" } else { "name" }.into(),
                    message: format!(
                        "cannot be changed (it is {name:?}); create a new {} instead",
                        K::KIND
                    ),
                }));
            }
            let json = encode(&raw);
            entry.raw = raw;
            entry.spec = spec;
            let shown = view(entry);
            Ok((shown, vec![Persist::Put(K::KIND, name.to_owned(), json)]))
        })
        .await
    }

    /// Deletes an API object nothing refers to.
    pub(crate) async fn delete<K: Kind>(&self, name: &str) -> Result<(), RegistryError> {
        self.mutate(|model| {
            editable::<K>(model, name)?;
            if let Some(by) = K::used_by(model, name) {
                return Err(RegistryError::InUse {
                    kind: K::KIND,
                    name: name.to_owned(),
                    by,
                });
            }
            K::entries_mut(model).remove(name);
            Ok(((), vec![Persist::Delete(K::KIND, name.to_owned())]))
        })
        .await?;
        if K::KIND == Endpoints::KIND {
            // Its protection state goes with the next version delivery
            // builds; its disabled record goes now, so a new endpoint of
            // the same name starts enabled.
            self.store.enable_endpoint(name).await?;
        }
        Ok(())
    }
}
/// Before a merge patch: a setting that is a tagged union (`signing` by
/// its `scheme`, a source's `auth` by its `type`) and that the patch moves
/// to another variant is replaced by the patch's object, not merged into:
/// the old variant's fields would not fit the new one.
fn drop_switched_variants(raw: &mut serde_json::Value, patch: &serde_json::Value) {
    let (Some(raw), Some(patch)) = (raw.as_object_mut(), patch.as_object()) else {
        return;
    };
    for (key, changed) in patch {
        let Some(stored) = raw.get(key) else { continue };
        let switched = ["scheme", "type"].iter().any(|tag| {
            matches!(
                (changed.get(tag), stored.get(tag)),
                (Some(new), Some(old)) if new != old
            )
        });
        if switched {
            raw.insert(key.clone(), serde_json::Value::Null);
        }
    }
}
