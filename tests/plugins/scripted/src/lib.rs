//! A test plugin whose behaviour its configuration scripts:
//!
//! - `log_lines=N`: logs N lines of 100 bytes at info level;
//! - `print=TEXT` / `eprint=TEXT`: writes TEXT to stdout / stderr;
//! - `deliver_to=NAME,..`: delivers to these endpoints (even unknown ones);
//! - `echo_config=true`: sets header `x-config` to the config entries and
//!   `x-endpoints` to the endpoint names it sees.
//!
//! Otherwise it passes the event on.

#![allow(
    clippy::print_stdout,
    reason = "writing to stdout is one of its scripted behaviours"
)]

use hookgate_sdk::{Error, Event, Outcome, Plugin, Target, config, endpoints, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct Scripted;

impl Plugin for Scripted {
    fn handle(mut event: Event) -> Result<Outcome, Error> {
        let lines = config::parse::<usize>("log_lines")?.unwrap_or(0);
        for i in 0..lines {
            hookgate_sdk::info!("line {i:05} {}", "x".repeat(89));
        }
        if let Some(text) = config::get("print") {
            println!("{text}");
        }
        if let Some(text) = config::get("eprint") {
            eprintln!("{text}");
        }
        if config::get("echo_config").as_deref() == Some("true") {
            let entries: Vec<String> = config::entries()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            event.set_header("x-config", entries.join(";"));
            let names: Vec<String> = endpoints().into_iter().map(|e| e.name).collect();
            event.set_header("x-endpoints", names.join(","));
        }
        let targets = config::list("deliver_to");
        if !targets.is_empty() {
            return Ok(Outcome::deliver(targets.into_iter().map(Target::new)));
        }
        Ok(Outcome::pass(event))
    }
}

export_plugin!(Scripted);
