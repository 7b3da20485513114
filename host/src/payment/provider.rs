//! The payment provider behind the ledger: whoever actually moves the money
//! (WeChat Pay, Alipay, a bank, the finance bureau's non-tax channel, or the
//! built-in sandbox). The host asks it for a checkout page, to close and to
//! refund, and for its daily statement; the provider tells the host about
//! payments through signed asynchronous notifications, which it verifies
//! here. Amounts, currency, nonce replay and deduplication are checked by
//! the host for every provider, so an adapter only proves authenticity.

use super::order::Order;
use serde::{Deserialize, Serialize};

/// A payment the provider reports, once its signature is verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The host's order id (the provider's "out trade no").
    pub order_id: String,
    /// The provider's transaction id.
    pub txn_id: String,
    /// Amount paid, fen.
    pub amount_fen: u64,
    /// ISO 4217 currency; the host accepts only `CNY`.
    pub currency: String,
}

/// A notification whose signature and timestamp the provider verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotice {
    /// The provider's one-time nonce (the host refuses a replay).
    pub nonce: String,
    /// When the provider signed it, seconds since the epoch.
    pub timestamp: u64,
    /// What it says.
    pub notification: Notification,
}

/// Why a notification was refused before it reached the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// Missing or wrong signature.
    #[error("the notification's signature is missing or wrong")]
    BadSignature,
    /// Signed too long ago or in the future.
    #[error("the notification's timestamp is outside the accepted window of {0} s")]
    Stale(u64),
    /// Not the provider's format.
    #[error("the notification is malformed: {0}")]
    Malformed(String),
}

/// A provider call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Could not reach it or it failed; safe to retry.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// It refused (e.g. closing an order it has already taken money for).
    #[error("the payment provider refused: {0}")]
    Refused(String),
}

/// One line of a provider's daily statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// The provider's transaction or refund id.
    pub txn_id: String,
    /// The host's order id.
    pub order_id: String,
    /// `payment` or `refund`.
    pub kind: String,
    /// Amount, fen.
    pub amount_fen: u64,
}

/// What the provider knows of an order, answered by its "query order" API
/// (every real channel offers one; the host uses it so the ledger never
/// relies on notifications alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderState {
    /// No payment taken (yet).
    Unpaid,
    /// Closed at the provider: no payment can be taken any more.
    Closed,
    /// Paid: the transaction, as a notification would have told it.
    Paid(Notification),
}

/// Headers of an incoming notification, looked up case-insensitively.
pub type HeaderLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A payment provider adapter.
///
/// To plug in a real one (WeChat Pay v3, Alipay, a bank, the non-tax
/// channel): create the provider's order when the host asks for the
/// checkout (`checkout_url` may return the provider's cashier or an
/// app-pay parameter page), verify its callback signature in
/// `verify_notice` (WeChat Pay v3: RSA/SM2 over timestamp, nonce and body
/// with the platform certificate, then decrypt the AES-GCM resource), map
/// close/refund to its API with the host's order id and refund key as the
/// provider's idempotency keys, and download its daily bill in `statement`.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Short name, used in the notification URL
    /// (`/api/v1/payments/notify/{name}`) and the journal.
    fn name(&self) -> &str;

    /// Where the app sends the citizen to pay `order`.
    fn checkout_url(&self, order: &Order) -> String;

    /// Check a notification's authenticity and freshness at `now` (seconds)
    /// and parse it.
    fn verify_notice(
        &self,
        headers: HeaderLookup<'_>,
        body: &[u8],
        now: u64,
    ) -> Result<VerifiedNotice, NoticeError>;

    /// Stop accepting payment for `order` (before the host closes or
    /// expires it). Refused when the citizen has already paid: the host then
    /// settles the order from [`PaymentProvider::query`] instead.
    fn close(&self, order: &Order) -> Result<(), ProviderError>;

    /// What the provider knows of `order` now.
    fn query(&self, order: &Order) -> Result<ProviderState, ProviderError>;

    /// Refund `amount_fen` of `order` under the plugin's `refund_key`
    /// (idempotent at the provider). Returns the provider's refund id.
    fn refund(
        &self,
        order: &Order,
        refund_key: &str,
        amount_fen: u64,
    ) -> Result<String, ProviderError>;

    /// The provider's record of payments and refunds on `date`
    /// (`YYYY-MM-DD` in the business time zone) for reconciliation.
    fn statement(&self, date: &str) -> Result<Vec<StatementLine>, ProviderError>;
}
