//! Decimal counters kept next to the messages (daily quotas, unread
//! counts) and the pruning of past days' quota counters.

use super::Notifications;
use super::keys::{CITIZEN_DAY_PREFIX, PLUGIN_DAY_PREFIX};
use crate::consent::NAMESPACE;
use crate::store::{Batch, KvStore, StoreError};

/// A counter as read: its key, its raw bytes (to expect in a batch) and its
/// value (absent counts as 0).
#[derive(Debug, Clone)]
pub(super) struct Counter {
    pub key: String,
    pub raw: Option<Vec<u8>>,
    pub value: u64,
}

impl Counter {
    /// Read the counter under `key`.
    pub fn read(store: &dyn KvStore, key: String) -> Result<Counter, StoreError> {
        let raw = store.get(NAMESPACE, key.as_bytes())?;
        let value = match &raw {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| StoreError(format!("counter {key} is corrupt")))?,
        };
        Ok(Counter { key, raw, value })
    }

    /// Add to `batch`: expect the value read, write `value`.
    pub fn set(&self, batch: Batch, value: u64) -> Batch {
        batch
            .expect(self.key.clone(), self.raw.clone())
            .put(self.key.clone(), value.to_string())
    }
}

/// Most counters removed per prune pass.
const PRUNE_BATCH: usize = 1000;

impl Notifications {
    /// Remove quota counters of days before `keep_from` (`YYYY-MM-DD`).
    /// Returns how many were removed.
    pub fn prune_counters(&self, keep_from: &str) -> Result<usize, StoreError> {
        let mut removed = 0;
        for prefix in [PLUGIN_DAY_PREFIX, CITIZEN_DAY_PREFIX] {
            let rows = self
                .store
                .scan(NAMESPACE, prefix.as_bytes(), None, PRUNE_BATCH)?;
            let mut batch = Batch::new();
            for (key, _) in rows {
                let date = key.get(prefix.len()..prefix.len() + 10).unwrap_or_default();
                if date >= keep_from.as_bytes() {
                    break;
                }
                batch = batch.delete(key);
                removed += 1;
            }
            if !batch.writes.is_empty() {
                self.store
                    .commit(NAMESPACE, &batch)
                    .map_err(|e| StoreError(e.to_string()))?;
            }
        }
        Ok(removed)
    }
}
