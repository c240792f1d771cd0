//! Checks that span keys or sections: unique names, references that must
//! exist, values that must be in range. Each error names the key.

use std::collections::HashSet;

use super::{Config, EndpointSigning, Error, RetryConfig, SourceAuth};
use crate::signing::SigningSecret;

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Runs every check; the first failure is returned.
pub(super) fn check(config: &Config) -> Result<(), Error> {
    if config.plugin_host.pool_size == 0 {
        return Err(invalid("plugin_host.pool_size", "must be at least 1"));
    }
    let sources = unique_names("source", config.sources.iter().map(|s| s.name.as_str()))?;
    let plugins = unique_names("plugin", config.plugins.iter().map(|p| p.name.as_str()))?;
    unique_names("endpoint", config.endpoints.iter().map(|e| e.name.as_str()))?;

    for (i, source) in config.sources.iter().enumerate() {
        let key = |k: &str| format!("source[{i}].{k}");
        if source.max_body_bytes == 0 {
            return Err(invalid(key("max_body_bytes"), "must be at least 1"));
        }
        check_auth(&source.auth, &key("auth"))?;
    }
    let mut routed = HashSet::new();
    for (i, route) in config.routes.iter().enumerate() {
        if !sources.contains(route.source.as_str()) {
            return Err(invalid(
                format!("route[{i}].source"),
                format!("no source is named {:?}", route.source),
            ));
        }
        if !routed.insert(route.source.as_str()) {
            return Err(invalid(
                format!("route[{i}].source"),
                format!("source {:?} already has a route", route.source),
            ));
        }
        for (j, plugin) in route.plugins.iter().enumerate() {
            if !plugins.contains(plugin.as_str()) {
                return Err(invalid(
                    format!("route[{i}].plugins[{j}]"),
                    format!("no plugin is named {plugin:?}"),
                ));
            }
        }
    }
    for (i, endpoint) in config.endpoints.iter().enumerate() {
        let key = |k: &str| format!("endpoint[{i}].{k}");
        if !matches!(endpoint.url.scheme(), "http" | "https") {
            return Err(invalid(key("url"), "must be an http:// or https:// URL"));
        }
        if endpoint.url.scheme() == "http" && !config.server.targets.allow_http {
            return Err(invalid(
                key("url"),
                "plain http:// is refused; use https:// or set server.targets.allow_http",
            ));
        }
        if endpoint.max_in_flight == 0 {
            return Err(invalid(key("max_in_flight"), "must be at least 1"));
        }
        check_retry(&endpoint.retry, &key("retry"))?;
        if let EndpointSigning::StandardWebhooks { secrets } = &endpoint.signing {
            for (j, secret) in secrets.iter().enumerate() {
                whsec(secret.expose(), &key(&format!("signing.secrets[{j}]")))?;
            }
        }
    }
    Ok(())
}

fn unique_names<'a>(
    section: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>, Error> {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(invalid(
                format!("{section}[{i}].name"),
                format!(
                    "{name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"
                ),
            ));
        }
        if !seen.insert(name) {
            return Err(invalid(
                format!("{section}[{i}].name"),
                format!("{name:?} is used twice"),
            ));
        }
    }
    Ok(seen)
}

fn check_auth(auth: &SourceAuth, key: &str) -> Result<(), Error> {
    let empty = match auth {
        SourceAuth::None | SourceAuth::Basic { .. } => false,
        SourceAuth::Hmac { secrets, .. } => secrets.is_empty(),
        SourceAuth::StandardWebhooks { secrets } => {
            for (j, secret) in secrets.iter().enumerate() {
                whsec(secret.expose(), &format!("{key}.secrets[{j}]"))?;
            }
            secrets.is_empty()
        }
        SourceAuth::ApiKey { keys, .. } => keys.is_empty(),
        SourceAuth::Bearer { tokens } => tokens.is_empty(),
    };
    if empty {
        return Err(invalid(key, "needs at least one secret, key or token"));
    }
    Ok(())
}

fn whsec(text: &str, key: &str) -> Result<(), Error> {
    if !text.starts_with("whsec_") {
        return Err(invalid(
            key,
            "a Standard Webhooks secret starts with whsec_",
        ));
    }
    SigningSecret::parse(text)
        .map(|_| ())
        .map_err(|e| invalid(key, e.to_string()))
}

fn check_retry(retry: &RetryConfig, key: &str) -> Result<(), Error> {
    let exponential = retry.initial_delay.is_some()
        || retry.multiplier.is_some()
        || retry.max_delay.is_some()
        || retry.max_attempts.is_some();
    if retry.schedule.is_some() && exponential {
        return Err(invalid(
            key,
            "give either `schedule` or the exponential keys (initial_delay, multiplier, max_delay, max_attempts), not both",
        ));
    }
    if let Some(multiplier) = retry.multiplier
        && !(multiplier.is_finite() && multiplier >= 1.0)
    {
        return Err(invalid(
            format!("{key}.multiplier"),
            "must be a number of at least 1",
        ));
    }
    if retry.max_attempts == Some(0) {
        return Err(invalid(format!("{key}.max_attempts"), "must be at least 1"));
    }
    Ok(())
}
