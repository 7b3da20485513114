//! The JSON API under `/api`.

use crate::account::{self, Account, BillStatus};
use islet_sdk::payment::{self, NewOrder, Order, OrderStatus, PaymentError};
use islet_sdk::{Request, Response, identity};

/// Handlers answer with a response either way; `?` turns storage and
/// payment errors into platform-shaped error responses.
type Reply = Result<Response, Response>;

/// The water company's merchant account, granted by an admin.
pub const MERCHANT: &str = "water-supply";
/// An unpaid order expires after two hours; paying again makes a new one.
pub const ORDER_EXPIRES_IN_S: u32 = 2 * 3600;

/// `GET /api/account`: the caller's account and bills, seeded on first
/// access.
pub fn account(_req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    Ok(Response::json(&account::load_or_seed(&caller.subject)?))
}

fn already_paid(period: &str) -> Response {
    Response::conflict(&format!("the bill for {period} is already paid"))
}

fn checkout(order: Order) -> Response {
    Response::json(&serde_json::json!({
        "checkout_url": order.checkout_url,
        "order": order,
    }))
}

/// `POST /api/bills/{period}/pay`: an order for the bill, to pay at its
/// `checkout_url`. A bill already waiting for payment gets its order back;
/// once that order was closed or expired, a new attempt gets a new one.
pub fn pay(req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    let period = req.param("period").unwrap_or_default();
    let account = account::load_or_seed(&caller.subject)?;
    let bill = account.bill(period).ok_or_else(Response::not_found)?;
    if matches!(bill.status, BillStatus::Paid | BillStatus::Refunded) {
        return Err(already_paid(period));
    }
    let mut attempt = bill.attempt.max(1);
    if bill.attempt > 0 {
        match payment::find_order(&account.order_key(period, bill.attempt)) {
            Ok(order) if order.status == OrderStatus::Created => {
                record(&caller.subject, period, &order, bill.attempt)?;
                return Ok(checkout(order));
            }
            Ok(order) if order.status.was_paid() => {
                // The event is on its way; the order already says so.
                record(&caller.subject, period, &order, bill.attempt)?;
                return Err(already_paid(period));
            }
            Ok(_) => attempt = bill.attempt + 1,
            // The last attempt never got as far as an order: reuse its key.
            Err(PaymentError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let order = payment::create_order(&new_order(&account, period, attempt)?)?;
    record(&caller.subject, period, &order, attempt)?;
    islet_sdk::info!("order {} for {period} ({})", order.id, account.number);
    Ok(checkout(order))
}

fn new_order(account: &Account, period: &str, attempt: u32) -> Result<NewOrder, Response> {
    let bill = account.bill(period).ok_or_else(Response::not_found)?;
    Ok(NewOrder::new(
        MERCHANT,
        bill.amount_fen,
        format!("Water bill {period} ({})", account.number),
        account.order_key(period, attempt),
    )
    .expires_in(ORDER_EXPIRES_IN_S))
}

/// Note on the bill what `order` (of payment attempt `attempt`) says: still
/// waiting, or paid.
fn record(subject: &str, period: &str, order: &Order, attempt: u32) -> Result<(), Response> {
    account::update(subject, |account| {
        let Some(bill) = account.bill_mut(period) else {
            return Ok::<_, Response>(());
        };
        if matches!(bill.status, BillStatus::Paid | BillStatus::Refunded) {
            return Ok(());
        }
        bill.attempt = bill.attempt.max(attempt);
        bill.order_id = Some(order.id.clone());
        if order.status.was_paid() {
            bill.status = BillStatus::Paid;
            bill.paid_at = order.paid_at;
        } else {
            bill.status = BillStatus::Pending;
        }
        Ok(())
    })?;
    Ok(())
}
