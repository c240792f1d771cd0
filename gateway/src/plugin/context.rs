//! What the host shows a plugin (its configuration and the endpoint list),
//! and the limits its deployment runs under.

use std::collections::{BTreeMap, HashSet};

use super::Limits;

/// An endpoint as plugins see it: no URL, no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    /// Unique name; what targets refer to.
    pub name: String,
    /// Subscribed event types, possibly with wildcards.
    pub event_types: Vec<String>,
    /// Operator-set tags.
    pub tags: Vec<String>,
}

/// The read-only context of one deployed plugin: its name, configuration and
/// the endpoints it may route to. Shared by all its invocations.
#[derive(Debug, Clone, Default)]
pub struct PluginContext {
    /// The plugin's name, for logs.
    pub name: String,
    /// Key/value configuration, sorted by key.
    config: BTreeMap<String, String>,
    /// Endpoints sorted by name.
    endpoints: Vec<EndpointInfo>,
    /// Endpoint names, to check targets in constant time.
    endpoint_names: HashSet<String>,
    /// This deployment's own limits; `None` runs under the host's.
    limits: Option<Limits>,
}

impl PluginContext {
    /// A context for the named plugin.
    pub fn new(
        name: impl Into<String>,
        config: BTreeMap<String, String>,
        mut endpoints: Vec<EndpointInfo>,
    ) -> Self {
        endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        let endpoint_names = endpoints.iter().map(|e| e.name.clone()).collect();
        Self {
            name: name.into(),
            config,
            endpoints,
            endpoint_names,
            limits: None,
        }
    }

    /// The context with this deployment's own limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// This deployment's own limits, if it has any.
    pub fn limits(&self) -> Option<&Limits> {
        self.limits.as_ref()
    }

    /// The plugin's configuration.
    pub fn config(&self) -> &BTreeMap<String, String> {
        &self.config
    }

    /// The endpoints, sorted by name.
    pub fn endpoints(&self) -> &[EndpointInfo] {
        &self.endpoints
    }

    /// Whether an endpoint of this name exists.
    pub fn has_endpoint(&self, name: &str) -> bool {
        self.endpoint_names.contains(name)
    }
}
