//! The `hookgate` command line: argument definitions and the subcommands that
//! are not the server.
//!
//! `main.rs` parses and dispatches here; each subcommand starts tracing as
//! it needs (the server in the format its config says) and returns the
//! process exit code. The local commands (`plugin.rs`, `serve.rs`) and the
//! ones that talk to a running gateway (`remote.rs`) do not use each other;
//! what they share is in `args.rs`.

mod args;
mod logs;
mod plugin;
mod remote;
mod serve;
mod tail;

use clap::{Parser, Subcommand};

pub use logs::{DeadLetterCommand, DeliveriesCommand};
pub use plugin::LocalCommand;
pub use remote::{DeployArgs, EndpointsCommand, MessagesCommand, Remote, ReplayArgs};
pub use serve::{CompileArgs, ServeArgs};

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
    /// Run the gateway.
    Serve(ServeArgs),
    /// Work with plugin components: check and run them locally, deploy them
    /// to a running gateway.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// A running gateway's endpoints.
    #[command(subcommand)]
    Endpoints(EndpointsCommand),
    /// A running gateway's messages.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// A running gateway's delivery log.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// A running gateway's dead letter.
    #[command(subcommand, name = "dead-letter")]
    DeadLetter(DeadLetterCommand),
    /// Send a delivery again, or recover an endpoint's failed deliveries.
    Replay(ReplayArgs),
    /// Compile a component from stdin for a serving gateway (internal).
    #[command(name = "compile-plugin", hide = true)]
    CompilePlugin(CompileArgs),
}

/// `hookgate plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Checking and running a component here.
    #[command(flatten)]
    Local(LocalCommand),
    /// Deploy a component to a running gateway as the plugin's next version.
    Deploy(DeployArgs),
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> std::process::ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Plugin(PluginCommand::Local(command)) => {
            init_tracing(false, "warn");
            plugin::run(command)
        }
        Command::Plugin(PluginCommand::Deploy(args)) => remote::run(remote::deploy(args)),
        Command::Endpoints(command) => remote::run(remote::endpoints(command)),
        Command::Messages(command) => remote::run(remote::messages(command)),
        Command::Deliveries(command) => remote::run(logs::deliveries(command)),
        Command::DeadLetter(command) => remote::run(logs::dead_letter(command)),
        Command::Replay(args) => remote::run(remote::replay(args)),
        Command::CompilePlugin(args) => serve::compile(args),
    }
}

/// Starts logging to stderr, filtered by `RUST_LOG` (else `default`), as
/// text or JSON lines.
fn init_tracing(json: bool, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    // Colours only for a person at a terminal, never into a file or a pipe.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
