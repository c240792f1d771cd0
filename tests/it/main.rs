//! hookgate's integration tests: one binary, a shared harness, one module
//! per area. Plugins are the real components the build script compiled from
//! `plugins/` and `tests/plugins/`.

mod admin;
mod admin_plugins;
mod alerts;
mod attempts;
mod backlog;
mod batching;
mod claims;
mod cli;
mod cli_logs;
mod cluster;
mod cluster_kill;
mod cluster_protection;
mod connections;
mod console;
mod console_browser;
mod crash;
mod database_down;
mod delivery;
mod disk_full;
mod endpoint_chains;
mod harness;
mod hostile;
mod ingest;
mod languages;
mod network;
mod plugins;
mod pool;
mod process;
mod protection;
mod reprocess;
mod sandbox_serving;
mod schedules;
mod stats;
mod sync_hooks;
mod test_events;
mod tls;
