//! The `hookgate` binary: parses the command line and hands over to
//! [`hookgate::cli::run`], which loads config, starts tracing and runs.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: under load the gateway spent a
/// sixth of its CPU in glibc's malloc and free (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    hookgate::cli::run(hookgate::cli::Cli::parse())
}
