//! The signed webhook, in the Standard Webhooks format
//! (<https://www.standardwebhooks.com>): every message is POSTed as JSON
//! with `webhook-id` (the message id, the same on every attempt),
//! `webhook-timestamp` (seconds since the epoch) and `webhook-signature`:
//! `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`. The secret is
//! written `whsec_<base64 key>`, as receivers' libraries take it.
//!
//! **Rotation**: with `webhook-previous-secret-file` set, each delivery
//! carries two signatures, space-separated (`v1,<new> v1,<old>`), until
//! `webhook-previous-secret-until`; a receiver accepting either key keeps
//! working while it switches to the new one.

use super::NotificationConfig;
use super::channel::{Channel, Delivery, DeliveryFuture};
use crate::auth::create_secret_file;
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use standardwebhooks::Webhook;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// File in the secrets folder holding the generated webhook secret.
pub const WEBHOOK_SECRET_FILE: &str = "webhook-secret";
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// The key of a secret as written in its file: `whsec_<base64>`, or (older
/// files) any other text of at least 32 characters, whose bytes are the key
/// (`whsec_` + base64 of those bytes for the receiver).
pub fn parse_secret(text: &str) -> anyhow::Result<Vec<u8>> {
    let text = text.trim();
    let key = match text.strip_prefix(SECRET_PREFIX) {
        Some(b64) => BASE64
            .decode(b64)
            .context("the webhook secret after whsec_ is not base64")?,
        None => text.as_bytes().to_vec(),
    };
    if key.len() < 24 {
        anyhow::bail!("the webhook secret is too short (at least 24 bytes of key)");
    }
    Ok(key)
}

/// A key as receivers configure it: `whsec_<base64>`.
pub fn secret_text(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

fn read_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read webhook secret file {}", path.display()))?;
    parse_secret(&text).with_context(|| format!("webhook secret file {}", path.display()))
}

/// `webhook-signature` for one delivery: `v1,<base64>` per key, space
/// separated, the current key first.
pub fn signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .filter_map(|key| Webhook::from_bytes(key.clone()).ok())
        .filter_map(|hook| hook.sign(id, timestamp, body).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The secret being rotated out, until when.
struct Previous {
    key: Vec<u8>,
    until_s: Option<i64>,
}

/// POSTs each message, signed, to one URL.
pub struct WebhookChannel {
    url: String,
    key: Vec<u8>,
    previous: Option<Previous>,
    client: reqwest::Client,
}

impl WebhookChannel {
    /// A webhook to `url` signing with `key`.
    pub fn new(url: &str, key: Vec<u8>) -> anyhow::Result<Self> {
        super::check_webhook_url(url).map_err(anyhow::Error::msg)?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookChannel {
            url: url.to_string(),
            key,
            previous: None,
            client,
        })
    }

    /// Also sign with `key` (the one being rotated out) until `until_s`
    /// (seconds since the epoch; none: always).
    pub fn with_previous(mut self, key: Vec<u8>, until_s: Option<i64>) -> Self {
        self.previous = Some(Previous { key, until_s });
        self
    }

    /// The keys that sign at `now_s`.
    fn keys(&self, now_s: i64) -> Vec<Vec<u8>> {
        let mut keys = vec![self.key.clone()];
        if let Some(p) = &self.previous
            && p.until_s.is_none_or(|until| now_s < until)
        {
            keys.push(p.key.clone());
        }
        keys
    }

    async fn post(&self, delivery: &Delivery, attempt: u32) -> Result<(), String> {
        let body = serde_json::to_vec(delivery).map_err(|e| e.to_string())?;
        let timestamp = (crate::clock::now_ms() / 1000) as i64;
        let signature = signature(&self.keys(timestamp), &delivery.id, timestamp, &body);
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("islet-webhook-attempt", attempt.to_string())
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
/// its secret read from `webhook_secret_file` or generated (as
/// `whsec_...`) in `secrets_dir`, and the previous secret during a
/// rotation.
pub fn channels_from_config(
    config: &NotificationConfig,
    secrets_dir: &Path,
) -> anyhow::Result<Vec<Arc<dyn Channel>>> {
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    if let Some(url) = &config.webhook_url {
        let key = match &config.webhook_secret_file {
            Some(path) => read_key(path)?,
            None => {
                let path = secrets_dir.join(WEBHOOK_SECRET_FILE);
                if !path.exists() {
                    create_secret_file(&path, &secret_text(&rand::random::<[u8; 32]>()))?;
                }
                read_key(&path)?
            }
        };
        let mut channel = WebhookChannel::new(url, key)?;
        if let Some(path) = &config.webhook_previous_secret_file {
            channel =
                channel.with_previous(read_key(path)?, config.webhook_previous_secret_until_s);
        }
        channels.push(Arc::new(channel));
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // The specification's own example.
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(
            &[key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_both_keys_until_the_overlap_ends() {
        let new = vec![1u8; 32];
        let old = vec![2u8; 32];
        let hook = WebhookChannel::new("http://127.0.0.1:9/hook", new.clone())
            .unwrap()
            .with_previous(old.clone(), Some(1_000));
        assert_eq!(hook.keys(999), vec![new.clone(), old]);
        assert_eq!(hook.keys(1_000), vec![new.clone()]);
        let both = signature(&hook.keys(5), "msg_1", 5, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature(&[new], "msg_1", 5, b"{}"));
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
    }

    #[test]
    fn secrets_are_whsec_or_legacy_text() {
        let key = [7u8; 32];
        assert_eq!(parse_secret(&secret_text(&key)).unwrap(), key);
        let legacy = "a".repeat(64);
        assert_eq!(parse_secret(&legacy).unwrap(), legacy.as_bytes());
        assert!(parse_secret("whsec_!!notbase64").is_err());
        assert!(parse_secret("whsec_AAAA").is_err(), "too short");
    }
}
