//! The ledger does not rely on notifications alone: unpaid orders are asked
//! about at the provider (its "query order" API) some time after they were
//! created or paid in the cashier, again with a doubling interval until they
//! expire, and settled from its answer; an order is closed at the provider
//! before it is expired in the ledger (a payment the provider already took
//! then settles it instead); and a payment that arrives for a closed or
//! expired order anyway is refunded at once and journaled.

use super::Payments;
use super::keys::{self, NAMESPACE};
use super::ledger::{Changed, Extra, LedgerError};
use super::order::{self, Order, OrderStatus};
use super::provider::{Notification, ProviderError, ProviderState};
use super::service::PaymentError;
use crate::clock::{now_ms, now_secs};
use crate::store::{Batch, WriteError};

/// Longest interval between two queries of one order.
const MAX_QUERY_INTERVAL_MS: u64 = 10 * 60 * 1000;
/// Query entries handled per sweep.
const QUERY_BATCH: usize = 64;

impl Payments {
    /// Ask the provider about `order` and, if it took the money, mark the
    /// order paid (journaled as learnt by query). The change, when there was
    /// one.
    pub fn settle_from_provider(&self, order: &Order) -> Result<Option<Changed>, PaymentError> {
        let ProviderState::Paid(n) = self.provider().query(order)? else {
            return Ok(None);
        };
        let now = now_secs();
        let changed = self
            .ledger()
            .change(&order.id, None, &Extra::default(), |o| {
                order::settle_paid(
                    o,
                    &n.txn_id,
                    n.amount_fen,
                    &n.currency,
                    now,
                    "provider-query",
                )
            });
        match changed {
            Ok(changed) => {
                if changed.entry.is_some() {
                    tracing::info!(order = %order.id, txn = %n.txn_id, "order settled from the provider's answer");
                    metrics::counter!("islet_payment_settled_by_query_total").increment(1);
                }
                self.changed(&changed);
                Ok(Some(changed))
            }
            // Closed or expired here while the provider took the money.
            Err(LedgerError::Order(order::OrderError::InvalidState(
                OrderStatus::Closed | OrderStatus::Expired,
                _,
            ))) => {
                self.refund_late(&n, Extra::default())?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Refund a payment `n` the provider took for a closed or expired order
    /// and journal it (with `extra` in the same batch); the order id.
    pub(super) fn refund_late(
        &self,
        n: &Notification,
        extra: Extra,
    ) -> Result<String, PaymentError> {
        let order = self.ledger().get(&n.order_id, None)?;
        if order.late_payments.iter().any(|p| p.txn_id == n.txn_id) {
            // Refunded before: only the notification's own record is new.
            if !extra.batch.writes.is_empty() {
                self.ledger().commit(&extra.batch)?;
            }
            return Ok(order.id);
        }
        // The provider's refund key is derived from the transaction, so a
        // retry after a crash refunds once.
        let refund_key = format!("late-{}", n.txn_id);
        let refund_key: String = refund_key.chars().take(order::MAX_KEY_BYTES).collect();
        let refund_id = self.provider().refund(&order, &refund_key, n.amount_fen)?;
        let now = now_secs();
        let changed = self.ledger().change(&order.id, None, &extra, |o| {
            order::refund_late(o, &n.txn_id, n.amount_fen, &refund_id, now)
        })?;
        tracing::warn!(order = %order.id, txn = %n.txn_id, refund = %refund_id, amount_fen = n.amount_fen, "a payment for a closed or expired order was refunded");
        metrics::counter!("islet_payment_late_refunds_total").increment(1);
        self.changed(&changed);
        Ok(order.id)
    }

    /// Make the refund `refund_key` of order `id`, recorded in the ledger,
    /// at the provider, and drop its request. Nothing to do when it was made.
    pub fn execute_refund(&self, id: &str, refund_key: &str) -> Result<(), PaymentError> {
        let request = keys::refund_request(id, refund_key);
        if self
            .ledger()
            .store()
            .get(NAMESPACE, request.as_bytes())
            .map_err(LedgerError::from)?
            .is_none()
        {
            return Ok(());
        }
        let order = self.ledger().get(id, None)?;
        let Some(refund) = order.refunds.iter().find(|r| r.key == refund_key) else {
            return Err(PaymentError::InvalidState(format!(
                "refund {refund_key} of order {id} is requested but not in the ledger"
            )));
        };
        self.provider()
            .refund(&order, refund_key, refund.amount_fen)?;
        self.ledger().commit(&Batch::new().delete(request))?;
        Ok(())
    }

    /// Carry out refunds recorded in the ledger but not yet made at the
    /// provider (a host died in between, or the provider was down).
    /// Returns how many were made.
    pub fn refunds_due(&self) -> Result<usize, LedgerError> {
        let mut made = 0;
        let prefix = keys::REFUND_REQUESTS;
        for (key, _) in
            self.ledger()
                .store()
                .scan(NAMESPACE, prefix.as_bytes(), None, QUERY_BATCH)?
        {
            let text = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            let Some((id, refund_key)) = text.split_once('/') else {
                continue;
            };
            match self.execute_refund(id, refund_key) {
                Ok(()) => made += 1,
                Err(e) => {
                    tracing::warn!(order = %id, refund_key, error = %e, "a requested refund is not made yet")
                }
            }
        }
        Ok(made)
    }

    /// The citizen pays `order` in the sandbox cashier; the provider is
    /// asked about it `query_after` later if no notification settled it.
    pub fn cashier_pay(
        &self,
        order: &Order,
        options: &super::sandbox::PayOptions,
    ) -> Result<super::sandbox::SandboxPayment, PaymentError> {
        let payment = self.sandbox().pay(order, options)?;
        let after = self.config().query_after.as_millis() as u64;
        self.schedule_query(&order.id, now_ms() + after, after)?;
        Ok(payment)
    }

    /// Ask the provider again about `order_id` at `at_ms` (after the citizen
    /// paid in the cashier, say), `interval_ms` apart after that.
    pub fn schedule_query(
        &self,
        order_id: &str,
        at_ms: u64,
        interval_ms: u64,
    ) -> Result<(), LedgerError> {
        let batch = Batch::new().put(keys::query(at_ms, order_id), interval_ms.to_string());
        self.ledger().commit(&batch).map(|_| ())
    }

    /// Query the provider about every unpaid order whose query is due and
    /// settle it from the answer. Each due entry is moved to its next time
    /// by compare-and-swap before the query, so hosts share the work and a
    /// host that dies midway leaves the entry for later. Returns orders
    /// settled.
    pub fn query_due(&self) -> Result<usize, LedgerError> {
        let now = now_ms();
        let store = self.ledger().store();
        let mut settled = 0;
        for (key, value) in store.scan(NAMESPACE, keys::QUERIES.as_bytes(), None, QUERY_BATCH)? {
            let text = String::from_utf8_lossy(&key[keys::QUERIES.len()..]).into_owned();
            let Some((at, id)) = text.split_once('/') else {
                continue;
            };
            if at.parse::<u64>().is_ok_and(|at| at > now) {
                break;
            }
            let order = match self.ledger().get(id, None) {
                Ok(order) => Some(order),
                Err(LedgerError::NotFound) => None,
                Err(e) => return Err(e),
            };
            let interval: u64 = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            let next_interval = interval
                .saturating_mul(2)
                .clamp(1000, MAX_QUERY_INTERVAL_MS);
            let mut batch = Batch::new()
                .expect(key.clone(), Some(value.clone()))
                .delete(key.clone());
            let still_unpaid = order
                .as_ref()
                .is_some_and(|o| o.status == OrderStatus::Created && o.expires_at * 1000 > now);
            if still_unpaid {
                batch = batch.put(
                    keys::query(now + next_interval, id),
                    next_interval.to_string(),
                );
            }
            match store.commit(NAMESPACE, &batch) {
                Ok(()) => store.flush()?,
                // Another host took it.
                Err(WriteError::Conflict) => continue,
                Err(e) => return Err(LedgerError::Store(e.to_string())),
            }
            let Some(order) = order.filter(|o| o.status == OrderStatus::Created) else {
                continue;
            };
            match self.settle_from_provider(&order) {
                Ok(Some(changed)) if changed.entry.is_some() => settled += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(order = %order.id, error = %e, "querying the provider failed")
                }
            }
        }
        Ok(settled)
    }

    /// Expire every unpaid order past its expiry, closing it at the provider
    /// first; an order the provider has taken money for is settled paid
    /// instead. Returns how many expired.
    pub fn expire_due(&self) -> Result<usize, LedgerError> {
        let now = now_secs();
        let mut expired = 0;
        for id in self.ledger().due_for_expiry(now)? {
            let order = match self.ledger().get(&id, None) {
                Ok(order) => order,
                Err(LedgerError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            if order.status == OrderStatus::Created {
                match self.provider().close(&order) {
                    Ok(()) => {}
                    Err(ProviderError::Refused(_)) => {
                        if let Err(e) = self.settle_from_provider(&order) {
                            tracing::warn!(order = %id, error = %e, "cannot settle an order paid at expiry");
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(order = %id, error = %e, "cannot close an expiring order at the provider; retried");
                        continue;
                    }
                }
            }
            let changed = match self
                .ledger()
                .change(&id, None, &Extra::default(), |o| Ok(order::expire(o, now)))
            {
                Ok(c) => c,
                Err(LedgerError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            if changed.entry.is_some() {
                expired += 1;
                self.changed(&changed);
            } else if changed.order.status != OrderStatus::Created {
                self.ledger().drop_expiry(&changed.order)?;
            }
        }
        Ok(expired)
    }
}
