//! The built-in sandbox provider: behaves like a real one without moving
//! money. Its cashier (`GET /pay/{order}`) takes the citizen's Pay or
//! Cancel; on Pay it records a transaction and, asynchronously, posts a
//! signed notification to the host's `/api/v1/payments/notify/sandbox`,
//! retrying with backoff until the host answers 2xx (like WeChat Pay's
//! retries). Tests drive it through the same cashier call with options:
//! fail, delay, notify several times.
//!
//! Signature: `Islet-Sandbox-Signature` = hex HMAC-SHA256 with the secret in
//! the data folder (`sandbox-pay-secret`) over
//! `"{timestamp}\n{nonce}\n{body}"`, with `Islet-Sandbox-Timestamp` (Unix
//! seconds) and `Islet-Sandbox-Nonce`.

use super::ledger::{decode, encode};
use super::order::{Order, OrderStatus};
use super::provider::{
    HeaderLookup, NoticeError, Notification, PaymentProvider, ProviderError, StatementLine,
    VerifiedNotice,
};
use crate::clock::{date_of, now_ms};
use crate::store::{Expect, KvStore, WriteError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The secret file in the data folder.
pub const SECRET_FILE: &str = "sandbox-pay-secret";
/// Header names of a sandbox notification.
pub const TIMESTAMP_HEADER: &str = "islet-sandbox-timestamp";
/// The nonce header.
pub const NONCE_HEADER: &str = "islet-sandbox-nonce";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "islet-sandbox-signature";
/// Accepted clock difference of a notification, seconds.
pub const WINDOW_S: u64 = 300;
/// Deliveries of one notification before the sandbox gives up.
const NOTIFY_ATTEMPTS: u32 = 8;

const NAMESPACE: &str = "sandbox-pay";

/// What the citizen (or a test) does in the cashier.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PayOptions {
    /// The payment fails (no money taken, no notification).
    pub fail: bool,
    /// How many separate notifications to send (1 to 25; default 1).
    pub notify_times: Option<u32>,
    /// Wait this long before notifying (at most 60,000 ms).
    pub delay_ms: u64,
}

/// A payment the sandbox took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxPayment {
    /// Its transaction id.
    pub txn_id: String,
    /// The host's order id.
    pub order_id: String,
    /// Amount, fen.
    pub amount_fen: u64,
    /// When, seconds since the epoch.
    pub at: u64,
}

/// The sandbox provider.
pub struct SandboxProvider {
    store: Arc<dyn KvStore>,
    secret: Vec<u8>,
    notify_url: OnceLock<String>,
    client: reqwest::Client,
    retry_base: Duration,
}

/// `hex(HMAC-SHA256(secret, "{timestamp}\n{nonce}\n{body}"))`.
pub fn signature(secret: &[u8], timestamp: u64, nonce: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{timestamp}\n{nonce}\n").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn unavailable(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable(e.to_string())
}

impl SandboxProvider {
    /// A sandbox keeping its records in `store`, signing with `secret`;
    /// notifications that fail are retried after `retry_base`, doubling.
    pub fn new(store: Arc<dyn KvStore>, secret: Vec<u8>, retry_base: Duration) -> Self {
        SandboxProvider {
            store,
            secret,
            notify_url: OnceLock::new(),
            client: reqwest::Client::new(),
            retry_base,
        }
    }

