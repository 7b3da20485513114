//! The signed webhook: every message is POSTed as JSON to a configured URL
//! with `Islet-Webhook-Timestamp` (seconds since the epoch) and
//! `Islet-Webhook-Signature` = hex HMAC-SHA256(secret, "{timestamp}\n{body}").
//! The receiver recomputes the signature over the raw body, compares in
//! constant time, refuses stale timestamps and deduplicates on the
//! message id (deliveries are retried, so they may repeat).

use super::NotificationConfig;
use super::channel::{Channel, Delivery, DeliveryFuture};
use crate::auth::{load_or_create_secret, read_secret};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// File in the data folder holding the generated webhook secret.
pub const WEBHOOK_SECRET_FILE: &str = "webhook-secret";
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// hex HMAC-SHA256(`secret`, "{timestamp}\n{body}").
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}\n").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// POSTs each message, signed, to one URL.
pub struct WebhookChannel {
    url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl WebhookChannel {
    /// A webhook to `url` signing with `secret`.
    pub fn new(url: &str, secret: Vec<u8>) -> anyhow::Result<Self> {
        super::check_webhook_url(url).map_err(anyhow::Error::msg)?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookChannel {
            url: url.to_string(),
            secret,
            client,
        })
    }

    async fn post(&self, delivery: &Delivery, attempt: u32) -> Result<(), String> {
        let body = serde_json::to_vec(delivery).map_err(|e| e.to_string())?;
        let timestamp = crate::clock::now_ms() / 1000;
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("islet-webhook-id", &delivery.id)
            .header("islet-webhook-attempt", attempt.to_string())
            .header("islet-webhook-timestamp", timestamp.to_string())
            .header(
                "islet-webhook-signature",
                signature(&self.secret, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| format!("cannot reach the webhook: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {status}"))
        }
    }
}

impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn deliver<'a>(&'a self, delivery: &'a Delivery, attempt: u32) -> DeliveryFuture<'a> {
        Box::pin(self.post(delivery, attempt))
    }
}

/// The outbound channels `config` asks for: the webhook when a URL is set,
/// its secret read from `webhook_secret_file` or generated in `data_dir`.
pub fn channels_from_config(
    config: &NotificationConfig,
    data_dir: &Path,
) -> anyhow::Result<Vec<Arc<dyn Channel>>> {
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    if let Some(url) = &config.webhook_url {
        let secret = match &config.webhook_secret_file {
            Some(path) => read_secret(path)?,
            None => load_or_create_secret(&data_dir.join(WEBHOOK_SECRET_FILE))?,
        };
        channels.push(Arc::new(WebhookChannel::new(url, secret)?));
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = signature(b"secret", 1, b"{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, signature(b"secret", 2, b"{}"));
        assert_ne!(a, signature(b"secret", 1, b"{ }"));
        assert_ne!(a, signature(b"other", 1, b"{}"));
    }
}
