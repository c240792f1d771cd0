//! Configuration: the embedded defaults (`defaults.toml`), the user's TOML
//! file laid over them, secrets from environment variables, and validation
//! that names the offending key.
//!
//! What this is not: live state. The file's sources, endpoints, plugins and
//! routes seed the registry at start (see `crate::registry`); the management
//! API changes the rest at run time in the store.

mod filter;
mod schema;
pub(crate) mod secret;
mod types;
pub mod validate;

use std::path::{Path, PathBuf};

pub use filter::Filter;
pub use secret::Secret;
pub use types::{
    AdminConfig, BatchConfig, BreakerConfig, Config, EndpointConfig, EndpointSigning, Extract,
    FailureAlert, HumanDuration, LogFormat, PluginConfig, PluginHostConfig, PreviousSecret,
    RetentionConfig, RetiringSecret, RetryConfig, RouteConfig, ServerConfig, SourceAuth,
    SourceConfig, SourceMode, StorageConfig, TlsConfig,
};

/// The built-in defaults, commented.
pub const DEFAULTS: &str = include_str!("defaults.toml");

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema (unknown key,
    /// wrong type); the message names the key and position.
    #[error("{origin}: {message}")]
    Parse {
        /// The file, or "built-in defaults".
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or refers to something that does not exist.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The key, for example `endpoint[1].url`.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl Config {
    /// The built-in defaults alone.
    pub fn defaults() -> Result<Self, Error> {
        Self::from_layers(None, Path::new("."))
    }

    /// The defaults with the file at `path` laid over them. Relative plugin
    /// paths are resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_layers(Some((&path.display().to_string(), &text)), base)
    }

    /// The defaults with `text` (from `origin`) laid over them.
    pub fn from_toml(origin: &str, text: &str, base: &Path) -> Result<Self, Error> {
        Self::from_layers(Some((origin, text)), base)
    }

    fn from_layers(user: Option<(&str, &str)>, base: &Path) -> Result<Self, Error> {
        let parse = |origin: &str, text: &str| {
            text.parse::<toml::Table>().map_err(|e| Error::Parse {
                origin: origin.to_owned(),
                message: e.to_string(),
            })
        };
        let mut merged = parse("built-in defaults", DEFAULTS)?;
        let mut origin = "built-in defaults".to_owned();
        if let Some((name, text)) = user {
            merge(&mut merged, parse(name, text)?);
            origin = name.to_owned();
        }
        let mut config: Config =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| Error::Parse {
                    origin,
                    message: e.to_string(),
                })?;
        for plugin in &mut config.plugins {
            if plugin.file.is_relative() {
                plugin.file = base.join(&plugin.file);
            }
        }
        if let Some(tls) = &mut config.server.tls {
            for file in [&mut tls.cert, &mut tls.key] {
                if file.is_relative() {
                    *file = base.join(&*file);
                }
            }
        }
        validate::check(&config)?;
        Ok(config)
    }
}

/// Lays `over` on `base`: tables merge key by key, anything else (values and
/// arrays, including arrays of tables) replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
#[cfg(test)]
mod tests;
