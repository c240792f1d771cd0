//! `call-filter`: drops events that do not pass the rules in its
//! configuration: event types (with `*` wildcards), minimum duration,
//! direction and status, the filters CallIntel's webhook registration offers.
//!
//! Rules are read from the configuration on every event (a fresh instance
//! per event has nothing to cache); [`Rules`] parses and checks them.

mod rules;

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

pub use rules::{Rules, Verdict};

/// The plugin.
#[derive(Debug)]
pub struct CallFilter;

impl Plugin for CallFilter {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let rules = Rules::from_config()?;
        let payload = if rules.needs_body() {
            Some(event.json::<serde_json::Value>()?)
        } else {
            None
        };
        match rules.check(event.event_type(), payload.as_ref()) {
            Verdict::Keep => Ok(Outcome::pass(event)),
            Verdict::Drop(reason) => Ok(Outcome::drop(reason)),
        }
    }
}

export_plugin!(CallFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_sdk::testing::TestHost;

    const CALL_COMPLETED: &str =
        include_str!("../../../tests/fixtures/callintel/call.completed.json");

    fn run(host: TestHost, event: Event) -> Result<Outcome, Error> {
        host.run::<CallFilter>(event).result
    }

    #[test]
    fn with_no_rules_everything_passes() {
        let event = Event::new("call.completed", CALL_COMPLETED);
        assert_eq!(
            run(TestHost::new(), event.clone()),
            Ok(Outcome::pass(event))
        );
    }

    #[test]
    fn callintel_example_filters_keep_the_matching_call() {
        let host = TestHost::new()
            .with_config("event_types", "call.*")
            .with_config("direction", "outbound")
            .with_config("status", "completed")
            .with_config("min_duration", "60");
        let event = Event::new("call.completed", CALL_COMPLETED);
        assert_eq!(run(host, event.clone()), Ok(Outcome::pass(event)));
    }

    #[test]
    fn a_short_call_is_dropped_with_the_reason() {
        let host = TestHost::new().with_config("min_duration", "400");
        let outcome = run(host, Event::new("call.completed", CALL_COMPLETED));
        assert_eq!(
            outcome,
            Ok(Outcome::drop("duration 345s is below min_duration 400s"))
        );
    }

    #[test]
    fn an_event_type_outside_the_list_is_dropped_without_reading_the_body() {
        let host = TestHost::new().with_config("event_types", "call.*");
        let outcome = run(host, Event::new("batch.completed", "not even json"));
        assert_eq!(
            outcome,
            Ok(Outcome::drop(
                "event type batch.completed does not match event_types call.*"
            ))
        );
    }

    #[test]
    fn a_bad_min_duration_is_a_config_error_naming_the_key() {
        let host = TestHost::new().with_config("min_duration", "a minute");
        match run(host, Event::new("call.completed", CALL_COMPLETED)) {
            Err(Error::InvalidConfig(m)) => assert!(m.contains("min_duration"), "{m}"),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_body_that_is_not_json_fails_when_a_body_rule_is_set() {
        let host = TestHost::new().with_config("status", "completed");
        let outcome = run(host, Event::new("call.completed", "<xml/>"));
        assert!(
            matches!(outcome, Err(Error::InvalidEvent(_))),
            "{outcome:?}"
        );
    }
}
