//! An endpoint's `filter`: declarative predicates on the payload, each on
//! the value at a JSON pointer (`equals`, `one_of`, `exists`, numeric `min`
//! and `max`), combined with `all` and `any`. Enough for CallIntel's
//! per-webhook `{direction, status, min_duration}`:
//!
//! ```toml
//! filter = { all = [
//!   { pointer = "/direction", equals = "inbound" },
//!   { pointer = "/status", one_of = ["completed", "failed"] },
//!   { pointer = "/duration_seconds", min = 30 },
//! ] }
//! ```
//!
//! Pure: checked with [`Filter::check`] when an endpoint is loaded or
//! created, matched with [`Filter::matches`] when a message is routed.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::validate::Invalid;

/// How deep `all`/`any` may nest.
const MAX_DEPTH: usize = 8;
/// Predicates and groups in one filter at most.
const MAX_NODES: usize = 256;

/// A filter: the predicate on `pointer` (when set), and every filter of
/// `all`, and at least one of `any` (when set), must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Every one of these holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub all: Vec<Filter>,
    /// At least one of these holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub any: Vec<Filter>,
    /// The JSON pointer (RFC 6901) of the value the tests below look at,
    /// for example `/call/direction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(/.*)?$", example = "/direction")]
    pub pointer: Option<String>,
    /// The value is this JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>, example = "inbound")]
    pub equals: Option<Value>,
    /// The value is one of these (at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<serde_json::Value>>, min_items = 1)]
    pub one_of: Option<Vec<Value>>,
    /// The pointer names a value (`true`) or nothing (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The value is a number at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The value is a number at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Filter {
    /// Whether `payload` passes.
    pub fn matches(&self, payload: &Value) -> bool {
        self.all.iter().all(|f| f.matches(payload))
            && (self.any.is_empty() || self.any.iter().any(|f| f.matches(payload)))
            && self.predicate(payload)
    }

    fn predicate(&self, payload: &Value) -> bool {
        let Some(pointer) = &self.pointer else {
            return true;
        };
        let found = payload.pointer(pointer);
        if let Some(exists) = self.exists
            && exists != found.is_some()
        {
            return false;
        }
        let tests_value = self.equals.is_some()
            || self.one_of.is_some()
            || self.min.is_some()
            || self.max.is_some();
        if !tests_value {
            return true;
        }
        let Some(value) = found else {
            return false;
        };
        if self
            .equals
            .as_ref()
            .is_some_and(|expected| !same(value, expected))
        {
            return false;
        }
        if self
            .one_of
            .as_ref()
            .is_some_and(|options| !options.iter().any(|o| same(value, o)))
        {
            return false;
        }
        if self.min.is_some() || self.max.is_some() {
            let Some(number) = value.as_f64() else {
                return false;
            };
            if self.min.is_some_and(|min| number < min) || self.max.is_some_and(|max| number > max)
            {
                return false;
            }
        }
        true
    }

    /// Refuses a filter that could never mean what it says: a group or
    /// predicate with nothing in it, a test without a pointer, a pointer
    /// that is not one, `min` above `max`, or one nested too deep or too
    /// large. `field` is where it is, for the message.
    pub fn check(&self, field: &str) -> Result<(), Invalid> {
        let mut nodes = 0;
        self.check_at(field, 0, &mut nodes)
    }

    fn check_at(&self, field: &str, depth: usize, nodes: &mut usize) -> Result<(), Invalid> {
        let bad = |at: &str, message: &str| Invalid {
            field: at.to_owned(),
            message: message.to_owned(),
        };
        *nodes += 1;
        if *nodes > MAX_NODES {
            return Err(bad(field, "has more than 256 predicates and groups"));
        }
        if depth > MAX_DEPTH {
            return Err(bad(field, "nests `all`/`any` more than 8 deep"));
        }
        let tests = self.equals.is_some()
            || self.one_of.is_some()
            || self.exists.is_some()
            || self.min.is_some()
            || self.max.is_some();
        match &self.pointer {
            Some(pointer) if !(pointer.is_empty() || pointer.starts_with('/')) => {
                return Err(bad(
                    &format!("{field}.pointer"),
                    "must be a JSON pointer: empty, or starting with /, such as /call/direction",
                ));
            }
            Some(_) if !tests => {
                return Err(bad(
                    field,
                    "names a pointer but no test: add equals, one_of, exists, min or max",
                ));
            }
            None if tests => {
                return Err(bad(
                    &format!("{field}.pointer"),
                    "is required by equals, one_of, exists, min and max: the value they test",
                ));
            }
            None if self.all.is_empty() && self.any.is_empty() => {
                return Err(bad(
                    field,
                    "is empty: give a pointer and a test, or all / any",
                ));
            }
            _ => {}
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Err(bad(&format!("{field}.min"), "is above max"));
        }
        if self.one_of.as_ref().is_some_and(Vec::is_empty) {
            return Err(bad(
                &format!("{field}.one_of"),
                "is empty: nothing could match",
            ));
        }
        for (i, f) in self.all.iter().enumerate() {
            f.check_at(&format!("{field}.all[{i}]"), depth + 1, nodes)?;
        }
        for (i, f) in self.any.iter().enumerate() {
            f.check_at(&format!("{field}.any[{i}]"), depth + 1, nodes)?;
        }
        Ok(())
    }
}

