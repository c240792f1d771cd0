//! Checks that span keys or sections: unique names, references that must
//! exist, values that must be in range. Each error names the key.
//!
//! The per-object checks ([`source`], [`endpoint`], [`name`]) are shared with
//! the management API, which reports the same failures as 400s naming the
//! field.

use std::collections::HashSet;

use super::{
    Config, EndpointConfig, EndpointSigning, Error, RetryConfig, SourceAuth, SourceConfig,
};
use crate::signing::SigningSecret;
use crate::targets::TargetPolicy;

/// The least memory a compile may be given.
const MIN_COMPILE_MEMORY: u64 = 64 << 20;

/// The most attempts to one endpoint in flight at once.
const MAX_IN_FLIGHT: usize = 10_000;
/// Events in one batched request at most.
const MAX_BATCH: usize = 1000;
/// The longest per-attempt timeout.
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// A value that fails a check: the field, relative to its object (`url`,
/// `retry.multiplier`), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// `error` as a config error under `prefix` (`endpoint[2]`).
fn under(prefix: &str, error: Invalid) -> Error {
    invalid(format!("{prefix}.{}", error.field), error.message)
}

/// Runs every check; the first failure is returned.
pub(super) fn check(config: &Config) -> Result<(), Error> {
    if config.plugin_host.pool_size == 0 {
        return Err(invalid("plugin_host.pool_size", "must be at least 1"));
    }
    if config.plugin_host.compile_memory_bytes < MIN_COMPILE_MEMORY {
        return Err(invalid(
            "plugin_host.compile_memory_bytes",
            "must be at least 67108864 (64 MiB): the compiler's own engine and the component need that much before compiling starts",
        ));
    }
    if config.server.lease_margin.is_zero() {
        return Err(invalid("server.lease_margin", "must be longer than zero"));
    }
    if config.server.pipeline_lease < std::time::Duration::from_secs(1) {
        return Err(invalid(
            "server.pipeline_lease",
            "must be at least 1s (longer than the slowest plugin chain takes)",
        ));
    }
    if let Some(node) = &config.server.node_id {
        name(node).map_err(|e| invalid("server.node_id", e.message))?;
    }
    let sources = unique_names("source", config.sources.iter().map(|s| s.name.as_str()))?;
    let plugins = unique_names("plugin", config.plugins.iter().map(|p| p.name.as_str()))?;
    let endpoints = unique_names("endpoint", config.endpoints.iter().map(|e| e.name.as_str()))?;

    for (i, s) in config.sources.iter().enumerate() {
        source(s).map_err(|e| under(&format!("source[{i}]"), e))?;
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
    for (i, e) in config.endpoints.iter().enumerate() {
        endpoint(e, config.server.targets).map_err(|e| under(&format!("endpoint[{i}]"), e))?;
        for (j, plugin) in e.plugins.iter().enumerate() {
            if !plugins.contains(plugin.as_str()) {
                return Err(invalid(
                    format!("endpoint[{i}].plugins[{j}]"),
                    format!("no plugin is named {plugin:?}"),
                ));
            }
        }
    }
    if let Some(operator) = &config.admin.operator_endpoint
        && !endpoints.contains(operator.as_str())
    {
        return Err(invalid(
            "admin.operator_endpoint",
            format!("no endpoint is named {operator:?}"),
        ));
    }
    if config.retention.interval.is_zero() {
        return Err(invalid("retention.interval", "must be longer than zero"));
    }
    storage(&config.storage)
}

/// PostgreSQL's settings go with `engine = "postgres"`, and it needs a URL.
fn storage(storage: &super::StorageConfig) -> Result<(), Error> {
    let postgres = storage.engine == Some(crate::store::Engine::Postgres);
    if postgres && storage.url.is_none() {
        return Err(invalid(
            "storage.url",
            "engine = \"postgres\" needs the database, as postgres://user@host:5432/database",
        ));
    }
    if !postgres && (storage.url.is_some() || storage.schema.is_some()) {
        return Err(invalid(
            "storage.url",
            "url and schema are settings of engine = \"postgres\"; set it, or remove them",
        ));
    }
    if storage.pool_size < 2 {
        return Err(invalid("storage.pool_size", "must be at least 2"));
    }
    if storage.connect_timeout.is_zero() {
        return Err(invalid(
            "storage.connect_timeout",
            "must be longer than zero",
        ));
    }
    if let Some(options) = storage.postgres() {
        options
            .check()
            .map_err(|e| invalid("storage", e.to_string()))?;
    }
    Ok(())
}

/// An object's name: non-empty, letters, digits, `-`, `_` and `.`.
pub fn name(name: &str) -> Result<(), Invalid> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(bad(
            "name",
            format!("{name:?} must be 1 to 128 characters of letters, digits, '-', '_' and '.'"),
        ))
    }
}

