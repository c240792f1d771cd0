//! The real `hookgate` binary as a child process, for tests that kill it
//! or measure it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A spawned gateway, killed when dropped, so a failing test leaves no
/// server running.
pub(crate) struct Server(Child);

impl Server {
    /// SIGKILL, and reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `hookgate serve` and returns it with its base URL, read from the
/// line it prints on start.
pub(crate) fn spawn(config: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate-it"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("reads");
    // Keep reading, so the child never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("hookgate listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Server(child), url)
}

impl Server {
    /// Resident memory now, in KiB, from /proc.
    pub(crate) fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("the gateway's VmRSS")
    }
}

/// The engine the suite runs on, for a config file: the one
/// `HOOKGATE_TEST_ENGINE` names, or the default.
pub(crate) fn engine() -> hookgate::store::Engine {
    named_engine().unwrap_or(hookgate::store::Engine::DEFAULT)
}

/// The engine `HOOKGATE_TEST_ENGINE` names, if it names one.
pub(crate) fn named_engine() -> Option<hookgate::store::Engine> {
    match std::env::var("HOOKGATE_TEST_ENGINE").as_deref() {
        Ok("sled") => Some(hookgate::store::Engine::Sled),
        Ok("fjall") => Some(hookgate::store::Engine::Fjall),
        Ok("postgres") => Some(hookgate::store::Engine::Postgres),
        Err(_) => None,
        Ok(other) => panic!("HOOKGATE_TEST_ENGINE={other}: expected sled, fjall or postgres"),
    }
}

/// The database a gateway on `postgres` uses: `HOOKGATE_TEST_DATABASE_URL`,
/// or the local server's `postgres` database.
pub(crate) fn test_database() -> String {
    std::env::var("HOOKGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The schema of its own that a gateway on `postgres` with its data
/// directory in `dir` keeps its tables in: the same for the same directory
/// (a restart finds its data), apart for every other, so tests run at once.
pub(crate) fn test_schema(dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    format!("it_{}", hex::encode(&digest[..10]))
}

/// Opens, after a run, the store of the gateway whose config
/// [`write_config`] wrote in `dir` for `engine`.
pub(crate) async fn open_store(
    dir: &Path,
    engine: hookgate::store::Engine,
) -> std::sync::Arc<dyn hookgate::store::Backend> {
    let postgres = hookgate::store::PostgresOptions {
        url: test_database(),
        schema: Some(test_schema(dir)),
        pool_size: 2,
        connect_timeout: std::time::Duration::from_secs(5),
    };
    hookgate::store::open_configured(Some(engine), &dir.join("data"), Some(&postgres))
        .await
        .expect("the store opens after the run")
        .1
}

/// The `[storage]` table's keys for `engine`, with data under `dir`.
fn storage_keys(dir: &Path, engine: hookgate::store::Engine) -> String {
    match engine {
        hookgate::store::Engine::Postgres => format!(
            "engine = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\n",
            test_database(),
            test_schema(dir)
        ),
        embedded => format!("engine = \"{embedded}\"\n"),
    }
}

/// Writes `hookgate.toml` in `dir` for a gateway on `127.0.0.1:0` with its
/// data in `dir/data` on `engine`, delivering to loopback over plain HTTP,
/// with `rest` (sources, endpoints) after; returns its path.
pub(crate) fn write_config(dir: &Path, engine: hookgate::store::Engine, rest: &str) -> PathBuf {
    let config = dir.join("hookgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[server.targets]
allow_http = true
allow_loopback = true

[storage]
{storage}
{rest}
"#,
            data = dir.join("data").display(),
            storage = storage_keys(dir, engine),
        ),
    )
    .expect("writes the config");
    config
}
