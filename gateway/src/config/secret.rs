//! Secrets in configuration: written inline or taken from an environment
//! variable, and never printed: `Debug` and `Serialize` (what the management
//! API answers with) both show `***`.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;

/// A secret string. `Debug` prints `***`, so it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret from text (for values built from other secrets).
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How a secret is written in the file: `"literal"` or `{ env = "NAME" }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Literal(String),
    Env {
        /// The environment variable holding the secret.
        env: String,
    },
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Raw::deserialize(deserializer)? {
            Raw::Literal(text) if text.is_empty() => {
                Err(serde::de::Error::custom("a secret cannot be empty"))
            }
            Raw::Literal(text) => Ok(Self(text)),
            Raw::Env { .. } if ENV_REFUSED.get() => Err(serde::de::Error::custom(
                "an environment reference ({\"env\": ...}) is accepted only in the config file; \
                 give the value itself",
            )),
            Raw::Env { env } => match std::env::var(&env) {
                Ok(text) if !text.is_empty() => Ok(Self(text)),
                _ => Err(serde::de::Error::custom(format!(
                    "environment variable {env} is not set (or empty)"
                ))),
            },
        }
    }
}

thread_local! {
    /// Set while an object from the management API is parsed: there an
    /// `{ env = "NAME" }` would let anyone with the admin token read the
    /// gateway's environment.
    static ENV_REFUSED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `parse` with environment references refused: for objects that come
/// from the management API rather than the config file.
pub(crate) fn refusing_env<T>(parse: impl FnOnce() -> T) -> T {
    /// Puts the flag back however `parse` ends, a panic included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ENV_REFUSED.set(self.0);
        }
    }
    let _restore = Restore(ENV_REFUSED.replace(true));
    parse()
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// What a secret looks like in any output.
pub(crate) const REDACTED: &str = "***";

impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .description(Some(
                "A secret: the value itself (`{\"env\": \"NAME\"}`, which reads an environment \
                 variable, is accepted in the config file only). Always answered as `***`.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Secret {}
