//! Taking a value (event type, idempotency key, target URL) from the body by
//! JSON pointer or from a header, as a source's config says.
//!
//! The body is not parsed into a document: a pointer is followed while the
//! body is read ([`Walk`]), everything off its path is skipped, and nothing
//! is allocated but the value found. What a pointer finds is what
//! `serde_json::Value::pointer` would find (the last of duplicate keys;
//! array indices without a sign or leading zeros).

use std::fmt;

use axum::http::HeaderMap;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config::Extract;

/// Checks that `body` is one JSON value, with nothing after it, whose
/// strings are valid UTF-8 without lone surrogate escapes (what parsing it
/// into a document would refuse; skipping values does not look inside
/// strings).
pub(crate) fn check_json(body: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<Valid>(body).map(|_| ())
}

/// A JSON value read through, every string decoded, nothing kept.
struct Valid;

impl<'de> de::Deserialize<'de> for Valid {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Valid)
    }
}

impl<'de> Visitor<'de> for Valid {
    type Value = Valid;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_unit<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        while map.next_entry::<Valid, Valid>()?.is_some() {}
        Ok(Valid)
    }
}

/// The value as a string: strings as they are, numbers and booleans
/// printed; `None` if absent, null, empty or structured. `json` is the
/// body, already checked with [`check_json`], when the source takes JSON.
pub(crate) fn extract(rule: &Extract, headers: &HeaderMap, json: Option<&[u8]>) -> Option<String> {
    match rule {
        Extract::Header(name) => headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
        Extract::Pointer(pointer) => pointer_value(json?, pointer),
    }
}

/// What `pointer` points at in `body`, as [`extract`] gives it.
fn pointer_value(body: &[u8], pointer: &str) -> Option<String> {
    let tokens: Vec<String> = match pointer {
        "" => Vec::new(),
        p => p
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    };
    let mut reader = serde_json::Deserializer::from_slice(body);
    Walk(&tokens).deserialize(&mut reader).ok().flatten()
}

/// Follows the rest of a pointer through the value being read.
struct Walk<'p>(&'p [String]);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Walk<'_> {
    /// A scalar reached: the value if the pointer ends here.
    fn leaf(&self, text: impl FnOnce() -> String) -> Option<String> {
        self.0.is_empty().then(text).filter(|s| !s.is_empty())
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.leaf(|| v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.leaf(|| v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self
            .leaf(|| serde_json::Number::from_f64(v).map_or_else(String::new, |n| n.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((first, rest)) = self.0.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(None);
        };
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(first))? {
            if matches {
                // The last of duplicate keys wins, as in a parsed document.
                found = map.next_value_seed(Walk(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let index = self.0.first().and_then(|t| array_index(t));
        let mut found = None;
        let mut i = 0;
        loop {
            if index == Some(i) {
                match seq.next_element_seed(Walk(&self.0[1..]))? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
}

/// An array index token: digits, no sign, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = token.len() > 1 && token.starts_with('0');
    (digits && !leading_zero)
        .then(|| token.parse().ok())
        .flatten()
}

/// Whether an object key equals a pointer token, without copying the key.
struct KeyIs<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pointer(p: &str) -> Extract {
        Extract::Pointer(p.into())
    }

    /// What a parsed document refuses, the check refuses too: bytes that
    /// are not UTF-8 and lone surrogates, in values and in keys.
    #[test]
    fn the_check_refuses_what_parsing_refuses() {
        let bodies: [&[u8]; 9] = [
            br#"{"type": "call.completed", "n": [1, 2.5, -3, true, null, {}]}"#,
            b"{\"type\": \"\xff\"}",
            b"{\"\xc3\": 1}",
            br#"{"a": "\ud800"}"#,
            br#"{"\udc00": 1}"#,
            br#"{"a": "\ud83d\ude00", "b": "caf\u00e9"}"#,
            br#"{"a": 1} {"b": 2}"#,
            br#"{"a": 1,}"#,
            b"\"\xe2\x82\"",
        ];
        for body in bodies {
            assert_eq!(
                check_json(body).is_ok(),
                serde_json::from_slice::<Value>(body).is_ok(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(check_json(bodies[0]).is_ok());
        assert!(check_json(bodies[5]).is_ok());
    }

    #[test]
    fn pointers_and_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", " abc ".parse().expect("header value"));
        let body = br#"{"event_type": "call.completed", "data": {"id": 7, "x": {}}}"#;
        let body = Some(&body[..]);
        assert_eq!(
            extract(&pointer("/event_type"), &headers, body).as_deref(),
            Some("call.completed")
        );
        assert_eq!(
            extract(&pointer("/data/id"), &headers, body).as_deref(),
            Some("7")
        );
        assert_eq!(extract(&pointer("/data/x"), &headers, body), None);
        assert_eq!(extract(&pointer("/missing"), &headers, body), None);
        assert_eq!(
            extract(&Extract::Header("Idempotency-Key".into()), &headers, None).as_deref(),
            Some("abc")
        );
    }

    /// What a pointer finds is what `Value::pointer` finds, on every shape
    /// the walk handles differently.
    #[test]
    fn a_pointer_finds_what_a_parsed_document_would() {
        let body = json!({
            "s": "text", "empty": "", "n": -12, "u": 7, "f": 2.5, "big": 1e300,
            "t": true, "null": null, "obj": {"a": {"b": "deep"}}, "arr": [10, "x", {"k": "v"}],
            "a/b": "slash", "m~n": "tilde", "esc\"aped": "quoted", "unicode\u{e9}": "accent",
        });
        let text = serde_json::to_vec(&body).expect("serialises");
        // Duplicate keys: the last wins in a parsed document.
        let duplicated = br#"{"k": "first", "k": "last", "o": {"x": 1}, "o": {"y": 2}}"#;
        let parsed: Value = serde_json::from_slice(duplicated).expect("parses");
        let pointers = [
            "",
            "/s",
            "/empty",
            "/n",
            "/u",
            "/f",
            "/big",
            "/t",
            "/null",
            "/obj",
            "/obj/a/b",
            "/obj/a/missing",
            "/arr/0",
            "/arr/1",
            "/arr/2/k",
            "/arr/3",
            "/arr/01",
            "/arr/-1",
            "/arr/+1",
            "/a~1b",
            "/m~0n",
            "/esc\"aped",
            "/unicode\u{e9}",
            "/s/deeper",
            "no-slash",
        ];
        let expected = |doc: &Value, p: &str| match doc.pointer(p) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        for p in pointers {
            assert_eq!(pointer_value(&text, p), expected(&body, p), "{p}");
        }
        for p in ["/k", "/o/x", "/o/y"] {
            assert_eq!(pointer_value(duplicated, p), expected(&parsed, p), "{p}");
        }
        assert_eq!(pointer_value(br#""top""#, ""), Some("top".into()));
    }

    #[test]
    fn malformed_json_is_refused_with_the_parsers_message() {
        assert!(check_json(br#"{"a": [1, 2]}"#).is_ok());
        let error = check_json(br#"{"a": [1, 2}"#).expect_err("malformed");
        assert!(error.to_string().contains("line 1 column"), "{error}");
        assert!(check_json(br#"{"a": 1} trailing"#).is_err());
        assert!(check_json(b"").is_err());
    }
}
