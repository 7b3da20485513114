//! The outbox: one event per order change a plugin should hear about,
//! written in the same batch as the change and delivered at least once.

use serde::{Deserialize, Serialize};

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The provider confirmed the payment.
    Paid,
    /// Closed unpaid.
    Closed,
    /// Expired unpaid.
    Expired,
    /// A refund was made.
    Refunded,
}

impl EventKind {
    /// The event a journal entry's `event` name raises, if any.
    pub fn for_journal(event: &str) -> Option<EventKind> {
        match event {
            "paid" => Some(EventKind::Paid),
            "closed" => Some(EventKind::Closed),
            "expired" => Some(EventKind::Expired),
            "refunded" => Some(EventKind::Refunded),
            _ => None,
        }
    }
}

/// Where an event's delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = PaymentDeliveryStatus)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The plugin acknowledged it.
    Delivered,
    /// Every attempt failed; an admin may redeliver it.
    Failed,
    /// The plugin's serving version does not export `payment-events`.
    NoHandler,
}

/// One event and its delivery record, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// `evt-{order}-{journal seq}`: the same on every attempt.
    pub id: String,
    /// The plugin that owns the order.
    pub plugin: String,
    /// The order.
    pub order_id: String,
    /// What happened.
    pub kind: EventKind,
    /// Money moved, fen.
    pub amount_fen: u64,
    /// The refund key, for refunds.
    pub refund_key: Option<String>,
    /// When the change happened, ms since the epoch.
    pub created_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, ms since the epoch.
    pub next_attempt_ms: u64,
    /// Delivery status.
    pub status: DeliveryStatus,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the plugin acknowledged it, ms since the epoch.
    pub delivered_ms: Option<u64>,
    /// The plugin version that acknowledged it.
    pub delivered_to: Option<String>,
}

/// How long to wait after `attempts` failed attempts: `base` doubled per
/// attempt, at most one hour.
pub fn backoff_ms(base_ms: u64, attempts: u32) -> u64 {
    let factor = 1u64 << attempts.saturating_sub(1).min(20);
    base_ms.saturating_mul(factor).min(3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1000, 1), 1000);
        assert_eq!(backoff_ms(1000, 2), 2000);
        assert_eq!(backoff_ms(1000, 4), 8000);
        assert_eq!(backoff_ms(1000, 40), 3_600_000);
        assert_eq!(backoff_ms(u64::MAX, 3), 3_600_000);
    }
}
