//! The sandbox's notification outbox: `outbox/{txn}` entries written in the
//! same batch as the payment, sent as signed notifications to the host's
//! notification URL until one is acknowledged. Any host of a deployment
//! works on the queue: an entry is taken with a lease (its next attempt
//! moved past the lease by compare-and-swap), so one host sends it at a time
//! and a host that dies holding it gives it up when the lease ends.

use super::{
    NAMESPACE, NONCE_HEADER, SIGNATURE_HEADER, SandboxPayment, SandboxProvider, TIMESTAMP_HEADER,
    signature, unavailable,
};
use crate::clock::now_ms;
use crate::payment::provider::ProviderError;
use crate::store::{Batch, StoreError, WriteError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Attempts at one notification before the sandbox gives up (the host's
/// active query settles the order anyway).
pub const MAX_ATTEMPTS: u32 = 12;
/// Longest wait between two attempts.
const MAX_BACKOFF_MS: u64 = 60_000;
/// How long a host holds an entry it is sending.
const LEASE_MS: u64 = 30_000;
/// Entries taken per sweep.
const BATCH: usize = 64;
/// Longest pause between sweeps.
const IDLE: Duration = Duration::from_millis(250);

/// One unsent notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    payment: SandboxPayment,
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    next_attempt_ms: u64,
    /// Separate notifications to send on the first attempt (tests).
    #[serde(default = "one")]
    copies: u32,
}

fn one() -> u32 {
    1
}

/// The outbox key of transaction `txn_id`.
pub(super) fn outbox_key(txn_id: &str) -> String {
    format!("outbox/{txn_id}")
}

/// The outbox entry of a new `payment`, first sent at `first_attempt_ms`.
pub(super) fn entry(
    payment: &SandboxPayment,
    first_attempt_ms: u64,
    copies: u32,
) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(&Entry {
        payment: payment.clone(),
        attempts: 0,
        next_attempt_ms: first_attempt_ms,
        copies,
    })
    .map_err(unavailable)
}

fn decode_entry(raw: &[u8]) -> Option<Entry> {
    serde_json::from_slice::<Entry>(raw).ok().or_else(|| {
        // Written by an earlier version: the bare payment.
        let payment = serde_json::from_slice::<SandboxPayment>(raw).ok()?;
        Some(Entry {
            payment,
            attempts: 0,
            next_attempt_ms: 0,
            copies: 1,
        })
    })
}

/// An entry this host took, with its bytes as taken.
struct Taken {
    key: String,
    raw: Vec<u8>,
    entry: Entry,
}

impl SandboxProvider {
    /// Unsent notifications (not yet acknowledged by the host).
    pub fn unsent(&self) -> Result<usize, StoreError> {
        Ok(self
            .store
            .scan(NAMESPACE, b"outbox/", None, usize::MAX)?
            .len())
    }

    fn take_due(&self) -> Result<Vec<Taken>, StoreError> {
        let now = now_ms();
        let mut taken = Vec::new();
        for (key, _) in self.store.scan(NAMESPACE, b"outbox/", None, usize::MAX)? {
            let mut leased = None;
            let raw = crate::store::lease::take(self.store.as_ref(), NAMESPACE, &key, |raw| {
                let mut entry = decode_entry(raw)?;
                if entry.next_attempt_ms > now {
                    return None;
                }
                entry.next_attempt_ms = now + LEASE_MS;
                let bytes = serde_json::to_vec(&entry).ok()?;
                leased = Some(entry);
                Some(bytes)
            })?;
            if let (Some(raw), Some(entry)) = (raw, leased) {
                taken.push(Taken {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    raw,
                    entry,
                });
                if taken.len() >= BATCH {
                    break;
                }
            }
        }
        if !taken.is_empty() {
            self.store.flush()?;
        }
        Ok(taken)
    }

