//! What a plugin decided, as plain host types, and the checks that make a
//! guest's raw answer trustworthy before anyone acts on it.

use super::bindings::wit;
use super::{Error, bounds};

/// One HTTP header as a name/value pair; names may repeat.
pub type Header = (String, String);

/// An event as the plugin host passes it to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The gateway's message id.
    pub id: String,
    /// The source the event was posted to.
    pub source: String,
    /// The event type, possibly empty.
    pub event_type: String,
    /// When it was accepted, in milliseconds since the Unix epoch.
    pub received_at: u64,
    /// Request headers in order.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Vec<u8>,
}

/// A validated plugin decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deliver nothing.
    Drop {
        /// Why, as the plugin said.
        reason: String,
    },
    /// Go on with these changes applied.
    Continue(Rewrite),
    /// Deliver to exactly these endpoints.
    Deliver(Vec<Target>),
    /// Answer the caller with this and deliver nothing (0.2.0 components).
    Respond(Response),
}

/// A plugin's answer to the caller of a synchronous source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status, 200 to 599.
    pub status: u16,
    /// Response headers, valid HTTP.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Vec<u8>,
}

/// Changes a plugin made to an event; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// New event type.
    pub event_type: Option<String>,
    /// New complete header list.
    pub headers: Option<Vec<Header>>,
    /// New body.
    pub body: Option<Vec<u8>>,
}

impl Rewrite {
    /// Applies the changes to an event.
    pub fn apply(self, event: &mut Event) {
        if let Some(event_type) = self.event_type {
            event.event_type = event_type;
        }
        if let Some(headers) = self.headers {
            event.headers = headers;
        }
        if let Some(body) = self.body {
            event.body = body;
        }
    }
}

/// One delivery a plugin chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A known endpoint's name.
    pub endpoint: String,
    /// Body to send instead of the event's.
    pub body: Option<Vec<u8>>,
    /// Extra headers for this delivery.
    pub headers: Vec<Header>,
}

impl From<&Event> for wit::Event {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.clone(),
            source: event.source.clone(),
            event_type: event.event_type.clone(),
            received_at: event.received_at,
            headers: event.headers.iter().map(wit_header).collect(),
            body: event.body.clone(),
        }
    }
}

fn wit_header((name, value): &Header) -> wit::Header {
    wit::Header {
        name: name.clone(),
        value: value.clone(),
    }
}

impl From<wit::PluginError> for super::PluginError {
    fn from(error: wit::PluginError) -> Self {
        match error {
            wit::PluginError::InvalidEvent(m) => Self::InvalidEvent(bounds::text(m)),
            wit::PluginError::InvalidConfig(m) => Self::InvalidConfig(bounds::text(m)),
            wit::PluginError::Failed(m) => Self::Failed(bounds::text(m)),
        }
    }
}

