//! `provider-normalizer`: maps the envelopes of the seed providers (Roark,
//! CallCov, CallIntel, VoiceKit) onto one canonical envelope, so that
//! endpoints and later plugins handle one shape:
//!
//! ```json
//! {
//!   "type": "call.completed",
//!   "occurred_at": "2024-12-16T10:30:45Z",
//!   "provider": "callintel",
//!   "idempotency_key": "wh_1a2b3c4d5e",
//!   "data": { "...": "the provider's own payload" }
//! }
//! ```
//!
//! The provider comes from the `provider` config key, or is recognised from
//! the envelope's shape when that key is `auto` or unset.

mod envelope;

use hookgate_sdk::{Error, Event, Outcome, Plugin, config, export_plugin};

pub use envelope::{Canonical, Provider, normalize};

/// The plugin.
#[derive(Debug)]
pub struct ProviderNormalizer;

impl Plugin for ProviderNormalizer {
    fn handle(mut event: Event) -> Result<Outcome, Error> {
        let provider = match config::get("provider").as_deref().map(str::trim) {
            None | Some("auto") => None,
            Some(name) => Some(
                name.parse::<Provider>()
                    .map_err(|e| Error::invalid_config(format!("config key `provider`: {e}")))?,
            ),
        };
        let payload: serde_json::Value = event.json()?;
        let header_key = ["idempotency-key", "webhook-id"]
            .iter()
            .find_map(|h| event.header(h))
            .map(str::to_owned);
        let canonical = normalize(&payload, provider, header_key, event.id())?;
        event.set_event_type(canonical.event_type.clone());
        event.set_json(&canonical)?;
        Ok(Outcome::pass(event))
    }
}

export_plugin!(ProviderNormalizer);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_sdk::testing::TestHost;
    use serde_json::{Value, json};

    fn normalized(host: TestHost, event: Event) -> (String, Value) {
        match host.run::<ProviderNormalizer>(event).result {
            Ok(Outcome::Continue(event)) => (
                event.event_type().to_owned(),
                event.json().expect("canonical body is JSON"),
            ),
            other => panic!("expected continue, got {other:?}"),
        }
    }

    #[test]
    fn the_event_type_and_body_become_canonical() {
        let body = include_str!("../../../tests/fixtures/callintel/call.completed.json");
        let (event_type, canonical) = normalized(TestHost::new(), Event::new("", body));
        assert_eq!(event_type, "call.completed");
        assert_eq!(canonical["provider"], "callintel");
        assert_eq!(canonical["idempotency_key"], "wh_1a2b3c4d5e");
        assert_eq!(canonical["data"]["id"], "call_123456789");
    }

    #[test]
    fn an_idempotency_header_wins_over_the_derived_key() {
        let body = include_str!("../../../tests/fixtures/roark/call.analysis.completed.json");
        let event = Event::new("", body).with_header("Webhook-Id", "msg_abc");
        let (_, canonical) = normalized(TestHost::new(), event);
        assert_eq!(canonical["idempotency_key"], "msg_abc");
    }

    #[test]
    fn an_unknown_provider_in_config_is_a_config_error() {
        let run = TestHost::new()
            .with_config("provider", "acme")
            .run::<ProviderNormalizer>(Event::new("", "{}"));
        assert!(
            matches!(run.result, Err(Error::InvalidConfig(ref m)) if m.contains("acme")),
            "{:?}",
            run.result
        );
    }

    #[test]
    fn an_unrecognised_envelope_is_an_invalid_event() {
        let run =
            TestHost::new().run::<ProviderNormalizer>(Event::new("", json!({"x": 1}).to_string()));
        assert!(
            matches!(run.result, Err(Error::InvalidEvent(_))),
            "{:?}",
            run.result
        );
    }
}
