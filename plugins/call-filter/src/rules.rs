//! The filter rules, parsed from configuration, and the pure check of one
//! event against them.

use hookgate_sdk::{Error, config, event_type_matches};
use serde_json::Value;

/// Where each field is looked for when its `*_field` key is not set: the
/// CallIntel (`data.*`), flat, and CallCov (`audio.*`) shapes.
const DURATION_FIELDS: &[&str] = &[
    "/data/duration_seconds",
    "/duration_seconds",
    "/audio/duration_seconds",
];
const DIRECTION_FIELDS: &[&str] = &["/data/direction", "/direction"];
const STATUS_FIELDS: &[&str] = &["/data/status", "/status"];

/// The rules of one deployment of the filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// `event_types`: patterns of which one must match; empty allows all.
    pub event_types: Vec<String>,
    /// `min_duration`: seconds the call must last at least.
    pub min_duration: Option<f64>,
    /// `direction`: allowed values; empty allows all.
    pub directions: Vec<String>,
    /// `status`: allowed values; empty allows all.
    pub statuses: Vec<String>,
    /// `duration_field`, `direction_field`, `status_field`: JSON pointers
    /// overriding where the fields are looked for.
    pub duration_field: Option<String>,
    /// See `duration_field`.
    pub direction_field: Option<String>,
    /// See `duration_field`.
    pub status_field: Option<String>,
    /// `on_missing`: `drop` (default) or `keep` an event lacking a field a
    /// rule needs.
    pub keep_when_missing: bool,
}

/// What the rules say about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every rule passed.
    Keep,
    /// A rule failed; the reason says which.
    Drop(String),
}

impl Rules {
    /// Reads the rules from the plugin's configuration.
    pub fn from_config() -> Result<Self, Error> {
        let keep_when_missing = match config::get("on_missing").as_deref().map(str::trim) {
            None | Some("drop") => false,
            Some("keep") => true,
            Some(other) => {
                return Err(Error::invalid_config(format!(
                    "config key `on_missing` must be `drop` or `keep`, not {other:?}"
                )));
            }
        };
        let min_duration = config::parse::<f64>("min_duration")?;
        if let Some(min) = min_duration
            && (!min.is_finite() || min < 0.0)
        {
            return Err(Error::invalid_config(format!(
                "config key `min_duration` must be a non-negative number of seconds, not {min}"
            )));
        }
        Ok(Self {
            event_types: config::list("event_types"),
            min_duration,
            directions: config::list("direction"),
            statuses: config::list("status"),
            duration_field: pointer("duration_field")?,
            direction_field: pointer("direction_field")?,
            status_field: pointer("status_field")?,
            keep_when_missing,
        })
    }

    /// Whether any rule needs the body.
    pub fn needs_body(&self) -> bool {
        self.min_duration.is_some() || !self.directions.is_empty() || !self.statuses.is_empty()
    }

    /// Checks one event. `payload` must be given when [`Rules::needs_body`].
    pub fn check(&self, event_type: &str, payload: Option<&Value>) -> Verdict {
        if !self.event_types.is_empty()
            && !self
                .event_types
                .iter()
                .any(|p| event_type_matches(p, event_type))
        {
            return Verdict::Drop(format!(
                "event type {event_type} does not match event_types {}",
                self.event_types.join(",")
            ));
        }
        let payload = payload.unwrap_or(&Value::Null);
        if let Some(min) = self.min_duration {
            match find(payload, self.duration_field.as_deref(), DURATION_FIELDS)
                .and_then(Value::as_f64)
            {
                Some(duration) if duration < min => {
                    return Verdict::Drop(format!(
                        "duration {duration}s is below min_duration {min}s"
                    ));
                }
                Some(_) => {}
                None => {
                    if let Some(verdict) = self.missing("duration") {
                        return verdict;
                    }
                }
            }
        }
        let one_of = [
            (
                "direction",
                &self.directions,
                self.direction_field.as_deref(),
                DIRECTION_FIELDS,
            ),
            (
                "status",
                &self.statuses,
                self.status_field.as_deref(),
                STATUS_FIELDS,
            ),
        ];
        for (name, allowed, field, defaults) in one_of {
            if allowed.is_empty() {
                continue;
            }
            match find(payload, field, defaults).and_then(Value::as_str) {
                Some(value) if allowed.iter().any(|a| a == value) => {}
                Some(value) => {
                    return Verdict::Drop(format!(
                        "{name} {value} is not one of {}",
                        allowed.join(",")
                    ));
                }
                None => {
                    if let Some(verdict) = self.missing(name) {
                        return verdict;
                    }
                }
            }
        }
        Verdict::Keep
    }

    fn missing(&self, name: &str) -> Option<Verdict> {
        (!self.keep_when_missing).then(|| Verdict::Drop(format!("the event has no {name}")))
    }
}

fn find<'a>(payload: &'a Value, field: Option<&str>, defaults: &[&str]) -> Option<&'a Value> {
    match field {
        Some(pointer) => payload.pointer(pointer),
        None => defaults.iter().find_map(|p| payload.pointer(p)),
    }
}

/// A JSON pointer from config, accepting `data.duration` as `/data/duration`.
fn pointer(key: &str) -> Result<Option<String>, Error> {
    Ok(config::get(key).map(|raw| {
        let raw = raw.trim();
        if raw.starts_with('/') {
            raw.to_owned()
        } else {
            format!("/{}", raw.replace('.', "/"))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn callcov_duration_is_found_under_audio() {
        let rules = Rules {
            min_duration: Some(200.0),
            ..Rules::default()
        };
        let payload = json!({"audio": {"duration_seconds": 125.5}});
        assert_eq!(
            rules.check("completed", Some(&payload)),
            Verdict::Drop("duration 125.5s is below min_duration 200s".into())
        );
    }

    #[test]
    fn missing_fields_drop_unless_told_to_keep() {
        let mut rules = Rules {
            directions: vec!["outbound".into()],
            ..Rules::default()
        };
        let payload = json!({"data": {}});
        assert_eq!(
            rules.check("batch.completed", Some(&payload)),
            Verdict::Drop("the event has no direction".into())
        );
        rules.keep_when_missing = true;
        assert_eq!(
            rules.check("batch.completed", Some(&payload)),
            Verdict::Keep
        );
    }

    #[test]
    fn a_configured_field_pointer_is_used_instead_of_the_defaults() {
        let rules = Rules {
            statuses: vec!["ok".into()],
            status_field: Some("/result/state".into()),
            ..Rules::default()
        };
        let payload = json!({"status": "ok", "result": {"state": "bad"}});
        assert_eq!(
            rules.check("x", Some(&payload)),
            Verdict::Drop("status bad is not one of ok".into())
        );
    }
}
