//! Pipelines: a chain of plugins run in order on one event.
//!
//! The first `drop`, `deliver` or `respond` ends the chain; `continue` applies the
//! plugin's rewrite and passes the event on. A chain whose every plugin
//! continued ends in [`ChainOutcome::Continued`], and the caller routes the
//! final event by subscription.

use std::sync::Arc;
use std::time::Duration;

use super::{
    Error, Event, LoadedPlugin, Logs, Outcome, PluginContext, PluginHost, Response, Target,
};

/// One plugin of a chain with its context.
#[derive(Debug, Clone)]
pub struct Step {
    /// The loaded component; a deployment swaps this `Arc`, so a chain that
    /// started keeps the version it started with.
    pub plugin: Arc<LoadedPlugin>,
    /// Its name, configuration and endpoint list.
    pub context: Arc<PluginContext>,
}

/// How a chain ended when no plugin failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainOutcome {
    /// A plugin dropped the event.
    Dropped {
        /// The plugin that dropped it.
        plugin: String,
        /// Its reason.
        reason: String,
    },
    /// Every plugin continued: route this final event by subscription.
    Continued(Event),
    /// A plugin chose the targets.
    Deliver {
        /// The plugin that chose.
        plugin: String,
        /// The event as it was when the plugin chose.
        event: Event,
        /// The chosen deliveries.
        targets: Vec<Target>,
    },
    /// A plugin answered the caller itself.
    Responded {
        /// The plugin that answered.
        plugin: String,
        /// The event as it was when the plugin answered.
        event: Event,
        /// Its answer.
        response: Response,
    },
}

/// A plugin of the chain failed.
#[derive(Debug)]
pub struct ChainFailure {
    /// Which plugin.
    pub plugin: String,
    /// The classified error.
    pub error: Error,
}

/// What one plugin of a chain did, for the message's history.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The plugin's name.
    pub plugin: String,
    /// The component's content hash: which version ran.
    pub hash: String,
    /// How long the invocation took.
    pub elapsed: Duration,
    /// What it logged.
    pub logs: Logs,
    /// What it decided.
    pub did: Did,
}

/// What one plugin of a chain decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Did {
    /// It passed the event on, with these changes.
    Continued {
        /// The event type it set, if it set one.
        event_type: Option<String>,
        /// Whether it replaced the headers.
        headers: bool,
        /// The size of the body it set, if it set one.
        body_bytes: Option<usize>,
    },
    /// It dropped the event.
    Dropped {
        /// Its reason.
        reason: String,
    },
    /// It chose these endpoints, in order.
    Delivered(Vec<String>),
    /// It answered the caller with this status.
    Responded(u16),
    /// It failed (the chain's [`ChainFailure`] holds the error).
    Failed,
}

/// A whole chain run.
#[derive(Debug)]
pub struct ChainRun {
    /// How it ended.
    pub result: Result<ChainOutcome, ChainFailure>,
    /// One report per plugin that ran, in order.
    pub steps: Vec<StepReport>,
}

/// Runs `steps` in order on `event`.
pub async fn run_chain(host: &PluginHost, steps: &[Step], event: Event) -> ChainRun {
    let mut event = Arc::new(event);
    let mut reports = Vec::with_capacity(steps.len());
    for step in steps {
        let invocation = host
            .invoke(step.plugin.clone(), step.context.clone(), event.clone())
            .await;
        let plugin = step.context.name.clone();
        let did = match &invocation.result {
            Ok(Outcome::Drop { reason }) => Did::Dropped {
                reason: reason.clone(),
            },
            Ok(Outcome::Deliver(targets)) => {
                Did::Delivered(targets.iter().map(|t| t.endpoint.clone()).collect())
            }
            Ok(Outcome::Respond(response)) => Did::Responded(response.status),
            Ok(Outcome::Continue(rewrite)) => Did::Continued {
                event_type: rewrite.event_type.clone(),
                headers: rewrite.headers.is_some(),
                body_bytes: rewrite.body.as_ref().map(Vec::len),
            },
            Err(_) => Did::Failed,
        };
        reports.push(StepReport {
            plugin: plugin.clone(),
            hash: step.plugin.hash().to_owned(),
            elapsed: invocation.elapsed,
            logs: invocation.logs,
            did,
        });
        let outcome = match invocation.result {
            Ok(outcome) => outcome,
            Err(error) => {
                return ChainRun {
                    result: Err(ChainFailure { plugin, error }),
                    steps: reports,
                };
            }
        };
        let ended = match outcome {
            Outcome::Drop { reason } => ChainOutcome::Dropped { plugin, reason },
            Outcome::Deliver(targets) => ChainOutcome::Deliver {
                plugin,
                event: Arc::unwrap_or_clone(event),
                targets,
            },
            Outcome::Respond(response) => ChainOutcome::Responded {
                plugin,
                event: Arc::unwrap_or_clone(event),
                response,
            },
            Outcome::Continue(rewrite) => {
                rewrite.apply(Arc::make_mut(&mut event));
                continue;
            }
        };
        return ChainRun {
            result: Ok(ended),
            steps: reports,
        };
    }
    ChainRun {
        result: Ok(ChainOutcome::Continued(Arc::unwrap_or_clone(event))),
        steps: reports,
    }
}
