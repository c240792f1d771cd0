//! What a plugin decides: drop the event, pass it on, deliver it, or answer
//! the caller of a synchronous source.

use serde::Serialize;

use crate::{Error, Event};

/// What the gateway should do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deliver nothing; the reason is recorded with the event.
    Drop {
        /// Why the event was dropped.
        reason: String,
    },
    /// Pass the (possibly rewritten) event to the next plugin, or to the
    /// endpoints subscribed to its type.
    Continue(Event),
    /// Deliver to exactly these endpoints.
    Deliver(Vec<Target>),
    /// Answer the caller with this response and deliver nothing. On a
    /// source with `mode = "sync"` it is the caller's answer; elsewhere it is
    /// recorded with the event.
    Respond(Response),
}

impl Outcome {
    /// Drops the event with a reason.
    pub fn drop(reason: impl Into<String>) -> Self {
        Self::Drop {
            reason: reason.into(),
        }
    }

    /// Passes the event on, with whatever changes were made to it.
    pub fn pass(event: Event) -> Self {
        Self::Continue(event)
    }

    /// Delivers to exactly these endpoints.
    pub fn deliver(targets: impl IntoIterator<Item = Target>) -> Self {
        Self::Deliver(targets.into_iter().collect())
    }

    /// Answers the caller with `status`, these headers and this body.
    pub fn respond(
        status: u16,
        headers: impl IntoIterator<Item = (String, String)>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Self::Respond(Response {
            status,
            headers: headers.into_iter().collect(),
            body: body.into(),
        })
    }

    /// Answers the caller with `status` and `value` as a JSON body.
    pub fn respond_json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::failed(format!("cannot serialise the response as JSON: {e}")))?;
        Ok(Self::respond(
            status,
            [("content-type".to_owned(), "application/json".to_owned())],
            body,
        ))
    }
}

/// A plugin's answer to the caller of a synchronous source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status, 200 to 599; anything else fails the event.
    pub status: u16,
    /// Response headers. The gateway passes them all to the caller and adds
    /// `content-type: application/json` when none is given.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON, for tests.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// One delivery chosen by a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The endpoint's name.
    pub endpoint: String,
    /// The body to send; `None` sends the event's body.
    pub body: Option<Vec<u8>>,
    /// Extra headers for this delivery.
    pub headers: Vec<(String, String)>,
}

impl Target {
    /// A delivery of the event's own body to the named endpoint.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    /// Sends this body instead of the event's.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sends `value` serialised as JSON instead of the event's body.
    pub fn with_json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::failed(format!("cannot serialise the body as JSON: {e}")))?;
        Ok(self
            .with_body(body)
            .with_header("content-type", "application/json"))
    }

    /// Adds a header to this delivery.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}