/// JSON equality, with numbers compared by value (`30` is `30.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(value: Value) -> Filter {
        serde_json::from_value(value).expect("a filter")
    }

    #[test]
    fn callintels_direction_status_and_duration_filter() {
        let f = filter(json!({"all": [
            {"pointer": "/direction", "equals": "inbound"},
            {"pointer": "/status", "one_of": ["completed", "failed"]},
            {"pointer": "/duration", "min": 30},
        ]}));
        f.check("filter").expect("valid");
        assert!(f.matches(&json!({"direction": "inbound", "status": "completed", "duration": 45})));
        assert!(f.matches(&json!({"direction": "inbound", "status": "failed", "duration": 30.0})));
        assert!(
            !f.matches(&json!({"direction": "outbound", "status": "completed", "duration": 45}))
        );
        assert!(!f.matches(&json!({"direction": "inbound", "status": "ringing", "duration": 45})));
        assert!(
            !f.matches(&json!({"direction": "inbound", "status": "completed", "duration": 29}))
        );
        assert!(!f.matches(&json!({"direction": "inbound", "status": "completed"})));
        assert!(
            !f.matches(&json!({"direction": "inbound", "status": "completed", "duration": "45"}))
        );
    }

    #[test]
    fn any_needs_one_and_exists_tests_presence() {
        let f = filter(json!({"any": [
            {"pointer": "/vip", "exists": true},
            {"pointer": "/score", "max": 2},
        ]}));
        assert!(f.matches(&json!({"vip": null})));
        assert!(f.matches(&json!({"score": 1})));
        assert!(!f.matches(&json!({"score": 3})));
        let absent = filter(json!({"pointer": "/error", "exists": false}));
        assert!(absent.matches(&json!({"ok": true})));
        assert!(!absent.matches(&json!({"error": "x"})));
    }

    #[test]
    fn a_filter_that_cannot_mean_anything_is_refused_with_its_field() {
        for (value, field) in [
            (json!({}), "filter"),
            (json!({"pointer": "/a"}), "filter"),
            (json!({"equals": 1}), "filter.pointer"),
            (json!({"pointer": "a", "equals": 1}), "filter.pointer"),
            (
                json!({"all": [{"pointer": "/d", "min": 5, "max": 1}]}),
                "filter.all[0].min",
            ),
            (
                json!({"any": [{"all": [{"pointer": "/s", "one_of": []}]}]}),
                "filter.any[0].all[0].one_of",
            ),
        ] {
            let error = filter(value.clone()).check("filter").expect_err("refused");
            assert_eq!(error.field, field, "{value}");
        }
        let mut deep = json!({"pointer": "/a", "exists": true});
        for _ in 0..10 {
            deep = json!({"all": [deep]});
        }
        assert!(filter(deep).check("filter").is_err());
    }

    #[test]
    fn unknown_keys_are_refused_when_parsed() {
        assert!(serde_json::from_value::<Filter>(json!({"pointer": "/a", "eq": 1})).is_err());
    }
}
