//! Compiling a deployed component in a child process, so its compile has a
//! memory bound and a deadline that really stop it.
//!
//! The gateway runs its own executable as `hookgate compile-plugin` (a
//! hidden subcommand) with the engine's shape as arguments, the component
//! on stdin; the child builds the same engine, caps its data segment
//! (`RLIMIT_DATA`) at its start-up size plus the configured bound,
//! compiles, and writes the artifact to stdout. An allocation past the
//! bound fails in the child (it aborts, or wasmtime's mapping of code
//! fails); past the deadline the parent kills it. Either way only the
//! child dies, its memory goes back to the system at once, and the deploy
//! is refused with the reason. The parent deserializes the artifact with
//! its own engine (`cache::adopt`), which checks it was built for this
//! engine's configuration.
//!
//! Without a compiler executable (the library in tests, `plugin check` and
//! `plugin run`) a compile runs in-process, on a blocking thread.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use wasmtime::component::Component;

use super::{Error, Limits, MaxLimits, engine};

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "compile-plugin";

/// The child's exit code when the component does not compile (its reason
/// on stderr); any other failure is the child's own.
const NOT_COMPILED: u8 = 2;

/// Where deployed components are compiled.
#[derive(Debug, Clone)]
pub struct Compiler {
    /// This gateway's executable, run as `hookgate compile-plugin`.
    pub program: PathBuf,
    /// The most data memory a compile may use, in bytes.
    pub memory_bytes: u64,
}

/// What the child needs to build an engine identical to the gateway's: the
/// arguments of `engine::build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The default per-plugin memory.
    pub memory_bytes: usize,
    /// The most memory a deployment may ask for.
    pub max_memory_bytes: usize,
    /// The pool's slots.
    pub slots: u32,
}

impl Shape {
    /// The command-line arguments that carry it.
    fn args(&self) -> [String; 6] {
        [
            "--memory-bytes".into(),
            self.memory_bytes.to_string(),
            "--max-memory-bytes".into(),
            self.max_memory_bytes.to_string(),
            "--slots".into(),
            self.slots.to_string(),
        ]
    }

    fn engine(&self) -> Result<wasmtime::Engine, Error> {
        let limits = Limits {
            memory_bytes: self.memory_bytes,
            ..Limits::default()
        };
        let max = MaxLimits {
            memory_bytes: self.max_memory_bytes,
            ..MaxLimits::default()
        };
        engine::build(&limits, &max, self.slots)
    }
}

impl Compiler {
    /// Compiles `bytes` in a child process within `timeout`; the artifact.
    pub(super) async fn compile(
        &self,
        shape: Shape,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, Error> {
        let mut child = tokio::process::Command::new(&self.program)
            .arg(SUBCOMMAND)
            .args(shape.args())
            .arg("--compile-memory-bytes")
            .arg(self.memory_bytes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // mimalloc commits its arenas as it uses them, so the data
            // segment the bound caps is what the compile has written to
            // (by default it maps a 1 GiB arena writable at start).
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            // A compile past its deadline is dropped below, and with it
            // the child.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Error::Engine(format!(
                    "cannot start the compiler {}: {e}",
                    self.program.display()
                ))
            })?;
        let mut stdin = child.stdin.take();
        let feed = async {
            if let Some(stdin) = stdin.as_mut() {
                // A child that died early closes the pipe; its exit says why.
                let _ = stdin.write_all(bytes).await;
            }
            drop(stdin.take());
        };
        let run = async { tokio::join!(feed, child.wait_with_output()).1 };
        let output = tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| Error::CompileTimeout(timeout))?
            .map_err(|e| Error::Engine(format!("the compiler's pipes failed: {e}")))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr.trim();
        // Memory runs out as Rust's allocation failure (an abort) or as a
        // mapping wasmtime could not make (a compile error naming ENOMEM).
        if [
            "memory allocation of",
            "Cannot allocate memory",
            "out of memory",
        ]
        .iter()
        .any(|sign| said.contains(sign))
        {
            return Err(Error::CompileMemory(self.memory_bytes));
        }
        if output.status.code() == Some(i32::from(NOT_COMPILED)) {
            return Err(Error::Compile(said.to_owned()));
        }
        Err(Error::Compile(format!(
            "the compiler process failed ({}): {said}",
            output.status
        )))
    }
}

/// The child's side: reads a component from stdin, compiles it under a
/// data-memory bound of `compile_memory_bytes`, writes the artifact to
/// stdout.
pub fn run_child(shape: Shape, compile_memory_bytes: u64) -> ExitCode {
    match child(shape, compile_memory_bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Compile(why)) => {
            eprintln!("{why}");
            ExitCode::from(NOT_COMPILED)
        }
        Err(other) => {
            eprintln!("{other}");
            ExitCode::FAILURE
        }
    }
}

fn child(shape: Shape, compile_memory_bytes: u64) -> Result<(), Error> {
    let engine = shape.engine()?;
    // The bound is on what the compile adds to the compiler's start-up
    // (the engine, the runtime's own mappings: about 60 MB).
    let limit = data_segment_bytes()
        .unwrap_or(0)
        .saturating_add(compile_memory_bytes);
    let bound = rustix::process::Rlimit {
        current: Some(limit),
        maximum: Some(limit),
    };
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Engine(format!("cannot read the component: {e}")))?;
    rustix::process::setrlimit(rustix::process::Resource::Data, bound)
        .map_err(|e| Error::Engine(format!("cannot bound the compile's memory: {e}")))?;
    let component =
        Component::new(&engine, &bytes).map_err(|e| Error::Compile(format!("{e:#}")))?;
    let artifact = component
        .serialize()
        .map_err(|e| Error::Engine(format!("cannot serialise the compiled component: {e:#}")))?;
    std::io::stdout()
        .lock()
        .write_all(&artifact)
        .map_err(|e| Error::Engine(format!("cannot write the artifact: {e}")))
}

/// The process's data segment now (`VmData`, what `RLIMIT_DATA` caps), where
/// `/proc` tells.
fn data_segment_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmData:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
