//! Hostile: opens a TCP connection, which makes the component import
//! `wasi:sockets`. The host must refuse it at load time.

use hookgate_sdk::{Error, Event, Outcome, Plugin, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct SocketImport;

impl Plugin for SocketImport {
    fn handle(event: Event) -> Result<Outcome, Error> {
        match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => Ok(Outcome::drop("connected")),
            Err(e) => Err(Error::failed(format!("connect failed: {e}"))),
        }
        .or(Ok(Outcome::pass(event)))
    }
}

export_plugin!(SocketImport);
