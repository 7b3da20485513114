//! The background worker of the money path: asks the provider about unpaid
//! orders, expires them, and delivers queued events to plugins, at least
//! once, retrying with backoff; beside it runs the sandbox provider's
//! notification outbox.
//! Everything it works from is in the ledger, so a restarted host simply
//! carries on where the previous one stopped.

use super::Payments;
use super::events::{EventKind, EventRecord};
use super::order::Order;
use crate::capabilities::payment::to_wit;
use crate::capabilities::{GuestEvent, GuestEventKind};
use crate::registry::Registry;
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Events taken per sweep.
const BATCH: usize = 32;
/// Longest pause between sweeps.
const IDLE: Duration = Duration::from_millis(250);

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
}

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
        match self
            .runtime
            .deliver_event(&prepared, &guest_event, request_id)
        {
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

/// Run until `stop` fires: expire due orders, deliver due events.
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
    loop {
        tokio::select! {
            _ = &mut stop => {
                let _ = stop_notifier.send(());
                let _ = notifier.await;
                return;
            }
            _ = payments.wait_for_events(IDLE) => {}
        }
        let (p, t) = (payments.clone(), target.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || sweep(&p, t.as_ref())).await {
            tracing::error!(error = %e, "payment sweep failed");
        }
    }
}

/// One pass: settle unpaid orders from the provider's answers, expire,
/// then deliver what is due. Returns events attempted.
pub fn sweep(payments: &Payments, target: &dyn EventTarget) -> usize {
    if let Err(e) = payments.refunds_due() {
        tracing::warn!(error = %e, "making requested refunds failed");
    }
    if let Err(e) = payments.query_due() {
        tracing::warn!(error = %e, "querying the provider about unpaid orders failed");
    }
    if let Err(e) = payments.expire_due() {
        tracing::warn!(error = %e, "expiring orders failed");
    }
    let due = match payments.due_events(BATCH) {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "reading the payment outbox failed");
            return 0;
        }
    };
    let mut attempted = 0;
    for due in &due {
        let claimed = match payments.claim(due) {
            Ok(Some(claimed)) => claimed,
            // Delivered meanwhile, or another host is delivering it.
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(event = %due.id, error = %e, "cannot take a payment event");
                continue;
            }
        };
        attempted += 1;
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
        match payments.record_attempt(&claimed, result) {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(event = %event.id, "the event's lease ended during delivery; another host took it over")
            }
            Err(e) => {
                tracing::error!(event = %event.id, error = %e, "cannot record a delivery attempt")
            }
        }
    }
    attempted
}
