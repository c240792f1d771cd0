//! A test plugin whose behaviour its configuration scripts:
//!
//! - `log_lines=N`: logs N lines of 100 bytes at info level;
//! - `print=TEXT` / `eprint=TEXT`: writes TEXT to stdout / stderr;
//! - `deliver_to=NAME,..`: delivers to these endpoints (even unknown ones);
//! - `echo_config=true`: sets header `x-config` to the config entries and
//!   `x-endpoints` to the endpoint names it sees;
//! - `stamp=TEXT`: appends TEXT to the body's JSON array `stamps` (created
//!   if missing), so a receiver can tell which versions of which plugins an
//!   event went through;
//! - `respond=STATUS`: answers the caller itself with that status and a
//!   JSON body `{"answered_by": "scripted", "received": <the event's body>,
//!   "headers": <the names of the event's headers>}`, with header
//!   `x-scripted: yes`.
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
        if let Some(text) = config::get("stamp") {
            let mut body: serde_json::Value = event.json()?;
            let Some(object) = body.as_object_mut() else {
                return Err(Error::invalid_event("stamp needs a JSON object body"));
            };
            let stamps = object
                .entry("stamps")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let Some(list) = stamps.as_array_mut() {
                list.push(serde_json::Value::String(text));
            }
            event.set_json(&body)?;
        }
        if let Some(status) = config::parse::<u16>("respond")? {
            let received: serde_json::Value = event.json()?;
            let headers: Vec<&str> = event.headers().iter().map(|(n, _)| n.as_str()).collect();
            let body = serde_json::json!({
                "answered_by": "scripted",
                "received": received,
                "headers": headers,
            });
            let body = serde_json::to_vec(&body)
                .map_err(|e| Error::failed(format!("cannot serialise the answer: {e}")))?;
            return Ok(Outcome::respond(
                status,
                [
                    ("content-type".to_owned(), "application/json".to_owned()),
                    ("x-scripted".to_owned(), "yes".to_owned()),
                ],
                body,
            ));
        }
        let targets = config::list("deliver_to");
        if !targets.is_empty() {
            return Ok(Outcome::deliver(targets.into_iter().map(Target::new)));
        }
        Ok(Outcome::pass(event))
    }
}

export_plugin!(Scripted);
