//! The background worker of the money path: asks the provider about unpaid
//! orders, expires them, and delivers queued events to plugins, at least
//! once, retrying with backoff; beside it runs the sandbox provider's
//! notification outbox.
//! Everything it works from is in the ledger, so a restarted host simply
//! carries on where the previous one stopped.
//!
//! Deliveries run concurrently in per-plugin [`Lanes`]: at most
//! `events-per-plugin` attempts of one plugin at once and `event-workers`
//! in all, each cut at `event-timeout`, so a plugin whose handler is slow,
//! failing or trapping holds only its own lane and never delays another
//! plugin's events. Each attempt still takes its event's lease first
//! ([`Payments::claim`]), so hosts sharing a store never deliver one event
//! at once.

use super::events::{EventKind, EventRecord};
use super::keys::{self, NAMESPACE};
use super::ledger::LedgerError;
use super::order::Order;
use super::{Claimed, Payments};
use crate::capabilities::payment::to_wit;
use crate::capabilities::{GuestEvent, GuestEventKind};
use crate::clock::now_ms;
use crate::lanes::{Lane, Lanes};
use crate::registry::Registry;
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Events taken per [`sweep`].
const BATCH: usize = 32;
/// Longest pause between looks at the outbox.
const IDLE: Duration = Duration::from_millis(250);
/// Shortest pause between two rounds of provider queries, refunds and
/// expiries (event deliveries are started more often, as lanes free up).
const UPKEEP_EVERY: Duration = Duration::from_millis(100);

/// Where events go.
pub trait EventTarget: Send + Sync {
    /// Deliver `event` of `order`: `Ok(Some(version))` when acknowledged,
    /// `Ok(None)` when the plugin does not take events, `Err(why)` to retry.
    fn deliver(&self, event: &EventRecord, order: &Order) -> Result<Option<String>, String>;
}

/// Delivers to the serving version of the plugin that owns the order.
pub struct PluginEventTarget {
    /// Installed plugins.
    pub registry: Arc<Registry>,
    /// The runtime that calls them.
    pub runtime: Arc<Runtime>,
    /// For checkout URLs.
    pub payments: Arc<Payments>,
    /// The instance slots and memory budget requests share: a delivery
    /// holds a slot like a request, within the plugin's share.
    pub pool: Arc<crate::pool::InstancePool>,
}

/// How long a delivery waits for an instance slot before it is retried
/// later (with the event's backoff).
const SLOT_WAIT: Duration = Duration::from_millis(500);

impl EventTarget for PluginEventTarget {
    fn deliver(&self, event: &EventRecord, order: &Order) -> Result<Option<String>, String> {
        let active = self
            .registry
            .get(&event.plugin)
            .ok_or_else(|| format!("plugin {} is not installed", event.plugin))?;
        let prepared = match active
            .released()
            .or_else(|| active.route(None).map(|r| r.1))
        {
            Some(Ok(p)) => p.clone(),
            Some(Err(why)) => return Err(format!("the serving version cannot run: {why}")),
            None => return Err("no version of the plugin is serving".into()),
        };
        let guest_event = GuestEvent {
            id: event.id.clone(),
            kind: match event.kind {
                EventKind::Paid => GuestEventKind::Paid,
                EventKind::Closed => GuestEventKind::Closed,
                EventKind::Expired => GuestEventKind::Expired,
                EventKind::Refunded => GuestEventKind::Refunded,
            },
            order: to_wit(order, self.payments.provider().checkout_url(order)),
            amount_fen: event.amount_fen,
            refund_key: event.refund_key.clone(),
            attempt: event.attempts + 1,
        };
        let request_id: Arc<str> = format!("{}-{}", event.id, event.attempts + 1).into();
        let version = prepared.manifest.version.to_string();
        // Deliveries run on blocking threads of the host's runtime.
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| format!("no runtime to wait for an instance slot: {e}"))?;
        let admitted = runtime.block_on(self.pool.admit(
            &event.plugin,
            prepared.limits.memory_bytes(),
            SLOT_WAIT,
        ));
        let _permit = admitted.map_err(|refusal| {
            crate::metrics::record_rejection(&event.plugin, refusal.reason());
            format!("version {version}: no instance slot: {refusal:?}")
        })?;
        match runtime.block_on(self.runtime.deliver_event(
            &prepared,
            &guest_event,
            request_id,
            self.payments.config().event_timeout,
        )) {
            Ok(None) => Ok(None),
            Ok(Some(Ok(()))) => Ok(Some(version)),
            Ok(Some(Err(why))) => Err(format!("version {version} refused the event: {why}")),
            Err(fault) => Err(match fault.detail() {
                Some(detail) => format!("version {version}: {fault}: {detail}"),
                None => format!("version {version}: {fault}"),
            }),
        }
    }
}

