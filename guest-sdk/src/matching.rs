//! Event-type patterns as endpoints and filters use them: exact names, and
//! `*` wildcards such as `call.*` or `*`.

/// Whether `event_type` matches `pattern`. `*` matches any run of characters
/// (including dots and nothing); everything else matches itself exactly.
///
/// ```
/// use hookgate_sdk::event_type_matches;
/// assert!(event_type_matches("call.*", "call.completed"));
/// assert!(event_type_matches("*", "batch.completed"));
/// assert!(!event_type_matches("call.*", "batch.completed"));
/// ```
pub fn event_type_matches(pattern: &str, event_type: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = event_type.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::event_type_matches as m;

    #[test]
    fn exact_names_match_only_themselves() {
        assert!(m("call.completed", "call.completed"));
        assert!(!m("call.completed", "call.completed.v2"));
        assert!(!m("call.completed", "call"));
    }

    #[test]
    fn wildcards_match_any_run() {
        assert!(m("call.*", "call.analysis.completed"));
        assert!(m("*.completed", "batch.completed"));
        assert!(m("call.*.completed", "call.analysis.completed"));
        assert!(!m("call.*.failed", "call.analysis.completed"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
    }
}
