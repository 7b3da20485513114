//! The daily reconciliation statement: per merchant, what the ledger says
//! happened on a day, checked against the provider's statement and the
//! notifications the host refused.

use super::Payments;
use super::keys::{self, NAMESPACE};
use super::ledger::{LedgerError, decode};
use super::order::{JournalEntry, Order};
use super::service::NoticeLog;
use serde::Serialize;
use std::collections::BTreeMap;

/// Totals of one merchant on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MerchantDay {
    /// Orders created.
    pub orders: u64,
    /// Orders paid.
    pub paid_count: u64,
    /// Fen paid.
    pub paid_fen: u64,
    /// Refunds made.
    pub refund_count: u64,
    /// Fen refunded.
    pub refunded_fen: u64,
    /// Orders closed or expired unpaid.
    pub closed_or_expired: u64,
    /// `paid_fen - refunded_fen` (may be negative when refunds of earlier
    /// days exceed today's payments).
    pub net_fen: i128,
}

/// A difference between the provider, the notifications and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mismatch {
    /// The order, when known.
    pub order_id: String,
    /// The provider's transaction, when known.
    pub txn_id: Option<String>,
    /// What differs.
    pub problem: String,
}

/// The statement of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// `YYYY-MM-DD`, in the business time zone.
    pub date: String,
    /// The provider checked against.
    pub provider: String,
    /// Per merchant id.
    pub merchants: BTreeMap<String, MerchantDay>,
    /// Every difference found; empty when the books agree.
    pub mismatches: Vec<Mismatch>,
}

impl Payments {
    /// Reconcile `date` (`YYYY-MM-DD`).
    pub fn reconcile(&self, date: &str) -> Result<Reconciliation, LedgerError> {
        let store = self.ledger().store();
        let mut merchants: BTreeMap<String, MerchantDay> = BTreeMap::new();
        let mut orders: BTreeMap<String, Order> = BTreeMap::new();
        let mut ledger_paid: BTreeMap<String, u64> = BTreeMap::new();
        let mut ledger_refunded: BTreeMap<String, u64> = BTreeMap::new();
        let prefix = format!("dj/{date}/");
        for (key, _) in store.scan(NAMESPACE, prefix.as_bytes(), None, usize::MAX)? {
            let key = String::from_utf8_lossy(&key);
            let Some((id, seq)) = key[prefix.len()..].split_once('/') else {
                continue;
            };
            let Some(entry) = self
                .ledger()
                .read::<JournalEntry>(&format!("{}{seq}", keys::journal_prefix(id)))?
            else {
                continue;
            };
            if !orders.contains_key(id) {
                orders.insert(id.to_string(), self.ledger().get(id, None)?);
            }
            let Some(order) = orders.get(id) else {
                continue;
            };
            let day = merchants.entry(order.request.merchant.clone()).or_default();
            match entry.event.as_str() {
                "created" => day.orders += 1,
                "paid" => {
                    day.paid_count += 1;
                    day.paid_fen += entry.amount_fen;
                    *ledger_paid.entry(id.to_string()).or_default() += entry.amount_fen;
                }
                "refunded" | super::order::LATE_REFUND => {
                    day.refund_count += 1;
                    day.refunded_fen += entry.amount_fen;
                    *ledger_refunded.entry(id.to_string()).or_default() += entry.amount_fen;
                }
                "closed" | "expired" => day.closed_or_expired += 1,
                _ => {}
            }
        }
        for day in merchants.values_mut() {
            day.net_fen = i128::from(day.paid_fen) - i128::from(day.refunded_fen);
        }

        let mut mismatches = Vec::new();
        let statement = self
            .provider()
            .statement(date)
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        let mut provider_refunded: BTreeMap<String, u64> = BTreeMap::new();
        for line in &statement {
            if line.kind == "refund" {
                *provider_refunded.entry(line.order_id.clone()).or_default() += line.amount_fen;
                continue;
            }
            // The provider's statement is the truth: every payment in it must
            // be in the ledger, as the order's payment or as a late payment
            // the host refunded.
            let order = self.ledger().get(&line.order_id, None).ok();
            let recorded_fen = order.as_ref().and_then(|o| {
                if o.provider_txn.as_deref() == Some(line.txn_id.as_str()) {
                    Some(o.request.amount_fen)
                } else {
                    o.late_payments
                        .iter()
                        .find(|p| p.txn_id == line.txn_id)
                        .map(|p| p.amount_fen)
                }
            });
            let problem = match recorded_fen {
                None => Some("paid at the provider but not paid in the ledger".to_string()),
                Some(fen) if fen != line.amount_fen => Some(format!(
                    "the provider took {} fen, the ledger recorded {fen} fen",
                    line.amount_fen
                )),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                mismatches.push(Mismatch {
                    order_id: line.order_id.clone(),
                    txn_id: Some(line.txn_id.clone()),
                    problem,
                });
            }
        }
        for (id, fen) in &ledger_paid {
            let txn = orders.get(id).and_then(|o| o.provider_txn.clone());
            let in_statement = statement
                .iter()
                .any(|l| l.kind == "payment" && Some(&l.txn_id) == txn.as_ref());
            // Taken on another day (just before midnight, notified after)?
            let at_provider = in_statement || orders.get(id).is_some_and(|o| {
                matches!(
                    self.provider().query(o),
                    Ok(super::provider::ProviderState::Paid(n)) if Some(&n.txn_id) == txn.as_ref()
                )
            });
            if !at_provider {
                mismatches.push(Mismatch {
                    order_id: id.clone(),
                    txn_id: txn,
                    problem: format!(
                        "{fen} fen paid in the ledger but not in the provider's statement"
                    ),
                });
            }
        }
        let refund_orders: std::collections::BTreeSet<&String> = ledger_refunded
            .keys()
            .chain(provider_refunded.keys())
            .collect();
        for id in refund_orders {
            let (here, there) = (
                ledger_refunded.get(id).copied().unwrap_or(0),
                provider_refunded.get(id).copied().unwrap_or(0),
            );
            if here != there {
                mismatches.push(Mismatch {
                    order_id: id.clone(),
                    txn_id: None,
                    problem: format!(
                        "refunded {here} fen in the ledger, {there} fen at the provider"
                    ),
                });
            }
        }
        for (_, value) in store.scan(
            NAMESPACE,
            format!("nl/{date}/").as_bytes(),
            None,
            usize::MAX,
        )? {
            let notice: NoticeLog = decode(&value)?;
            // Refunded and journaled by the host: in the books already.
            if notice.outcome != "accepted" && notice.outcome != "late-refunded" {
                mismatches.push(Mismatch {
                    order_id: notice.notification.order_id.clone(),
                    txn_id: Some(notice.notification.txn_id.clone()),
                    problem: format!(
                        "notification of {} {} {}: {}",
                        notice.notification.amount_fen,
                        notice.notification.currency,
                        notice.provider,
                        notice.outcome
                    ),
                });
            }
        }
        Ok(Reconciliation {
            date: date.to_string(),
            provider: self.provider().name().to_string(),
            merchants,
            mismatches,
        })
    }
}
