//! The outbox: one entry per message and outbound channel, written in the
//! send's batch and delivered at least once by a background worker, with
//! exponential backoff with jitter (so deliveries failing together do not
//! retry together), until [`NotificationConfig::max_attempts`] (then kept,
//! marked failed, for admins to see). Deliveries go out in per-plugin
//! lanes: at most `NotificationConfig::deliveries_per_plugin` of one
//! plugin and `NotificationConfig::webhook_concurrency` in all at once,
//! each cut at `NotificationConfig::delivery_timeout`, so one plugin's
//! deliveries that are slow or failing never hold up another plugin's.
//!
//! [`NotificationConfig::max_attempts`]: super::NotificationConfig::max_attempts

use super::Notifications;
use super::channel::Delivery;
use super::keys::{self, OUTBOX_PREFIX, PENDING_PREFIX};
use crate::clock::{date_of, now_ms};
use crate::consent::NAMESPACE;
use crate::lanes::{self, Lane, Lanes};
use crate::payment::events::backoff_ms;
use crate::store::{Batch, StoreError, WriteError, walk};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// Where an outbound delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One message on its way through one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    /// The channel's name.
    pub channel: String,
    /// What is sent.
    pub delivery: Delivery,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, ms since the epoch.
    pub next_attempt_ms: u64,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the channel accepted it, ms since the epoch.
    pub delivered_ms: Option<u64>,
}

impl OutboxEntry {
    /// A new entry, due at once.
    pub fn new(channel: &str, delivery: Delivery) -> Self {
        OutboxEntry {
            channel: channel.to_string(),
            next_attempt_ms: delivery.at_ms,
            delivery,
            attempts: 0,
            status: DeliveryStatus::Pending,
            last_error: None,
            delivered_ms: None,
        }
    }
}

/// An outbound delivery this host took for one attempt, and its entry's
/// bytes as taken (the attempt is recorded only over these).
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The entry, its next attempt at the end of the lease.
    pub entry: OutboxEntry,
    /// Its stored bytes.
    pub raw: Vec<u8>,
}

/// Most entries one listing reads per channel.
pub const DELIVERY_SCAN_BUDGET: usize = 5_000;

fn decode(bytes: &[u8]) -> Result<OutboxEntry, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError(format!("corrupt outbox entry: {e}")))
}

impl Notifications {
    /// Deliveries whose next attempt is due, of plugins with a free lane,
    /// in queue order, each with its lane. A delivery of a plugin whose
    /// lane is full is passed over without reading its entry (the pending
    /// index holds its plugin).
    fn due_in_lanes(&self, lanes: &Arc<Lanes>) -> Result<Vec<(OutboxEntry, Lane)>, StoreError> {
        let now = now_ms();
        let mut due = Vec::new();
        for (key, hint) in
            self.store
                .scan(NAMESPACE, PENDING_PREFIX.as_bytes(), None, usize::MAX)?
        {
            if lanes.free() == 0 {
                break;
            }
            if let Some((at, plugin)) = lanes::parse_hint(&hint)
                && (at > now || !lanes.has_room(plugin))
            {
                continue;
            }
            let rest = String::from_utf8_lossy(&key[PENDING_PREFIX.len()..]).to_string();
            let Some(raw) = self
                .store
                .get(NAMESPACE, format!("{OUTBOX_PREFIX}{rest}").as_bytes())?
            else {
                continue;
            };
            let entry = decode(&raw)?;
            if entry.next_attempt_ms <= now
                && let Some(lane) = lanes.take(&entry.delivery.plugin)
            {
                due.push((entry, lane));
            }
        }
        Ok(due)
    }

    /// Take `entry` for one attempt by this host: its next attempt moves
    /// to the end of the lease, so no other host sends it meanwhile, and a
    /// host that dies holding it gives it up then. `None` when it is no
    /// longer due (sent, or another host took it first).
    pub fn claim_delivery(&self, entry: &OutboxEntry) -> Result<Option<Claimed>, StoreError> {
        let now = now_ms();
        let lease_end = now + self.config.lease.as_millis() as u64;
        let mut taken = None;
        let raw = crate::store::lease::take(
            self.store.as_ref(),
            NAMESPACE,
            keys::outbox(&entry.channel, &entry.delivery.id).as_bytes(),
            |raw| {
                let mut current = decode(raw).ok()?;
                if current.status != DeliveryStatus::Pending || current.next_attempt_ms > now {
                    return None;
                }
                current.next_attempt_ms = lease_end;
                let bytes = serde_json::to_vec(&current).ok()?;
                taken = Some(current);
                Some(bytes)
            },
        )?;
        Ok(raw.zip(taken).map(|(raw, entry)| Claimed { entry, raw }))
    }

