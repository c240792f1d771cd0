//! For tests: a store of any engine at a place named by a directory. For
//! PostgreSQL the directory names a schema of its own in the test database
//! (`HOOKGATE_TEST_DATABASE_URL`, by default the local server's `postgres`
//! database), so reopening the same directory reconnects to the same data,
//! and tests running at once keep apart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Backend, Engine, PostgresOptions, PostgresStore};

/// The test database, unless `HOOKGATE_TEST_DATABASE_URL` names another.
pub(crate) const DEFAULT_TEST_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The options of the schema `dir` stands for.
pub(crate) fn postgres_options(dir: &Path) -> PostgresOptions {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    PostgresOptions {
        url: std::env::var("HOOKGATE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_DATABASE.to_owned()),
        schema: Some(format!("t_{}", hex::encode(&digest[..10]))),
        pool_size: 8,
        connect_timeout: Duration::from_secs(10),
    }
}

/// Opens `engine`'s store at the place `dir` names.
pub(crate) async fn open(engine: Engine, dir: &Path) -> Arc<dyn Backend> {
    match engine {
        Engine::Postgres => Arc::new(
            PostgresStore::open(&postgres_options(dir))
                .await
                .unwrap_or_else(|e| panic!("postgres opens (is the test database up?): {e}")),
        ),
        embedded => embedded
            .open(dir)
            .unwrap_or_else(|e| panic!("{embedded} opens {}: {e}", dir.display())),
    }
}

/// Each test runs once per engine, in a module named for it.
macro_rules! for_each_engine {
    ($($test:ident),* $(,)?) => {
        mod sled {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Engine::Sled).await;
            })*
        }
        mod fjall {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Engine::Fjall).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Engine::Postgres).await;
            })*
        }
    };
}

pub(crate) use for_each_engine;