/// Turns the guest's raw action into an [`Outcome`], checking the output
/// size and the other bounds (`bounds.rs`), that targets name known
/// endpoints and that headers are valid HTTP.
pub(crate) fn validate(
    action: wit::Action,
    is_endpoint: impl Fn(&str) -> bool,
    output_limit: usize,
) -> Result<Outcome, Error> {
    check_shape(&action)?;
    let outcome = match action {
        wit::Action::Drop(reason) => Outcome::Drop {
            reason: bounds::text(reason),
        },
        wit::Action::Continue(rewrite) => Outcome::Continue(Rewrite {
            event_type: rewrite.event_type,
            headers: rewrite.headers.map(headers).transpose()?,
            body: rewrite.body,
        }),
        wit::Action::Deliver(targets) => Outcome::Deliver(
            targets
                .into_iter()
                .map(|t| {
                    if !is_endpoint(&t.endpoint) {
                        return Err(Error::InvalidResult(bounds::text(format!(
                            "target names unknown endpoint {:?}",
                            t.endpoint
                        ))));
                    }
                    Ok(Target {
                        endpoint: t.endpoint,
                        body: t.body,
                        headers: headers(t.headers)?,
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        wit::Action::Respond(response) => {
            if !(200..=599).contains(&response.status) {
                return Err(Error::InvalidResult(format!(
                    "respond status {} is not a final HTTP status (200 to 599)",
                    response.status
                )));
            }
            Outcome::Respond(Response {
                status: response.status,
                headers: headers(response.headers)?,
                body: response.body,
            })
        }
    };
    let size = output_size(&outcome);
    if size > output_limit {
        return Err(Error::OutputTooLarge {
            what: "bodies",
            size,
            limit: output_limit,
        });
    }
    Ok(outcome)
}

/// The bounds that do not depend on configuration, checked before any of
/// the result is copied or validated further.
fn check_shape(action: &wit::Action) -> Result<(), Error> {
    let too_large = |what, size, limit| Err(Error::OutputTooLarge { what, size, limit });
    let header_bytes = |headers: &[wit::Header]| -> usize {
        headers.iter().map(|h| h.name.len() + h.value.len()).sum()
    };
    let (event_type, headers) = match action {
        wit::Action::Drop(_) => return Ok(()),
        wit::Action::Continue(rewrite) => (
            rewrite.event_type.as_deref(),
            rewrite.headers.as_deref().map_or(0, header_bytes),
        ),
        wit::Action::Deliver(targets) => {
            if targets.len() > bounds::MAX_TARGETS {
                return too_large("targets", targets.len(), bounds::MAX_TARGETS);
            }
            (None, targets.iter().map(|t| header_bytes(&t.headers)).sum())
        }
        wit::Action::Respond(response) => (None, header_bytes(&response.headers)),
    };
    if let Some(event_type) = event_type
        && event_type.len() > bounds::MAX_EVENT_TYPE
    {
        return too_large("event type bytes", event_type.len(), bounds::MAX_EVENT_TYPE);
    }
    if headers > bounds::MAX_HEADER_BYTES {
        return too_large("header bytes", headers, bounds::MAX_HEADER_BYTES);
    }
    Ok(())
}

fn output_size(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Drop { .. } => 0,
        Outcome::Continue(rewrite) => rewrite.body.as_ref().map_or(0, Vec::len),
        Outcome::Deliver(targets) => targets
            .iter()
            .map(|t| t.body.as_ref().map_or(0, Vec::len))
            .sum(),
        Outcome::Respond(response) => response.body.len(),
    }
}

fn headers(headers: Vec<wit::Header>) -> Result<Vec<Header>, Error> {
    headers
        .into_iter()
        .map(|h| {
            http::HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
                Error::InvalidResult(bounds::text(format!(
                    "{:?} is not a valid header name",
                    h.name
                )))
            })?;
            http::HeaderValue::from_str(&h.value).map_err(|_| {
                Error::InvalidResult(bounds::text(format!(
                    "the value of header {:?} is not a valid header value",
                    h.name
                )))
            })?;
            Ok((h.name, h.value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> bool {
        ["crm", "billing"].contains(&name)
    }

    fn target(endpoint: &str, body: Option<Vec<u8>>) -> wit::Target {
        wit::Target {
            endpoint: endpoint.into(),
            body,
            headers: Vec::new(),
        }
    }

    #[test]
    fn unknown_target_endpoint_is_an_invalid_result_naming_it() {
        let action = wit::Action::Deliver(vec![target("crm", None), target("nope", None)]);
        let err = validate(action, known, 100).expect_err("fails");
        assert!(
            matches!(err, Error::InvalidResult(ref m) if m.contains("\"nope\"")),
            "{err}"
        );
    }

    #[test]
    fn output_size_counts_every_target_body() {
        let action = wit::Action::Deliver(vec![
            target("crm", Some(vec![0; 60])),
            target("billing", Some(vec![0; 60])),
        ]);
        let err = validate(action, known, 100).expect_err("fails");
        assert!(
            matches!(
                err,
                Error::OutputTooLarge {
                    what: "bodies",
                    size: 120,
                    limit: 100
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn header_with_newline_is_rejected() {
        let action = wit::Action::Continue(wit::Rewrite {
            event_type: None,
            headers: Some(vec![wit::Header {
                name: "x-a".into(),
                value: "1\r\nx-b: 2".into(),
            }]),
            body: None,
        });
        assert!(matches!(
            validate(action, known, 100),
            Err(Error::InvalidResult(_))
        ));
    }

    #[test]
    fn a_response_needs_a_final_status_and_counts_its_body() {
        let respond = |status, body: Vec<u8>| {
            wit::Action::Respond(wit::Response {
                status,
                headers: vec![wit::Header {
                    name: "x-hook".into(),
                    value: "1".into(),
                }],
                body,
            })
        };
        assert_eq!(
            validate(respond(200, b"{}".to_vec()), known, 100).expect("valid"),
            Outcome::Respond(Response {
                status: 200,
                headers: vec![("x-hook".into(), "1".into())],
                body: b"{}".to_vec(),
            })
        );
        for status in [0, 101, 600] {
            assert!(
                matches!(validate(respond(status, Vec::new()), known, 100), Err(Error::InvalidResult(ref m)) if m.contains(&status.to_string())),
                "{status}"
            );
        }
        assert!(matches!(
            validate(respond(200, vec![0; 101]), known, 100),
            Err(Error::OutputTooLarge {
                what: "bodies",
                size: 101,
                limit: 100
            })
        ));
    }

    #[test]
    fn rewrite_applies_only_what_changed() {
        let mut event = Event {
            id: "msg_1".into(),
            source: "s".into(),
            event_type: "a".into(),
            received_at: 1,
            headers: vec![("x".into(), "1".into())],
            body: b"{}".to_vec(),
        };
        Rewrite {
            event_type: Some("b".into()),
            ..Rewrite::default()
        }
        .apply(&mut event);
        assert_eq!(event.event_type, "b");
        assert_eq!(event.body, b"{}");
        assert_eq!(event.headers.len(), 1);
    }

    fn too_large(action: wit::Action) -> (&'static str, usize, usize) {
        match validate(action, known, usize::MAX) {
            Err(Error::OutputTooLarge { what, size, limit }) => (what, size, limit),
            other => panic!("expected output_too_large, got {other:?}"),
        }
    }

    #[test]
    fn targets_header_bytes_and_the_event_type_are_bounded() {
        let many = vec![target("crm", None); bounds::MAX_TARGETS + 1];
        assert_eq!(
            too_large(wit::Action::Deliver(many)),
            ("targets", bounds::MAX_TARGETS + 1, bounds::MAX_TARGETS)
        );
        let mut heavy = target("crm", None);
        heavy.headers = vec![wit::Header {
            name: "x-big".into(),
            value: "v".repeat(bounds::MAX_HEADER_BYTES),
        }];
        assert_eq!(
            too_large(wit::Action::Deliver(vec![heavy])).0,
            "header bytes"
        );
        let long_type = wit::Action::Continue(wit::Rewrite {
            event_type: Some("t".repeat(bounds::MAX_EVENT_TYPE + 1)),
            headers: None,
            body: None,
        });
        assert_eq!(too_large(long_type).0, "event type bytes");
    }

    #[test]
    fn a_long_drop_reason_or_error_message_is_cut() {
        let reason = "r".repeat(11 << 20);
        match validate(wit::Action::Drop(reason), known, 100) {
            Ok(Outcome::Drop { reason }) => {
                assert!(reason.len() < bounds::MAX_TEXT + 64, "{}", reason.len());
                assert!(
                    reason.ends_with("[cut from 11534336 bytes]"),
                    "{}",
                    &reason[reason.len() - 40..]
                );
            }
            other => panic!("expected a drop, got {other:?}"),
        }
        let error: crate::plugin::PluginError =
            wit::PluginError::Failed("e".repeat(1 << 20)).into();
        assert!(error.to_string().len() < bounds::MAX_TEXT + 64);
        let unknown = wit::Action::Deliver(vec![target(&"n".repeat(1 << 20), None)]);
        match validate(unknown, known, 100) {
            Err(Error::InvalidResult(message)) => assert!(message.len() < bounds::MAX_TEXT + 64),
            other => panic!("expected invalid_result, got {other:?}"),
        }
    }
}
