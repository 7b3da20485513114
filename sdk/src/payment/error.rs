//! Why a payment call failed, and how a handler answers with it.

use crate::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a payment call failed: one variant per case of the WIT
/// `payment.error` variant. Serialises like the WIT names, e.g.
/// `"not-found"` or `{"invalid-amount": "..."}`.
///
/// ```
/// use islet_sdk::payment::{self, NewOrder, PaymentError};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.as_caller("pw-alice"); // no merchant granted
/// let refused = payment::create_order(&NewOrder::new("city-fees", 1000, "Fee", "k1"));
/// assert!(matches!(refused, Err(PaymentError::MerchantNotGranted(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentError {
    /// Zero, above the platform maximum, or a refund above what is left.
    InvalidAmount(String),
    /// The merchant account does not exist or was not granted to this
    /// mini-service (or the `payment` capability was not granted).
    MerchantNotGranted(String),
    /// The order key or refund key was used before with other parameters.
    KeyReused(String),
    /// No order with this id (or key) belongs to this mini-service.
    NotFound,
    /// The change does not fit the order's status (e.g. refund an unpaid
    /// order, close a paid one).
    InvalidState(String),
    /// The payment provider could not be reached; safe to retry.
    ProviderUnavailable(String),
    /// This mini-service created too many orders today.
    QuotaExceeded,
    /// Creating an order needs a signed-in citizen: the payer.
    NoCitizen,
    /// A field is malformed (description, order key, expiry, reason).
    InvalidArgument(String),
}

impl PaymentError {
    /// The kebab-case name of the variant, as in the WIT, e.g.
    /// `invalid-amount`. Error responses use it in snake case after
    /// `payment_`, e.g. `payment_invalid_amount`.
    ///
    /// ```
    /// assert_eq!(islet_sdk::payment::PaymentError::NotFound.code(), "not-found");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            PaymentError::InvalidAmount(_) => "invalid-amount",
            PaymentError::MerchantNotGranted(_) => "merchant-not-granted",
            PaymentError::KeyReused(_) => "key-reused",
            PaymentError::NotFound => "not-found",
            PaymentError::InvalidState(_) => "invalid-state",
            PaymentError::ProviderUnavailable(_) => "provider-unavailable",
            PaymentError::QuotaExceeded => "quota-exceeded",
            PaymentError::NoCitizen => "no-citizen",
            PaymentError::InvalidArgument(_) => "invalid-argument",
        }
    }

    /// The HTTP status a handler answers with when it gives up on this
    /// error: 400 for invalid amounts and arguments, 401 without a citizen,
    /// 403 for a merchant not granted, 404 for an unknown order, 409 for a
    /// reused key or a wrong state, 429 over quota, 503 when the provider is
    /// unavailable.
    ///
    /// ```
    /// assert_eq!(islet_sdk::payment::PaymentError::QuotaExceeded.status(), 429);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            PaymentError::InvalidAmount(_) | PaymentError::InvalidArgument(_) => 400,
            PaymentError::NoCitizen => 401,
            PaymentError::MerchantNotGranted(_) => 403,
            PaymentError::NotFound => 404,
            PaymentError::KeyReused(_) | PaymentError::InvalidState(_) => 409,
            PaymentError::QuotaExceeded => 429,
            PaymentError::ProviderUnavailable(_) => 503,
        }
    }
}

impl fmt::Display for PaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentError::InvalidAmount(why) => write!(f, "invalid amount: {why}"),
            PaymentError::MerchantNotGranted(merchant) => {
                write!(f, "merchant account not granted: {merchant}")
            }
            PaymentError::KeyReused(key) => {
                write!(f, "the key was already used with other parameters: {key}")
            }
            PaymentError::NotFound => f.write_str("no such order"),
            PaymentError::InvalidState(why) => {
                write!(f, "the order's status does not allow this: {why}")
            }
            PaymentError::ProviderUnavailable(why) => {
                write!(f, "the payment provider is unavailable: {why}")
            }
            PaymentError::QuotaExceeded => f.write_str("too many orders today"),
            PaymentError::NoCitizen => f.write_str("paying needs a signed-in citizen"),
            PaymentError::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
        }
    }
}

impl std::error::Error for PaymentError {}

impl IntoResponse for PaymentError {
    fn into_response(self) -> Response {
        Response::error(
            self.status(),
            &format!("payment_{}", self.code().replace('-', "_")),
            &self.to_string(),
        )
    }
}

/// Lets `?` turn a payment failure into an error response in a handler
/// returning `Result<_, Response>`.
impl From<PaymentError> for Response {
    fn from(error: PaymentError) -> Response {
        error.into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    #[test]
    fn errors_become_platform_shaped_responses() {
        let cases = [
            (
                PaymentError::InvalidAmount("0".into()),
                400,
                "invalid-amount",
            ),
            (
                PaymentError::InvalidArgument("k".into()),
                400,
                "invalid-argument",
            ),
            (PaymentError::NoCitizen, 401, "no-citizen"),
            (
                PaymentError::MerchantNotGranted("m".into()),
                403,
                "merchant-not-granted",
            ),
            (PaymentError::NotFound, 404, "not-found"),
            (PaymentError::KeyReused("k".into()), 409, "key-reused"),
            (
                PaymentError::InvalidState("paid".into()),
                409,
                "invalid-state",
            ),
            (PaymentError::QuotaExceeded, 429, "quota-exceeded"),
            (
                PaymentError::ProviderUnavailable("x".into()),
                503,
                "provider-unavailable",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.code(), code);
            let r: Response = error.clone().into();
            assert_eq!(r.status(), status, "{error}");
            let expected = format!("payment_{}", code.replace('-', "_"));
            assert_eq!(r.error_code().as_deref(), Some(expected.as_str()));
        }
        assert_eq!(
            serde_json::to_value(PaymentError::NotFound).unwrap(),
            "not-found"
        );
        assert_eq!(
            serde_json::to_value(PaymentError::KeyReused("k".into())).unwrap(),
            serde_json::json!({"key-reused": "k"})
        );
    }
}
