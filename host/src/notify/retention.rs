//! Retention: inbox messages and finished outbound deliveries older than
//! the configured period are removed (unread counts follow), so a
//! citizen's inbox and the outbox do not grow without end.

use super::Notifications;
use super::keys::{self, Message, OUTBOX_PREFIX};
use super::outbox::{DeliveryStatus, OutboxEntry};
use super::quota::Counter;
use crate::consent::NAMESPACE;
use crate::store::{Batch, StoreError, WriteError};

/// Most entries removed per pass (the next pass continues).
const MAX_PER_PASS: usize = 10_000;

impl Notifications {
    /// Remove messages sent before `cutoff_ms` and delivered or failed
    /// outbound deliveries of such messages. Returns how many entries went.
    pub fn prune_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (key, raw) in self.store.scan(NAMESPACE, b"m/", None, usize::MAX)? {
            if removed >= MAX_PER_PASS {
                return Ok(removed);
            }
            let Ok(message) = serde_json::from_slice::<Message>(&raw) else {
                continue;
            };
            if message.at_ms >= cutoff_ms {
                continue;
            }
            let Some(citizen) = String::from_utf8_lossy(&key[2..])
                .split('/')
                .next()
                .map(str::to_string)
            else {
                continue;
            };
            let mut batch = Batch::new()
                .expect(key.clone(), Some(raw.clone()))
                .delete(key.clone());
            if !message.read {
                let unread = Counter::read(self.store.as_ref(), keys::unread(&citizen))?;
                batch = unread.set(batch, unread.value.saturating_sub(1));
            }
            match self.store.commit(NAMESPACE, &batch) {
                Ok(()) => removed += 1,
                // Read or changed meanwhile: the next pass sees it again.
                Err(WriteError::Conflict) => {}
                Err(e) => return Err(StoreError(e.to_string())),
            }
        }
        for (key, raw) in self
            .store
            .scan(NAMESPACE, OUTBOX_PREFIX.as_bytes(), None, usize::MAX)?
        {
            if removed >= MAX_PER_PASS {
                break;
            }
            let Ok(entry) = serde_json::from_slice::<OutboxEntry>(&raw) else {
                continue;
            };
            let finished = matches!(
                entry.status,
                DeliveryStatus::Delivered | DeliveryStatus::Failed
            );
            if finished && entry.delivery.at_ms < cutoff_ms {
                let batch = Batch::new().expect(key.clone(), Some(raw)).delete(key);
                if self.store.commit(NAMESPACE, &batch).is_ok() {
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            self.store.flush()?;
        }
        Ok(removed)
    }
}
