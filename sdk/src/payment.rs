//! Charge the signed-in citizen: the `islet:platform/payment` capability.
//!
//! Needs `payment` in the manifest's `capabilities`, and an admin must grant
//! the mini-service the merchant accounts it charges to. The host owns the
//! money path: the service creates an order, the app sends the citizen to
//! the order's [`checkout_url`](Order::checkout_url), and the provider's
//! notification — not the app — decides that the order is paid. The service
//! hears about it through the `on_payment` handler of
//! [`export_service!`](crate::export_service), as a [`PaymentEvent`].
//!
//! Amounts are integers in fen (1/100 yuan), never floats. Every failure is
//! a [`PaymentError`] value, never a trap.
//!
//! ```no_run
//! use islet_sdk::payment::{self, NewOrder};
//! use islet_sdk::{Request, Response};
//!
//! fn pay(_req: &Request) -> Result<Response, Response> {
//!     let new = NewOrder::new("water-supply", 4268, "Water bill 2026-10", "WB-1-2026-10-1");
//!     let order = payment::create_order(&new)?; // errors become JSON responses
//!     Ok(Response::json(&serde_json::json!({ "checkout_url": order.checkout_url })))
//! }
//! ```

mod error;

pub use error::PaymentError;

use serde::{Deserialize, Serialize};

/// Largest amount one order may carry, in fen (1,000,000 yuan).
///
/// ```
/// use islet_sdk::payment::{self, NewOrder, PaymentError, MAX_AMOUNT_FEN};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.grant_merchant("city-fees").as_caller("pw-alice");
/// let too_much = NewOrder::new("city-fees", MAX_AMOUNT_FEN + 1, "Fee", "k1");
/// assert!(matches!(payment::create_order(&too_much), Err(PaymentError::InvalidAmount(_))));
/// ```
pub const MAX_AMOUNT_FEN: u64 = 100_000_000;
/// Expiry of a [`NewOrder::new`] order: two hours.
///
/// ```
/// use islet_sdk::payment::{NewOrder, DEFAULT_EXPIRES_IN_S};
/// assert_eq!(NewOrder::new("city-fees", 100, "Fee", "k1").expires_in_s, DEFAULT_EXPIRES_IN_S);
/// ```
pub const DEFAULT_EXPIRES_IN_S: u32 = 7200;

/// What an order charges for. Serialises as `"service-fee"` or
/// `{"non-tax": "<code>"}`.
///
/// ```
/// use islet_sdk::payment::{NewOrder, OrderKind};
/// let fee = NewOrder::new("city-fees", 2000, "Permit", "p-1").non_tax("103-0021");
/// assert_eq!(fee.kind, OrderKind::NonTax("103-0021".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderKind {
    /// A fee for the mini-service's own service.
    ServiceFee,
    /// A government non-tax fee (财政非税收入) with the finance bureau's fee
    /// item code.
    NonTax(String),
}

/// Where an order is: created → paid → partially-refunded → refunded;
/// created → closed | expired. Serialises in kebab case, e.g.
/// `"partially-refunded"`.
///
/// ```
/// use islet_sdk::payment::OrderStatus;
/// assert!(OrderStatus::PartiallyRefunded.was_paid());
/// assert_eq!(OrderStatus::Expired.as_str(), "expired");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Closed before payment by the mini-service or the citizen.
    Closed,
    /// Not paid before its expiry.
    Expired,
}

