//! An in-process host, so a plugin's unit tests run natively with plain
//! `cargo test`.
//!
//! It stands in for the gateway's host functions only: configuration, the
//! endpoint list and logging. It does not enforce the gateway's time or
//! memory limits; the gateway's own tests cover those.
//!
//! ```
//! use hookgate_sdk::{testing::TestHost, Error, Event, Outcome, Plugin};
//!
//! struct Tagger;
//! impl Plugin for Tagger {
//!     fn handle(mut event: Event) -> Result<Outcome, Error> {
//!         let tag = hookgate_sdk::config::require("tag")?;
//!         hookgate_sdk::info!("tagging with {tag}");
//!         event.set_header("x-tag", tag);
//!         Ok(Outcome::pass(event))
//!     }
//! }
//!
//! let run = TestHost::new().with_config("tag", "blue").run::<Tagger>(Event::new("t", "{}"));
//! match run.result {
//!     Ok(Outcome::Continue(event)) => assert_eq!(event.header("x-tag"), Some("blue")),
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert_eq!(run.logs[0].1, "tagging with blue");
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::{Endpoint, Error, Event, Level, Outcome, Plugin};

/// Configuration and endpoints for running a plugin in-process.
#[derive(Debug, Clone, Default)]
pub struct TestHost {
    config: BTreeMap<String, String>,
    endpoints: Vec<Endpoint>,
}

/// The result of [`TestHost::run`]: what the plugin returned and what it
/// logged.
#[derive(Debug)]
pub struct Run {
    /// What the plugin returned.
    pub result: Result<Outcome, Error>,
    /// Each line the plugin logged, in order.
    pub logs: Vec<(Level, String)>,
}

struct Active {
    host: TestHost,
    logs: Vec<(Level, String)>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

impl TestHost {
    /// A host with no configuration and no endpoints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one configuration key.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Adds an endpoint to the list the plugin sees.
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoints.push(endpoint);
        self.endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    /// Runs the plugin on one event with this host's configuration and
    /// endpoints, capturing its logs.
    pub fn run<P: Plugin>(&self, event: Event) -> Run {
        let previous = ACTIVE.with(|a| {
            a.replace(Some(Active {
                host: self.clone(),
                logs: Vec::new(),
            }))
        });
        let result = P::handle(event);
        let active = ACTIVE.with(|a| a.replace(previous));
        Run {
            result,
            logs: active.map(|a| a.logs).unwrap_or_default(),
        }
    }
}

pub(crate) fn log(level: Level, message: &str) {
    ACTIVE.with(|a| match a.borrow_mut().as_mut() {
        Some(active) => active.logs.push((level, message.to_owned())),
        None => eprintln!("[{level:?}] {message}"),
    });
}

pub(crate) fn config_get(key: &str) -> Option<String> {
    ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .and_then(|active| active.host.config.get(key).cloned())
    })
}

pub(crate) fn config_entries() -> Vec<(String, String)> {
    ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .map(|active| {
                active
                    .host
                    .config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    })
}

pub(crate) fn endpoints() -> Vec<Endpoint> {
    ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .map(|active| active.host.endpoints.clone())
            .unwrap_or_default()
    })
}
