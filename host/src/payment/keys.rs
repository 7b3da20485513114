//! The ledger's key layout in the `payment` namespace. Everything about
//! payments lives in this one namespace, so one atomic batch can change an
//! order, append its journal, queue its event and record a nonce.

/// The store namespace of the ledger.
pub const NAMESPACE: &str = "payment";

/// An order: `o/{id}`.
pub fn order(id: &str) -> String {
    format!("o/{id}")
}

/// A plugin's order key: `k/{plugin}/{order_key}` → order id.
pub fn order_key(plugin: &str, key: &str) -> String {
    format!("k/{plugin}/{key}")
}

/// A citizen's orders, newest first: `c/{citizen}/{inverted ms}/{id}`.
pub fn citizen_order(citizen: &str, created_ms: u64, id: &str) -> String {
    format!("c/{citizen}/{:016x}/{id}", u64::MAX - created_ms)
}

/// Prefix of a citizen's orders.
pub fn citizen_prefix(citizen: &str) -> String {
    format!("c/{citizen}/")
}

/// Journal entry `seq` of an order: `j/{id}/{seq}`.
pub fn journal(id: &str, seq: usize) -> String {
    format!("j/{id}/{seq:05}")
}

/// Prefix of an order's journal.
pub fn journal_prefix(id: &str) -> String {
    format!("j/{id}/")
}

/// The day index of journal entries: `dj/{date}/{id}/{seq}`.
pub fn day_journal(date: &str, id: &str, seq: usize) -> String {
    format!("dj/{date}/{id}/{seq:05}")
}

/// Unpaid orders by expiry: `x/{expires_at}/{id}`.
pub fn expiry(expires_at: u64, id: &str) -> String {
    format!("x/{expires_at:012}/{id}")
}

/// An unpaid order to ask the provider about: `qq/{at ms}/{id}` → the
/// current interval between queries, ms.
pub fn query(at_ms: u64, id: &str) -> String {
    format!("{QUERIES}{at_ms:016}/{id}")
}

/// Prefix of [`query`].
pub const QUERIES: &str = "qq/";

/// A refund recorded in the ledger and still to be made at the provider:
/// `rq/{order id}/{refund key}` → amount, fen.
pub fn refund_request(order_id: &str, refund_key: &str) -> String {
    format!("{REFUND_REQUESTS}{order_id}/{refund_key}")
}

/// Prefix of [`refund_request`].
pub const REFUND_REQUESTS: &str = "rq/";

/// An event in the outbox: `e/{event id}`.
pub fn event(id: &str) -> String {
    format!("e/{id}")
}

/// Events newest first: `et/{inverted created ms}/{event id}` (empty value).
pub fn event_by_time(created_ms: u64, id: &str) -> String {
    format!("{EVENTS_BY_TIME}{:016x}/{id}", u64::MAX - created_ms)
}

/// Prefix of [`event_by_time`].
pub const EVENTS_BY_TIME: &str = "et/";

/// An event still to deliver: `q/{event id}` → [`pending_value`].
pub fn pending(id: &str) -> String {
    format!("q/{id}")
}

/// What [`pending`] holds: a [`crate::lanes::hint`] of the next attempt
/// and the plugin, so the delivery worker passes over events of plugins
/// whose lane is full without reading them.
pub fn pending_value(next_attempt_ms: u64, plugin: &str) -> String {
    crate::lanes::hint(next_attempt_ms, plugin)
}

/// A provider nonce seen: `n/{provider}/{nonce}`.
pub fn nonce(provider: &str, nonce: &str) -> String {
    format!("n/{provider}/{nonce}")
}

/// A verified provider notification: `nl/{date}/{ms}-{random}`.
pub fn notice(date: &str, at_ms: u64) -> String {
    format!(
        "nl/{date}/{at_ms:016}-{}",
        hex::encode(rand::random::<[u8; 4]>())
    )
}

/// Orders a plugin created on a day: `daily/{plugin}/{date}`.
pub fn daily(plugin: &str, date: &str) -> String {
    format!("daily/{plugin}/{date}")
}

/// A merchant account: `m/{id}`.
pub fn merchant(id: &str) -> String {
    format!("m/{id}")
}

/// A new order id: time-ordered and unguessable, e.g. `o19ab3c4d5e6f7a8b9c`.
pub fn new_order_id(now_ms: u64) -> String {
    format!("o{now_ms:011x}{}", hex::encode(rand::random::<[u8; 5]>()))
}