    /// Record one attempt of the `claimed` entry: `Ok(())` delivered,
    /// `Err(why)` failed (retried with backoff until `max_attempts`, then
    /// marked failed). `None` when another host took the entry over
    /// meanwhile (this host's lease ended first): its record stands.
    pub fn record_delivery(
        &self,
        claimed: &Claimed,
        result: Result<(), String>,
    ) -> Result<Option<OutboxEntry>, StoreError> {
        let entry = &claimed.entry;
        let mut next = entry.clone();
        next.attempts += 1;
        let now = now_ms();
        let pending = keys::pending(&entry.channel, &entry.delivery.id);
        let mut batch = Batch::new();
        match result {
            Ok(()) => {
                next.status = DeliveryStatus::Delivered;
                next.delivered_ms = Some(now);
                next.last_error = None;
                batch = batch.delete(pending);
            }
            Err(why) => {
                next.last_error = Some(why.chars().take(500).collect());
                if next.attempts >= self.config.max_attempts {
                    next.status = DeliveryStatus::Failed;
                    batch = batch.delete(pending);
                } else {
                    let base = self.config.webhook_retry_base.as_millis() as u64;
                    next.next_attempt_ms = now + with_jitter(backoff_ms(base, next.attempts));
                    let hint = lanes::hint(next.next_attempt_ms, &entry.delivery.plugin);
                    batch = batch.put(pending.clone(), hint);
                }
            }
        }
        let bytes = serde_json::to_vec(&next).map_err(|e| StoreError(e.to_string()))?;
        let key = keys::outbox(&entry.channel, &entry.delivery.id);
        batch = batch
            .expect(key.clone(), Some(claimed.raw.clone()))
            .put(key, bytes);
        match self.store.commit(NAMESPACE, &batch) {
            Ok(()) => {}
            Err(WriteError::Conflict) => return Ok(None),
            Err(e) => return Err(StoreError(e.to_string())),
        }
        self.store.flush()?;
        Ok(Some(next))
    }

    /// Up to `limit` outbound deliveries, newest first, optionally only
    /// those with `status`. Each channel's entries are kept newest first
    /// (message ids sort that way), so this reads at most `limit` matches
    /// or [`DELIVERY_SCAN_BUDGET`] entries per channel, not the outbox.
    pub fn deliveries(
        &self,
        status: Option<DeliveryStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        for channel in self.outbox_channels()? {
            let prefix = format!("{OUTBOX_PREFIX}{channel}/");
            let mut matched = 0;
            walk(
                self.store.as_ref(),
                NAMESPACE,
                prefix.as_bytes(),
                None,
                DELIVERY_SCAN_BUDGET,
                |_, raw| {
                    let entry = decode(raw)?;
                    if status.is_none_or(|s| s == entry.status) {
                        out.push(entry);
                        matched += 1;
                    }
                    Ok::<_, StoreError>(matched < limit)
                },
            )?;
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.delivery.at_ms));
        out.truncate(limit);
        Ok(out)
    }

    /// The channels that have outbox entries (configured or not any more).
    fn outbox_channels(&self) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let rows = self
                .store
                .scan(NAMESPACE, OUTBOX_PREFIX.as_bytes(), after.as_deref(), 1)?;
            let Some((key, _)) = rows.first() else {
                return Ok(names);
            };
            let rest = &key[OUTBOX_PREFIX.len()..];
            let name = rest.split(|b| *b == b'/').next().unwrap_or_default();
            let mut past =
                format!("{OUTBOX_PREFIX}{}/", String::from_utf8_lossy(name)).into_bytes();
            past.push(0xff);
            names.push(String::from_utf8_lossy(name).into_owned());
            after = Some(past);
        }
    }

    /// Queue delivery `id` through `channel` again now, with a fresh count
    /// of attempts (an admin's redelivery of a failed one).
    pub fn redeliver(&self, channel: &str, id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        let key = keys::outbox(channel, id);
        let Some(raw) = self.store.get(NAMESPACE, key.as_bytes())? else {
            return Ok(None);
        };
        let mut entry = decode(&raw)?;
        entry.status = DeliveryStatus::Pending;
        entry.attempts = 0;
        entry.next_attempt_ms = 0;
        let bytes = serde_json::to_vec(&entry).map_err(|e| StoreError(e.to_string()))?;
        let batch = Batch::new().put(key, bytes).put(
            keys::pending(channel, id),
            lanes::hint(0, &entry.delivery.plugin),
        );
        self.store
            .commit(NAMESPACE, &batch)
            .map_err(|e| StoreError(e.to_string()))?;
        self.store.flush()?;
        self.wake.notify_one();
        Ok(Some(entry))
    }

    /// Resolves when a delivery may be due (or after `wait`).
    async fn wait_for_work(&self, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.wake.notified()).await;
    }
}

/// "Equal jitter": half the delay, plus a random share of the other half.
pub fn with_jitter(delay_ms: u64) -> u64 {
    let half = delay_ms / 2;
    half + rand::random_range(0..=delay_ms - half)
}

