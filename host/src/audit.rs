//! The audit log: who did what to which plugin, when, with before and after.

use crate::store::{Expect, KvStore, StoreError, walk};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const NAMESPACE: &str = "audit";

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When, milliseconds since the epoch.
    pub at_ms: u64,
    /// Who: a token subject, or `islet` for the host itself.
    pub actor: String,
    /// What, e.g. `plugin.install`, `plugin.disable`, `breaker.open`.
    pub action: String,
    /// Which plugin (or other object).
    pub target: String,
    /// State before, if any.
    pub before: Value,
    /// State after, if any.
    pub after: Value,
}

/// Which entries to list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page: list the entries older
    /// than it.
    pub cursor: Option<String>,
}

/// Entries one page reads at most: with rare matches a page may come back
/// short, with a `next_cursor` to go on from.
pub const AUDIT_SCAN_BUDGET: usize = 10_000;

/// One page of the audit log and where the next one starts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Whether `cursor` has the form of an entry key ([`AuditLog::page`]
/// returns them): `{20 digits}-{20 digits}-{hex host mark}`.
pub fn valid_cursor(cursor: &str) -> bool {
    let mut parts = cursor.splitn(3, '-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| p.len() == 20 && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next())
        && digits(parts.next())
        && parts.next().is_some_and(|h| {
            !h.is_empty() && h.len() <= 16 && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// The audit log, newest first, in the host's store.
pub struct AuditLog {
    store: Arc<dyn KvStore>,
    seq: AtomicU64,
    /// This host's mark in entry keys, so two hosts sharing the store never
    /// write the same key in the same millisecond.
    host: String,
}

impl AuditLog {
    /// The audit log kept in `store`.
    pub fn new(store: Arc<dyn KvStore>) -> Self {
        AuditLog {
            store,
            seq: AtomicU64::new(0),
            host: hex::encode(rand::random::<[u8; 4]>()),
        }
    }

    /// Append an entry and make it durable.
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        before: Value,
        after: Value,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at_ms: crate::clock::now_ms(),
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            before,
            after,
        };
        // Inverted time first, so a forward scan lists the newest first (one
        // log across hosts, ordered by their synchronised clocks); then this
        // host's sequence and mark, so no entry ever overwrites another.
        let value = serde_json::to_vec(&entry).map_err(|e| StoreError(e.to_string()))?;
        loop {
            let seq = u64::MAX - self.seq.fetch_add(1, Ordering::Relaxed);
            let key = format!("{:020}-{seq:020}-{}", u64::MAX - entry.at_ms, self.host);
            match self.store.write(
                NAMESPACE,
                key.as_bytes(),
                Expect::Value(None),
                Some(&value),
                None,
            ) {
                Ok(()) => return self.store.flush(),
                Err(crate::store::WriteError::Conflict) => continue,
                Err(e) => return Err(StoreError(e.to_string())),
            }
        }
    }

    /// Entries matching `filter`, newest first (the first page).
    pub fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.page(filter).map(|page| page.entries)
    }

    /// A page of entries matching `filter`, newest first, older than its
    /// cursor; reads at most [`AUDIT_SCAN_BUDGET`] entries.
    pub fn page(&self, filter: &AuditFilter) -> Result<AuditPage, StoreError> {
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let mut entries = Vec::new();
        let resume = walk(
            self.store.as_ref(),
            NAMESPACE,
            b"",
            filter.cursor.as_deref().map(str::as_bytes),
            AUDIT_SCAN_BUDGET,
            |_, value| {
                let Ok(entry) = serde_json::from_slice::<AuditEntry>(value) else {
                    return Ok::<_, StoreError>(true);
                };
                let keep = filter.action.as_ref().is_none_or(|a| *a == entry.action)
                    && filter.target.as_ref().is_none_or(|t| *t == entry.target)
                    && filter.actor.as_ref().is_none_or(|a| *a == entry.actor);
                if keep {
                    entries.push(entry);
                }
                Ok(entries.len() < limit)
            },
        )?;
        Ok(AuditPage {
            entries,
            next_cursor: resume.map(|key| String::from_utf8_lossy(&key).into_owned()),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod host_tests {
    use super::*;

    #[test]
    fn hosts_writing_at_once_keep_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn KvStore> =
            Arc::new(crate::store::SledStore::open(&dir.path().join("db")).unwrap());
        // Two hosts' logs on one store, each starting its sequence at 0.
        let hosts = [AuditLog::new(store.clone()), AuditLog::new(store.clone())];
        std::thread::scope(|scope| {
            for (h, log) in hosts.iter().enumerate() {
                scope.spawn(move || {
                    for n in 0..50 {
                        log.record(
                            &format!("admin-{h}"),
                            "plugin.test",
                            &n.to_string(),
                            Value::Null,
                            Value::Null,
                        )
                        .unwrap();
                    }
                });
            }
        });
        let all = hosts[0]
            .list(&AuditFilter {
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .unwrap();
        assert_eq!(all.len(), 100, "no entry overwrote another");
        assert!(
            all.windows(2).all(|w| w[0].at_ms >= w[1].at_ms),
            "newest first"
        );
    }
}