impl OrderStatus {
    /// The kebab-case name, as in the WIT and the JSON, e.g. `partially-refunded`.
    ///
    /// ```
    /// assert_eq!(islet_sdk::payment::OrderStatus::PartiallyRefunded.as_str(), "partially-refunded");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyRefunded => "partially-refunded",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Closed => "closed",
            OrderStatus::Expired => "expired",
        }
    }

    /// Whether the money arrived: paid, partially or fully refunded.
    ///
    /// ```
    /// use islet_sdk::payment::OrderStatus;
    /// assert!(OrderStatus::Refunded.was_paid() && !OrderStatus::Created.was_paid());
    /// ```
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded
        )
    }

    /// Whether the order ended unpaid: closed or expired.
    ///
    /// ```
    /// use islet_sdk::payment::OrderStatus;
    /// assert!(OrderStatus::Closed.ended_unpaid() && !OrderStatus::Paid.ended_unpaid());
    /// ```
    pub fn ended_unpaid(self) -> bool {
        matches!(self, OrderStatus::Closed | OrderStatus::Expired)
    }
}

/// What [`create_order`] asks for.
///
/// ```
/// use islet_sdk::payment::{NewOrder, OrderKind};
///
/// let new = NewOrder::new("water-supply", 4268, "Water bill 2026-10", "WB-1-2026-10-1")
///     .non_tax("103-0021")
///     .expires_in(3600);
/// assert_eq!(new.kind, OrderKind::NonTax("103-0021".into()));
/// assert_eq!(new.expires_in_s, 3600);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// A merchant account granted to this mini-service by an admin.
    pub merchant: String,
    /// Amount in fen: 1 to [`MAX_AMOUNT_FEN`].
    pub amount_fen: u64,
    /// Shown to the citizen in the cashier and their order list (1 to 128
    /// characters).
    pub description: String,
    /// Service fee or non-tax fee.
    pub kind: OrderKind,
    /// The mini-service's own order number (1 to 64 characters of
    /// `A-Z a-z 0-9 - _ . :`). The same key with the same parameters
    /// returns the same order; with other parameters it is
    /// [`PaymentError::KeyReused`].
    pub order_key: String,
    /// Seconds until an unpaid order expires: 60 to 604800 (7 days).
    pub expires_in_s: u32,
}

impl NewOrder {
    /// A service-fee order expiring in [`DEFAULT_EXPIRES_IN_S`] seconds.
    ///
    /// ```
    /// use islet_sdk::payment::NewOrder;
    /// let order = NewOrder::new("water-supply", 4268, "Water bill 2026-10", "WB-1-2026-10");
    /// assert_eq!(order.amount_fen, 4268);
    /// ```
    pub fn new(
        merchant: impl Into<String>,
        amount_fen: u64,
        description: impl Into<String>,
        order_key: impl Into<String>,
    ) -> Self {
        NewOrder {
            merchant: merchant.into(),
            amount_fen,
            description: description.into(),
            kind: OrderKind::ServiceFee,
            order_key: order_key.into(),
            expires_in_s: DEFAULT_EXPIRES_IN_S,
        }
    }

    /// This order as a government non-tax fee with fee item `code`.
    ///
    /// ```
    /// use islet_sdk::payment::NewOrder;
    /// let fine = NewOrder::new("city-fees", 20000, "Parking fine", "fine-7").non_tax("103-0021");
    /// ```
    pub fn non_tax(mut self, code: impl Into<String>) -> Self {
        self.kind = OrderKind::NonTax(code.into());
        self
    }

    /// This order expiring `seconds` after creation if unpaid.
    ///
    /// ```
    /// use islet_sdk::payment::NewOrder;
    /// let quick = NewOrder::new("city-fees", 500, "Locker", "locker-3").expires_in(15 * 60);
    /// assert_eq!(quick.expires_in_s, 900);
    /// ```
    pub fn expires_in(mut self, seconds: u32) -> Self {
        self.expires_in_s = seconds;
        self
    }
}

