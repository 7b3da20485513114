//! A citizen's inbox: pages newest first, the unread count, the read flag.

use super::keys::{self, Message};
use super::quota::Counter;
use super::{InboxEvent, Notifications};
use crate::consent::NAMESPACE;
use crate::store::{Batch, StoreError, WriteError, page};
use serde::Serialize;
use std::sync::Arc;

/// Why an inbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// No such message in this citizen's inbox.
    #[error("no such message")]
    NotFound,
    /// The cursor is not one this API returned.
    #[error("the cursor is not valid")]
    BadCursor,
    /// The store failed.
    #[error("the inbox is unavailable: {0}")]
    Store(String),
}

impl From<StoreError> for InboxError {
    fn from(e: StoreError) -> Self {
        InboxError::Store(e.0)
    }
}

/// One page of an inbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxPage {
    /// Messages, newest first.
    pub messages: Vec<Message>,
    /// Unread messages in the whole inbox.
    pub unread: u64,
    /// Pass as `cursor` for the next page; none at the end.
    pub next_cursor: Option<String>,
}

fn decode(bytes: &[u8]) -> Result<Message, InboxError> {
    serde_json::from_slice(bytes).map_err(|e| InboxError::Store(format!("corrupt message: {e}")))
}

/// Attempts of a contended read mark before giving up.
const MAX_TRIES: usize = 100;

impl Notifications {
    /// `citizen`'s unread count.
    pub fn unread(&self, citizen: &str) -> Result<u64, InboxError> {
        Ok(Counter::read(self.store.as_ref(), keys::unread(citizen))?.value)
    }

    /// Up to `limit` of `citizen`'s messages, newest first, after `cursor`.
    pub fn inbox(
        &self,
        citizen: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<InboxPage, InboxError> {
        if cursor.is_some_and(|c| !keys::valid_message_id(c)) {
            return Err(InboxError::BadCursor);
        }
        // Keys are `{prefix}{message id}`: the cursor is a message id.
        let prefix = keys::inbox_prefix(citizen);
        let (rows, next_cursor) = page(self.store.as_ref(), NAMESPACE, &prefix, cursor, limit)?;
        let messages = rows
            .iter()
            .map(|(_, v)| decode(v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InboxPage {
            messages,
            unread: self.unread(citizen)?,
            next_cursor,
        })
    }

    /// Mark `citizen`'s message `id` read (again: no change). Returns the
    /// message and the unread count.
    pub fn mark_read(&self, citizen: &str, id: &str) -> Result<(Message, u64), InboxError> {
        if !keys::valid_message_id(id) {
            return Err(InboxError::NotFound);
        }
        let key = keys::message(citizen, id);
        for _ in 0..MAX_TRIES {
            let raw = self
                .store
                .get(NAMESPACE, key.as_bytes())?
                .ok_or(InboxError::NotFound)?;
            let mut message = decode(&raw)?;
            let unread = Counter::read(self.store.as_ref(), keys::unread(citizen))?;
            if message.read {
                return Ok((message, unread.value));
            }
            message.read = true;
            let left = unread.value.saturating_sub(1);
            let bytes =
                serde_json::to_vec(&message).map_err(|e| InboxError::Store(e.to_string()))?;
            let batch = unread
                .set(Batch::new(), left)
                .expect(key.clone(), Some(raw))
                .put(key.clone(), bytes);
            match self.store.commit(NAMESPACE, &batch) {
                Ok(()) => {
                    self.store.flush()?;
                    self.publish(InboxEvent {
                        citizen: Arc::from(citizen),
                        message: None,
                        unread: left,
                    });
                    return Ok((message, left));
                }
                Err(WriteError::Conflict) => continue,
                Err(e) => return Err(InboxError::Store(e.to_string())),
            }
        }
        Err(InboxError::Store("the inbox is contended; retry".into()))
    }
}
