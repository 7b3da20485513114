//! An in-memory payment ledger with the host's rules: orders idempotent on
//! their key (checked before the fields, as the host does), amounts and
//! fields checked, granted merchants only, close and refund by status,
//! refunds idempotent on their key and bounded by the paid amount. Every change the host would announce is journaled as a
//! [`PaymentEvent`].

use crate::payment::{
    EventKind, MAX_AMOUNT_FEN, NewOrder, Order, OrderKind, OrderStatus, PaymentError, PaymentEvent,
};
use std::collections::BTreeSet;

/// Longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 128;
/// Longest order or refund key, in characters.
const MAX_KEY_CHARS: usize = 64;
/// Longest refund reason, in characters.
const MAX_REASON_CHARS: usize = 80;
/// Shortest and longest expiry, in seconds.
const EXPIRY_RANGE_S: std::ops::RangeInclusive<u32> = 60..=604_800;

#[derive(Debug)]
struct RefundRecord {
    order: String,
    key: String,
    amount_fen: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    orders: Vec<Order>,
    refunds: Vec<RefundRecord>,
    events: Vec<PaymentEvent>,
    pub(crate) merchants: BTreeSet<String>,
    pub(crate) unavailable: Option<String>,
}

fn check_key(what: &str, key: &str) -> Result<(), PaymentError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS || !key.chars().all(allowed) {
        return Err(PaymentError::InvalidArgument(format!(
            "the {what} must be 1 to {MAX_KEY_CHARS} characters of A-Z a-z 0-9 - _ . :"
        )));
    }
    Ok(())
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), PaymentError> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(PaymentError::InvalidArgument(format!(
            "the {what} must be 1 to {max} characters"
        )));
    }
    Ok(())
}

fn check_new(new: &NewOrder) -> Result<(), PaymentError> {
    if new.amount_fen == 0 || new.amount_fen > MAX_AMOUNT_FEN {
        return Err(PaymentError::InvalidAmount(format!(
            "{} fen is not between 1 and {MAX_AMOUNT_FEN}",
            new.amount_fen
        )));
    }
    check_text("description", &new.description, MAX_DESCRIPTION_CHARS)?;
    check_key("order key", &new.order_key)?;
    if let OrderKind::NonTax(code) = &new.kind {
        check_key("non-tax fee item code", code)?;
    }
    if !EXPIRY_RANGE_S.contains(&new.expires_in_s) {
        return Err(PaymentError::InvalidArgument(format!(
            "expires_in_s must be between {} and {}",
            EXPIRY_RANGE_S.start(),
            EXPIRY_RANGE_S.end()
        )));
    }
    Ok(())
}

/// Whether `order` was created from `new` by `payer`.
fn same_request(order: &Order, new: &NewOrder, payer: &str) -> bool {
    order.merchant == new.merchant
        && order.amount_fen == new.amount_fen
        && order.description == new.description
        && order.kind == new.kind
        && order.payer == payer
        && order.expires_at - order.created_at == u64::from(new.expires_in_s)
}

impl Ledger {
    fn available(&self) -> Result<(), PaymentError> {
        match &self.unavailable {
            Some(why) => Err(PaymentError::ProviderUnavailable(why.clone())),
            None => Ok(()),
        }
    }

    fn index(&self, id: &str) -> Result<usize, PaymentError> {
        self.available()?;
        self.orders
            .iter()
            .position(|o| o.id == id)
            .ok_or(PaymentError::NotFound)
    }

    /// Journal an event for the order at `index` as it is now.
    fn announce(
        &mut self,
        index: usize,
        kind: EventKind,
        amount_fen: u64,
        refund_key: Option<&str>,
    ) -> PaymentEvent {
        let event = PaymentEvent {
            id: format!("e{}", self.events.len() + 1),
            kind,
            order: self.orders[index].clone(),
            amount_fen,
            refund_key: refund_key.map(str::to_owned),
            attempt: 1,
        };
        self.events.push(event.clone());
        event
    }

    pub(crate) fn orders(&self) -> &[Order] {
        &self.orders
    }

    pub(crate) fn events(&self) -> &[PaymentEvent] {
        &self.events
    }

