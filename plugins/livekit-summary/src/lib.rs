//! `livekit-summary`: turns VoiceKit's `call_finalized` event, which carries
//! LiveKit egress info with nanosecond times and sizes as strings, into a
//! compact call summary. Every other event passes through unchanged.
//!
//! The summary logic is the pure function [`summarize`], so it can be tested
//! and benchmarked natively; the plugin only wires it to the event.

mod summary;

use hookgate_sdk::{Error, Event, Outcome, Plugin, config, export_plugin};

pub use summary::summarize;

/// The event type this plugin summarises.
pub const FINALIZED: &str = "call_finalized";

/// The event type of the summary unless the `event_type` config key says
/// otherwise.
pub const DEFAULT_SUMMARY_TYPE: &str = "call.summary";

/// The plugin.
#[derive(Debug)]
pub struct LivekitSummary;

impl Plugin for LivekitSummary {
    fn handle(mut event: Event) -> Result<Outcome, Error> {
        if event.event_type() != FINALIZED {
            return Ok(Outcome::pass(event));
        }
        let payload: serde_json::Value = event.json()?;
        let summary = summarize(&payload)?;
        event.set_json(&summary)?;
        let summary_type = config::get("event_type").unwrap_or_else(|| DEFAULT_SUMMARY_TYPE.into());
        event.set_event_type(summary_type);
        Ok(Outcome::pass(event))
    }
}

export_plugin!(LivekitSummary);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_sdk::testing::TestHost;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/voicekit/call_finalized.json");

    fn continued(run: hookgate_sdk::testing::Run) -> Event {
        match run.result {
            Ok(Outcome::Continue(event)) => event,
            other => panic!("expected continue, got {other:?}"),
        }
    }

    #[test]
    fn call_finalized_becomes_a_summary_event() {
        let run = TestHost::new().run::<LivekitSummary>(Event::new(FINALIZED, FIXTURE));
        let event = continued(run);
        assert_eq!(event.event_type(), DEFAULT_SUMMARY_TYPE);
        assert_eq!(event.header("content-type"), Some("application/json"));
        let body: serde_json::Value = event.json().expect("summary is JSON");
        assert_eq!(body["call_id"], 123);
        assert_eq!(body["recording_duration_seconds"], 88.757);
    }

    #[test]
    fn summary_event_type_comes_from_config() {
        let run = TestHost::new()
            .with_config("event_type", "voicekit.summary")
            .run::<LivekitSummary>(Event::new(FINALIZED, FIXTURE));
        assert_eq!(continued(run).event_type(), "voicekit.summary");
    }

    #[test]
    fn other_events_pass_through_unchanged() {
        let original = Event::new("call_started", "{\"event\":\"call_started\"}");
        let event = continued(TestHost::new().run::<LivekitSummary>(original.clone()));
        assert_eq!(event, original);
    }

    #[test]
    fn a_body_that_is_not_json_is_an_invalid_event() {
        let run = TestHost::new().run::<LivekitSummary>(Event::new(FINALIZED, "not json"));
        assert!(
            matches!(run.result, Err(Error::InvalidEvent(_))),
            "{:?}",
            run.result
        );
    }
}
