//! `endpoint-router`: chooses the endpoints an event goes to from one payload
//! field, through a mapping in its configuration, with a fallback.
//!
//! ```text
//! field = data.agent_id
//! route.agent_abc123 = crm
//! route.agent_001 = tag:team-sales, audit
//! fallback = continue            # or: drop, or a target list like the routes
//! ```
//!
//! A target list names endpoints, or `tag:NAME` for every endpoint carrying
//! that tag. A route naming an endpoint that does not exist is a config error
//! naming the key, so a typo fails loudly instead of losing events.

use hookgate_sdk::{
    Endpoint, Error, Event, Outcome, Plugin, Target, config, endpoints, export_plugin,
};
use serde_json::Value;

/// The plugin.
#[derive(Debug)]
pub struct EndpointRouter;

/// What happens to an event whose field has no route.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fallback {
    /// Pass it on to default routing (subscriptions).
    Continue,
    /// Drop it.
    Drop,
    /// Deliver to this target list.
    Targets(String),
}

impl Plugin for EndpointRouter {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let field = pointer(&config::require("field")?);
        let fallback = match config::get("fallback").as_deref().map(str::trim) {
            None | Some("continue") => Fallback::Continue,
            Some("drop") => Fallback::Drop,
            Some(list) => Fallback::Targets(list.to_owned()),
        };
        let payload: Value = event.json()?;
        let value = payload.pointer(&field).and_then(scalar);
        let all = endpoints();
        if let Some(value) = &value {
            let key = format!("route.{value}");
            if let Some(list) = config::get(&key) {
                let names = resolve(&list, &key, &all)?;
                if !names.is_empty() {
                    hookgate_sdk::debug!("{field} = {value}: routing to {}", names.join(","));
                    return Ok(Outcome::deliver(names.into_iter().map(Target::new)));
                }
            }
        }
        let shown = value.as_deref().unwrap_or("(absent)");
        match fallback {
            Fallback::Continue => Ok(Outcome::pass(event)),
            Fallback::Drop => Ok(Outcome::drop(format!("no route for {field} = {shown}"))),
            Fallback::Targets(list) => {
                let names = resolve(&list, "fallback", &all)?;
                Ok(Outcome::deliver(names.into_iter().map(Target::new)))
            }
        }
    }
}

export_plugin!(EndpointRouter);

/// A string, number or boolean field as the text a route key uses.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `data.agent_id` or `/data/agent_id` as a JSON pointer.
fn pointer(raw: &str) -> String {
    let raw = raw.trim();
    if raw.starts_with('/') {
        raw.to_owned()
    } else {
        format!("/{}", raw.replace('.', "/"))
    }
}

/// Endpoint names for a target list: names and `tag:X` items, deduplicated,
/// in order. Unknown names are a config error naming `key`.
fn resolve(list: &str, key: &str, all: &[Endpoint]) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let found: Vec<&str> = match item.strip_prefix("tag:") {
            Some(tag) => all
                .iter()
                .filter(|e| e.has_tag(tag))
                .map(|e| e.name.as_str())
                .collect(),
            None if all.iter().any(|e| e.name == item) => vec![item],
            None => {
                return Err(Error::invalid_config(format!(
                    "config key `{key}` names endpoint {item:?}, which does not exist"
                )));
            }
        };
        for name in found {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_sdk::testing::TestHost;

    const CALL_COMPLETED: &str =
        include_str!("../../../tests/fixtures/callintel/call.completed.json");

    fn host() -> TestHost {
        TestHost::new()
            .with_endpoint(Endpoint::new("crm"))
            .with_endpoint(Endpoint::new("sales-eu").with_tags(["team-sales"]))
            .with_endpoint(Endpoint::new("sales-us").with_tags(["team-sales"]))
            .with_endpoint(Endpoint::new("audit"))
            .with_config("field", "data.agent_id")
    }

    fn event() -> Event {
        Event::new("call.completed", CALL_COMPLETED)
    }

    fn targets(outcome: Result<Outcome, Error>) -> Vec<String> {
        match outcome {
            Ok(Outcome::Deliver(targets)) => targets.into_iter().map(|t| t.endpoint).collect(),
            other => panic!("expected deliver, got {other:?}"),
        }
    }

    #[test]
    fn a_mapped_value_routes_to_its_endpoint() {
        let run = host()
            .with_config("route.agent_abc123", "crm")
            .run::<EndpointRouter>(event());
        assert_eq!(targets(run.result), ["crm"]);
    }

    #[test]
    fn tags_expand_to_every_tagged_endpoint_without_duplicates() {
        let run = host()
            .with_config("route.agent_abc123", "tag:team-sales, sales-eu, audit")
            .run::<EndpointRouter>(event());
        assert_eq!(targets(run.result), ["sales-eu", "sales-us", "audit"]);
    }

    #[test]
    fn an_unmapped_value_continues_by_default() {
        let run = host()
            .with_config("route.other", "crm")
            .run::<EndpointRouter>(event());
        assert_eq!(run.result, Ok(Outcome::pass(event())));
    }

    #[test]
    fn fallback_can_drop_or_deliver() {
        let run = host()
            .with_config("fallback", "drop")
            .run::<EndpointRouter>(event());
        assert_eq!(
            run.result,
            Ok(Outcome::drop("no route for /data/agent_id = agent_abc123"))
        );
        let run = host()
            .with_config("fallback", "audit")
            .run::<EndpointRouter>(event());
        assert_eq!(targets(run.result), ["audit"]);
    }

    #[test]
    fn a_route_to_an_unknown_endpoint_is_a_config_error_naming_the_key() {
        let run = host()
            .with_config("route.agent_abc123", "crn")
            .run::<EndpointRouter>(event());
        assert_eq!(
            run.result,
            Err(Error::invalid_config(
                "config key `route.agent_abc123` names endpoint \"crn\", which does not exist"
            ))
        );
    }

    #[test]
    fn without_a_field_the_config_is_invalid() {
        let run = TestHost::new().run::<EndpointRouter>(event());
        assert_eq!(
            run.result,
            Err(Error::invalid_config("config key `field` is not set"))
        );
    }
}