    /// Post `entry`'s notification (each copy with its own nonce): whether
    /// the host acknowledged every one.
    async fn send(&self, url: &str, entry: &Entry) -> bool {
        let Ok(body) = serde_json::to_vec(&entry.payment.notification()) else {
            return false;
        };
        let copies = if entry.attempts == 0 { entry.copies } else { 1 };
        let mut acknowledged = true;
        for _ in 0..copies.max(1) {
            let timestamp = now_ms() / 1000;
            let nonce = hex::encode(rand::random::<[u8; 12]>());
            let sent = self
                .client
                .post(url)
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(NONCE_HEADER, &nonce)
                .header(
                    SIGNATURE_HEADER,
                    signature(&self.secret, timestamp, &nonce, &body),
                )
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(5))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(txn = %entry.payment.txn_id, status = r.status().as_u16(), "sandbox notification refused");
                    acknowledged = false;
                }
                Err(e) => {
                    tracing::warn!(txn = %entry.payment.txn_id, error = %e, "sandbox notification not delivered");
                    acknowledged = false;
                }
            }
        }
        acknowledged
    }

    /// Record the outcome of one attempt, only over the bytes this host took
    /// (a repeated Pay may have re-written the entry meanwhile: it stays).
    fn finish(&self, taken: &Taken, acknowledged: bool) -> Result<(), StoreError> {
        let mut batch = Batch::new().expect(taken.key.clone(), Some(taken.raw.clone()));
        let mut next = taken.entry.clone();
        next.attempts += 1;
        if acknowledged || next.attempts >= MAX_ATTEMPTS {
            if !acknowledged {
                tracing::error!(txn = %next.payment.txn_id, attempts = next.attempts, "the sandbox gives up notifying; the host's query settles the order");
            }
            batch = batch.delete(taken.key.clone());
        } else {
            let base = self.retry_base.as_millis() as u64;
            let backoff = base
                .saturating_mul(1 << next.attempts.min(16))
                .min(MAX_BACKOFF_MS);
            next.next_attempt_ms = now_ms() + backoff;
            next.copies = 1;
            let bytes =
                serde_json::to_vec(&next).map_err(|e| StoreError(format!("encode: {e}")))?;
            batch = batch.put(taken.key.clone(), bytes);
        }
        match self.store.commit(NAMESPACE, &batch) {
            Ok(()) | Err(WriteError::Conflict) => self.store.flush(),
            Err(WriteError::Store(e)) => Err(e),
            Err(WriteError::QuotaExceeded) => Err(StoreError("quota on the outbox".into())),
        }
    }
}

/// Send the outbox until `stop` fires.
pub async fn run(sandbox: Arc<SandboxProvider>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::timeout(IDLE, sandbox.wake.notified()) => {}
        }
        let Some(url) = sandbox.notify_url.get().cloned() else {
            continue;
        };
        let s = sandbox.clone();
        let taken = match tokio::task::spawn_blocking(move || s.take_due()).await {
            Ok(Ok(taken)) => taken,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the sandbox's outbox");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "the sandbox outbox sweep failed");
                continue;
            }
        };
        let sent =
            futures_util::future::join_all(taken.iter().map(|t| sandbox.send(&url, &t.entry)));
        let outcomes: Vec<bool> = sent.await;
        let s = sandbox.clone();
        let finished = tokio::task::spawn_blocking(move || {
            for (taken, acknowledged) in taken.iter().zip(outcomes) {
                if let Err(e) = s.finish(taken, acknowledged) {
                    tracing::warn!(txn = %taken.entry.payment.txn_id, error = %e, "cannot record a sandbox notification attempt");
                }
            }
        });
        if let Err(e) = finished.await {
            tracing::error!(error = %e, "recording sandbox notifications failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::store::{KvStore, SledStore};

    fn provider(store: &Arc<dyn KvStore>) -> SandboxProvider {
        SandboxProvider::new(store.clone(), vec![7; 32], Duration::from_millis(100))
    }

    #[test]
    fn hosts_sharing_the_outbox_take_each_notification_once_and_retry_with_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
        let mut batch = Batch::new();
        for n in 0..40 {
            let payment = SandboxPayment {
                txn_id: format!("sbx{n:04}"),
                order_id: format!("o{n}"),
                amount_fen: 100,
                at: 1,
            };
            batch = batch.put(outbox_key(&payment.txn_id), entry(&payment, 0, 1).unwrap());
        }
        store.commit(NAMESPACE, &batch).unwrap();
        let hosts: Vec<SandboxProvider> = (0..3).map(|_| provider(&store)).collect();
        let taken: Vec<Vec<Taken>> = std::thread::scope(|s| {
            let handles: Vec<_> = hosts
                .iter()
                .map(|h| s.spawn(move || h.take_due().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut ids: Vec<String> = taken
            .iter()
            .flatten()
            .map(|t| t.entry.payment.txn_id.clone())
            .collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "no notification taken twice");
        assert_eq!(ids.len(), 40, "every one taken");
        // Leased: nobody takes them again until the lease ends.
        assert!(hosts[0].take_due().unwrap().is_empty());
        // A refused attempt is retried later; an acknowledged one is gone.
        let first = taken.iter().flatten().next().unwrap();
        hosts[1].finish(first, false).unwrap();
        let raw = store.get(NAMESPACE, first.key.as_bytes()).unwrap().unwrap();
        let retried = decode_entry(&raw).unwrap();
        assert_eq!(retried.attempts, 1);
        assert!(retried.next_attempt_ms > now_ms() + 100, "backoff");
        for t in taken.iter().flatten().skip(1) {
            hosts[2].finish(t, true).unwrap();
        }
        assert_eq!(hosts[0].unsent().unwrap(), 1);
    }
}
