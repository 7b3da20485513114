//! __NAME__: a citizen pays a fee in the city's cashier.
//!
//! The service creates an order on its merchant account and sends the
//! citizen to the order's `checkout_url`. The fee is paid when the host
//! delivers the `paid` payment event — never when the page comes back from
//! the cashier. Events arrive at least once, so each one is handled once
//! per event id.
//!
//! | Route | Who | What |
//! | --- | --- | --- |
//! | `GET /` | anyone | the page |
//! | `POST /api/fees` | signed in | `{"order", "checkout_url"}`: a new order for the fee |
//! | `GET /api/fees` | signed in | the caller's fees and their status |

use islet_sdk::payment::{self, EventKind, NewOrder, PaymentEvent};
use islet_sdk::{Request, Response, Router, identity, storage};
use serde::{Deserialize, Serialize};

/// Handlers answer with a response either way; `?` turns storage and
/// payment errors into the platform's JSON errors.
type Reply = Result<Response, Response>;

/// The merchant account the fee is paid to (granted by an admin).
pub const MERCHANT: &str = "__MERCHANT__";
/// The fee, in fen (1 yuan = 100 fen).
pub const FEE_FEN: u64 = 1_000;
/// An unpaid order expires after this many seconds.
pub const EXPIRES_IN_S: u32 = 30 * 60;

/// One fee of a citizen, as this service remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    /// The host's order id.
    pub order_id: String,
    /// Amount, fen.
    pub amount_fen: u64,
    /// `pending` until the `paid` event, then `paid`; `expired` or
    /// `closed` when the order ended unpaid.
    pub status: String,
}

/// The service's routes.
pub fn router() -> Router {
    Router::new()
        .get("/", page)
        .post("/api/fees", create)
        .get("/api/fees", list)
}

fn page(_req: &Request) -> Response {
    Response::html(include_str!("page.html"))
}

fn fee_key(subject: &str, order_id: &str) -> String {
    format!("fees/{subject}/{order_id}")
}

fn create(_req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    // The order key makes a retried request return the same order.
    let number = storage::increment(&format!("fee-count/{}", caller.subject), 1)?;
    let key = format!("{}-{number}", caller.subject);
    let new = NewOrder::new(MERCHANT, FEE_FEN, "__NAME__ fee", key).expires_in(EXPIRES_IN_S);
    let order = payment::create_order(&new)?;
    let fee = Fee {
        order_id: order.id.clone(),
        amount_fen: order.amount_fen,
        status: "pending".into(),
    };
    storage::set_json(&fee_key(&caller.subject, &order.id), &fee)?;
    // The order remembers whose it is, for the payment event.
    storage::set(&format!("owner/{}", order.id), caller.subject.as_bytes())?;
    Ok(Response::json(&serde_json::json!({
        "checkout_url": order.checkout_url,
        "order": order,
    })))
}

fn list(_req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    let prefix = format!("fees/{}/", caller.subject);
    let page = storage::list_keys(&prefix, None, 100)?;
    let mut fees = Vec::new();
    for key in &page.keys {
        if let Some(fee) = storage::get_json::<Fee>(key)? {
            fees.push(fee);
        }
    }
    Ok(Response::json(&serde_json::json!({ "fees": fees })))
}

/// The payment-event handler: a paid order makes its fee paid; an expired
/// or closed one ends it unpaid. An error makes the host deliver again.
pub fn on_payment(event: &PaymentEvent) -> Result<(), String> {
    let seen = format!("event/{}", event.id);
    let result = (|| -> Result<(), storage::StorageError> {
        if storage::get(&seen)?.is_some() {
            return Ok(());
        }
        let status = match event.kind {
            EventKind::Paid => "paid",
            EventKind::Expired => "expired",
            EventKind::Closed => "closed",
            EventKind::Refunded => "refunded",
        };
        let owner = storage::get(&format!("owner/{}", event.order.id))?;
        if let Some(owner) = owner {
            let key = fee_key(&String::from_utf8_lossy(&owner), &event.order.id);
            if let Some(mut fee) = storage::get_json::<Fee>(&key)? {
                fee.status = status.into();
                storage::set_json(&key, &fee)?;
            }
        }
        storage::set(&seen, status.as_bytes())
    })();
    result.map_err(|e| {
        islet_sdk::warn!("event {} not handled yet: {e}", event.id);
        e.to_string()
    })
}

islet_sdk::export_service!(router, on_payment = on_payment);
