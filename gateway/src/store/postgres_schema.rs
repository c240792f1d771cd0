//! Reaching PostgreSQL: the connection settings, the pool, and the
//! schema's versioned migrations.
//!
//! Migrations are the SQL files under `postgres_migrations/`, applied in
//! order at open, each in its own transaction, under an advisory lock on
//! the schema's name: several nodes starting at once take turns, and each
//! finds the work done by the first. A database whose schema is newer than
//! this build knows is refused: an older node must not write to tables it
//! does not understand (upgrade it, or roll the database back).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::Error;
use super::postgres_rows::pg_error;

/// The migrations, in order: version and SQL.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("postgres_migrations/0001_initial.sql")),
    (
        2,
        include_str!("postgres_migrations/0002_cluster_protection.sql"),
    ),
    (
        3,
        include_str!("postgres_migrations/0003_skipped_deliveries.sql"),
    ),
    (4, include_str!("postgres_migrations/0004_plugin_steps.sql")),
    (
        5,
        include_str!("postgres_migrations/0005_idempotency_keys.sql"),
    ),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Where and how to reach the database (`[storage]` with `engine =
/// "postgres"`).
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`; a secret (it may
    /// hold a password), never logged.
    pub url: String,
    /// The schema hookgate's tables live in; `None` is `public`. Several
    /// gateways (or test runs) may share a database with one each.
    pub schema: Option<String>,
    /// Connections per node.
    pub pool_size: usize,
    /// How long to wait for a connection (to open one, or for one of the
    /// pool's to come free) before a request fails with 503.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &"***")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PostgresOptions {
    /// The schema's name, `public` unless set.
    pub fn schema_name(&self) -> &str {
        self.schema.as_deref().unwrap_or("public")
    }

    /// Whether the URL parses and the schema is a plain name.
    pub fn check(&self) -> Result<(), Error> {
        self.driver_config().map(drop)
    }

    /// The driver's settings: the URL's, with the schema as the search
    /// path and commits durable (`synchronous_commit`), whatever the
    /// server's default.
    pub(super) fn driver_config(&self) -> Result<tokio_postgres::Config, Error> {
        check_schema_name(self.schema_name())?;
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|e| Error::Config {
            what: "storage.url",
            why: format!("{e}"),
        })?;
        let schema = self.schema_name();
        config.options(format!("-c search_path={schema} -c synchronous_commit=on"));
        config.connect_timeout(self.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("hookgate");
        }
        Ok(config)
    }
}

/// A schema name is an SQL identifier written into statements, so only
/// a plain one is taken.
fn check_schema_name(name: &str) -> Result<(), Error> {
    let plain = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(())
    } else {
        Err(Error::Config {
            what: "storage.schema",
            why: format!(
                "{name:?} is not a plain schema name (lowercase letters, digits and _, \
                 not starting with a digit, at most 63)"
            ),
        })
    }
}

/// The node's pool of connections. Opening it connects nothing: the first
/// use does.
pub(super) fn pool(options: &PostgresOptions) -> Result<Pool, Error> {
    let manager = Manager::from_config(
        options.driver_config()?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(options.pool_size.max(2))
        .wait_timeout(Some(options.connect_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| Error::Config {
            what: "storage",
            why: e.to_string(),
        })
}

/// Brings the schema up to [`SCHEMA_VERSION`], on a connection of its own
/// (the advisory lock is the session's, so it ends with it whatever
/// happens). Returns the version found before.
pub(super) async fn migrate(options: &PostgresOptions) -> Result<i32, Error> {
    let (mut client, connection) = options
        .driver_config()?
        .connect(NoTls)
        .await
        .map_err(pg_error)?;
    let driver = tokio::spawn(connection);
    let result = migrate_on(&mut client, options.schema_name()).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn migrate_on(client: &mut tokio_postgres::Client, schema: &str) -> Result<i32, Error> {
    let lock = format!("hookgate.schema.{schema}");
    client
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&lock])
        .await
        .map_err(pg_error)?;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.hookgate_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );"
        ))
        .await
        .map_err(pg_error)?;
    let found: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM hookgate_migrations",
            &[],
        )
        .await
        .map_err(pg_error)?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found: found.into(),
            known: SCHEMA_VERSION.into(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.batch_execute(sql).await.map_err(pg_error)?;
        tx.execute(
            "INSERT INTO hookgate_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        tracing::info!(version, schema, "database schema migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_schema_names_are_taken() {
        for good in ["public", "hookgate", "t_1f3a", "_x"] {
            assert!(check_schema_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Public", "a-b", "a;drop", "1abc", &"x".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_versions_run_in_order_from_one() {
        for (i, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(usize::try_from(*version).expect("positive"), i + 1);
        }
    }
}
