//! Cranelift's incremental compilation cache, in memory: each compiled
//! function body kept under a key of its content, so compiling a component
//! whose code was mostly compiled before only compiles what differs. Every
//! JavaScript component carries the same engine (SpiderMonkey), and each
//! `islet dev` save of a JS service changes only its snapshot (data), so
//! the second JS component a host compiles, and every reload, reuses the
//! engine's code instead of compiling ~12 MiB of Wasm again.
//!
//! Bounded: once [`FunctionCache::budget`] bytes are held, new entries are
//! not kept (what is there stays useful: the engine's functions come first).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bytes of compiled function bodies kept at most, by default.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

/// The in-memory store behind [`wasmtime::Config::enable_incremental_compilation`].
#[derive(Debug)]
pub struct FunctionCache {
    entries: Mutex<Entries>,
    budget: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Vec<u8>, Arc<[u8]>>,
    bytes: usize,
}

impl FunctionCache {
    /// A cache holding at most `budget` bytes of keys and values.
    pub fn new(budget: usize) -> FunctionCache {
        FunctionCache {
            entries: Mutex::default(),
            budget,
        }
    }

    /// The most bytes it holds.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The bytes it holds now.
    pub fn held_bytes(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).map(|v| Cow::Owned(v.to_vec()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let size = key.len() + value.len();
        if entries.map.contains_key(key) || entries.bytes + size > self.budget {
            return false;
        }
        entries.bytes += size;
        entries.map.insert(key.to_vec(), value.into());
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use wasmtime::CacheStore as _;

    #[test]
    fn entries_are_kept_until_the_budget_is_reached() {
        let cache = FunctionCache::new(10);
        assert!(cache.insert(b"ab", vec![1, 2, 3]));
        assert_eq!(cache.get(b"ab").unwrap().as_ref(), &[1, 2, 3]);
        assert!(!cache.insert(b"cd", vec![0; 6]), "over the budget");
        assert!(cache.get(b"cd").is_none());
        assert_eq!(cache.held_bytes(), 5);
    }
}
