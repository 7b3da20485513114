//! Outbound channels: where a message goes besides the citizen's inbox.
//!
//! The host ships one adapter, the signed [`WebhookChannel`](super::WebhookChannel).
//! An SMS gateway or an app push service is another implementation of
//! [`Channel`]: map [`Delivery::recipient`] (the host's citizen key) to a
//! phone number or device token on its side, send, and return `Err` to have
//! the delivery retried with backoff. The outbox makes every channel
//! at-least-once, so a channel should deduplicate on [`Delivery::id`].

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// What a channel sends for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The message id (the same on every attempt).
    pub id: String,
    /// The plugin that sent it.
    pub plugin: String,
    /// The template id.
    pub template: String,
    /// The template's title.
    pub title: String,
    /// The rendered body.
    pub body: String,
    /// Where it opens in the app (`/p/{plugin}/…`), if anywhere.
    pub link: Option<String>,
    /// When it was sent, ms since the epoch.
    pub at_ms: u64,
    /// The recipient's host citizen key (never the plugin's pairwise
    /// subject).
    pub recipient: String,
}

/// The future a [`Channel`] returns: `Err(why)` to retry later.
pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// An outbound channel (webhook, SMS gateway, app push).
pub trait Channel: Send + Sync {
    /// A stable name, used in outbox keys and metrics: `[a-z0-9-]+`.
    fn name(&self) -> &'static str;

    /// Send `delivery`; `attempt` is 1 on the first try. Should give up
    /// within a few seconds (a slow channel delays the others).
    fn deliver<'a>(&'a self, delivery: &'a Delivery, attempt: u32) -> DeliveryFuture<'a>;
}
