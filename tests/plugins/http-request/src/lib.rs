//! Hostile: sends a GET to `http://<authority>/` (its `authority` config
//! key) through `wasi:http/outgoing-handler`. The host links `wasi:http` as
//! denied: the request must fail, and the plugin reports the error code.

use hookgate_sdk::{Error, Event, Outcome, Plugin, config, export_plugin};

/// The plugin.
#[derive(Debug)]
pub struct HttpRequest;

impl Plugin for HttpRequest {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        let authority = config::require("authority")?;
        match send(&authority) {
            Ok(status) => Ok(Outcome::drop(format!("{authority} answered {status}"))),
            Err(why) => Err(Error::failed(format!(
                "request to {authority} failed: {why}"
            ))),
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn send(authority: &str) -> Result<u16, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};

    let request = OutgoingRequest::new(Fields::new());
    request
        .set_method(&Method::Get)
        .and_then(|()| request.set_scheme(Some(&Scheme::Http)))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some("/")))
        .map_err(|()| "the request was refused as malformed".to_owned())?;
    let future = outgoing_handler::handle(request, None).map_err(|code| format!("{code:?}"))?;
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(code))) => Err(format!("{code:?}")),
        Some(Err(())) => Err("the response was already taken".into()),
        None => Err("no response after the pollable was ready".into()),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn send(_authority: &str) -> Result<u16, String> {
    Err("only a component can make the request".into())
}

export_plugin!(HttpRequest);
