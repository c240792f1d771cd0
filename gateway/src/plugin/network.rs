//! What a plugin gets of the network: nothing, with an error it can read.
//!
//! Whole toolchains import network interfaces whatever the plugin does
//! (componentize-py's libc always imports `wasi:sockets`, a default
//! componentize-js build imports `wasi:http`), so refusing those imports at
//! load would refuse whole languages. Instead they are linked, and every
//! call fails: sockets cannot be created or connected and names do not
//! resolve (the WASI context's socket settings, [`deny_sockets`]), and an
//! outgoing HTTP request fails with `HTTP-request-denied` ([`DenyHttp`]).
//! `imports.rs` names which imports are linked this way, so `plugin check`
//! can say so.

use std::future::Future;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Denies every socket: no TCP, no UDP, no name lookup, and an address
/// check that refuses every address besides.
pub(crate) fn deny_sockets(builder: &mut WasiCtxBuilder) -> &mut WasiCtxBuilder {
    builder
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
}

/// `wasi:http` hooks under which every outgoing request is denied before
/// anything is sent.
#[derive(Debug, Default)]
pub(crate) struct DenyHttp;

type Io = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for DenyHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _io: Io,
    ) -> Box<dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, Io)>> + Send>
    {
        drop(request);
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
