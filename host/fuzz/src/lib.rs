//! Properties checked by islet-host's fuzz targets, one module a target.
//!
//! Each `check` takes the fuzzer's bytes and panics only when a property
//! fails (a panic inside islet-host is a finding too). Inputs whose first
//! byte is even are *raw* (the rest is the parser's input as it arrives
//! from the network), odd ones are *structured*: the rest drives
//! `arbitrary` to build a valid input plus a change to it, so the fuzzer
//! also explores what happens just next to valid tokens, signatures and
//! uploads. Seeds in `corpus/<target>/` start with `r` (raw) or `s`.

pub mod guest_response;
pub mod manifest;
pub mod notification;
pub mod session;
pub mod token;
pub mod upload;

use std::sync::{Arc, OnceLock};

/// How an input is read: raw bytes, or a recipe for a structured one.
pub enum Mode<'a> {
    /// The parser's input itself.
    Raw(&'a [u8]),
    /// Bytes for `arbitrary`.
    Structured(&'a [u8]),
}

/// Split the mode byte off `data`.
pub fn mode(data: &[u8]) -> Option<Mode<'_>> {
    let (first, rest) = data.split_first()?;
    Some(if first & 1 == 0 {
        Mode::Raw(rest)
    } else {
        Mode::Structured(rest)
    })
}

/// One current-thread Tokio runtime for the async parsers.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a Tokio runtime")
        })
        .block_on(future)
}

/// One sled store in a temporary folder, shared by the targets that need
/// a store (kept for the life of the process).
pub fn store() -> Arc<dyn islet_host::store::KvStore> {
    static STORE: OnceLock<(tempfile::TempDir, Arc<dyn islet_host::store::KvStore>)> =
        OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let store = islet_host::store::SledStore::open(dir.path()).expect("a sled store");
            (dir, Arc::new(store) as Arc<dyn islet_host::store::KvStore>)
        })
        .1
        .clone()
}

/// Replace the byte at `at` (modulo the length) of an ASCII string with
/// another printable ASCII byte chosen by `to`; `None` for an empty string.
pub fn change_ascii(text: &str, at: usize, to: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let len = bytes.len();
    if len == 0 {
        return None;
    }
    let i = at % len;
    // 95 printable characters (0x20..=0x7e); step by 1..=94 so it differs.
    let old = bytes[i];
    let base = if (0x20..=0x7e).contains(&old) {
        old - 0x20
    } else {
        0
    };
    let new = 0x20 + (base + 1 + to % 94) % 95;
    if new == old {
        return None;
    }
    bytes[i] = new;
    let changed = String::from_utf8(bytes).ok()?;
    // The fuzz build keeps debug assertions: every use checks the change.
    debug_assert_ne!(changed, text);
    Some(changed)
}
