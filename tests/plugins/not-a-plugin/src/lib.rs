//! A component that is valid WebAssembly but no hookgate plugin: it exports
//! nothing the `hookgate:plugin` world asks for. Loading it must fail with a
//! wrong-world error.

#![allow(
    unsafe_code,
    reason = "`no_mangle` is how a core module exports a function"
)]

/// Adds two numbers; exported from the core module, not as `handle`.
#[unsafe(no_mangle)]
pub extern "C" fn add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}
