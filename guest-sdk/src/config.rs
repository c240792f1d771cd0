//! Read-only access to the plugin's configuration: the key/value strings set
//! when it was deployed.

use std::str::FromStr;

use crate::{Error, host};

/// The value of a key, if set.
pub fn get(key: &str) -> Option<String> {
    host::config_get(key)
}

/// Every key and value, sorted by key.
pub fn entries() -> Vec<(String, String)> {
    host::config_entries()
}

/// The value of a key, or [`Error::InvalidConfig`] naming the missing key.
pub fn require(key: &str) -> Result<String, Error> {
    get(key).ok_or_else(|| Error::invalid_config(format!("config key `{key}` is not set")))
}

/// The value of a key parsed as `T`, `None` if unset, or
/// [`Error::InvalidConfig`] naming the key and the bad value.
pub fn parse<T>(key: &str) -> Result<Option<T>, Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    get(key)
        .map(|raw| {
            raw.trim().parse::<T>().map_err(|e| {
                Error::invalid_config(format!("config key `{key}` has bad value {raw:?}: {e}"))
            })
        })
        .transpose()
}

/// The value of a key split on commas, trimmed, empty items removed; an
/// empty list if unset.
pub fn list(key: &str) -> Vec<String> {
    get(key)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
