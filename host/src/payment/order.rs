//! Orders and refunds as a state machine: created → paid → partially or
//! fully refunded; created → closed | expired. Amounts are integers in fen.
//! Every change is a pure function returning the new order and the journal
//! entry that records it; a repeated change (same notification, same refund
//! key) returns the order unchanged and no entry.

use serde::{Deserialize, Serialize};

/// Largest amount one order may carry, in fen (1,000,000 yuan).
pub const MAX_AMOUNT_FEN: u64 = 100_000_000;
/// Longest expiry a plugin may ask for, seconds (7 days).
pub const MAX_EXPIRY_S: u32 = 7 * 24 * 3600;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 128;
/// Longest order or refund key, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// What is being paid for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrderKind {
    /// A fee for a service (`"service-fee"` in JSON).
    ServiceFee,
    /// A government non-tax fee with the finance bureau's fee item code
    /// (`{"non-tax": "<code>"}` in JSON).
    NonTax(String),
}

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    /// Waiting for the citizen to pay.
    Created,
    /// Paid in full.
    Paid,
    /// Paid, and part of it refunded.
    PartiallyRefunded,
    /// Paid, and all of it refunded.
    Refunded,
    /// Closed before payment.
    Closed,
    /// Expired before payment.
    Expired,
}

/// One refund of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refund {
    /// The plugin's refund key (idempotency).
    pub key: String,
    /// Amount, fen.
    pub amount_fen: u64,
    /// Why.
    pub reason: String,
    /// When, seconds since the epoch.
    pub at: u64,
}

/// What a plugin asks for when it creates an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewOrder {
    /// The merchant account to credit.
    pub merchant: String,
    /// Amount, fen.
    pub amount_fen: u64,
    /// Shown to the citizen.
    pub description: String,
    /// Service fee or non-tax fee.
    pub kind: OrderKind,
    /// The plugin's own order key: the same key with the same parameters
    /// returns the same order.
    pub order_key: String,
    /// Seconds after creation until an unpaid order expires.
    pub expires_in_s: u32,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Host order id.
    pub id: String,
    /// The plugin that created it (orders are invisible to other plugins).
    pub plugin: String,
    /// The citizen who pays: a host-side key derived from issuer and
    /// subject, never shown to plugins.
    pub citizen: String,
    /// The payer's pairwise subject in the plugin.
    pub payer: String,
    /// What the plugin asked for.
    pub request: NewOrder,
    /// Its status.
    pub status: OrderStatus,
    /// The provider's transaction id once paid.
    pub provider_txn: Option<String>,
    /// Refunds so far.
    pub refunds: Vec<Refund>,
    /// Created, seconds since the epoch.
    pub created_at: u64,
    /// When an unpaid order expires, seconds since the epoch.
    pub expires_at: u64,
    /// When the payment was confirmed, seconds since the epoch.
    pub paid_at: Option<u64>,
    /// Payments the provider took after the order was closed or expired,
    /// each refunded by the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late_payments: Vec<LatePayment>,
}

/// A payment that arrived for a closed or expired order, and its refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatePayment {
    /// The provider's transaction id.
    pub txn_id: String,
    /// Amount taken and refunded, fen.
    pub amount_fen: u64,
    /// The provider's refund id.
    pub refund_id: String,
    /// When it was refunded, seconds since the epoch.
    pub at: u64,
}

impl Order {
    /// Fen refunded so far.
    pub fn refunded_fen(&self) -> u64 {
        self.refunds.iter().map(|r| r.amount_fen).sum()
    }
}

/// Why a change was refused. Each is a value the plugin gets back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// Zero, above the maximum, or a refund above what is left.
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// The order key was used before with other parameters.
    #[error("order key {0:?} was already used with other parameters")]
    KeyReused(String),
    /// The change does not fit the order's status.
    #[error("the order is {0:?}; {1}")]
    InvalidState(OrderStatus, &'static str),
    /// A payment notification does not match the order.
    #[error("the notification does not match the order: {0}")]
    Mismatch(String),
    /// A field is malformed.
    #[error("{0}")]
    InvalidArgument(String),
}

/// A journal entry: who changed what, when, with which amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    /// The order.
    pub order: String,
    /// What happened: `created`, `paid`, `refunded`, `closed`, `expired`.
    pub event: String,
    /// Who: the plugin, the provider or the host.
    pub by: String,
    /// When, seconds since the epoch.
    pub at: u64,
    /// Amount moved, fen (for `created`: the amount asked; 0 when none).
    pub amount_fen: u64,
    /// Status after the change.
    pub status: OrderStatus,
}

