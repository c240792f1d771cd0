//! `hookgate serve`: load the config, start tracing, bind, and run the
//! gateway until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, LogFormat};

/// Arguments of `hookgate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file (TOML). Without one, the built-in defaults: listen on
    /// 127.0.0.1:8080, store in ./hookgate-data, one open source `default`.
    #[arg(long, env = "HOOKGATE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Runs the server; returns the exit code.
pub(super) fn run(args: ServeArgs) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::defaults()?,
    };
    // Deployed components compile in a child process of this executable,
    // bounded in memory and killed at their deadline.
    config.plugin_host.compiler = Some(
        std::env::current_exe().context("cannot find this executable to compile plugins with")?,
    );
    super::init_tracing(config.server.log_format == LogFormat::Json, "info");
    // What the gateway writes (the store, the plugin cache) holds secrets:
    // created 0600/0700, whatever the shell's umask.
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
    let descriptors = crate::server::raise_descriptor_limit();
    if descriptors.is_some_and(|n| n < config.server.max_connections as u64 + 256) {
        tracing::warn!(
            ?descriptors,
            max_connections = config.server.max_connections,
            "the open-file limit is below server.max_connections plus the store's files; raise it (ulimit -n)"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let sources: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
        tracing::info!(%addr, data_dir = %config.server.data_dir.display(), "hookgate listening");
        announce(addr, &sources);
        crate::server::run(config, listener, shutdown).await?;
        tracing::info!("hookgate stopped");
        Ok(())
    })
}

/// Tells the user where to post. A closed stdout must not stop a server, so
/// write errors are ignored rather than panicking as `println!` would.
fn announce(addr: std::net::SocketAddr, sources: &[String]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "hookgate listening on http://{addr}");
    for source in sources {
        let _ = writeln!(out, "  post events to http://{addr}/v1/ingest/{source}");
    }
    let _ = out.flush();
}

/// Fires `shutdown` on SIGTERM or Ctrl-C.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C still stops");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// `hookgate compile-plugin` (hidden): what a serving gateway runs to
/// compile a deployed component in a child process (`plugin/compiler.rs`).
#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// The engine's default per-plugin memory.
    #[arg(long)]
    memory_bytes: usize,
    /// The most memory a deployment may ask for.
    #[arg(long)]
    max_memory_bytes: usize,
    /// The pool's slots.
    #[arg(long)]
    slots: u32,
    /// The bound on the compile's memory.
    #[arg(long)]
    compile_memory_bytes: u64,
}

/// Compiles the component on stdin to the artifact on stdout.
pub(super) fn compile(args: CompileArgs) -> ExitCode {
    let shape = crate::plugin::compiler::Shape {
        memory_bytes: args.memory_bytes,
        max_memory_bytes: args.max_memory_bytes,
        slots: args.slots,
    };
    crate::plugin::compiler::run_child(shape, args.compile_memory_bytes)
}
