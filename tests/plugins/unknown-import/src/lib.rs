//! Hostile: imports `test:unknown/thing`, which the host neither implements
//! nor links as denied, so loading it must be refused, naming the import.
//! (Natively the crate is empty: only the component matters.)

#![cfg(target_arch = "wasm32")]
#![allow(
    unsafe_code,
    missing_docs,
    unreachable_pub,
    reason = "the generated bindings"
)]

wit_bindgen::generate!({ path: "wit", world: "unknown" });

#[derive(Debug)]
struct Unknown;

impl Guest for Unknown {
    fn handle() -> u32 {
        test::unknown::thing::poke()
    }
}

export!(Unknown);
