//! The built-in sandbox provider: behaves like a real one without moving
//! money. Its cashier (`GET /pay/{order}`) takes the citizen's Pay or
//! Cancel. Every change on its side is one atomic batch: a Pay writes the
//! payment record, its statement line and its notification outbox entry
//! together (a repeated Pay re-writes whatever is missing); a refund writes
//! its record and statement line together; a close is refused once a payment
//! exists and a Pay is refused once the order is closed. The outbox is sent
//! by [`notifier`], a queue any host of a deployment may work on (leased
//! entries, retried with backoff, like WeChat Pay's retries). The host can
//! also ask it what it knows of an order (`query`).
//! Development hosts let tests drive it through the cashier call with
//! options: fail, delay, notify several times.
//!
//! Signature: `Islet-Sandbox-Signature` = hex HMAC-SHA256 with the secret in
//! the data folder (`sandbox-pay-secret`) over
//! `"{timestamp}\n{nonce}\n{body}"`, with `Islet-Sandbox-Timestamp` (Unix
//! seconds) and `Islet-Sandbox-Nonce`.

pub mod notifier;

use super::ledger::{decode, encode};
use super::order::{Order, OrderStatus};
use super::provider::{
    HeaderLookup, NoticeError, Notification, PaymentProvider, ProviderError, ProviderState,
    StatementLine, VerifiedNotice,
};
use crate::clock::{date_of, now_ms};
use crate::store::{Batch, KvStore, WriteError};
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

const NAMESPACE: &str = "sandbox-pay";
/// Attempts at a contended cashier change before giving up.
const MAX_RETRIES: usize = 16;

/// What a test asks of the sandbox in the cashier (development hosts only).
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

impl PayOptions {
    /// Whether any test option is set.
    pub fn any(&self) -> bool {
        self.fail || self.notify_times.is_some() || self.delay_ms > 0
    }
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

impl SandboxPayment {
    /// The notification that tells the host about it.
    pub fn notification(&self) -> Notification {
        Notification {
            order_id: self.order_id.clone(),
            txn_id: self.txn_id.clone(),
            amount_fen: self.amount_fen,
            currency: "CNY".into(),
        }
    }

