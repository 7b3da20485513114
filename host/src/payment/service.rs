//! [`Payments`]: the one way into the money path for the capability, the
//! HTTP handlers and the background workers.

use super::events::{DeliveryStatus, EventRecord, backoff_ms};
use super::keys::{self, NAMESPACE};
use super::ledger::{Changed, Extra, Ledger, LedgerError, encode};
use super::order::{self, Creation, NewOrder, Order, OrderError, OrderStatus};
use super::provider::{HeaderLookup, NoticeError, PaymentProvider, ProviderError};
use super::sandbox::SandboxProvider;
use crate::clock::{date_of, now_ms, now_secs};
use crate::store::{Batch, Expect, KvStore, walk};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Tunables of the money path.
#[derive(Debug, Clone)]
pub struct PaymentConfig {
    /// Shortest expiry a plugin may ask for, seconds (default 60).
    pub min_expiry_s: u32,
    /// First retry delay of an event delivery; doubles per attempt.
    pub retry_base: Duration,
    /// Delivery attempts before an event is marked failed.
    pub max_attempts: u32,
    /// Orders one plugin may create per business day.
    pub orders_per_plugin_per_day: u64,
    /// How long a host holds an event it is delivering before another host
    /// may take it over (longer than any delivery takes).
    pub lease: Duration,
    /// How long after creation (and after the citizen pays in the cashier)
    /// an order still unpaid is queried at the provider; the interval then
    /// doubles until the order expires.
    pub query_after: Duration,
    /// Whether the sandbox cashier takes test options (`fail`,
    /// `notify_times`, `delay_ms`): development hosts only.
    pub test_options: bool,
    /// Event deliveries to one plugin running at once (default 2): a
    /// plugin's slow handler holds only its own lane.
    pub events_per_plugin: usize,
    /// Event deliveries running at once on one host, all plugins
    /// together (default 16).
    pub event_workers: usize,
    /// Longest one delivery attempt may take (default 10 s): the
    /// handler's wall-clock limit is cut to it. Keep it below `lease`.
    pub event_timeout: Duration,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        PaymentConfig {
            min_expiry_s: 60,
            retry_base: Duration::from_secs(1),
            max_attempts: 15,
            orders_per_plugin_per_day: 100_000,
            lease: Duration::from_secs(30),
            query_after: Duration::from_secs(30),
            test_options: false,
            events_per_plugin: 2,
            event_workers: 16,
            event_timeout: Duration::from_secs(10),
        }
    }
}

/// An event this host took for one delivery attempt, and its record's
/// bytes as taken (the attempt is recorded only over these).
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The event, its next attempt at the end of the lease.
    pub event: EventRecord,
    /// Its stored bytes.
    pub raw: Vec<u8>,
}

/// Why a plugin's payment call failed: the WIT `payment.error` cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Zero, above the maximum, or a refund above what is left.
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// The merchant is unknown or not granted to the plugin.
    #[error("merchant {0:?} is not granted to this mini-service")]
    MerchantNotGranted(String),
    /// A key reused with other parameters.
    #[error("key {0:?} was already used with other parameters")]
    KeyReused(String),
    /// No such order of this plugin.
    #[error("no such order")]
    NotFound,
    /// The change does not fit the order's status.
    #[error("{0}")]
    InvalidState(String),
    /// The provider or the ledger is unavailable.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// Daily order quota reached.
    #[error("daily order quota exceeded")]
    QuotaExceeded,
    /// No signed-in citizen to pay.
    #[error("creating an order needs a signed-in citizen")]
    NoCitizen,
    /// A malformed field.
    #[error("{0}")]
    InvalidArgument(String),
}

impl From<LedgerError> for PaymentError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Order(OrderError::InvalidAmount(m)) => PaymentError::InvalidAmount(m),
            LedgerError::Order(OrderError::KeyReused(k)) => PaymentError::KeyReused(k),
            LedgerError::Order(e @ OrderError::InvalidState(..)) => {
                PaymentError::InvalidState(e.to_string())
            }
            LedgerError::Order(OrderError::Mismatch(m)) => PaymentError::InvalidState(m),
            LedgerError::Order(OrderError::InvalidArgument(m)) => PaymentError::InvalidArgument(m),
            LedgerError::NotFound => PaymentError::NotFound,
            LedgerError::QuotaExceeded(_) => PaymentError::QuotaExceeded,
            LedgerError::Store(m) => PaymentError::ProviderUnavailable(m),
        }
    }
}

