//! Announcements between the hosts sharing one database: `pg_notify` on a
//! channel named after the schema (so deployments sharing a database never
//! hear each other), and one listening connection per host that forwards
//! what the others announce. A lost connection is reopened; listeners are
//! then sent [`RESYNC`] to reconcile what they may have missed.

use super::super::{Announcement, RESYNC};
use futures_util::stream::StreamExt as _;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;

/// Announcements a slow listener may fall behind by.
const BUFFER: usize = 4096;

/// The channel of the deployment whose tables live in `schema`.
pub(super) fn channel(schema: &str) -> String {
    format!("islet:{schema}")
}

/// The payload: the announcing host, the topic and the note, one a line.
pub(super) fn payload(origin: &str, topic: &str, note: &str) -> String {
    format!("{origin}\n{topic}\n{note}")
}

/// Start listening on `channel` with a connection of its own (on the
/// store's runtime), skipping what `origin` (this host) announced.
pub(super) fn listen(
    runtime: &tokio::runtime::Handle,
    config: tokio_postgres::Config,
    channel: String,
    origin: String,
) -> broadcast::Sender<Announcement> {
    let (tx, _) = broadcast::channel(BUFFER);
    let sender = tx.clone();
    runtime.spawn(async move {
        let mut first = true;
        loop {
            match listen_once(&config, &channel, &origin, &sender, first).await {
                Ok(()) => tracing::warn!("the announcement connection closed; reopening"),
                Err(e) => tracing::warn!("announcements unavailable ({e}); retrying in 1 s"),
            }
            first = false;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    tx
}

async fn listen_once(
    config: &tokio_postgres::Config,
    channel: &str,
    origin: &str,
    sender: &broadcast::Sender<Announcement>,
    first: bool,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (found_tx, mut found) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if found_tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("announcement connection: {e}");
                    break;
                }
            }
        }
    });
    let quoted = channel.replace('"', "\"\"");
    client
        .batch_execute(&format!("LISTEN \"{quoted}\""))
        .await?;
    if !first {
        let _ = sender.send(Announcement {
            topic: RESYNC.into(),
            note: String::new(),
        });
    }
    while let Some(payload) = found.recv().await {
        let mut parts = payload.splitn(3, '\n');
        let (Some(from), Some(topic), note) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if from == origin {
            continue;
        }
        let _ = sender.send(Announcement {
            topic: topic.to_string(),
            note: note.unwrap_or("").to_string(),
        });
    }
    driver.abort();
    drop(client);
    Ok(())
}
