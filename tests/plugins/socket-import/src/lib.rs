//! Hostile: looks up a name and opens a TCP connection to the address in
//! its `addr` config key, which makes the component import `wasi:sockets`.
//! The host links those imports as denied: both must fail, and the plugin
//! reports what it got as its error.

use std::net::{TcpStream, ToSocketAddrs};

use hookgate_sdk::{Error, Event, Outcome, Plugin, config, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct SocketImport;

impl Plugin for SocketImport {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        let addr = config::require("addr")?;
        let lookup = match ("localhost", 80).to_socket_addrs() {
            Ok(found) => format!("looked up localhost: {:?}", found.collect::<Vec<_>>()),
            Err(e) => format!("lookup failed: {e}"),
        };
        match TcpStream::connect(addr.as_str()) {
            Ok(_) => Ok(Outcome::drop(format!("connected to {addr}; {lookup}"))),
            Err(e) => Err(Error::failed(format!(
                "connect to {addr} failed: {e}; {lookup}"
            ))),
        }
    }
}

export_plugin!(SocketImport);
