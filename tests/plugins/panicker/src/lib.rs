//! Hostile: panics, so the host must report the panic's message; or, for
//! events of type `abort`, aborts without a panic, a plain trap.

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct Panicker;

impl Plugin for Panicker {
    fn handle(event: Event) -> Result<Outcome, Error> {
        if event.event_type() == "abort" {
            std::process::abort();
        }
        if event.event_type() != "never" {
            panic!(
                "refusing event {} of type {}",
                event.id(),
                event.event_type()
            );
        }
        Ok(Outcome::pass(event))
    }
}

export_plugin!(Panicker);
