//! Taking a value (event type, idempotency key, target URL) from the body by
//! JSON pointer or from a header, as a source's config says.

use axum::http::HeaderMap;
use serde_json::Value;

use crate::config::Extract;

/// The value as a string: strings as they are, numbers and booleans
/// printed; `None` if absent, null, or structured.
pub(crate) fn extract(rule: &Extract, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
    match rule {
        Extract::Header(name) => headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
        Extract::Pointer(pointer) => match body?.pointer(pointer)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_and_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", " abc ".parse().expect("header value"));
        let body = json!({"event_type": "call.completed", "data": {"id": 7, "x": {}}});
        let pointer = |p: &str| Extract::Pointer(p.into());
        assert_eq!(
            extract(&pointer("/event_type"), &headers, Some(&body)).as_deref(),
            Some("call.completed")
        );
        assert_eq!(
            extract(&pointer("/data/id"), &headers, Some(&body)).as_deref(),
            Some("7")
        );
        assert_eq!(extract(&pointer("/data/x"), &headers, Some(&body)), None);
        assert_eq!(extract(&pointer("/missing"), &headers, Some(&body)), None);
        assert_eq!(
            extract(&Extract::Header("Idempotency-Key".into()), &headers, None).as_deref(),
            Some("abc")
        );
    }
}
