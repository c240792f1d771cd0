//! Hostile: returns an 11 MiB body, past the default 10 MiB output limit.

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct OversizedOutput;

/// Bytes returned: 11 MiB.
pub const SIZE: usize = 11 << 20;

impl Plugin for OversizedOutput {
    fn handle(mut event: Event) -> Result<Outcome, Error> {
        event.set_body(vec![b'x'; SIZE]);
        Ok(Outcome::pass(event))
    }
}

export_plugin!(OversizedOutput);
