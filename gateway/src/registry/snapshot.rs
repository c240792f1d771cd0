//! What readers see: an immutable view of the configuration in force, with
//! a version that grows with every change. Ingest and the deliverer build
//! what they need from it once per version (`derived.rs`); the pipeline
//! takes the current snapshot per message; a change publishes a new one.
//!
//! **Invariant:** a message's whole plugin chain comes from one snapshot, so
//! it runs wholly on the plugin versions that were current when it started.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::model::Model;
use crate::config::{EndpointConfig, SourceConfig};
use crate::plugin::{EndpointInfo, PluginContext, PluginHost, Step};

/// The configuration in force.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Which configuration this is: each change publishes a higher one.
    pub version: u64,
    /// Sources by name.
    pub sources: HashMap<String, Arc<SourceConfig>>,
    /// Endpoints by name.
    pub endpoints: HashMap<String, Arc<EndpointConfig>>,
    /// Which incarnation of its name each endpoint is: a deleted and
    /// re-created endpoint has a new one, an updated one keeps it.
    pub endpoint_ids: HashMap<String, u64>,
    /// Each routed source's plugin chain, on the current plugin versions.
    pub chains: HashMap<String, Vec<Step>>,
    /// Each endpoint's own chain (run per delivery after routing), for
    /// the endpoints that have one.
    pub endpoint_chains: HashMap<String, Vec<Step>>,
    /// The endpoint that receives operator events.
    pub operator_endpoint: Option<String>,
    /// The longest attempt timeout of any endpoint (zero without any).
    pub slowest_timeout: Duration,
}

impl Snapshot {
    /// The snapshot of a checked model, as version `version`; each plugin
    /// runs under its own limits as `host` bounds them.
    pub(crate) fn build(model: &Model, host: &PluginHost, version: u64) -> Self {
        let sources = model
            .sources
            .iter()
            .map(|(name, entry)| (name.clone(), Arc::new(entry.spec.clone())))
            .collect();
        let endpoints: HashMap<String, Arc<EndpointConfig>> = model
            .endpoints
            .iter()
            .map(|(name, entry)| (name.clone(), Arc::new(entry.spec.clone())))
            .collect();
        let infos: Vec<EndpointInfo> = model
            .endpoints
            .values()
            .map(|e| EndpointInfo {
                name: e.spec.name.clone(),
                // Without `event_types` it takes every type: `*` to a plugin.
                event_types: e
                    .spec
                    .event_types
                    .clone()
                    .unwrap_or_else(|| vec!["*".to_owned()]),
                tags: e.spec.tags.clone(),
            })
            .collect();
        let steps: HashMap<&str, Step> = model
            .plugins
            .iter()
            .filter_map(|(name, entry)| {
                let version = entry.record.current()?;
                let mut context =
                    PluginContext::new(name.clone(), version.config.clone(), infos.clone());
                if !version.limits.is_empty() {
                    match host.limits_for(&version.limits) {
                        Ok(limits) => context = context.with_limits(limits),
                        // Checked when deployed; the bounds were lowered since.
                        Err(error) => tracing::warn!(
                            plugin = %name,
                            %error,
                            "the plugin's own limits are out of the operator's bounds now; it runs under the defaults"
                        ),
                    }
                }
                Some((
                    name.as_str(),
                    Step {
                        plugin: entry.loaded.clone(),
                        context: Arc::new(context),
                    },
                ))
            })
            .collect();
        let chain = |plugins: &[String]| -> Vec<Step> {
            plugins
                .iter()
                .filter_map(|p| steps.get(p.as_str()).cloned())
                .collect()
        };
        let chains = model
            .routes
            .values()
            .map(|route| (route.spec.source.clone(), chain(&route.spec.plugins)))
            .collect();
        let endpoint_chains = model
            .endpoints
            .iter()
            .filter(|(_, entry)| !entry.spec.plugins.is_empty())
            .map(|(name, entry)| (name.clone(), chain(&entry.spec.plugins)))
            .collect();
        let slowest_timeout = endpoints
            .values()
            .map(|e| e.timeout)
            .max()
            .unwrap_or_default();
        let endpoint_ids = model
            .endpoints
            .iter()
            .map(|(name, entry)| (name.clone(), entry.id))
            .collect();
        Self {
            version,
            sources,
            endpoints,
            endpoint_ids,
            chains,
            endpoint_chains,
            operator_endpoint: model.operator_endpoint.clone(),
            slowest_timeout,
        }
    }
}
