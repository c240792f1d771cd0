//! A component of the first contract, `hookgate:plugin@0.1.0`, written
//! against `wit/v0.1/plugin.wit` with wit-bindgen alone, as a plugin built
//! before 0.2.0 was: the host must run it unchanged. It continues with a
//! header `x-contract: 0.1.0` and a log line naming the endpoints it sees,
//! or drops an event whose type is `drop.me`.

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    unreachable_pub,
    clippy::too_many_arguments,
    reason = "wit-bindgen's generated bindings and exports"
)]
mod component {
    wit_bindgen::generate!({
        path: "../../../wit/v0.1/plugin.wit",
        world: "plugin",
    });

    use hookgate::plugin::types::{Header, Rewrite};
    use hookgate::plugin::{endpoints, log};

    struct ContractV01;

    impl Guest for ContractV01 {
        fn handle(event: Event) -> Result<Action, PluginError> {
            if event.event_type == "drop.me" {
                return Ok(Action::Drop("a 0.1.0 plugin dropped it".into()));
            }
            let names: Vec<String> = endpoints::all().into_iter().map(|e| e.name).collect();
            log::log(log::Level::Info, &format!("endpoints: {}", names.join(",")));
            let mut headers = event.headers;
            headers.push(Header {
                name: "x-contract".into(),
                value: "0.1.0".into(),
            });
            Ok(Action::Continue(Rewrite {
                event_type: None,
                headers: Some(headers),
                body: None,
            }))
        }
    }

    export!(ContractV01);
}
