//! Parsers for command-line values that several subcommands take.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::bail;

/// A time as `--since` takes it: a time ago (`1h`, `30m`, `2d`) becomes
/// that many Unix milliseconds before now; RFC 3339 and Unix milliseconds
/// go to the gateway as given, which checks them.
pub(super) fn time(raw: &str) -> anyhow::Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        bail!("expected a time: RFC 3339, Unix ms, or a time ago such as 1h");
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(raw.to_owned());
    }
    if let Ok(ago) = humantime::parse_duration(raw) {
        let now = crate::clock::system_millis();
        let ago = u64::try_from(ago.as_millis()).unwrap_or(u64::MAX);
        return Ok(now.saturating_sub(ago).to_string());
    }
    Ok(raw.to_owned())
}

/// Unix milliseconds as a readable UTC time, to the second.
pub(super) fn readable_time(millis: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(millis);
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replacen('T', " ", 1)
        .replacen('Z', " UTC", 1)
}

/// `KEY=VALUE`, as `--config` takes it: the key trimmed and non-empty, the
/// value as given.
pub(super) fn key_value(raw: &str) -> anyhow::Result<(String, String)> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => bail!("expected KEY=VALUE, got {raw:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_taken_as_ago_or_passed_on_and_shown_in_utc() {
        let before = crate::clock::system_millis();
        let hour_ago: u64 = time("1h").expect("parses").parse().expect("ms");
        assert!((before - 3_600_000..=before + 1_000 - 3_600_000).contains(&hour_ago));
        assert_eq!(time("1764770400000").expect("ms"), "1764770400000");
        assert_eq!(
            time("2025-12-03T14:00:00Z").expect("passes"),
            "2025-12-03T14:00:00Z"
        );
        assert!(time(" ").is_err());
        assert_eq!(readable_time(1_764_770_400_000), "2025-12-03 14:00:00 UTC");
    }

    #[test]
    fn key_value_splits_at_the_first_equals_and_refuses_an_empty_key() {
        assert_eq!(
            key_value(" a =b=c").expect("parses"),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(key_value("=x").is_err());
        assert!(key_value("novalue").is_err());
    }
}
