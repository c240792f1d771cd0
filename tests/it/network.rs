//! The sandbox's network: `wasi:sockets` and `wasi:http` are linked so that
//! whole toolchains load, and every call fails. A canary listener on
//! loopback proves nothing was sent.

use std::io::ErrorKind;
use std::net::TcpListener;

use hookgate::plugin::{Error, PluginError};

use crate::harness::{context, default_host, event, load};

/// A listener on loopback that must never see a connection.
struct Canary(TcpListener);

impl Canary {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        Self(listener)
    }

    fn addr(&self) -> String {
        self.0.local_addr().expect("bound").to_string()
    }

    /// Panics if a connection reached it. The plugin's connect is
    /// synchronous, so once the invocation returned, a connection that
    /// was made would be waiting in the accept queue.
    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("the canary was reached from {peer}"),
            Err(e) => panic!("the canary failed: {e}"),
        }
    }
}

fn failure(result: Result<hookgate::plugin::Outcome, Error>) -> String {
    match result {
        Err(Error::Plugin(PluginError::Failed(message))) => message,
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
}

#[test]
fn a_socket_connect_and_a_name_lookup_fail_and_the_canary_sees_nothing() {
    let canary = Canary::start();
    let host = default_host();
    let plugin = load(host, "socket-import");
    assert!(
        plugin
            .interface()
            .denied
            .iter()
            .any(|i| i.starts_with("wasi:sockets/tcp@")),
        "{:?}",
        plugin.interface()
    );
    let addr = canary.addr();
    let invocation = host.invoke_blocking(
        &plugin,
        &context("sockets", &[("addr", &addr)], &[]),
        &event("t", "{}"),
    );
    let message = failure(invocation.result);
    assert!(
        message.starts_with(&format!("connect to {addr} failed: ")),
        "{message}"
    );
    assert!(message.contains("lookup failed: "), "{message}");
    canary.assert_untouched();
}

#[test]
fn an_outgoing_http_request_is_denied_and_the_canary_sees_nothing() {
    let canary = Canary::start();
    let host = default_host();
    let plugin = load(host, "http-request");
    let denied = &plugin.interface().denied;
    assert!(
        denied
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@")),
        "{denied:?}"
    );
    let addr = canary.addr();
    let invocation = host.invoke_blocking(
        &plugin,
        &context("http", &[("authority", &addr)], &[]),
        &event("t", "{}"),
    );
    let message = failure(invocation.result);
    assert!(
        message.starts_with(&format!("request to {addr} failed: ")),
        "{message}"
    );
    assert!(message.contains("HttpRequestDenied"), "{message}");
    canary.assert_untouched();
}