    /// Where notifications go; set once the host knows its address. Then
    /// notifications a previous run did not get acknowledged are sent again
    /// (a real provider keeps retrying for about a day). Must run inside a
    /// Tokio runtime.
    pub fn set_notify_url(&self, url: String) {
        let _ = self.notify_url.set(url);
        let unsent = match self.store.scan(NAMESPACE, b"outbox/", None, usize::MAX) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the sandbox's unsent notifications");
                return;
            }
        };
        for (_, value) in unsent {
            if let Ok(payment) = serde_json::from_slice::<SandboxPayment>(&value) {
                self.spawn_notify(&payment, Duration::ZERO);
            }
        }
    }

    /// The payment taken for `order_id`, if any.
    pub fn payment(&self, order_id: &str) -> Result<Option<SandboxPayment>, ProviderError> {
        match self
            .store
            .get(NAMESPACE, format!("pay/{order_id}").as_bytes())
            .map_err(unavailable)?
        {
            Some(bytes) => decode(&bytes).map(Some).map_err(unavailable),
            None => Ok(None),
        }
    }

    /// The citizen pays `order` in the cashier: take the money once (a
    /// second Pay reuses the transaction) and notify the host. Must run
    /// inside a Tokio runtime.
    pub fn pay(
        &self,
        order: &Order,
        options: &PayOptions,
    ) -> Result<SandboxPayment, ProviderError> {
        if order.status != OrderStatus::Created {
            return Err(ProviderError::Refused(format!(
                "the order is {:?}, not awaiting payment",
                order.status
            )));
        }
        if self.is_closed(&order.id)? {
            return Err(ProviderError::Refused("the order was closed".into()));
        }
        if options.fail {
            return Err(ProviderError::Refused(
                "the payment failed (sandbox)".into(),
            ));
        }
        let times = options.notify_times.unwrap_or(1).clamp(1, 25);
        let at = now_ms() / 1000;
        let payment = SandboxPayment {
            txn_id: format!("sbx{}", hex::encode(rand::random::<[u8; 8]>())),
            order_id: order.id.clone(),
            amount_fen: order.request.amount_fen,
            at,
        };
        let key = format!("pay/{}", order.id);
        let payment = match self.store.write(
            NAMESPACE,
            key.as_bytes(),
            Expect::Value(None),
            Some(&encode(&payment).map_err(unavailable)?),
            None,
        ) {
            Ok(()) => {
                let line = StatementLine {
                    txn_id: payment.txn_id.clone(),
                    order_id: payment.order_id.clone(),
                    kind: "payment".into(),
                    amount_fen: payment.amount_fen,
                };
                self.put(&format!("day/{}/{}", date_of(at), payment.txn_id), &line)?;
                self.put(&format!("outbox/{}", payment.txn_id), &payment)?;
                payment
            }
            Err(WriteError::Conflict) => self
                .payment(&order.id)?
                .ok_or_else(|| unavailable("payment record vanished"))?,
            Err(e) => return Err(unavailable(e)),
        };
        self.store.flush().map_err(unavailable)?;
        let delay = Duration::from_millis(options.delay_ms.min(60_000));
        for _ in 0..times {
            self.spawn_notify(&payment, delay);
        }
        Ok(payment)
    }

    fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), ProviderError> {
        let bytes = encode(value).map_err(unavailable)?;
        self.store
            .write(
                NAMESPACE,
                key.as_bytes(),
                Expect::Anything,
                Some(&bytes),
                None,
            )
            .map_err(unavailable)
    }

    fn is_closed(&self, order_id: &str) -> Result<bool, ProviderError> {
        Ok(self
            .store
            .get(NAMESPACE, format!("closed/{order_id}").as_bytes())
            .map_err(unavailable)?
            .is_some())
    }

    /// Post one signed notification of `payment`, retrying with backoff.
    fn spawn_notify(&self, payment: &SandboxPayment, delay: Duration) {
        let Some(url) = self.notify_url.get().cloned() else {
            tracing::warn!("sandbox provider has no notification URL yet");
            return;
        };
        let Ok(body) = serde_json::to_vec(&Notification {
            order_id: payment.order_id.clone(),
            txn_id: payment.txn_id.clone(),
            amount_fen: payment.amount_fen,
            currency: "CNY".into(),
        }) else {
            return;
        };
        let (client, secret, base) = (self.client.clone(), self.secret.clone(), self.retry_base);
        let (store, outbox) = (self.store.clone(), format!("outbox/{}", payment.txn_id));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for attempt in 0..NOTIFY_ATTEMPTS {
                let timestamp = now_ms() / 1000;
                let nonce = hex::encode(rand::random::<[u8; 12]>());
                let sent = client
                    .post(&url)
                    .header(TIMESTAMP_HEADER, timestamp.to_string())
                    .header(NONCE_HEADER, &nonce)
                    .header(
                        SIGNATURE_HEADER,
                        signature(&secret, timestamp, &nonce, &body),
                    )
                    .header("content-type", "application/json")
                    .timeout(Duration::from_secs(5))
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let done = store
                            .write(NAMESPACE, outbox.as_bytes(), Expect::Anything, None, None)
                            .and_then(|()| store.flush().map_err(WriteError::from));
                        if let Err(e) = done {
                            tracing::warn!(error = %e, "cannot mark a sandbox notification sent");
                        }
                        return;
                    }
                    Ok(r) => {
                        tracing::warn!(status = r.status().as_u16(), "sandbox notification refused")
                    }
                    Err(e) => tracing::warn!(error = %e, "sandbox notification not delivered"),
                }
                tokio::time::sleep(base.saturating_mul(1 << attempt.min(10))).await;
            }
        });
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &str {
        "sandbox"
    }

    fn checkout_url(&self, order: &Order) -> String {
        format!("/pay/{}", order.id)
    }

    fn verify_notice(
        &self,
        headers: HeaderLookup<'_>,
        body: &[u8],
        now: u64,
    ) -> Result<VerifiedNotice, NoticeError> {
        let timestamp = headers(TIMESTAMP_HEADER)
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or(NoticeError::BadSignature)?;
        let nonce = headers(NONCE_HEADER)
            .filter(|n| (8..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or(NoticeError::BadSignature)?;
        let given = headers(SIGNATURE_HEADER).ok_or(NoticeError::BadSignature)?;
        let given = hex::decode(given.trim()).map_err(|_| NoticeError::BadSignature)?;
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return Err(NoticeError::BadSignature);
        };
        mac.update(format!("{timestamp}\n{nonce}\n").as_bytes());
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(&given)
            .map_err(|_| NoticeError::BadSignature)?;
        if timestamp.abs_diff(now) > WINDOW_S {
            return Err(NoticeError::Stale(WINDOW_S));
        }
        let notification: Notification =
            serde_json::from_slice(body).map_err(|e| NoticeError::Malformed(e.to_string()))?;
        Ok(VerifiedNotice {
            nonce,
            timestamp,
            notification,
        })
    }

    fn close(&self, order: &Order) -> Result<(), ProviderError> {
        if self.payment(&order.id)?.is_some() {
            return Err(ProviderError::Refused(
                "the citizen has already paid; wait for the notification".into(),
            ));
        }
        self.put(&format!("closed/{}", order.id), &true)?;
        self.store.flush().map_err(unavailable)
    }

    fn refund(
        &self,
        order: &Order,
        refund_key: &str,
        amount_fen: u64,
    ) -> Result<String, ProviderError> {
        let key = format!("refund/{}/{refund_key}", order.id);
        if let Some(done) = self
            .store
            .get(NAMESPACE, key.as_bytes())
            .map_err(unavailable)?
        {
            let line: StatementLine = decode(&done).map_err(unavailable)?;
            return Ok(line.txn_id);
        }
        let line = StatementLine {
            txn_id: format!("sbr{}", hex::encode(rand::random::<[u8; 8]>())),
            order_id: order.id.clone(),
            kind: "refund".into(),
            amount_fen,
        };
        self.put(&key, &line)?;
        self.put(
            &format!("day/{}/{}", date_of(now_ms() / 1000), line.txn_id),
            &line,
        )?;
        self.store.flush().map_err(unavailable)?;
        Ok(line.txn_id)
    }

    fn statement(&self, date: &str) -> Result<Vec<StatementLine>, ProviderError> {
        let rows = self
            .store
            .scan(
                NAMESPACE,
                format!("day/{date}/").as_bytes(),
                None,
                usize::MAX,
            )
            .map_err(unavailable)?;
        rows.iter()
            .map(|(_, value)| decode(value).map_err(unavailable))
            .collect()
    }
}
