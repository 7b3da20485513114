//! Inbox events across hosts: a message sent (or read) through one host
//! reaches the citizen's live streams on every host. Each change is
//! announced through the store; the other hosts read the message from the
//! store and hand it to their own streams.

use super::{InboxEvent, Message, Notifications, keys};
use crate::consent::NAMESPACE;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The announcement topic of inbox changes.
pub const TOPIC: &str = "inbox";

/// The note of `event`: unread count, message id (empty when none),
/// citizen key (last, so it may hold any character).
pub(super) fn note(event: &InboxEvent) -> String {
    let id = event.message.as_ref().map_or("", |m| m.id.as_str());
    format!("{}\n{id}\n{}", event.unread, event.citizen)
}

/// The inbox event another host announced with `note`, its message read
/// from the store.
fn event_of(notifications: &Notifications, note: &str) -> Option<InboxEvent> {
    let mut parts = note.splitn(3, '\n');
    let unread = parts.next()?.parse().ok()?;
    let id = parts.next()?;
    let citizen = parts.next()?;
    let message = if id.is_empty() {
        None
    } else {
        let key = keys::message(citizen, id);
        let raw = notifications.store.get(NAMESPACE, key.as_bytes()).ok()??;
        Some(Arc::new(serde_json::from_slice::<Message>(&raw).ok()?))
    };
    Some(InboxEvent {
        citizen: citizen.into(),
        message,
        unread,
    })
}

/// Hand inbox changes announced by other hosts to this host's streams
/// until `stop` fires. Nothing to do for a store no other host shares.
pub async fn run(notifications: Arc<Notifications>, mut stop: oneshot::Receiver<()>) {
    let Some(mut announced) = notifications.store.announcements() else {
        return;
    };
    loop {
        let note = tokio::select! {
            _ = &mut stop => return,
            received = announced.recv() => match received {
                Ok(a) if a.topic == TOPIC => a.note,
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "inbox announcements missed (streams may lag)");
                    continue;
                }
                Err(_) => return,
            },
        };
        let n = notifications.clone();
        match tokio::task::spawn_blocking(move || event_of(&n, &note)).await {
            Ok(Some(event)) => notifications.publish_here(event),
            Ok(None) => tracing::debug!("an inbox announcement named nothing readable"),
            Err(e) => tracing::warn!("inbox relay failed: {e}"),
        }
    }
}
