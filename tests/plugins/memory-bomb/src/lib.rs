//! Hostile: allocates 1 MiB blocks until allocation fails. The host must
//! refuse the growth at the memory limit and report it as such.

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct MemoryBomb;

impl Plugin for MemoryBomb {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            if hoard.len() == usize::MAX {
                return Ok(Outcome::pass(event));
            }
        }
    }
}

export_plugin!(MemoryBomb);
