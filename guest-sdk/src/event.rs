//! The event a plugin receives, with helpers to read and rewrite it.

use serde::{Serialize, de::DeserializeOwned};

use crate::Error;

/// One event, as the gateway received it or as an earlier plugin rewrote it.
///
/// Header names are matched case-insensitively; a name may occur several
/// times. The event remembers which parts were changed, so passing it on
/// unchanged costs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    id: String,
    source: String,
    event_type: String,
    received_at: u64,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Which parts were changed, so [`crate::Outcome::pass`] sends back only
    /// those.
    pub(crate) changed: Changed,
}

/// Which parts of an [`Event`] a plugin has rewritten.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Changed {
    pub(crate) event_type: bool,
    pub(crate) headers: bool,
    pub(crate) body: bool,
}

impl Event {
    /// An event with the given type and body, as a test or a local run would
    /// build it. The id is `msg_test`, the source `test`, and there are no
    /// headers.
    pub fn new(event_type: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self::from_parts(
            "msg_test".into(),
            "test".into(),
            event_type.into(),
            0,
            Vec::new(),
            body.into(),
        )
    }

    pub(crate) fn from_parts(
        id: String,
        source: String,
        event_type: String,
        received_at: u64,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            id,
            source,
            event_type,
            received_at,
            headers,
            body,
            changed: Changed::default(),
        }
    }

    /// Returns the event with another id (for tests).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Returns the event with another source name (for tests).
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Returns the event with one more header (for tests).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Returns the event with another received-at time (for tests).
    pub fn with_received_at(mut self, millis: u64) -> Self {
        self.received_at = millis;
        self
    }

    /// The gateway's message id, stable across retries and replays.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name of the source the event was posted to.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event type, for example `call.completed`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// When the gateway accepted the event, in milliseconds since the Unix
    /// epoch.
    pub fn received_at(&self) -> u64 {
        self.received_at
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// All headers in order, repeated names kept.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order, matched case-insensitively.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parses the body as JSON into `T`. A body that is not valid JSON, or
    /// not of the shape of `T`, gives [`Error::InvalidEvent`] with serde's
    /// message, which names the field and position.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::invalid_event(format!("body is not the expected JSON: {e}")))
    }

    /// Replaces the event type.
    pub fn set_event_type(&mut self, event_type: impl Into<String>) {
        self.event_type = event_type.into();
        self.changed.event_type = true;
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.body = body.into();
        self.changed.body = true;
    }

    /// Replaces the body with `value` serialised as JSON and sets
    /// `content-type: application/json`.
    pub fn set_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::failed(format!("cannot serialise the body as JSON: {e}")))?;
        self.set_body(body);
        self.set_header("content-type", "application/json");
        Ok(())
    }

    /// Sets a header, replacing every value it had.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self.changed.headers = true;
    }

    /// Adds a header value, keeping the values it already had.
    pub fn append_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.push((name.into(), value.into()));
        self.changed.headers = true;
    }

    /// Removes every value of a header.
    pub fn remove_header(&mut self, name: &str) {
        let before = self.headers.len();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if self.headers.len() != before {
            self.changed.headers = true;
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn into_parts(self) -> (String, Vec<(String, String)>, Vec<u8>, Changed) {
        (self.event_type, self.headers, self.body, self.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_case_insensitively_and_keep_repeats() {
        let event = Event::new("t", "{}")
            .with_header("X-A", "1")
            .with_header("x-a", "2");
        assert_eq!(event.header("x-A"), Some("1"));
        assert_eq!(event.header_all("X-A").collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn set_header_replaces_every_value_and_marks_headers_changed() {
        let mut event = Event::new("t", "{}")
            .with_header("X-A", "1")
            .with_header("x-a", "2");
        event.set_header("X-a", "3");
        assert_eq!(event.header_all("x-a").collect::<Vec<_>>(), ["3"]);
        assert!(event.changed.headers);
        assert!(!event.changed.body);
    }

    #[test]
    fn json_errors_are_invalid_event_errors_naming_the_problem() {
        let event = Event::new("t", "{\"a\": 1");
        let err = event.json::<serde_json::Value>().expect_err("fails");
        assert!(
            matches!(err, Error::InvalidEvent(ref m) if m.contains("EOF")),
            "{err}"
        );
    }

    #[test]
    fn set_json_sets_body_and_content_type() {
        let mut event = Event::new("t", "");
        event
            .set_json(&serde_json::json!({"a": 1}))
            .expect("succeeds");
        assert_eq!(event.body(), b"{\"a\":1}");
        assert_eq!(event.header("Content-Type"), Some("application/json"));
        assert!(event.changed.body && event.changed.headers && !event.changed.event_type);
    }
}