/// An order as this mini-service sees it.
///
/// ```
/// use islet_sdk::payment::{self, NewOrder, OrderStatus};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.grant_merchant("city-fees").as_caller("pw-alice");
/// let order = payment::create_order(&NewOrder::new("city-fees", 1000, "Fee", "k1")).unwrap();
/// assert_eq!((order.status, order.checkout_url.as_str()), (OrderStatus::Created, "/pay/o1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The host's order id.
    pub id: String,
    /// The mini-service's order key.
    pub order_key: String,
    /// The merchant account credited.
    pub merchant: String,
    /// Amount, fen.
    pub amount_fen: u64,
    /// Refunded so far, fen.
    pub refunded_fen: u64,
    /// Shown to the citizen.
    pub description: String,
    /// Service fee or non-tax fee.
    pub kind: OrderKind,
    /// Where the order is.
    pub status: OrderStatus,
    /// The payer's pairwise subject in this mini-service, as
    /// [`identity`](crate::identity) gives it.
    pub payer: String,
    /// Where the app sends the citizen to pay: a path on the platform, e.g.
    /// `/pay/o123`.
    pub checkout_url: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    /// Seconds since the Unix epoch, once paid.
    pub paid_at: Option<u64>,
}

/// What happened to an order. Serialises in kebab case, e.g. `"paid"`.
///
/// ```
/// use islet_sdk::payment::EventKind;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.grant_merchant("city-fees").as_caller("pw-alice");
/// # islet_sdk::payment::create_order(&islet_sdk::payment::NewOrder::new("city-fees", 1000, "Fee", "k1")).unwrap();
/// assert_eq!(env.pay("o1").kind, EventKind::Paid);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The provider confirmed the payment.
    Paid,
    /// The order was closed unpaid.
    Closed,
    /// The order expired unpaid.
    Expired,
    /// A refund was made (see [`PaymentEvent::amount_fen`] and
    /// [`PaymentEvent::refund_key`]).
    Refunded,
}

impl EventKind {
    /// The kebab-case name, as in the WIT and the JSON, e.g. `refunded`.
    ///
    /// ```
    /// assert_eq!(islet_sdk::payment::EventKind::Refunded.as_str(), "refunded");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Paid => "paid",
            EventKind::Closed => "closed",
            EventKind::Expired => "expired",
            EventKind::Refunded => "refunded",
        }
    }
}

/// One change of one order, delivered to the `on_payment` handler at least
/// once: the same event (same `id`) may arrive again, so handle it
/// idempotently, e.g. by remembering handled ids in storage.
///
/// ```
/// use islet_sdk::payment::{self, NewOrder};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.grant_merchant("city-fees").as_caller("pw-alice");
/// payment::create_order(&NewOrder::new("city-fees", 1000, "Fee", "k1")).unwrap();
/// let event = env.pay("o1");
/// assert_eq!((event.order.id.as_str(), event.amount_fen, event.attempt), ("o1", 1000, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// Unique per change; repeated deliveries carry the same id.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// The order after the change.
    pub order: Order,
    /// Money moved by this change, fen (0 for closed and expired).
    pub amount_fen: u64,
    /// The refund's key, for [`EventKind::Refunded`].
    pub refund_key: Option<String>,
    /// 1 on the first delivery, then 2, 3, ...
    pub attempt: u32,
}

/// Create an order for the current citizen, or return the existing one for
/// a repeated order key with the same parameters.
///
/// ```
/// use islet_sdk::payment::{self, NewOrder};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.grant_merchant("city-fees").as_caller("pw-alice");
/// let new = NewOrder::new("city-fees", 1000, "Permit fee", "permit-1");
/// let order = payment::create_order(&new).unwrap();
/// assert_eq!(payment::create_order(&new).unwrap().id, order.id); // same key: same order
/// ```
pub fn create_order(order: &NewOrder) -> Result<Order, PaymentError> {
    crate::sys::payment_create_order(order)
}

/// The order `id`, if it belongs to this mini-service
/// (else [`PaymentError::NotFound`]).
///
/// ```
/// use islet_sdk::payment::{self, PaymentError};
/// # let env = islet_sdk::testing::TestEnv::new();
/// assert_eq!(payment::get_order("o404").unwrap_err(), PaymentError::NotFound);
/// ```
pub fn get_order(id: &str) -> Result<Order, PaymentError> {
    crate::sys::payment_get_order(id)
}

