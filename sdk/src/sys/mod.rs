//! The one place that talks to the host: WIT imports on wasm32, the native
//! test harness everywhere else (wit-bindgen's import stubs only trap there).

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::backend::*;