/// Run until `stop` fires: query, refund and expire what is due, and
/// deliver due events concurrently in per-plugin lanes. At the stop the
/// attempts running are let finish (each is bounded by the event timeout).
pub async fn run(
    payments: Arc<Payments>,
    target: Arc<dyn EventTarget>,
    mut stop: oneshot::Receiver<()>,
) {
    let (stop_notifier, notifier_stopped) = oneshot::channel();
    let notifier = tokio::spawn(super::sandbox::notifier::run(
        payments.sandbox().clone(),
        notifier_stopped,
    ));
    let config = payments.config();
    let lanes = Lanes::new(config.events_per_plugin, config.event_workers);
    let mut last_upkeep: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = payments.wait_for_events(IDLE) => {}
            _ = lanes.freed() => {}
        }
        let upkeep_due = last_upkeep.is_none_or(|t| t.elapsed() >= UPKEEP_EVERY);
        if upkeep_due {
            last_upkeep = Some(Instant::now());
        }
        let (p, l) = (payments.clone(), lanes.clone());
        let taken = tokio::task::spawn_blocking(move || {
            if upkeep_due {
                upkeep(&p);
            }
            take_due(&p, &l)
        })
        .await;
        let taken = match taken {
            Ok(taken) => taken,
            Err(e) => {
                tracing::error!(error = %e, "payment sweep failed");
                continue;
            }
        };
        for (claimed, lane) in taken {
            let (p, t) = (payments.clone(), target.clone());
            tokio::task::spawn_blocking(move || {
                attempt(&p, t.as_ref(), &claimed);
                drop(lane);
            });
        }
    }
    while lanes.running() > 0 {
        tokio::select! {
            _ = lanes.freed() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let _ = stop_notifier.send(());
    let _ = notifier.await;
}

/// Settle unpaid orders from the provider's answers, make requested
/// refunds, expire what is due.
fn upkeep(payments: &Payments) {
    if let Err(e) = payments.refunds_due() {
        tracing::warn!(error = %e, "making requested refunds failed");
    }
    if let Err(e) = payments.query_due() {
        tracing::warn!(error = %e, "querying the provider about unpaid orders failed");
    }
    if let Err(e) = payments.expire_due() {
        tracing::warn!(error = %e, "expiring orders failed");
    }
}

/// Take (claim) due events of plugins with a free lane, in queue order,
/// each with its lane. An event of a plugin whose lane is full is passed
/// over without reading its record (the pending index holds its plugin).
fn take_due(payments: &Payments, lanes: &Arc<Lanes>) -> Vec<(Claimed, Lane)> {
    match due_in_lanes(payments, lanes) {
        Ok(due) => due
            .into_iter()
            .filter_map(|(event, lane)| claim(payments, &event).map(|c| (c, lane)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "reading the payment outbox failed");
            Vec::new()
        }
    }
}

fn due_in_lanes(
    payments: &Payments,
    lanes: &Arc<Lanes>,
) -> Result<Vec<(EventRecord, Lane)>, LedgerError> {
    let now = now_ms();
    let mut due = Vec::new();
    let pending = payments
        .ledger()
        .store()
        .scan(NAMESPACE, b"q/", None, usize::MAX)?;
    for (key, hint) in pending {
        if lanes.free() == 0 {
            break;
        }
        if let Some((at, plugin)) = crate::lanes::parse_hint(&hint)
            && (at > now || !lanes.has_room(plugin))
        {
            continue;
        }
        let id = String::from_utf8_lossy(&key[2..]);
        let Some(event) = payments.ledger().read::<EventRecord>(&keys::event(&id))? else {
            continue;
        };
        if event.next_attempt_ms > now {
            continue;
        }
        if let Some(lane) = lanes.take(&event.plugin) {
            due.push((event, lane));
        }
    }
    Ok(due)
}

fn claim(payments: &Payments, due: &EventRecord) -> Option<Claimed> {
    match payments.claim(due) {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(event = %due.id, error = %e, "cannot take a payment event");
            None
        }
    }
}

/// One pass, in sequence on this thread: settle unpaid orders from the
/// provider's answers, expire, then deliver what is due (up to a batch).
/// Returns events attempted. The host's worker is [`run`]; this is for
/// tools and measurements.
pub fn sweep(payments: &Payments, target: &dyn EventTarget) -> usize {
    upkeep(payments);
    let due = match payments.due_events(BATCH) {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "reading the payment outbox failed");
            return 0;
        }
    };
    let mut attempted = 0;
    for due in &due {
        // None: delivered meanwhile, or another host is delivering it.
        if let Some(claimed) = claim(payments, due) {
            attempted += 1;
            attempt(payments, target, &claimed);
        }
    }
    attempted
}

/// Deliver a claimed event once and record the attempt.
fn attempt(payments: &Payments, target: &dyn EventTarget, claimed: &Claimed) {
    let event = &claimed.event;
    let result = match payments.ledger().get(&event.order_id, None) {
        Ok(order) => target.deliver(event, &order),
        Err(e) => Err(e.to_string()),
    };
    let outcome = match &result {
        Ok(Some(_)) => "delivered",
        Ok(None) => "no-handler",
        Err(_) => "failed",
    };
    metrics::counter!("islet_payment_event_deliveries_total", "plugin" => event.plugin.clone(), "outcome" => outcome).increment(1);
    if let Err(why) = &result {
        tracing::warn!(event = %event.id, plugin = %event.plugin, attempt = event.attempts + 1, error = %why, "payment event not delivered");
    }
    match payments.record_attempt(claimed, result) {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!(event = %event.id, "the event's lease ended during delivery; another host took it over")
        }
        Err(e) => {
            tracing::error!(event = %event.id, error = %e, "cannot record a delivery attempt")
        }
    }
}
