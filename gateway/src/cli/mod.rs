//! The `hookgate` command line: argument definitions and the subcommands that
//! are not the server.
//!
//! `main.rs` parses, starts tracing and dispatches here; each subcommand
//! returns the process exit code.

mod plugin;

use clap::{Parser, Subcommand};

pub use plugin::PluginCommand;

/// A WebAssembly-extensible webhook gateway.
#[derive(Debug, Parser)]
#[command(name = "hookgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with plugin components locally: check and run them.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> std::process::ExitCode {
    match cli.command {
        Command::Plugin(command) => plugin::run(command),
    }
}
