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
    match std::env::var("HOOKGATE_TEST_ENGINE").as_deref() {
        Ok("sled") => hookgate::store::Engine::Sled,
        Ok("fjall") | Err(_) => hookgate::store::Engine::DEFAULT,
        Ok(other) => panic!("HOOKGATE_TEST_ENGINE={other}: expected sled or fjall"),
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
engine = "{engine}"

{rest}
"#,
            data = dir.join("data").display(),
        ),
    )
    .expect("writes the config");
    config
}
