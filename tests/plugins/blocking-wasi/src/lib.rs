//! Hostile: makes the WASI calls that block, chosen by the event type.
//!
//! - `print`: one line to stdout and one to stderr, as `println!` and the
//!   allocator's out-of-memory message do;
//! - `stdin`: reads standard input to its end;
//! - `clock`: reads the wall and monotonic clocks;
//! - `sleep`: sleeps 15 s, far past any time limit.
//!
//! Each passes the event on when it returns. The host must run all of them
//! on any thread without starting a runtime inside one, and cut the sleep
//! off at the time limit.

#![allow(clippy::print_stdout)]

use std::io::Read as _;
use std::time::{Duration, Instant, SystemTime};

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct BlockingWasi;

impl Plugin for BlockingWasi {
    fn handle(event: Event) -> Result<Outcome, Error> {
        match event.event_type() {
            "print" => {
                println!("printed to stdout by {}", event.id());
                eprintln!("printed to stderr");
            }
            "stdin" => {
                let mut input = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut input)
                    .map_err(|e| Error::failed(format!("stdin: {e}")))?;
            }
            "clock" => {
                let started = Instant::now();
                let wall = SystemTime::now();
                std::hint::black_box((started.elapsed(), wall));
            }
            "sleep" => std::thread::sleep(Duration::from_secs(15)),
            other => return Err(Error::invalid_event(format!("unknown case {other}"))),
        }
        Ok(Outcome::pass(event))
    }
}

export_plugin!(BlockingWasi);
