//! Hostile: loops forever. The host must stop it at the wall-time limit.

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct InfiniteLoop;

impl Plugin for InfiniteLoop {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let mut spins: u64 = 0;
        loop {
            spins = std::hint::black_box(spins.wrapping_add(1));
            if spins == 0 {
                return Ok(Outcome::pass(event));
            }
        }
    }
}

export_plugin!(InfiniteLoop);
