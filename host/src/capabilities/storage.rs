//! `islet:platform/storage`: key-value storage private to one plugin.
//!
//! Every failure is returned to the guest as a value; nothing here traps.

use super::RequestState;
use super::bindings::islet::platform::storage::{self, Error, KeyPage};
use crate::store::{Expect, KvStore, WriteError};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most keys one `list-keys` call returns.
pub const MAX_PAGE: u32 = 1000;
/// Attempts of the read-modify-write loop behind `increment`.
const INCREMENT_ATTEMPTS: usize = 64;

/// The store namespace holding plugin `plugin_id`'s data.
pub fn namespace_for(plugin_id: &str) -> String {
    format!("kv/{plugin_id}")
}

/// Storage state of one request.
pub struct StorageState {
    store: Arc<dyn KvStore>,
    namespace: Arc<str>,
    quota: u64,
    granted: bool,
    /// How many storage calls the guest made.
    pub calls: u32,
    /// How many writes succeeded (the runtime makes them durable before
    /// the response leaves).
    pub writes: u32,
}

impl StorageState {
    /// State for a plugin whose data lives in `namespace`, with `quota`
    /// bytes; every call answers `unavailable` when not `granted`.
    pub fn new(store: Arc<dyn KvStore>, namespace: Arc<str>, quota: u64, granted: bool) -> Self {
        StorageState {
            store,
            namespace,
            quota,
            granted,
            calls: 0,
            writes: 0,
        }
    }

    fn check_granted(&self) -> Result<(), Error> {
        if self.granted {
            Ok(())
        } else {
            Err(Error::Unavailable(
                "storage was not granted to this mini-service".into(),
            ))
        }
    }

    fn write(&mut self, key: &str, expect: Expect, value: Option<&[u8]>) -> Result<(), Error> {
        self.check_granted()?;
        check_key(key)?;
        if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(Error::ValueTooLarge);
        }
        self.store
            .write(
                &self.namespace,
                key.as_bytes(),
                expect,
                value,
                Some(self.quota),
            )
            .map_err(|e| match e {
                WriteError::Conflict => Error::Conflict,
                WriteError::QuotaExceeded => Error::QuotaExceeded,
                WriteError::Store(e) => Error::Unavailable(e.to_string()),
            })?;
        self.writes += 1;
        Ok(())
    }

    /// Make this request's writes durable.
    pub fn flush(&self) -> Result<(), crate::store::StoreError> {
        self.store.flush()
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.check_granted()?;
        check_key(key)?;
        self.store
            .get(&self.namespace, key.as_bytes())
            .map_err(|e| Error::Unavailable(e.to_string()))
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        Err(Error::KeyTooLarge)
    } else {
        Ok(())
    }
}

fn parse_counter(value: Option<&[u8]>) -> Result<i64, Error> {
    match value {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or(Error::NotANumber),
    }
}

impl storage::Host for StorageState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.calls += 1;
        self.read(&key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.calls += 1;
        self.write(&key, Expect::Anything, Some(&value))
    }

    fn delete(&mut self, key: String) -> Result<bool, Error> {
        self.calls += 1;
        loop {
            let Some(current) = self.read(&key)? else {
                return Ok(false);
            };
            match self.write(&key, Expect::Value(Some(current)), None) {
                Ok(()) => return Ok(true),
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn list_keys(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<KeyPage, Error> {
        self.calls += 1;
        self.check_granted()?;
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        // One extra entry tells whether another page exists.
        let entries = self
            .store
            .scan(
                &self.namespace,
                prefix.as_bytes(),
                cursor.as_deref().map(str::as_bytes),
                limit + 1,
            )
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let more = entries.len() > limit;
        let keys: Vec<String> = entries
            .into_iter()
            .take(limit)
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect();
        let next_cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, next_cursor })
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        self.calls += 1;
        self.write(&key, Expect::Value(expected), new.as_deref())
    }

    fn increment(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        self.calls += 1;
        for _ in 0..INCREMENT_ATTEMPTS {
            let current = self.read(&key)?;
            let next = parse_counter(current.as_deref())?
                .checked_add(delta)
                .ok_or(Error::NotANumber)?;
            match self.write(
                &key,
                Expect::Value(current),
                Some(next.to_string().as_bytes()),
            ) {
                Ok(()) => return Ok(next),
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unavailable(
            "too much contention on this counter; retry".into(),
        ))
    }
}

/// Link `islet:platform/storage`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    storage::add_to_linker::<_, HasSelf<StorageState>>(linker, |s| &mut s.storage)
}