impl From<ProviderError> for PaymentError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unavailable(m) => PaymentError::ProviderUnavailable(m),
            ProviderError::Refused(m) => PaymentError::InvalidState(m),
        }
    }
}

/// What a valid notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// The order became paid (and its event was queued).
    Applied(String),
    /// The order was already paid by this transaction: nothing changed.
    Duplicate(String),
    /// The order was closed or expired: the payment was refunded.
    LateRefunded(String),
}

/// Why a notification was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum NoticeFailure {
    /// No provider of that name.
    #[error("no payment provider named {0:?}")]
    UnknownProvider(String),
    /// Signature, timestamp or format.
    #[error(transparent)]
    Notice(#[from] NoticeError),
    /// The nonce was seen before.
    #[error("the notification's nonce was already used")]
    Replayed,
    /// No such order.
    #[error("no order {0:?}")]
    UnknownOrder(String),
    /// Amount, currency or status do not match the order.
    #[error("{0}")]
    Mismatch(String),
    /// The ledger failed; the provider should retry.
    #[error("{0}")]
    Unavailable(String),
}

/// A verified notification as logged for reconciliation.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct NoticeLog {
    /// When it arrived, ms since the epoch.
    pub at_ms: u64,
    /// The provider.
    pub provider: String,
    /// What it said.
    pub notification: super::provider::Notification,
    /// `applied`, `duplicate`, `unknown-order` or `refused: <why>`.
    pub outcome: String,
}

/// Most index entries one listing call reads.
pub const EVENT_SCAN_BUDGET: usize = 5_000;

/// A page of payment events, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    /// The events.
    pub events: Vec<EventRecord>,
    /// Pass as `cursor` to go on; none at the end.
    pub next_cursor: Option<String>,
}

/// The money path.
pub struct Payments {
    ledger: Ledger,
    sandbox: Arc<SandboxProvider>,
    config: PaymentConfig,
    wake: tokio::sync::Notify,
}

impl Payments {
    /// The money path on `store`, with the sandbox provider.
    pub fn new(
        store: Arc<dyn KvStore>,
        sandbox: Arc<SandboxProvider>,
        config: PaymentConfig,
    ) -> Self {
        Payments {
            ledger: Ledger::new(store),
            sandbox,
            config,
            wake: tokio::sync::Notify::new(),
        }
    }

    /// The ledger (read access for reports and admin views).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The sandbox provider (its cashier).
    pub fn sandbox(&self) -> &Arc<SandboxProvider> {
        &self.sandbox
    }

    /// The provider orders go through.
    pub fn provider(&self) -> &dyn PaymentProvider {
        self.sandbox.as_ref()
    }

    /// Tunables.
    pub fn config(&self) -> &PaymentConfig {
        &self.config
    }

