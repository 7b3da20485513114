//! The ledger: orders in the store, changed only through the state machine
//! in [`order`](super::order), each change one atomic batch with its
//! journal entry, its day index and its outbox event, made durable before
//! the caller hears of it. Concurrent changes to one order are serialised by
//! compare-and-swap on the order's bytes.

use super::events::{DeliveryStatus, EventKind, EventRecord};
use super::keys::{self, NAMESPACE};
use super::order::{self, Creation, JournalEntry, NewOrder, Order, OrderError, OrderStatus};
use crate::clock::{date_of, now_ms};
use crate::store::{Batch, KvStore, StoreError, WriteError, page};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Attempts at one compare-and-swap change before giving up.
const MAX_RETRIES: usize = 64;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The state machine refused the change.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// No such order (or not the caller's).
    #[error("no such order")]
    NotFound,
    /// The plugin created its daily maximum of orders.
    #[error("the plugin created its maximum of {0} orders today")]
    QuotaExceeded(u64),
    /// The store failed.
    #[error("the payment ledger is unavailable: {0}")]
    Store(String),
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Store(e.0)
    }
}

/// What else a change writes: extra expectations and writes, applied in
/// the same batch (a notification's nonce, its log line).
#[derive(Debug, Default)]
pub struct Extra {
    /// Added to the batch whether or not the order changes.
    pub batch: Batch,
}

/// The result of a change: the order after it and, when it changed, the
/// journal entry and the event it raised.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The order after the change.
    pub order: Order,
    /// The journal entry, when something changed.
    pub entry: Option<JournalEntry>,
    /// The event queued for the plugin, when the change raises one.
    pub event: Option<String>,
}