/// Longest pause between looks at the outbox.
const IDLE: Duration = Duration::from_millis(250);
/// How often past days' quota counters are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Run until `stop` fires: deliver due outbox entries concurrently in
/// per-plugin lanes (at most `deliveries-per-plugin` of one plugin and
/// `webhook-concurrency` in all, each cut at `delivery-timeout`), and
/// prune old counters. At the stop, deliveries under way are dropped:
/// their entries stay pending and are sent after the restart (at least
/// once).
pub async fn run(notifications: Arc<Notifications>, mut stop: oneshot::Receiver<()>) {
    let config = &notifications.config;
    let lanes = Lanes::new(config.deliveries_per_plugin, config.webhook_concurrency);
    let mut running = JoinSet::new();
    let mut last_prune: Option<Instant> = None;
    loop {
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            prune(notifications.clone()).await;
        }
        while running.try_join_next().is_some() {}
        for (due, lane) in take_due(&notifications, &lanes).await {
            let n = notifications.clone();
            running.spawn(async move {
                attempt(&n, due).await;
                drop(lane);
            });
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = notifications.wait_for_work(IDLE) => {}
            _ = lanes.freed() => {}
        }
    }
    running.shutdown().await;
}

async fn prune(notifications: Arc<Notifications>) {
    // Keep yesterday too: a send near midnight may still count against it.
    let yesterday = date_of((now_ms() / 1000).saturating_sub(86_400));
    let cutoff = now_ms().saturating_sub(notifications.config.retention.as_millis() as u64);
    let pruned = tokio::task::spawn_blocking(move || {
        let counters = notifications.prune_counters(&yesterday)?;
        let old = notifications.prune_before(cutoff)?;
        Ok::<_, StoreError>(counters + old)
    })
    .await;
    match pruned {
        Ok(Ok(n)) if n > 0 => tracing::debug!(removed = n, "pruned old notification records"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "pruning notification records failed"),
        Err(e) => tracing::warn!(error = %e, "pruning notification records failed"),
    }
}

/// Due deliveries of plugins with a free lane, each with its lane.
async fn take_due(
    notifications: &Arc<Notifications>,
    lanes: &Arc<Lanes>,
) -> Vec<(OutboxEntry, Lane)> {
    if notifications.channels.is_empty() {
        return Vec::new();
    }
    let (n, l) = (notifications.clone(), lanes.clone());
    match tokio::task::spawn_blocking(move || n.due_in_lanes(&l)).await {
        Ok(Ok(due)) => due,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading the notification outbox failed");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the notification outbox failed");
            Vec::new()
        }
    }
}

/// Take `due` and send it once; whether it was attempted.
async fn attempt(notifications: &Arc<Notifications>, due: OutboxEntry) -> bool {
    let n = notifications.clone();
    let claimed = match tokio::task::spawn_blocking(move || n.claim_delivery(&due)).await {
        Ok(Ok(Some(claimed))) => claimed,
        // Sent meanwhile, or another host is sending it.
        Ok(Ok(None)) => return false,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot take a notification delivery");
            return false;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot take a notification delivery");
            return false;
        }
    };
    let entry = &claimed.entry;
    let channel = notifications
        .channels
        .iter()
        .find(|c| c.name() == entry.channel);
    let limit = notifications.config.delivery_timeout;
    let result = match channel {
        Some(c) => tokio::time::timeout(limit, c.deliver(&entry.delivery, entry.attempts + 1))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the channel did not answer within {} ms",
                    limit.as_millis()
                ))
            }),
        None => Err(format!("channel {} is not configured", entry.channel)),
    };
    let outcome = if result.is_ok() {
        "delivered"
    } else {
        "failed"
    };
    metrics::counter!("islet_notification_deliveries_total", "channel" => entry.channel.clone(), "outcome" => outcome).increment(1);
    if let Err(why) = &result {
        tracing::warn!(message = %entry.delivery.id, channel = %entry.channel, attempt = entry.attempts + 1, error = %why, "notification not delivered");
    }
    let (n, c) = (notifications.clone(), claimed.clone());
    match tokio::task::spawn_blocking(move || n.record_delivery(&c, result)).await {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => {
            tracing::warn!(message = %entry.delivery.id, "the delivery's lease ended while sending; another host took it over")
        }
        Ok(Err(e)) => tracing::error!(error = %e, "cannot record a notification delivery"),
        Err(e) => tracing::error!(error = %e, "cannot record a notification delivery"),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_retries_within_the_upper_half() {
        let delays: Vec<u64> = (0..200).map(|_| with_jitter(1000)).collect();
        assert!(
            delays.iter().all(|d| (500..=1000).contains(d)),
            "{delays:?}"
        );
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 50, "spread out: {}", distinct.len());
        assert_eq!(with_jitter(0), 0);
        assert!((1..=3).contains(&with_jitter(3)));
    }
}
