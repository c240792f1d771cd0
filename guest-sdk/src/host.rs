//! The functions the host provides: through the WIT imports on wasm, and
//! through the in-process [`crate::testing`] host everywhere else.

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::{config_entries, config_get, endpoints, log};
#[cfg(target_arch = "wasm32")]
pub(crate) use crate::wasm::{config_entries, config_get, endpoints, log};