/// The ledger over a store.
pub struct Ledger {
    store: Arc<dyn KvStore>,
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, LedgerError> {
    serde_json::to_vec(value).map_err(|e| LedgerError::Store(format!("encode: {e}")))
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, LedgerError> {
    serde_json::from_slice(bytes).map_err(|e| LedgerError::Store(format!("corrupt record: {e}")))
}

impl Ledger {
    /// The ledger kept in `store`.
    pub fn new(store: Arc<dyn KvStore>) -> Self {
        Ledger { store }
    }

    /// The store (for the outbox and reports).
    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }

    /// Read and decode `key`.
    pub fn read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, LedgerError> {
        match self.store.get(NAMESPACE, key.as_bytes())? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn commit(&self, batch: &Batch) -> Result<bool, LedgerError> {
        match self.store.commit(NAMESPACE, batch) {
            Ok(()) => {
                self.store.flush()?;
                Ok(true)
            }
            Err(WriteError::Conflict) => Ok(false),
            Err(WriteError::QuotaExceeded) => Err(LedgerError::Store("quota".into())),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// Order `id`; with `plugin`, only if that plugin created it.
    pub fn get(&self, id: &str, plugin: Option<&str>) -> Result<Order, LedgerError> {
        let order: Order = self.read(&keys::order(id))?.ok_or(LedgerError::NotFound)?;
        match plugin {
            Some(p) if p != order.plugin => Err(LedgerError::NotFound),
            _ => Ok(order),
        }
    }

    /// The order `plugin` created with `order_key`.
    pub fn find(&self, plugin: &str, order_key: &str) -> Result<Order, LedgerError> {
        let id: String = match self
            .store
            .get(NAMESPACE, keys::order_key(plugin, order_key).as_bytes())?
        {
            Some(bytes) => String::from_utf8(bytes).map_err(|_| LedgerError::NotFound)?,
            None => return Err(LedgerError::NotFound),
        };
        self.get(&id, Some(plugin))
    }

    /// Create an order (or return the existing one for a repeated key),
    /// counting it against `plugin`'s `daily_quota`; the provider is first
    /// asked about it at `first_query_ms` if it is still unpaid then.
    pub fn create(
        &self,
        creation: &Creation<'_>,
        new: NewOrder,
        daily_quota: u64,
        first_query_ms: u64,
    ) -> Result<Order, LedgerError> {
        let key_key = keys::order_key(creation.plugin, &new.order_key);
        for _ in 0..MAX_RETRIES {
            let existing = match self.store.get(NAMESPACE, key_key.as_bytes())? {
                Some(id) => Some(self.get(&String::from_utf8_lossy(&id), None)?),
                None => None,
            };
            let created_ms = now_ms();
            let id = keys::new_order_id(created_ms);
            let by = Creation {
                id: &id,
                ..creation.clone()
            };
            let (order, entry) = order::create(&by, new.clone(), existing.as_ref())?;
            let Some(entry) = entry else {
                return Ok(order);
            };
            let date = date_of(creation.now);
            let daily_key = keys::daily(creation.plugin, &date);
            let daily_raw = self.store.get(NAMESPACE, daily_key.as_bytes())?;
            let created_today: u64 = daily_raw
                .as_deref()
                .and_then(|b| std::str::from_utf8(b).ok()?.parse().ok())
                .unwrap_or(0);
            if created_today >= daily_quota {
                return Err(LedgerError::QuotaExceeded(daily_quota));
            }
            let batch = Batch::new()
                .expect(key_key.clone(), None)
                .expect(daily_key.clone(), daily_raw)
                .put(key_key.clone(), id.clone())
                .put(daily_key, (created_today + 1).to_string())
                .put(keys::order(&id), encode(&order)?)
                .put(
                    keys::citizen_order(&order.citizen, created_ms, &id),
                    Vec::new(),
                )
                .put(keys::journal(&id, 1), encode(&entry)?)
                .put(keys::day_journal(&date, &id, 1), Vec::new())
                .put(keys::expiry(order.expires_at, &id), Vec::new())
                .put(
                    keys::query(first_query_ms, &id),
                    first_query_ms.saturating_sub(created_ms).to_string(),
                );
            if self.commit(&batch)? {
                return Ok(order);
            }
        }
        Err(LedgerError::Store(
            "the order key is contended; retry".into(),
        ))
    }

    /// Apply `change` to order `id` (only `plugin`'s, when given) and
    /// commit it with `extra` as one batch, retrying on concurrent changes.
    pub fn change(
        &self,
        id: &str,
        plugin: Option<&str>,
        extra: &Extra,
        change: impl Fn(&Order) -> Result<(Order, Option<JournalEntry>), OrderError>,
    ) -> Result<Changed, LedgerError> {
        let order_key = keys::order(id);
        for _ in 0..MAX_RETRIES {
            let raw = self
                .store
                .get(NAMESPACE, order_key.as_bytes())?
                .ok_or(LedgerError::NotFound)?;
            let before: Order = decode(&raw)?;
            if plugin.is_some_and(|p| p != before.plugin) {
                return Err(LedgerError::NotFound);
            }
            let (after, entry) = change(&before)?;
            let mut batch = extra.batch.clone();
            batch = batch.expect(order_key.clone(), Some(raw));
            let mut event = None;
            if let Some(entry) = &entry {
                let seq = self
                    .store
                    .scan(
                        NAMESPACE,
                        keys::journal_prefix(id).as_bytes(),
                        None,
                        usize::MAX,
                    )?
                    .len()
                    + 1;
                batch = batch
                    .put(order_key.clone(), encode(&after)?)
                    .put(keys::journal(id, seq), encode(entry)?)
                    .put(keys::day_journal(&date_of(entry.at), id, seq), Vec::new());
                if before.status == OrderStatus::Created && after.status != OrderStatus::Created {
                    batch = batch.delete(keys::expiry(before.expires_at, id));
                }
                if entry.event == "refunded"
                    && let Some(refund) = after.refunds.last()
                {
                    batch = batch.put(
                        keys::refund_request(id, &refund.key),
                        refund.amount_fen.to_string(),
                    );
                }
                if let Some(kind) = EventKind::for_journal(&entry.event) {
                    let record = new_event(&after, entry, kind, seq);
                    batch = batch
                        .put(keys::event(&record.id), encode(&record)?)
                        // Ordered by the millisecond it was raised
                        // (`created_ms` has the journal's seconds).
                        .put(keys::event_by_time(now_ms(), &record.id), Vec::new())
                        .put(
                            keys::pending(&record.id),
                            keys::pending_value(record.next_attempt_ms, &record.plugin),
                        );
                    event = Some(record.id);
                }
            } else if extra.batch.writes.is_empty() {
                return Ok(Changed {
                    order: after,
                    entry: None,
                    event: None,
                });
            }
            if self.commit(&batch)? {
                return Ok(Changed {
                    order: after,
                    entry,
                    event,
                });
            }
            // A conflict on an extra expectation (a nonce seen meanwhile)
            // must not loop: let the caller re-check.
            for (key, expected) in &extra.batch.expects {
                if self.store.get(NAMESPACE, key)? != *expected {
                    return Err(LedgerError::Store(format!(
                        "{} changed concurrently",
                        String::from_utf8_lossy(key)
                    )));
                }
            }
        }
        Err(LedgerError::Store("the order is contended; retry".into()))
    }

    /// The journal of order `id`, oldest first.
    pub fn journal(&self, id: &str) -> Result<Vec<JournalEntry>, LedgerError> {
        self.store
            .scan(
                NAMESPACE,
                keys::journal_prefix(id).as_bytes(),
                None,
                usize::MAX,
            )?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// Up to `limit` of `citizen`'s orders, newest first, after `cursor`;
    /// and the cursor of the next page.
    pub fn orders_of(
        &self,
        citizen: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<String>), LedgerError> {
        let prefix = keys::citizen_prefix(citizen);
        let (rows, next) = page(self.store.as_ref(), NAMESPACE, &prefix, cursor, limit)?;
        let mut orders = Vec::new();
        for (key, _) in &rows {
            // `{inverted ms}/{order id}` below the prefix.
            let key = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            if let Some((_, id)) = key.split_once('/') {
                orders.push(self.get(id, None)?);
            }
        }
        Ok((orders, next))
    }

    /// Ids of unpaid orders whose expiry is at or before `now`.
    pub fn due_for_expiry(&self, now: u64) -> Result<Vec<String>, LedgerError> {
        let mut due = Vec::new();
        for (key, _) in self.store.scan(NAMESPACE, b"x/", None, 1000)? {
            let key = String::from_utf8_lossy(&key);
            let Some((at, id)) = key.trim_start_matches("x/").split_once('/') else {
                continue;
            };
            if at.parse::<u64>().is_ok_and(|at| at > now) {
                break;
            }
            due.push(id.to_string());
        }
        Ok(due)
    }

    /// Remove an expiry index entry whose order is no longer unpaid.
    pub fn drop_expiry(&self, order: &Order) -> Result<(), LedgerError> {
        let batch = Batch::new().delete(keys::expiry(order.expires_at, &order.id));
        self.commit(&batch).map(|_| ())
    }
}

fn new_event(order: &Order, entry: &JournalEntry, kind: EventKind, seq: usize) -> EventRecord {
    let at_ms = entry.at.saturating_mul(1000);
    EventRecord {
        id: format!("evt-{}-{seq}", order.id),
        plugin: order.plugin.clone(),
        order_id: order.id.clone(),
        kind,
        amount_fen: entry.amount_fen,
        refund_key: (kind == EventKind::Refunded)
            .then(|| order.refunds.last().map(|r| r.key.clone()))
            .flatten(),
        created_ms: at_ms,
        attempts: 0,
        next_attempt_ms: 0,
        status: DeliveryStatus::Pending,
        last_error: None,
        delivered_ms: None,
        delivered_to: None,
    }
}
