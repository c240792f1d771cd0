//! The `hookgate` binary: parses the command line and hands over to
//! [`hookgate::cli::run`], which loads config, starts tracing and runs.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    hookgate::cli::run(hookgate::cli::Cli::parse())
}
