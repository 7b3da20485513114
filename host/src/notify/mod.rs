//! Notifications: consented messages from a mini-service to a citizen's
//! inbox, and from there to outbound channels.
//!
//! ```text
//! plugin ──notification.send(subject, template, params, link)──▶ Notifications::send
//!   capability granted · template declared and approved · params · link ·
//!   subject → citizen · consent (one-time: consume one) · daily quotas
//!        │ one atomic batch in the `consent` namespace: consent, counters,
//!        │ inbox message, unread count, outbox entries
//!        ▼
//!   inbox (GET /api/v1/inbox, SSE /api/v1/inbox/stream)
//!   outbox ──worker, retried with backoff──▶ Channel (signed webhook; SMS, push…)
//! ```
//!
//! Everything lives in the consent ledger's namespace, so consuming a
//! one-time consent and delivering the message happen together or not at
//! all, even when sends race.

mod channel;
mod inbox;
pub mod keys;
mod outbox;
mod quota;
mod relay;
mod retention;
mod send;
#[cfg(test)]
mod send_tests;
mod webhook;

pub use channel::{Channel, Delivery, DeliveryFuture};
pub use inbox::{InboxError, InboxPage};
pub use keys::Message;
pub use outbox::{DeliveryStatus, OutboxEntry, run};
pub use relay::run as relay_other_hosts;
pub use send::{Outgoing, SendError, consume, plugin_link};
pub use webhook::{
    WEBHOOK_SECRET_FILE, WebhookChannel, channels_from_config, parse_secret, secret_text, signature,
};

use crate::consent::Consents;
use crate::store::KvStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// Notification tunables (`[notification]` of the config file).
#[derive(Debug, Clone)]
pub struct NotificationConfig {
    /// Messages one plugin may send per business day, all citizens together.
    pub plugin_daily_quota: u64,
    /// Messages one plugin may send one citizen per business day.
    pub citizen_daily_cap: u64,
    /// Where every message is also POSTed, signed; none: no webhook.
    pub webhook_url: Option<String>,
    /// File holding the webhook secret; none: `webhook-secret` in the data
    /// folder, generated on first start.
    pub webhook_secret_file: Option<PathBuf>,
    /// First retry delay of an outbound delivery; doubles per attempt.
    pub webhook_retry_base: Duration,
    /// Delivery attempts before an outbound delivery is marked failed.
    pub max_attempts: u32,
    /// How long inbox messages and finished outbound deliveries are kept.
    pub retention: Duration,
    /// How long a host holds a delivery it is sending before another host
    /// may take it over (longer than a webhook call may take).
    pub lease: Duration,
    /// The webhook secret being rotated out: deliveries are signed with it
    /// too while it is set and `webhook_previous_secret_until_s` has not
    /// passed.
    pub webhook_previous_secret_file: Option<PathBuf>,
    /// End of the rotation overlap, seconds since the epoch (none: while
    /// the previous secret is configured).
    pub webhook_previous_secret_until_s: Option<i64>,
    /// Outbound deliveries one host sends at once.
    pub webhook_concurrency: usize,
    /// Outbound deliveries of one plugin's messages sent at once (default
    /// 2): one plugin's slow or failing deliveries hold only its own lane.
    pub deliveries_per_plugin: usize,
    /// Longest one outbound delivery attempt may take (default 10 s).
    pub delivery_timeout: Duration,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        NotificationConfig {
            plugin_daily_quota: 10_000,
            citizen_daily_cap: 20,
            webhook_url: None,
            webhook_secret_file: None,
            webhook_retry_base: Duration::from_secs(1),
            max_attempts: 10,
            retention: Duration::from_secs(180 * 24 * 3600),
            lease: Duration::from_secs(30),
            webhook_previous_secret_file: None,
            webhook_previous_secret_until_s: None,
            webhook_concurrency: 8,
            deliveries_per_plugin: 2,
            delivery_timeout: Duration::from_secs(10),
        }
    }
}

/// Whether `url` can be a webhook target: an absolute `http` or `https`
/// URL with a host.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{url:?} must be an http or https URL with a host"));
    }
    Ok(())
}

/// A change of one citizen's inbox, for the live streams.
#[derive(Debug, Clone)]
pub struct InboxEvent {
    /// The citizen's host key.
    pub citizen: Arc<str>,
    /// The new message, if this event is one.
    pub message: Option<Arc<Message>>,
    /// The citizen's unread count after the change.
    pub unread: u64,
}

/// How many inbox events a slow stream may fall behind before it is told
/// to reload.
const EVENT_BUFFER: usize = 1024;

/// The notification service: sending, inboxes, live events and the outbox.
pub struct Notifications {
    store: Arc<dyn KvStore>,
    consents: Arc<Consents>,
    config: NotificationConfig,
    channels: Vec<Arc<dyn Channel>>,
    events: broadcast::Sender<InboxEvent>,
    wake: Notify,
    closing: watch::Sender<bool>,
}

impl Notifications {
    /// The service on the consent ledger's store, delivering outbound to
    /// `channels`.
    pub fn new(
        consents: Arc<Consents>,
        config: NotificationConfig,
        channels: Vec<Arc<dyn Channel>>,
    ) -> Self {
        Notifications {
            store: consents.store().clone(),
            consents,
            config,
            channels,
            events: broadcast::channel(EVENT_BUFFER).0,
            wake: Notify::new(),
            closing: watch::channel(false).0,
        }
    }

    /// Tunables.
    pub fn config(&self) -> &NotificationConfig {
        &self.config
    }

    /// The outbound channels.
    pub fn channels(&self) -> &[Arc<dyn Channel>] {
        &self.channels
    }

    /// Inbox events of every citizen from now on (filter by
    /// [`InboxEvent::citizen`]).
    pub fn subscribe(&self) -> broadcast::Receiver<InboxEvent> {
        self.events.subscribe()
    }

    /// Becomes `true` when the host shuts down: live streams end then, so
    /// graceful shutdown does not wait for them forever.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// End every live stream (the host is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Hand `event` to this host's streams and announce it to the others.
    fn publish(&self, event: InboxEvent) {
        if let Err(e) = self.store.announce(relay::TOPIC, &relay::note(&event)) {
            tracing::warn!("cannot announce an inbox change to the other hosts: {e}");
        }
        self.publish_here(event);
    }

    /// Hand `event` to this host's streams only.
    fn publish_here(&self, event: InboxEvent) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.events.send(event);
    }
}