    fn statement_line(&self) -> StatementLine {
        StatementLine {
            txn_id: self.txn_id.clone(),
            order_id: self.order_id.clone(),
            kind: "payment".into(),
            amount_fen: self.amount_fen,
        }
    }
}

/// The sandbox provider.
pub struct SandboxProvider {
    store: Arc<dyn KvStore>,
    secret: Vec<u8>,
    notify_url: OnceLock<String>,
    client: reqwest::Client,
    retry_base: Duration,
    wake: tokio::sync::Notify,
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

fn pay_key(order_id: &str) -> String {
    format!("pay/{order_id}")
}

fn closed_key(order_id: &str) -> String {
    format!("closed/{order_id}")
}

fn day_key(at: u64, txn_id: &str) -> String {
    format!("day/{}/{txn_id}", date_of(at))
}

/// `batch` with what goes with a payment: its statement line and its
/// notification outbox entry (first sent at `first_attempt_ms`).
fn records(
    batch: Batch,
    payment: &SandboxPayment,
    first_attempt_ms: u64,
    copies: u32,
) -> Result<Batch, ProviderError> {
    Ok(batch
        .put(
            day_key(payment.at, &payment.txn_id),
            encode(&payment.statement_line()).map_err(unavailable)?,
        )
        .put(
            notifier::outbox_key(&payment.txn_id),
            notifier::entry(payment, first_attempt_ms, copies)?,
        ))
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
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Where notifications go; set once the host knows its address. The
    /// outbox (including what a previous run left unsent) is sent by
    /// [`notifier::run`].
    pub fn set_notify_url(&self, url: String) {
        let _ = self.notify_url.set(url);
        self.wake.notify_one();
    }

    /// The payment taken for `order_id`, if any.
    pub fn payment(&self, order_id: &str) -> Result<Option<SandboxPayment>, ProviderError> {
        match self
            .store
            .get(NAMESPACE, pay_key(order_id).as_bytes())
            .map_err(unavailable)?
        {
            Some(bytes) => decode(&bytes).map(Some).map_err(unavailable),
            None => Ok(None),
        }
    }

    /// The citizen pays `order` in the cashier: take the money once and
    /// queue its notification, in one atomic batch with its statement line.
    /// A second Pay of an order the host has not yet marked paid reuses the
    /// transaction and re-writes whatever of it is missing, so a notification
    /// is always on its way before the cashier answers.
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
        if options.fail {
            return Err(ProviderError::Refused(
                "the payment failed (sandbox)".into(),
            ));
        }
        let copies = options.notify_times.unwrap_or(1).clamp(1, 25);
        let first_attempt_ms = now_ms() + options.delay_ms.min(60_000);
        for _ in 0..MAX_RETRIES {
            let (payment, batch) = match self.payment(&order.id)? {
                Some(payment) => {
                    // Taken before: make its records whole again.
                    let batch = records(Batch::new(), &payment, first_attempt_ms, copies)?;
                    (payment, batch)
                }
                None => {
                    let payment = SandboxPayment {
                        txn_id: format!("sbx{}", hex::encode(rand::random::<[u8; 8]>())),
                        order_id: order.id.clone(),
                        amount_fen: order.request.amount_fen,
                        at: now_ms() / 1000,
                    };
                    let batch = Batch::new()
                        .expect(pay_key(&order.id), None)
                        .expect(closed_key(&order.id), None)
                        .put(pay_key(&order.id), encode(&payment).map_err(unavailable)?);
                    let batch = records(batch, &payment, first_attempt_ms, copies)?;
                    (payment, batch)
                }
            };
            match self.store.commit(NAMESPACE, &batch) {
                Ok(()) => {
                    self.store.flush().map_err(unavailable)?;
                    self.wake.notify_one();
                    return Ok(payment);
                }
                Err(WriteError::Conflict) if self.is_closed(&order.id)? => {
                    return Err(ProviderError::Refused("the order was closed".into()));
                }
                // Another Pay of the same order won: take its payment.
                Err(WriteError::Conflict) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(unavailable("the order is contended at the cashier; retry"))
    }

    fn is_closed(&self, order_id: &str) -> Result<bool, ProviderError> {
        Ok(self
            .store
            .get(NAMESPACE, closed_key(order_id).as_bytes())
            .map_err(unavailable)?
            .is_some())
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
        // Only while no payment exists: a Pay and a close never both win.
        let batch = Batch::new()
            .expect(pay_key(&order.id), None)
            .put(closed_key(&order.id), b"true".to_vec());
        match self.store.commit(NAMESPACE, &batch) {
            Ok(()) => self.store.flush().map_err(unavailable),
            Err(WriteError::Conflict) => Err(ProviderError::Refused(
                "the citizen has already paid; wait for the notification".into(),
            )),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn query(&self, order: &Order) -> Result<ProviderState, ProviderError> {
        if let Some(payment) = self.payment(&order.id)? {
            return Ok(ProviderState::Paid(payment.notification()));
        }
        Ok(if self.is_closed(&order.id)? {
            ProviderState::Closed
        } else {
            ProviderState::Unpaid
        })
    }

    fn refund(
        &self,
        order: &Order,
        refund_key: &str,
        amount_fen: u64,
    ) -> Result<String, ProviderError> {
        let key = format!("refund/{}/{refund_key}", order.id);
        for _ in 0..MAX_RETRIES {
            if let Some(done) = self
                .store
                .get(NAMESPACE, key.as_bytes())
                .map_err(unavailable)?
            {
                let line: StatementLine = decode(&done).map_err(unavailable)?;
                return Ok(line.txn_id);
            }
            if self.payment(&order.id)?.is_none() {
                return Err(ProviderError::Refused(
                    "no payment of this order to refund".into(),
                ));
            }
            let line = StatementLine {
                txn_id: format!("sbr{}", hex::encode(rand::random::<[u8; 8]>())),
                order_id: order.id.clone(),
                kind: "refund".into(),
                amount_fen,
            };
            let bytes = encode(&line).map_err(unavailable)?;
            // The refund record and its statement line, together.
            let batch = Batch::new()
                .expect(key.clone(), None)
                .put(key.clone(), bytes.clone())
                .put(day_key(now_ms() / 1000, &line.txn_id), bytes);
            match self.store.commit(NAMESPACE, &batch) {
                Ok(()) => {
                    self.store.flush().map_err(unavailable)?;
                    return Ok(line.txn_id);
                }
                Err(WriteError::Conflict) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(unavailable("the refund is contended; retry"))
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
