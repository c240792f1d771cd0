//! The endpoints a plugin can route to.

use crate::host;

/// A configured endpoint, without its URL or secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint's unique name, what a [`crate::Target`] refers to.
    pub name: String,
    /// The event types it subscribes to; may contain wildcards (`call.*`).
    pub event_types: Vec<String>,
    /// Tags set by the operator, for example `team:billing`.
    pub tags: Vec<String>,
}

impl Endpoint {
    /// An endpoint with a name and no subscriptions or tags (for tests).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            event_types: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Returns the endpoint with these subscribed event types.
    pub fn with_event_types<S: Into<String>>(mut self, types: impl IntoIterator<Item = S>) -> Self {
        self.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Returns the endpoint with these tags.
    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the endpoint carries this tag.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Every configured endpoint, sorted by name.
pub fn endpoints() -> Vec<Endpoint> {
    host::endpoints()
}
