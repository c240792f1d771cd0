//! Parsers for command-line values that several subcommands take.

use anyhow::bail;

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
    fn key_value_splits_at_the_first_equals_and_refuses_an_empty_key() {
        assert_eq!(
            key_value(" a =b=c").expect("parses"),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(key_value("=x").is_err());
        assert!(key_value("novalue").is_err());
    }
}
