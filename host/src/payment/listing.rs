//! Orders for platform staff: every order, or the orders with a journal
//! entry on one business day, oldest first, a page at a time.

use super::keys::{self, NAMESPACE};
use super::ledger::{Ledger, LedgerError, decode};
use super::order::Order;
use crate::store::walk;
use serde::Serialize;

/// Index entries one page reads at most: with rare matches a page may come
/// back short, with a `next_cursor` to go on from.
pub const ORDER_SCAN_BUDGET: usize = 5_000;

/// Longest cursor [`Ledger::orders`] hands out (an order id).
const MAX_CURSOR_BYTES: usize = 64;

/// One page of orders and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct OrdersPage {
    /// The orders, oldest first.
    pub orders: Vec<Order>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Whether `cursor` could be one [`Ledger::orders`] returned: an order id.
pub fn valid_orders_cursor(cursor: &str) -> bool {
    !cursor.is_empty()
        && cursor.len() <= MAX_CURSOR_BYTES
        && cursor.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Ledger {
    /// A page of orders that `keep` accepts, oldest first, after the order
    /// `cursor`: with `date` (`YYYY-MM-DD`, checked by the caller) the
    /// orders with a journal entry on that business day (created, paid,
    /// refunded, closed or expired then), each once; without, every order.
    pub fn orders(
        &self,
        date: Option<&str>,
        keep: impl Fn(&Order) -> bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, LedgerError> {
        let prefix = match date {
            Some(date) => format!("dj/{date}/"),
            None => keys::order(""),
        };
        // In the day index an order has one key per entry (`{id}/{seq}`):
        // `~` sorts after every sequence number, so the next page starts
        // with the next order.
        let after = cursor.map(|id| match date {
            Some(_) => format!("{prefix}{id}/~"),
            None => format!("{prefix}{id}"),
        });
        let mut orders = Vec::new();
        let mut last: Option<String> = None;
        let resume = walk(
            self.store().as_ref(),
            NAMESPACE,
            prefix.as_bytes(),
            after.as_deref().map(str::as_bytes),
            ORDER_SCAN_BUDGET,
            |key, value| {
                let tail = String::from_utf8_lossy(&key[prefix.len()..]);
                let id = tail.split('/').next().unwrap_or_default();
                if last.as_deref() == Some(id) {
                    return Ok(true);
                }
                last = Some(id.to_string());
                let order = match date {
                    None => decode::<Order>(value)?,
                    Some(_) => match self.get(id, None) {
                        Ok(order) => order,
                        Err(LedgerError::NotFound) => return Ok(true),
                        Err(e) => return Err(e),
                    },
                };
                if keep(&order) {
                    orders.push(order);
                }
                Ok::<_, LedgerError>(orders.len() < limit)
            },
        )?;
        Ok(OrdersPage {
            orders,
            next_cursor: resume.and(last),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_order_ids_only() {
        assert!(valid_orders_cursor("o19ab3c4d5e6f7a8b9c"));
        for bad in ["", "o/1", "a~", "dj/2026-01-01/x", &"o".repeat(65)] {
            assert!(!valid_orders_cursor(bad), "{bad:?}");
        }
    }
}
