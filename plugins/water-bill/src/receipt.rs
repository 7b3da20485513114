//! The receipt of a paid bill, with the payer's real name when the citizen
//! allowed it. The name is personal data: `identity.claim` releases it only
//! with the citizen's consent (and every release is in their data-access
//! trail). Without consent the receipt is still given, without the name,
//! and says what to ask so the page can offer "Show my name on the receipt".

use crate::account::{self, BillStatus};
use islet_sdk::identity::{self, ClaimError, ConsentRequest, DataItem};
use islet_sdk::{Request, Response};
use serde::Serialize;

/// A bill's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The water account number.
    pub number: String,
    /// The supplied address.
    pub address: String,
    /// The month billed.
    pub period: String,
    /// Amount paid, fen.
    pub amount_fen: u64,
    /// `paid` or `refunded`.
    pub status: BillStatus,
    /// When it was paid, seconds since the Unix epoch.
    pub paid_at: Option<u64>,
    /// The payment order; none for a bill paid at the counter.
    pub order_id: Option<String>,
    /// The payer's real name, when the citizen allowed it.
    pub payer_name: Option<String>,
    /// What to ask the citizen to show the name (`{"item", "purpose"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRequest>,
    /// Why there is no name, when asking would not help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_note: Option<String>,
}

/// `GET /api/bills/{period}/receipt`: the receipt of a paid (or refunded)
/// bill; `404` for an unknown period, `409` before it is paid.
pub fn receipt(req: &Request) -> Result<Response, Response> {
    let caller = identity::require_caller()?;
    let period = req.param("period").unwrap_or_default();
    let account = account::load_or_seed(&caller.subject)?;
    let bill = account.bill(period).ok_or_else(Response::not_found)?;
    if !matches!(bill.status, BillStatus::Paid | BillStatus::Refunded) {
        return Err(Response::conflict(&format!(
            "the bill for {period} is not paid: there is no receipt yet"
        )));
    }
    let (payer_name, consent, name_note) = match identity::claim(DataItem::RealName) {
        Ok(name) => (Some(name), None, None),
        Err(ClaimError::NoConsent { item, purpose }) => {
            (None, Some(ConsentRequest { item, purpose }), None)
        }
        Err(e) => {
            islet_sdk::warn!("receipt without the payer's name: {e}");
            (None, None, Some(e.to_string()))
        }
    };
    Ok(Response::json(&Receipt {
        number: account.number.clone(),
        address: account.address.clone(),
        period: bill.period.clone(),
        amount_fen: bill.amount_fen,
        status: bill.status,
        paid_at: bill.paid_at,
        order_id: bill.order_id.clone(),
        payer_name,
        consent,
        name_note,
    }))
}