    pub(crate) fn create(
        &mut self,
        payer: Option<&str>,
        new: &NewOrder,
        now: u64,
    ) -> Result<Order, PaymentError> {
        self.available()?;
        let payer = payer.ok_or(PaymentError::NoCitizen)?;
        if !self.merchants.contains(&new.merchant) {
            return Err(PaymentError::MerchantNotGranted(new.merchant.clone()));
        }
        if let Some(existing) = self.orders.iter().find(|o| o.order_key == new.order_key) {
            return if same_request(existing, new, payer) {
                Ok(existing.clone())
            } else {
                Err(PaymentError::KeyReused(new.order_key.clone()))
            };
        }
        check_new(new)?;
        let id = format!("o{}", self.orders.len() + 1);
        let order = Order {
            checkout_url: format!("/pay/{id}"),
            id,
            order_key: new.order_key.clone(),
            merchant: new.merchant.clone(),
            amount_fen: new.amount_fen,
            refunded_fen: 0,
            description: new.description.clone(),
            kind: new.kind.clone(),
            status: OrderStatus::Created,
            payer: payer.to_owned(),
            created_at: now,
            expires_at: now + u64::from(new.expires_in_s),
            paid_at: None,
        };
        self.orders.push(order.clone());
        Ok(order)
    }

    pub(crate) fn get(&self, id: &str) -> Result<Order, PaymentError> {
        self.index(id).map(|i| self.orders[i].clone())
    }

    pub(crate) fn find(&self, order_key: &str) -> Result<Order, PaymentError> {
        self.available()?;
        self.orders
            .iter()
            .find(|o| o.order_key == order_key)
            .cloned()
            .ok_or(PaymentError::NotFound)
    }

    pub(crate) fn close(&mut self, id: &str) -> Result<Order, PaymentError> {
        let i = self.index(id)?;
        match self.orders[i].status {
            OrderStatus::Created => {
                self.orders[i].status = OrderStatus::Closed;
                self.announce(i, EventKind::Closed, 0, None);
            }
            OrderStatus::Closed => {}
            status => {
                return Err(PaymentError::InvalidState(format!(
                    "the order is {}; only an unpaid order can be closed",
                    status.as_str()
                )));
            }
        }
        Ok(self.orders[i].clone())
    }

    pub(crate) fn refund(
        &mut self,
        id: &str,
        amount_fen: u64,
        reason: &str,
        refund_key: &str,
    ) -> Result<Order, PaymentError> {
        check_text("refund reason", reason, MAX_REASON_CHARS)?;
        let i = self.index(id)?;
        if let Some(done) = self
            .refunds
            .iter()
            .find(|r| r.order == id && r.key == refund_key)
        {
            return if done.amount_fen == amount_fen {
                Ok(self.orders[i].clone())
            } else {
                Err(PaymentError::KeyReused(refund_key.to_owned()))
            };
        }
        let order = &self.orders[i];
        if !matches!(
            order.status,
            OrderStatus::Paid | OrderStatus::PartiallyRefunded
        ) {
            return Err(PaymentError::InvalidState(format!(
                "the order is {}; only a paid order can be refunded",
                order.status.as_str()
            )));
        }
        check_key("refund key", refund_key)?;
        let left = order.amount_fen - order.refunded_fen;
        if amount_fen == 0 || amount_fen > left {
            return Err(PaymentError::InvalidAmount(format!(
                "{amount_fen} fen; {left} fen can still be refunded"
            )));
        }
        self.refunds.push(RefundRecord {
            order: id.to_owned(),
            key: refund_key.to_owned(),
            amount_fen,
        });
        let order = &mut self.orders[i];
        order.refunded_fen += amount_fen;
        order.status = if amount_fen == left {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartiallyRefunded
        };
        self.announce(i, EventKind::Refunded, amount_fen, Some(refund_key));
        Ok(self.orders[i].clone())
    }

    /// The citizen pays a created order in full (the provider confirms it).
    pub(crate) fn pay(&mut self, id: &str, now: u64) -> Result<PaymentEvent, String> {
        let i = self.created(id, "paid")?;
        self.orders[i].status = OrderStatus::Paid;
        self.orders[i].paid_at = Some(now);
        let amount = self.orders[i].amount_fen;
        Ok(self.announce(i, EventKind::Paid, amount, None))
    }

    /// A created order runs out of time.
    pub(crate) fn expire(&mut self, id: &str) -> Result<PaymentEvent, String> {
        let i = self.created(id, "expired")?;
        self.orders[i].status = OrderStatus::Expired;
        Ok(self.announce(i, EventKind::Expired, 0, None))
    }

    fn created(&self, id: &str, change: &str) -> Result<usize, String> {
        let i = self
            .orders
            .iter()
            .position(|o| o.id == id)
            .ok_or_else(|| format!("no order {id:?} in the test ledger"))?;
        match self.orders[i].status {
            OrderStatus::Created => Ok(i),
            status => Err(format!(
                "order {id} is {}; only a created order can be {change}",
                status.as_str()
            )),
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
