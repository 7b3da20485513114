//! An in-memory key-value store with the host's semantics: key and value
//! limits, quota accounting of keys plus values, compare-and-swap, counters
//! and paged listing.

use crate::storage::{KeyPage, MAX_KEY_BYTES, MAX_PAGE, MAX_VALUE_BYTES, StorageError};
use std::collections::BTreeMap;

/// Quota of a fresh [`TestEnv`](super::TestEnv): the platform default of 10 MiB.
///
/// ```
/// use islet_sdk::testing::{TestEnv, DEFAULT_QUOTA_BYTES};
/// assert_eq!(DEFAULT_QUOTA_BYTES, 10 * 1024 * 1024);
/// let _env = TestEnv::new(); // starts with this quota
/// ```
pub const DEFAULT_QUOTA_BYTES: u64 = 10 << 20;

#[derive(Debug)]
pub(crate) struct MemoryStore {
    entries: BTreeMap<String, Vec<u8>>,
    usage: u64,
    pub(crate) quota: u64,
    pub(crate) max_value: usize,
    pub(crate) unavailable: Option<String>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            entries: BTreeMap::new(),
            usage: 0,
            quota: DEFAULT_QUOTA_BYTES,
            max_value: MAX_VALUE_BYTES,
            unavailable: None,
        }
    }
}

fn entry_size(key: &str, value: Option<&[u8]>) -> u64 {
    value.map_or(0, |v| (key.len() + v.len()) as u64)
}