fn entry(order: &Order, event: &str, by: &str, at: u64, amount_fen: u64) -> JournalEntry {
    JournalEntry {
        order: order.id.clone(),
        event: event.to_string(),
        by: by.to_string(),
        at,
        amount_fen,
        status: order.status,
    }
}

/// Whether `key` is a valid order or refund key: 1 to 64 bytes of
/// `A-Z a-z 0-9 - _ . :`.
pub fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_BYTES).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Check a new order's parameters; `min_expiry_s` is the platform's
/// shortest expiry.
pub fn validate(new: &NewOrder, min_expiry_s: u32) -> Result<(), OrderError> {
    if new.amount_fen == 0 || new.amount_fen > MAX_AMOUNT_FEN {
        return Err(OrderError::InvalidAmount(format!(
            "{} fen is not between 1 and {MAX_AMOUNT_FEN}",
            new.amount_fen
        )));
    }
    let chars = new.description.trim().chars().count();
    if chars == 0 || new.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(OrderError::InvalidArgument(format!(
            "the description must have 1 to {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if !is_valid_key(&new.order_key) {
        return Err(OrderError::InvalidArgument(
            "the order key must be 1 to 64 characters of A-Z a-z 0-9 - _ . :".into(),
        ));
    }
    if let OrderKind::NonTax(item_code) = &new.kind
        && !is_valid_key(item_code)
    {
        return Err(OrderError::InvalidArgument(
            "the non-tax fee item code must be 1 to 64 characters of A-Z a-z 0-9 - _ . :".into(),
        ));
    }
    if new.expires_in_s < min_expiry_s || new.expires_in_s > MAX_EXPIRY_S {
        return Err(OrderError::InvalidArgument(format!(
            "the expiry must be {min_expiry_s} to {MAX_EXPIRY_S} seconds"
        )));
    }
    Ok(())
}

/// Who creates an order and when.
#[derive(Debug, Clone)]
pub struct Creation<'a> {
    /// The host's id for the new order.
    pub id: &'a str,
    /// The creating plugin.
    pub plugin: &'a str,
    /// The paying citizen's host-side key.
    pub citizen: &'a str,
    /// The payer's pairwise subject in the plugin.
    pub payer: &'a str,
    /// Now, seconds since the epoch.
    pub now: u64,
    /// The platform's shortest expiry, seconds.
    pub min_expiry_s: u32,
}

/// Create an order, or return `existing` for a repeated order key with the
/// same parameters and payer.
pub fn create(
    by: &Creation<'_>,
    new: NewOrder,
    existing: Option<&Order>,
) -> Result<(Order, Option<JournalEntry>), OrderError> {
    if let Some(order) = existing {
        return if order.request == new && order.citizen == by.citizen {
            Ok((order.clone(), None))
        } else {
            Err(OrderError::KeyReused(new.order_key))
        };
    }
    validate(&new, by.min_expiry_s)?;
    let now = by.now;
    let order = Order {
        id: by.id.to_string(),
        plugin: by.plugin.to_string(),
        citizen: by.citizen.to_string(),
        payer: by.payer.to_string(),
        expires_at: now + u64::from(new.expires_in_s),
        request: new,
        status: OrderStatus::Created,
        provider_txn: None,
        refunds: Vec::new(),
        created_at: now,
        paid_at: None,
        late_payments: Vec::new(),
    };
    let journal = entry(&order, "created", by.plugin, now, order.request.amount_fen);
    Ok((order, Some(journal)))
}

/// Apply a verified payment notification of `amount_fen` (currency CNY) for
/// provider transaction `txn`. A repeat of the same notification changes
/// nothing.
pub fn mark_paid(
    order: &Order,
    txn: &str,
    amount_fen: u64,
    currency: &str,
    now: u64,
) -> Result<(Order, Option<JournalEntry>), OrderError> {
    settle_paid(order, txn, amount_fen, currency, now, "provider")
}

/// [`mark_paid`], learnt `by` a notification (`provider`) or the host's
/// query at the provider (`provider-query`).
pub fn settle_paid(
    order: &Order,
    txn: &str,
    amount_fen: u64,
    currency: &str,
    now: u64,
    by: &str,
) -> Result<(Order, Option<JournalEntry>), OrderError> {
    if currency != "CNY" {
        return Err(OrderError::Mismatch(format!(
            "currency {currency}, expected CNY"
        )));
    }
    if amount_fen != order.request.amount_fen {
        return Err(OrderError::Mismatch(format!(
            "{amount_fen} fen paid for an order of {} fen",
            order.request.amount_fen
        )));
    }
    match order.status {
        OrderStatus::Created => {
            let mut paid = order.clone();
            paid.status = OrderStatus::Paid;
            paid.provider_txn = Some(txn.to_string());
            paid.paid_at = Some(now);
            let journal = entry(&paid, "paid", by, now, amount_fen);
            Ok((paid, Some(journal)))
        }
        _ if order.provider_txn.as_deref() == Some(txn) => Ok((order.clone(), None)),
        status => Err(OrderError::InvalidState(
            status,
            "only a created order can be paid",
        )),
    }
}

/// Close an unpaid order.
pub fn close(
    order: &Order,
    by: &str,
    now: u64,
) -> Result<(Order, Option<JournalEntry>), OrderError> {
    match order.status {
        OrderStatus::Created => {
            let mut closed = order.clone();
            closed.status = OrderStatus::Closed;
            let journal = entry(&closed, "closed", by, now, 0);
            Ok((closed, Some(journal)))
        }
        OrderStatus::Closed => Ok((order.clone(), None)),
        status => Err(OrderError::InvalidState(
            status,
            "only an unpaid order can be closed",
        )),
    }
}

/// Expire an unpaid order whose expiry has passed; other orders are unchanged.
pub fn expire(order: &Order, now: u64) -> (Order, Option<JournalEntry>) {
    if order.status == OrderStatus::Created && order.expires_at <= now {
        let mut expired = order.clone();
        expired.status = OrderStatus::Expired;
        let journal = entry(&expired, "expired", "host", now, 0);
        (expired, Some(journal))
    } else {
        (order.clone(), None)
    }
}

/// Record that the provider took `amount_fen` under transaction `txn` for an
/// order already closed or expired, and that the host refunded it as
/// `refund_id`. The order's status stays; a repeat changes nothing.
pub fn refund_late(
    order: &Order,
    txn: &str,
    amount_fen: u64,
    refund_id: &str,
    now: u64,
) -> Result<(Order, Option<JournalEntry>), OrderError> {
    if !matches!(order.status, OrderStatus::Closed | OrderStatus::Expired) {
        return Err(OrderError::InvalidState(
            order.status,
            "only a payment for a closed or expired order is refunded as late",
        ));
    }
    if order.late_payments.iter().any(|p| p.txn_id == txn) {
        return Ok((order.clone(), None));
    }
    let mut next = order.clone();
    next.late_payments.push(LatePayment {
        txn_id: txn.to_string(),
        amount_fen,
        refund_id: refund_id.to_string(),
        at: now,
    });
    let journal = entry(&next, LATE_REFUND, "host", now, amount_fen);
    Ok((next, Some(journal)))
}

/// The journal event of a late payment refunded by the host.
pub const LATE_REFUND: &str = "late-payment-refunded";

/// Refund `amount_fen` under the plugin's refund `key`: the same key with
/// the same amount changes nothing; refunds never exceed the paid amount.
pub fn refund(
    order: &Order,
    key: &str,
    amount_fen: u64,
    reason: &str,
    now: u64,
) -> Result<(Order, Option<JournalEntry>), OrderError> {
    if let Some(done) = order.refunds.iter().find(|r| r.key == key) {
        return if done.amount_fen == amount_fen {
            Ok((order.clone(), None))
        } else {
            Err(OrderError::KeyReused(key.to_string()))
        };
    }
    if !matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::PartiallyRefunded
    ) {
        return Err(OrderError::InvalidState(
            order.status,
            "only a paid order can be refunded",
        ));
    }
    if !is_valid_key(key) {
        return Err(OrderError::InvalidArgument(
            "the refund key must be 1 to 64 characters of A-Z a-z 0-9 - _ . :".into(),
        ));
    }
    let refunded = order.refunded_fen();
    let left = order.request.amount_fen.saturating_sub(refunded);
    if amount_fen == 0 || amount_fen > left {
        return Err(OrderError::InvalidAmount(format!(
            "{amount_fen} fen; {left} fen can still be refunded"
        )));
    }
    let mut next = order.clone();
    next.refunds.push(Refund {
        key: key.to_string(),
        amount_fen,
        reason: reason.to_string(),
        at: now,
    });
    next.status = if amount_fen == left {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    let journal = entry(&next, "refunded", &order.plugin, now, amount_fen);
    Ok((next, Some(journal)))
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