/// The order created with `order_key`, if any (else
/// [`PaymentError::NotFound`]).
///
/// ```
/// use islet_sdk::payment::{self, NewOrder};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.grant_merchant("city-fees").as_caller("pw-alice");
/// payment::create_order(&NewOrder::new("city-fees", 1000, "Fee", "permit-1")).unwrap();
/// assert_eq!(payment::find_order("permit-1").unwrap().id, "o1");
/// ```
pub fn find_order(order_key: &str) -> Result<Order, PaymentError> {
    crate::sys::payment_find_order(order_key)
}

/// Close an unpaid order so it can no longer be paid. Closing a closed order
/// returns it unchanged.
///
/// ```
/// use islet_sdk::payment::{self, NewOrder, OrderStatus};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.grant_merchant("city-fees").as_caller("pw-alice");
/// let order = payment::create_order(&NewOrder::new("city-fees", 1000, "Fee", "k1")).unwrap();
/// assert_eq!(payment::close_order(&order.id).unwrap().status, OrderStatus::Closed);
/// ```
pub fn close_order(id: &str) -> Result<Order, PaymentError> {
    crate::sys::payment_close_order(id)
}

/// Refund `amount_fen` of a paid order. `refund_key` makes it idempotent:
/// the same key with the same amount returns the order unchanged. Refunds
/// never exceed the paid amount in total.
///
/// ```
/// use islet_sdk::payment::{self, NewOrder, OrderStatus};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.grant_merchant("city-fees").as_caller("pw-alice");
/// let order = payment::create_order(&NewOrder::new("city-fees", 1000, "Fee", "k1")).unwrap();
/// env.pay(&order.id);
/// let after = payment::refund(&order.id, 400, "overcharged", "refund-k1-1").unwrap();
/// assert_eq!((after.status, after.refunded_fen), (OrderStatus::PartiallyRefunded, 400));
/// ```
pub fn refund(
    id: &str,
    amount_fen: u64,
    reason: &str,
    refund_key: &str,
) -> Result<Order, PaymentError> {
    crate::sys::payment_refund(id, amount_fen, reason, refund_key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_and_statuses_serialise_in_kebab_case() {
        assert_eq!(
            serde_json::to_value(OrderKind::ServiceFee).unwrap(),
            "service-fee"
        );
        assert_eq!(
            serde_json::to_value(OrderKind::NonTax("x1".into())).unwrap(),
            json!({"non-tax": "x1"})
        );
        let kind: OrderKind = serde_json::from_value(json!({"non-tax": "x1"})).unwrap();
        assert_eq!(kind, OrderKind::NonTax("x1".into()));
        assert_eq!(
            serde_json::to_value(OrderStatus::PartiallyRefunded).unwrap(),
            "partially-refunded"
        );
        for status in [
            OrderStatus::Created,
            OrderStatus::Paid,
            OrderStatus::PartiallyRefunded,
            OrderStatus::Refunded,
            OrderStatus::Closed,
            OrderStatus::Expired,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(serde_json::to_value(EventKind::Expired).unwrap(), "expired");
    }

    #[test]
    fn new_order_defaults_and_builders() {
        let new = NewOrder::new("m", 1, "d", "k");
        assert_eq!(
            serde_json::to_value(&new).unwrap(),
            json!({"merchant": "m", "amount_fen": 1, "description": "d",
                   "kind": "service-fee", "order_key": "k", "expires_in_s": 7200})
        );
        let new = new.non_tax("c").expires_in(60);
        assert_eq!(
            (new.kind, new.expires_in_s),
            (OrderKind::NonTax("c".into()), 60)
        );
        assert!(OrderStatus::Refunded.was_paid() && !OrderStatus::Created.was_paid());
        assert!(OrderStatus::Expired.ended_unpaid() && !OrderStatus::Paid.ended_unpaid());
    }
}