fn unique_names<'a>(
    section: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>, Error> {
    let mut seen = HashSet::new();
    for (i, n) in names.enumerate() {
        name(n).map_err(|e| under(&format!("{section}[{i}]"), e))?;
        if !seen.insert(n) {
            return Err(invalid(
                format!("{section}[{i}].name"),
                format!("{n:?} is used twice"),
            ));
        }
    }
    Ok(seen)
}

/// One source on its own.
pub fn source(source: &SourceConfig) -> Result<(), Invalid> {
    name(&source.name)?;
    if source.max_body_bytes == 0 {
        return Err(bad("max_body_bytes", "must be at least 1"));
    }
    if let Some(rate) = source.rate_limit
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(bad(
            "rate_limit",
            "must be a number of requests per second above 0",
        ));
    }
    if source.response_timeout.is_zero() || source.response_timeout > MAX_TIMEOUT {
        return Err(bad(
            "response_timeout",
            "must be longer than zero and at most 1h",
        ));
    }
    for (i, header) in source.response_headers.iter().enumerate() {
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(bad(
                format!("response_headers[{i}]"),
                format!("{header:?} is not an HTTP header name"),
            ));
        }
    }
    check_auth(&source.auth)
}

/// One endpoint on its own, under the server's target rules.
pub fn endpoint(endpoint: &EndpointConfig, targets: TargetPolicy) -> Result<(), Invalid> {
    name(&endpoint.name)?;
    if !matches!(endpoint.url.scheme(), "http" | "https") {
        return Err(bad("url", "must be an http:// or https:// URL"));
    }
    if endpoint.url.scheme() == "http" && !targets.allow_http {
        return Err(bad(
            "url",
            "plain http:// is refused; use https:// or set server.targets.allow_http",
        ));
    }
    if crate::targets::has_credentials(&endpoint.url) {
        return Err(bad("url", crate::targets::CREDENTIALS_REFUSED));
    }
    // A literal address is refused now rather than dead-lettered later; a
    // host name is checked when it is resolved, at every attempt.
    if let Err(refused @ crate::targets::TargetError::Forbidden { .. }) =
        crate::targets::check_url(endpoint.url.as_str(), targets)
    {
        return Err(bad("url", refused.to_string()));
    }
    if !(1..=MAX_IN_FLIGHT).contains(&endpoint.max_in_flight) {
        return Err(bad(
            "max_in_flight",
            format!("must be between 1 and {MAX_IN_FLIGHT}"),
        ));
    }
    if endpoint.timeout.is_zero() || endpoint.timeout > MAX_TIMEOUT {
        return Err(bad("timeout", "must be longer than zero and at most 1h"));
    }
    if let Some(rate) = endpoint.rate_limit
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(bad(
            "rate_limit",
            "must be a number of deliveries per second above 0",
        ));
    }
    let breaker = &endpoint.circuit_breaker;
    if breaker.failures > 0 && breaker.probe_interval.is_zero() {
        return Err(bad(
            "circuit_breaker.probe_interval",
            "must be longer than zero",
        ));
    }
    if let Some(filter) = &endpoint.filter {
        filter.check("filter")?;
    }
    if let Some(alert) = &endpoint.failure_alert {
        if !(alert.rate > 0.0 && alert.rate <= 1.0) {
            return Err(bad(
                "failure_alert.rate",
                "must be a share of attempts above 0 and at most 1, e.g. 0.5",
            ));
        }
        if alert.window < std::time::Duration::from_secs(1) {
            return Err(bad("failure_alert.window", "must be at least 1s"));
        }
        if !(1..=1_000_000).contains(&alert.min_attempts) {
            return Err(bad(
                "failure_alert.min_attempts",
                "must be between 1 and 1000000",
            ));
        }
    }
    if let Some(batch) = &endpoint.batch {
        if !(1..=MAX_BATCH).contains(&batch.max_events) {
            return Err(bad(
                "batch.max_events",
                format!("must be between 1 and {MAX_BATCH}"),
            ));
        }
        if batch.max_wait > MAX_TIMEOUT {
            return Err(bad("batch.max_wait", "must be at most 1h"));
        }
    }
    check_retry(&endpoint.retry)?;
    if let EndpointSigning::StandardWebhooks { secrets, retiring } = &endpoint.signing {
        for (j, secret) in secrets.iter().enumerate() {
            whsec(secret.expose(), &format!("signing.secrets[{j}]"))?;
        }
        for (j, old) in retiring.iter().enumerate() {
            whsec(
                old.secret.expose(),
                &format!("signing.retiring[{j}].secret"),
            )?;
        }
    }
    if let EndpointSigning::Hmac {
        header,
        secret,
        id_header,
        ..
    } = &endpoint.signing
    {
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(bad(
                "signing.header",
                format!("{header:?} is not a header name"),
            ));
        }
        if http::HeaderName::from_bytes(id_header.as_bytes()).is_err() {
            return Err(bad(
                "signing.id_header",
                format!("{id_header:?} is not a header name"),
            ));
        }
        if id_header.eq_ignore_ascii_case(header) {
            return Err(bad(
                "signing.id_header",
                "must differ from signing.header, which carries the signature",
            ));
        }
        key(secret.expose(), "signing.secret")?;
    }
    for header in endpoint.headers.keys() {
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(bad("headers", format!("{header:?} is not a header name")));
        }
    }
    Ok(())
}

