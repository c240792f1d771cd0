//! A plugin that passes every event on unchanged: the cheapest possible
//! invocation, used as the benchmark's baseline and as the "a normal plugin
//! still runs" check after hostile ones.

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct Noop;

impl Plugin for Noop {
    fn handle(event: Event) -> Result<Outcome, Error> {
        Ok(Outcome::pass(event))
    }
}

export_plugin!(Noop);