impl MemoryStore {
    fn check(&self, key: &str) -> Result<(), StorageError> {
        if let Some(why) = &self.unavailable {
            return Err(StorageError::Unavailable(why.clone()));
        }
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(StorageError::KeyTooLarge);
        }
        Ok(())
    }

    pub(crate) fn usage(&self) -> u64 {
        self.usage
    }

    pub(crate) fn peek(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    pub(crate) fn keys(&self, prefix: &str) -> Vec<String> {
        self.entries
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Write without any check, for seeding test data.
    pub(crate) fn force(&mut self, key: &str, value: Option<Vec<u8>>) {
        let old = entry_size(key, self.peek(key));
        let new = entry_size(key, value.as_deref());
        self.usage = self.usage.saturating_sub(old).saturating_add(new);
        match value {
            Some(v) => self.entries.insert(key.to_owned(), v),
            None => self.entries.remove(key),
        };
    }

    /// The host's single write path: `expected` of `None` writes
    /// unconditionally, `Some(e)` only if the current value is `e`.
    fn write(
        &mut self,
        key: &str,
        expected: Option<Option<&[u8]>>,
        value: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        self.check(key)?;
        if value.is_some_and(|v| v.len() > self.max_value) {
            return Err(StorageError::ValueTooLarge);
        }
        let current = self.peek(key);
        if expected.is_some_and(|e| e != current) {
            return Err(StorageError::Conflict);
        }
        let old = entry_size(key, current);
        let new = entry_size(key, value);
        let next = self.usage.saturating_sub(old).saturating_add(new);
        // Like the host, a write that shrinks usage is always allowed.
        if new > old && next > self.quota {
            return Err(StorageError::QuotaExceeded);
        }
        self.force(key, value.map(<[u8]>::to_vec));
        Ok(())
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.check(key)?;
        Ok(self.peek(key).map(<[u8]>::to_vec))
    }

    pub(crate) fn set(&mut self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.write(key, None, Some(value))
    }

    pub(crate) fn delete(&mut self, key: &str) -> Result<bool, StorageError> {
        self.check(key)?;
        let existed = self.entries.contains_key(key);
        self.force(key, None);
        Ok(existed)
    }

    pub(crate) fn list_keys(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StorageError> {
        if let Some(why) = &self.unavailable {
            return Err(StorageError::Unavailable(why.clone()));
        }
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let mut matching = self
            .entries
            .keys()
            .filter(|k| k.starts_with(prefix))
            .filter(|k| cursor.is_none_or(|c| k.as_str() > c));
        let keys: Vec<String> = matching.by_ref().take(limit).cloned().collect();
        let next_cursor = if matching.next().is_some() {
            keys.last().cloned()
        } else {
            None
        };
        Ok(KeyPage { keys, next_cursor })
    }

    pub(crate) fn compare_and_swap(
        &mut self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        self.write(key, Some(expected), new)
    }

    pub(crate) fn increment(&mut self, key: &str, delta: i64) -> Result<i64, StorageError> {
        self.check(key)?;
        let current = match self.peek(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or(StorageError::NotANumber)?,
        };
        let next = current.checked_add(delta).ok_or(StorageError::NotANumber)?;
        self.write(key, None, Some(next.to_string().as_bytes()))?;
        Ok(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_limits() {
        let mut s = MemoryStore::default();
        assert_eq!(s.set("", b"x"), Err(StorageError::KeyTooLarge));
        assert_eq!(s.get(""), Err(StorageError::KeyTooLarge));
        let long = "k".repeat(MAX_KEY_BYTES);
        assert_eq!(s.set(&long, b"x"), Ok(()));
        let too_long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(s.set(&too_long, b"x"), Err(StorageError::KeyTooLarge));
        assert_eq!(s.delete(&too_long), Err(StorageError::KeyTooLarge));
        // A 256-byte key of multi-byte characters counts bytes, not chars.
        assert_eq!(
            s.set(&"门".repeat(86), b"x"),
            Err(StorageError::KeyTooLarge)
        );
        assert_eq!(s.set("v", &vec![0; MAX_VALUE_BYTES]), Ok(()));
        assert_eq!(
            s.set("v", &vec![0; MAX_VALUE_BYTES + 1]),
            Err(StorageError::ValueTooLarge)
        );
    }

    #[test]
    fn quota_counts_keys_and_values_and_allows_shrinking() {
        let mut s = MemoryStore {
            quota: 10,
            ..MemoryStore::default()
        };
        assert_eq!(s.set("ab", b"12345678"), Ok(()));
        assert_eq!(s.usage(), 10);
        assert_eq!(s.set("c", b""), Err(StorageError::QuotaExceeded));
        assert_eq!(s.set("ab", b"123456789"), Err(StorageError::QuotaExceeded));
        assert_eq!(
            s.get("ab"),
            Ok(Some(b"12345678".to_vec())),
            "refused write changes nothing"
        );
        s.quota = 1;
        assert_eq!(
            s.set("ab", b"1"),
            Ok(()),
            "shrinking is allowed above quota"
        );
        assert_eq!(s.usage(), 3);
        assert_eq!(s.delete("ab"), Ok(true));
        assert_eq!(s.delete("ab"), Ok(false));
        assert_eq!(s.usage(), 0);
    }

    #[test]
    fn compare_and_swap_semantics() {
        let mut s = MemoryStore::default();
        assert_eq!(
            s.compare_and_swap("k", Some(b"x"), Some(b"1")),
            Err(StorageError::Conflict)
        );
        assert_eq!(s.compare_and_swap("k", None, Some(b"1")), Ok(()));
        assert_eq!(
            s.compare_and_swap("k", None, Some(b"2")),
            Err(StorageError::Conflict)
        );
        assert_eq!(s.compare_and_swap("k", Some(b"1"), Some(b"2")), Ok(()));
        assert_eq!(s.compare_and_swap("k", Some(b"2"), None), Ok(()));
        assert_eq!(s.get("k"), Ok(None));
        assert_eq!(s.usage(), 0);
    }

    #[test]
    fn increment_semantics() {
        let mut s = MemoryStore::default();
        assert_eq!(s.increment("n", 1), Ok(1));
        assert_eq!(s.increment("n", 41), Ok(42));
        assert_eq!(s.get("n"), Ok(Some(b"42".to_vec())));
        assert_eq!(s.increment("n", -50), Ok(-8));
        s.set("t", b" 7 ").ok();
        assert_eq!(s.increment("t", 1), Ok(8));
        s.set("x", b"seven").ok();
        assert_eq!(s.increment("x", 1), Err(StorageError::NotANumber));
        s.set("max", i64::MAX.to_string().as_bytes()).ok();
        assert_eq!(s.increment("max", 1), Err(StorageError::NotANumber));
    }

    #[test]
    fn list_keys_pages_in_byte_order() {
        let mut s = MemoryStore::default();
        for k in ["p/b", "p/a", "q/a", "p/c", "p/B", "p/é"] {
            s.set(k, b"1").ok();
        }
        let page = s.list_keys("p/", None, 2).unwrap();
        assert_eq!(page.keys, ["p/B", "p/a"]);
        assert_eq!(page.next_cursor.as_deref(), Some("p/a"));
        let page = s.list_keys("p/", page.next_cursor.as_deref(), 2).unwrap();
        assert_eq!(page.keys, ["p/b", "p/c"]);
        let page = s.list_keys("p/", page.next_cursor.as_deref(), 2).unwrap();
        assert_eq!(page.keys, ["p/é"]);
        assert_eq!(page.next_cursor, None);
        // Limit 0 is treated as 1, and big limits are capped.
        assert_eq!(s.list_keys("", None, 0).unwrap().keys.len(), 1);
        for i in 0..1100 {
            s.set(&format!("z/{i:04}"), b"").ok();
        }
        let page = s.list_keys("z/", None, u32::MAX).unwrap();
        assert_eq!(page.keys.len(), MAX_PAGE as usize);
        assert_eq!(page.next_cursor.as_deref(), Some("z/0999"));
        // An exact page has no next cursor.
        let page = s.list_keys("p/", None, 5).unwrap();
        assert_eq!((page.keys.len(), page.next_cursor), (5, None));
    }

    #[test]
    fn unavailable_fails_every_call() {
        let mut s = MemoryStore {
            unavailable: Some("disk on fire".into()),
            ..MemoryStore::default()
        };
        let down = Err(StorageError::Unavailable("disk on fire".into()));
        assert_eq!(s.set("k", b"v"), down);
        assert_eq!(s.list_keys("", None, 1).map(|_| ()), down);
        assert_eq!(s.increment("k", 1).map(|_| ()), down);
    }
}
