//! What the host tells the service about its orders.
//!
//! Events arrive at least once, so each handled event id is remembered under
//! `event/<id>` and a repeat is acknowledged without a second look. The
//! changes themselves are safe to repeat too: a crash between applying an
//! event and remembering it only means applying it again.

use crate::account::{self, BillStatus};
use islet_sdk::payment::{self, EventKind, Order, OrderStatus, PaymentError, PaymentEvent};
use islet_sdk::storage::{self, StorageError};
use std::fmt;

/// Why an event could not be handled now; the host delivers it again later.
#[derive(Debug)]
enum Retry {
    Storage(StorageError),
    Payment(PaymentError),
}

impl From<StorageError> for Retry {
    fn from(e: StorageError) -> Self {
        Retry::Storage(e)
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retry::Storage(e) => write!(f, "storage: {e}"),
            Retry::Payment(e) => write!(f, "payment: {e}"),
        }
    }
}

/// The `on_payment` handler: paid bills become paid, fully refunded ones
/// refunded, and bills whose order was closed or expired unpaid again.
pub fn on_payment(event: &PaymentEvent) -> Result<(), String> {
    handle(event).map_err(|e| {
        islet_sdk::warn!("event {} not handled yet: {e}", event.id);
        e.to_string()
    })
}

fn handle(event: &PaymentEvent) -> Result<(), Retry> {
    let seen = format!("event/{}", event.id);
    if storage::get(&seen)?.is_some() {
        islet_sdk::debug!("event {} seen before", event.id);
        return Ok(());
    }
    apply(event)?;
    storage::set(&seen, event.kind.as_str().as_bytes())?;
    Ok(())
}

/// What an event did to its bill.
enum Outcome {
    /// Nothing to do: no such bill, or the event is about an older order.
    Ignored,
    /// The bill changed.
    Changed,
    /// The bill was already paid by another order: this payment is extra.
    Duplicate,
}

fn apply(event: &PaymentEvent) -> Result<(), Retry> {
    let order = &event.order;
    let mut outcome = Outcome::Ignored;
    account::update(&order.payer, |account| {
        outcome = Outcome::Ignored;
        let Some(period) = account.period_of(&order.order_key) else {
            return Ok::<_, StorageError>(());
        };
        let Some(bill) = account.bill_mut(&period) else {
            return Ok(());
        };
        let this_order = bill.order_id.as_deref() == Some(order.id.as_str());
        match event.kind {
            EventKind::Paid if bill.status == BillStatus::Paid && !this_order => {
                outcome = Outcome::Duplicate;
            }
            EventKind::Paid if matches!(bill.status, BillStatus::Paid | BillStatus::Refunded) => {}
            EventKind::Paid => {
                bill.status = BillStatus::Paid;
                bill.order_id = Some(order.id.clone());
                bill.paid_at = order.paid_at;
                outcome = Outcome::Changed;
            }
            EventKind::Refunded if this_order && order.status == OrderStatus::Refunded => {
                bill.status = BillStatus::Refunded;
                outcome = Outcome::Changed;
            }
            EventKind::Closed | EventKind::Expired
                if this_order && bill.status == BillStatus::Pending =>
            {
                bill.status = BillStatus::Unpaid;
                bill.order_id = None;
                outcome = Outcome::Changed;
            }
            _ => {}
        }
        Ok(())
    })?;
    match outcome {
        Outcome::Ignored => {
            islet_sdk::info!(
                "event {} ({}) changes no bill",
                event.id,
                event.kind.as_str()
            );
            Ok(())
        }
        Outcome::Changed => {
            islet_sdk::info!("order {} {}", order.id, event.kind.as_str());
            Ok(())
        }
        Outcome::Duplicate => refund_duplicate(order),
    }
}

/// A bill paid twice (two attempts paid in two windows): give the second
/// payment back. The refund key makes a repeat of this harmless.
fn refund_duplicate(order: &Order) -> Result<(), Retry> {
    let key = format!("dup-{}", order.id);
    match payment::refund(&order.id, order.amount_fen, "bill already paid", &key) {
        Ok(_) => {
            islet_sdk::warn!("order {} paid a paid bill; refunded", order.id);
            Ok(())
        }
        Err(e @ PaymentError::ProviderUnavailable(_)) => Err(Retry::Payment(e)),
        Err(e) => {
            islet_sdk::error!("order {} paid a paid bill; refund failed: {e}", order.id);
            Ok(())
        }
    }
}