fn check_auth(auth: &SourceAuth) -> Result<(), Invalid> {
    let empty = match auth {
        SourceAuth::None | SourceAuth::Basic { .. } => false,
        SourceAuth::Hmac { secrets, .. } => {
            for (j, secret) in secrets.iter().enumerate() {
                key(secret.expose(), &format!("auth.secrets[{j}]"))?;
            }
            secrets.is_empty()
        }
        SourceAuth::StandardWebhooks { secrets } => {
            for (j, secret) in secrets.iter().enumerate() {
                whsec(secret.expose(), &format!("auth.secrets[{j}]"))?;
            }
            secrets.is_empty()
        }
        SourceAuth::ApiKey { keys, .. } => keys.is_empty(),
        SourceAuth::Bearer { tokens } => tokens.is_empty(),
    };
    if empty {
        return Err(bad("auth", "needs at least one secret, key or token"));
    }
    Ok(())
}

/// An HMAC key: raw text, or `whsec_` and base64; not empty.
fn key(text: &str, field: &str) -> Result<(), Invalid> {
    SigningSecret::parse(text)
        .map(|_| ())
        .map_err(|e| bad(field, e.to_string()))
}

fn whsec(text: &str, field: &str) -> Result<(), Invalid> {
    if !text.starts_with("whsec_") {
        return Err(bad(field, "a Standard Webhooks secret starts with whsec_"));
    }
    SigningSecret::parse(text)
        .map(|_| ())
        .map_err(|e| bad(field, e.to_string()))
}

fn check_retry(retry: &RetryConfig) -> Result<(), Invalid> {
    let exponential = retry.initial_delay.is_some()
        || retry.multiplier.is_some()
        || retry.max_delay.is_some()
        || retry.max_attempts.is_some();
    if retry.schedule.is_some() && exponential {
        return Err(bad(
            "retry",
            "give either `schedule` or the exponential keys (initial_delay, multiplier, max_delay, max_attempts), not both",
        ));
    }
    if let Some(multiplier) = retry.multiplier
        && !(multiplier.is_finite() && multiplier >= 1.0)
    {
        return Err(bad("retry.multiplier", "must be a number of at least 1"));
    }
    if retry.max_attempts == Some(0) {
        return Err(bad("retry.max_attempts", "must be at least 1"));
    }
    if retry.schedule.as_ref().is_some_and(Vec::is_empty) {
        return Err(bad(
            "retry.schedule",
            "give at least one delay; for no retries at all write `max_attempts = 1`",
        ));
    }
    Ok(())
}