    /// Resolves when an event may be due (or after `wait`).
    pub async fn wait_for_events(&self, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.wake.notified()).await;
    }

    pub(super) fn changed(&self, changed: &Changed) {
        if changed.event.is_some() {
            self.wake.notify_one();
        }
    }

    /// Create an order for `plugin`, paid by `citizen` (host key) who is
    /// `payer` in the plugin.
    pub fn create_order(
        &self,
        plugin: &str,
        citizen: &str,
        payer: &str,
        new: NewOrder,
    ) -> Result<Order, PaymentError> {
        if !self.ledger.may_charge(plugin, &new.merchant)? {
            return Err(PaymentError::MerchantNotGranted(new.merchant));
        }
        let creation = Creation {
            id: "",
            plugin,
            citizen,
            payer,
            now: now_secs(),
            min_expiry_s: self.config.min_expiry_s,
        };
        let first_query_ms = now_ms() + self.config.query_after.as_millis() as u64;
        Ok(self.ledger.create(
            &creation,
            new,
            self.config.orders_per_plugin_per_day,
            first_query_ms,
        )?)
    }

    /// `plugin`'s order `id`.
    pub fn get_order(&self, plugin: &str, id: &str) -> Result<Order, PaymentError> {
        Ok(self.ledger.get(id, Some(plugin))?)
    }

    /// `plugin`'s order with `order_key`.
    pub fn find_order(&self, plugin: &str, order_key: &str) -> Result<Order, PaymentError> {
        Ok(self.ledger.find(plugin, order_key)?)
    }

    /// Close an unpaid order (`plugin`'s when given) on behalf of `by`.
    pub fn close_order(
        &self,
        plugin: Option<&str>,
        id: &str,
        by: &str,
    ) -> Result<Order, PaymentError> {
        let order = self.ledger.get(id, plugin)?;
        if order.status == OrderStatus::Created
            && let Err(e) = self.provider().close(&order)
        {
            // Paid at the provider meanwhile: settle from its answer.
            if let ProviderError::Refused(_) = e
                && self.settle_from_provider(&order)?.is_some()
            {
                return Err(PaymentError::InvalidState(
                    "the citizen has already paid this order".into(),
                ));
            }
            return Err(e.into());
        }
        let changed = self.ledger.change(id, plugin, &Extra::default(), |o| {
            order::close(o, by, now_secs())
        })?;
        self.changed(&changed);
        Ok(changed.order)
    }

    /// Refund part or all of `plugin`'s paid order.
    pub fn refund(
        &self,
        plugin: &str,
        id: &str,
        amount_fen: u64,
        reason: &str,
        refund_key: &str,
    ) -> Result<Order, PaymentError> {
        let chars = reason.trim().chars().count();
        if chars == 0 || reason.chars().count() > 80 {
            return Err(PaymentError::InvalidArgument(
                "the refund reason must have 1 to 80 characters".into(),
            ));
        }
        // The ledger first: the refund, its journal entry, its event and a
        // request to the provider, in one batch; then the provider (by the
        // refund key, so once). A crash in between leaves the request, which
        // the background sweep carries out.
        let changed = self
            .ledger
            .change(id, Some(plugin), &Extra::default(), |o| {
                order::refund(o, refund_key, amount_fen, reason, now_secs())
            })?;
        self.changed(&changed);
        if let Err(e) = self.execute_refund(id, refund_key) {
            tracing::warn!(order = %id, refund_key, error = %e, "the provider refund is retried in the background");
        }
        Ok(changed.order)
    }

    /// Handle a provider's notification: verify, deduplicate, apply.
    pub fn handle_notice(
        &self,
        provider: &str,
        headers: HeaderLookup<'_>,
        body: &[u8],
    ) -> Result<NoticeOutcome, NoticeFailure> {
        if provider != self.provider().name() {
            return Err(NoticeFailure::UnknownProvider(provider.to_string()));
        }
        let now = now_secs();
        let notice = self.provider().verify_notice(headers, body, now)?;
        let nonce_key = keys::nonce(provider, &notice.nonce);
        let store = self.ledger.store();
        let seen = store
            .get(NAMESPACE, nonce_key.as_bytes())
            .map_err(|e| NoticeFailure::Unavailable(e.to_string()))?;
        if seen.is_some() {
            return Err(NoticeFailure::Replayed);
        }
        let n = &notice.notification;
        let log = |outcome: &str| NoticeLog {
            at_ms: now_ms(),
            provider: provider.to_string(),
            notification: n.clone(),
            outcome: outcome.to_string(),
        };
        let date = date_of(now);
        let encode_log = |outcome: &str| {
            encode(&log(outcome)).map_err(|e| NoticeFailure::Unavailable(e.to_string()))
        };
        let extra = Extra {
            batch: Batch::new()
                .expect(nonce_key.clone(), None)
                .put(nonce_key, notice.timestamp.to_string())
                .put(keys::notice(&date, now_ms()), encode_log("accepted")?),
        };
        let result = self.ledger.change(&n.order_id, None, &extra, |o| {
            order::mark_paid(o, &n.txn_id, n.amount_fen, &n.currency, now)
        });
        let refused = |outcome: String| -> Result<(), NoticeFailure> {
            let bytes = encode_log(&outcome)?;
            store
                .write(
                    NAMESPACE,
                    keys::notice(&date, now_ms()).as_bytes(),
                    Expect::Anything,
                    Some(&bytes),
                    None,
                )
                .map_err(|e| NoticeFailure::Unavailable(e.to_string()))
        };
        match result {
            Ok(changed) => {
                self.changed(&changed);
                Ok(if changed.entry.is_some() {
                    NoticeOutcome::Applied(changed.order.id)
                } else {
                    NoticeOutcome::Duplicate(changed.order.id)
                })
            }
            Err(LedgerError::NotFound) => {
                refused("unknown-order".into())?;
                Err(NoticeFailure::UnknownOrder(n.order_id.clone()))
            }
            // The provider took money for an order closed or expired here:
            // refund it (once it confirms the transaction).
            Err(LedgerError::Order(OrderError::InvalidState(
                OrderStatus::Closed | OrderStatus::Expired,
                _,
            ))) if self.provider_confirms(n) => {
                let refunded = self
                    .refund_late(
                        n,
                        Extra {
                            batch: Batch::new()
                                .expect(keys::nonce(provider, &notice.nonce), None)
                                .put(
                                    keys::nonce(provider, &notice.nonce),
                                    notice.timestamp.to_string(),
                                )
                                .put(keys::notice(&date, now_ms()), encode_log("late-refunded")?),
                        },
                    )
                    .map_err(|e| NoticeFailure::Unavailable(e.to_string()))?;
                Ok(NoticeOutcome::LateRefunded(refunded))
            }
            Err(LedgerError::Order(e)) => {
                refused(format!("refused: {e}"))?;
                Err(NoticeFailure::Mismatch(e.to_string()))
            }
            Err(e) => Err(NoticeFailure::Unavailable(e.to_string())),
        }
    }

    /// Whether the provider's own records hold the payment `n` tells of.
    fn provider_confirms(&self, n: &super::provider::Notification) -> bool {
        let Ok(order) = self.ledger.get(&n.order_id, None) else {
            return false;
        };
        matches!(
            self.provider().query(&order),
            Ok(super::provider::ProviderState::Paid(p)) if p.txn_id == n.txn_id && p.amount_fen == n.amount_fen
        )
    }

    /// Events whose next attempt is due.
    pub fn due_events(&self, limit: usize) -> Result<Vec<EventRecord>, LedgerError> {
        let now = now_ms();
        let mut due = Vec::new();
        for (key, _) in self
            .ledger
            .store()
            .scan(NAMESPACE, b"q/", None, usize::MAX)?
        {
            let id = String::from_utf8_lossy(&key[2..]).to_string();
            if let Some(event) = self.ledger.read::<EventRecord>(&keys::event(&id))?
                && event.next_attempt_ms <= now
            {
                due.push(event);
                if due.len() >= limit {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// Take `event` for one delivery attempt by this host: its next attempt
    /// moves to the end of the lease, so no other host takes it meanwhile
    /// and a host that dies holding it gives it up then. `None` when it is
    /// no longer due (delivered, or another host took it first).
    pub fn claim(&self, event: &EventRecord) -> Result<Option<Claimed>, LedgerError> {
        let now = now_ms();
        let lease_end = now + self.config.lease.as_millis() as u64;
        let mut taken = None;
        let raw = crate::store::lease::take(
            self.ledger.store().as_ref(),
            NAMESPACE,
            keys::event(&event.id).as_bytes(),
            |raw| {
                let mut current: EventRecord = serde_json::from_slice(raw).ok()?;
                if current.status != DeliveryStatus::Pending || current.next_attempt_ms > now {
                    return None;
                }
                current.next_attempt_ms = lease_end;
                let bytes = encode(&current).ok()?;
                taken = Some(current);
                Some(bytes)
            },
        )?;
        Ok(raw.zip(taken).map(|(raw, event)| Claimed { event, raw }))
    }

    /// Record one delivery attempt of the `claimed` event: `Ok(Some(version))`
    /// when a version acknowledged it, `Ok(None)` when no version handles
    /// events, `Err(why)` when it failed (retried with backoff until
    /// `max_attempts`). `Ok(None)` back when another host took the event
    /// over meanwhile (this host's lease ended first): its record stands.
    pub fn record_attempt(
        &self,
        claimed: &Claimed,
        result: Result<Option<String>, String>,
    ) -> Result<Option<EventRecord>, LedgerError> {
        let event = &claimed.event;
        let mut next = event.clone();
        next.attempts += 1;
        let now = now_ms();
        let mut batch = Batch::new();
        match result {
            Ok(version) => {
                next.status = if version.is_some() {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::NoHandler
                };
                next.delivered_ms = Some(now);
                next.delivered_to = version;
                next.last_error = None;
                batch = batch.delete(keys::pending(&event.id));
            }
            Err(why) => {
                next.last_error = Some(why);
                if next.attempts >= self.config.max_attempts {
                    next.status = DeliveryStatus::Failed;
                    batch = batch.delete(keys::pending(&event.id));
                } else {
                    let base = self.config.retry_base.as_millis() as u64;
                    next.next_attempt_ms = now + backoff_ms(base, next.attempts);
                    batch = batch.put(
                        keys::pending(&event.id),
                        keys::pending_value(next.next_attempt_ms, &event.plugin),
                    );
                }
            }
        }
        batch = batch
            .expect(keys::event(&event.id), Some(claimed.raw.clone()))
            .put(keys::event(&event.id), encode(&next)?);
        match self.ledger.store().commit(NAMESPACE, &batch) {
            Ok(()) => {}
            Err(crate::store::WriteError::Conflict) => return Ok(None),
            Err(e) => return Err(LedgerError::Store(e.to_string())),
        }
        self.ledger.store().flush()?;
        Ok(Some(next))
    }

    /// Queue a failed (or any) event for delivery again now.
    pub fn redeliver(&self, event_id: &str) -> Result<EventRecord, LedgerError> {
        let mut event: EventRecord = self
            .ledger
            .read(&keys::event(event_id))?
            .ok_or(LedgerError::NotFound)?;
        event.status = DeliveryStatus::Pending;
        event.next_attempt_ms = 0;
        let batch = Batch::new()
            .put(keys::event(event_id), encode(&event)?)
            .put(
                keys::pending(event_id),
                keys::pending_value(0, &event.plugin),
            );
        self.ledger
            .store()
            .commit(NAMESPACE, &batch)
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        self.ledger.store().flush()?;
        self.wake.notify_one();
        Ok(event)
    }

    /// Events of order `id`, oldest first.
    pub fn events_of(&self, order_id: &str) -> Result<Vec<EventRecord>, LedgerError> {
        let prefix = format!("e/evt-{order_id}-");
        let mut events: Vec<EventRecord> = self
            .ledger
            .store()
            .scan(NAMESPACE, prefix.as_bytes(), None, usize::MAX)?
            .iter()
            .map(|(_, v)| super::ledger::decode(v))
            .collect::<Result<_, _>>()?;
        events.sort_by_key(|e| e.created_ms);
        Ok(events)
    }

    /// Whether `cursor` is one [`Payments::events`] returned.
    pub fn valid_events_cursor(cursor: &str) -> bool {
        cursor.starts_with(keys::EVENTS_BY_TIME) && cursor.len() <= 200
    }

    /// A page of events, newest first, that `keep` accepts (filters by
    /// plugin, status, the reader's departments), after `cursor`. Reads at
    /// most [`EVENT_SCAN_BUDGET`] index entries: with rare matches the page
    /// may come back short, with a `next_cursor` to go on from.
    pub fn events(
        &self,
        keep: impl Fn(&EventRecord) -> bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<EventsPage, LedgerError> {
        let mut events = Vec::new();
        let resume = walk(
            self.ledger.store().as_ref(),
            NAMESPACE,
            keys::EVENTS_BY_TIME.as_bytes(),
            cursor.map(str::as_bytes),
            EVENT_SCAN_BUDGET,
            |key, _| {
                let key = String::from_utf8_lossy(key);
                let id = key.rsplit('/').next().unwrap_or_default();
                if let Some(event) = self.ledger.read::<EventRecord>(&keys::event(id))?
                    && keep(&event)
                {
                    events.push(event);
                }
                Ok::<_, LedgerError>(events.len() < limit)
            },
        )?;
        Ok(EventsPage {
            events,
            next_cursor: resume.map(|key| String::from_utf8_lossy(&key).into_owned()),
        })
    }

    /// Index events written before the time index existed (once, at start).
    pub fn index_events(&self) -> Result<usize, LedgerError> {
        let store = self.ledger.store();
        let indexed = !store
            .scan(NAMESPACE, keys::EVENTS_BY_TIME.as_bytes(), None, 1)?
            .is_empty();
        if indexed {
            return Ok(0);
        }
        let mut batch = Batch::default();
        for (_, value) in store.scan(NAMESPACE, b"e/", None, usize::MAX)? {
            let event: EventRecord = super::ledger::decode(&value)?;
            batch = batch.put(keys::event_by_time(event.created_ms, &event.id), Vec::new());
        }
        let added = batch.writes.len();
        if added > 0 {
            self.ledger.commit(&batch)?;
        }
        Ok(added)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::payment::events::EventKind;
    use crate::store::SledStore;

    fn event(id: &str, plugin: &str, created_ms: u64) -> EventRecord {
        EventRecord {
            id: id.into(),
            plugin: plugin.into(),
            order_id: "o1".into(),
            kind: EventKind::Paid,
            amount_fen: 1,
            refund_key: None,
            created_ms,
            attempts: 0,
            next_attempt_ms: 0,
            status: DeliveryStatus::Delivered,
            last_error: None,
            delivered_ms: None,
            delivered_to: None,
        }
    }

    #[test]
    fn events_written_before_the_index_are_indexed_once_and_paged() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
        let sandbox = Arc::new(SandboxProvider::new(
            store.clone(),
            vec![7; 32],
            std::time::Duration::from_secs(1),
        ));
        let payments = Payments::new(store.clone(), sandbox, PaymentConfig::default());
        let mut batch = Batch::default();
        for (n, plugin) in ["a", "b", "a"].iter().enumerate() {
            let e = event(&format!("evt-o{n}-1"), plugin, 1_000 * (n as u64 + 1));
            batch = batch.put(keys::event(&e.id), encode(&e).unwrap());
        }
        payments.ledger.commit(&batch).unwrap();
        assert!(
            payments
                .events(|_| true, 10, None)
                .unwrap()
                .events
                .is_empty()
        );

        assert_eq!(payments.index_events().unwrap(), 3);
        assert_eq!(payments.index_events().unwrap(), 0, "once");
        let all = payments.events(|_| true, 10, None).unwrap();
        let ids: Vec<&str> = all.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["evt-o2-1", "evt-o1-1", "evt-o0-1"]);
        assert_eq!(all.next_cursor, None);

        let first = payments.events(|e| e.plugin == "a", 1, None).unwrap();
        assert_eq!(first.events[0].id, "evt-o2-1");
        let cursor = first.next_cursor.unwrap();
        assert!(Payments::valid_events_cursor(&cursor));
        let second = payments
            .events(|e| e.plugin == "a", 1, Some(&cursor))
            .unwrap();
        assert_eq!(second.events[0].id, "evt-o0-1");
        assert_eq!(second.next_cursor, None, "the end");
        // A page that stops early on its filter still says where to go on.
        let of_b = payments.events(|e| e.plugin == "b", 5, None).unwrap();
        assert_eq!(of_b.events.len(), 1);
        assert_eq!(of_b.next_cursor, None);
        assert!(!Payments::valid_events_cursor("o/1"));
    }
}
