//! What readers see: an immutable, fully built view of the configuration.
//! Ingest, the pipeline and the deliverer take the current snapshot per
//! request, message or attempt; a change publishes a new one.
//!
//! **Invariant:** a message's whole plugin chain comes from one snapshot, so
//! it runs wholly on the plugin versions that were current when it started.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::model::Model;
use crate::delivery::{Endpoint, EndpointState};
use crate::ingest::Source;
use crate::plugin::{EndpointInfo, PluginContext, Step};

/// The configuration in force.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Sources by name, with parsed secrets.
    pub sources: HashMap<String, Arc<Source>>,
    /// Endpoints by name, with parsed secrets and protection state.
    pub endpoints: HashMap<String, Arc<Endpoint>>,
    /// Each routed source's plugin chain, on the current plugin versions.
    pub chains: HashMap<String, Vec<Step>>,
    /// The endpoint that receives operator events.
    pub operator_endpoint: Option<String>,
    /// The longest attempt timeout of any endpoint (zero without any).
    pub slowest_timeout: Duration,
}

impl Snapshot {
    /// Builds the snapshot of a checked model. `state` gives each endpoint's
    /// protection state (kept across snapshots).
    pub(crate) fn build(
        model: &Model,
        state: impl Fn(&str, usize) -> Arc<EndpointState>,
    ) -> Result<Self, String> {
        let sources = model
            .sources
            .iter()
            .map(|(name, entry)| {
                Source::new(entry.spec.clone())
                    .map(|s| (name.clone(), Arc::new(s)))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let endpoints: HashMap<String, Arc<Endpoint>> = model
            .endpoints
            .iter()
            .map(|(name, entry)| {
                let state = state(name, entry.spec.max_in_flight);
                Endpoint::from_config(&entry.spec, state)
                    .map(|e| (name.clone(), Arc::new(e)))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let infos: Vec<EndpointInfo> = model
            .endpoints
            .values()
            .map(|e| EndpointInfo {
                name: e.spec.name.clone(),
                event_types: e.spec.event_types.clone(),
                tags: e.spec.tags.clone(),
            })
            .collect();
        let steps: HashMap<&str, Step> = model
            .plugins
            .iter()
            .filter_map(|(name, entry)| {
                let version = entry.record.current()?;
                Some((
                    name.as_str(),
                    Step {
                        plugin: entry.loaded.clone(),
                        context: Arc::new(PluginContext::new(
                            name.clone(),
                            version.config.clone(),
                            infos.clone(),
                        )),
                    },
                ))
            })
            .collect();
        let chains = model
            .routes
            .values()
            .map(|route| {
                let chain = route
                    .spec
                    .plugins
                    .iter()
                    .filter_map(|p| steps.get(p.as_str()).cloned())
                    .collect();
                (route.spec.source.clone(), chain)
            })
            .collect();
        let slowest_timeout = endpoints
            .values()
            .map(|e| e.timeout)
            .max()
            .unwrap_or_default();
        Ok(Self {
            sources,
            endpoints,
            chains,
            operator_endpoint: model.operator_endpoint.clone(),
            slowest_timeout,
        })
    }
}
