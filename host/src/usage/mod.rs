//! Usage metering: what each plugin version cost, per business day and
//! department, kept in the store. Calls are aggregated in memory and merged
//! into the store every few seconds, at shutdown and before every report.

use crate::store::{Expect, KvStore, StoreError, WriteError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use time::Date;
use time::macros::format_description;

const NAMESPACE: &str = "usage";

pub use crate::clock::today;

/// Parse a `YYYY-MM-DD` date.
pub fn parse_day(text: &str) -> Result<Date, String> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{text:?} is not a date of the form YYYY-MM-DD"))
}

/// Which row a call is counted in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageKey {
    /// `YYYY-MM-DD`, in the business time zone.
    pub day: String,
    /// Owning department.
    pub department: String,
    /// Plugin id.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
}

/// A row's key borrowed from the call being counted: a call finds its row
/// without allocating, and only a new row is given an owned [`UsageKey`].
#[derive(Debug, Clone, Copy, Hash)]
pub struct UsageOf<'a> {
    /// `YYYY-MM-DD`, in the business time zone.
    pub day: &'a str,
    /// Owning department.
    pub department: &'a str,
    /// Plugin id.
    pub plugin: &'a str,
    /// Plugin version.
    pub version: &'a str,
}

// Hashes as `UsageKey` does: the same fields in the same order (a `String`
// hashes as its `str`).
impl hashbrown::Equivalent<UsageKey> for UsageOf<'_> {
    fn equivalent(&self, key: &UsageKey) -> bool {
        self.day == key.day
            && self.department == key.department
            && self.plugin == key.plugin
            && self.version == key.version
    }
}

impl UsageOf<'_> {
    fn to_key(self) -> UsageKey {
        UsageKey {
            day: self.day.to_string(),
            department: self.department.to_string(),
            plugin: self.plugin.to_string(),
            version: self.version.to_string(),
        }
    }
}

impl UsageKey {
    /// The borrowed form.
    pub fn of(&self) -> UsageOf<'_> {
        UsageOf {
            day: &self.day,
            department: &self.department,
            plugin: &self.plugin,
            version: &self.version,
        }
    }

    fn store_key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.day, self.department, self.plugin, self.version
        )
    }
}

/// Counters of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageCounters {
    /// Calls that ran the guest.
    pub calls: u64,
    /// Of those, how many failed (guest fault or a 5xx from the plugin).
    pub errors: u64,
    /// Calls refused by a quota, the concurrency cap or the breaker.
    pub rejected: u64,
    /// Guest CPU time, microseconds.
    pub cpu_us: u64,
    /// Wall time of guest calls, microseconds.
    pub wall_us: u64,
    /// Highest peak memory of one call, bytes.
    pub peak_memory_bytes: u64,
    /// `identity` host calls.
    pub identity_calls: u64,
    /// `storage` host calls.
    pub storage_calls: u64,
    /// `log` lines.
    pub log_lines: u64,
    /// `payment` host calls.
    #[serde(default)]
    pub payment_calls: u64,
    /// `notification` host calls.
    #[serde(default)]
    pub notification_calls: u64,
}

impl UsageCounters {
    fn merge(&mut self, other: &UsageCounters) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.rejected += other.rejected;
        self.cpu_us += other.cpu_us;
        self.wall_us += other.wall_us;
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.identity_calls += other.identity_calls;
        self.storage_calls += other.storage_calls;
        self.log_lines += other.log_lines;
        self.payment_calls += other.payment_calls;
        self.notification_calls += other.notification_calls;
    }
}

/// One row of a usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Department.
    pub department: String,
    /// Plugin id.
    pub plugin: String,
    /// Version.
    pub version: String,
    /// The counters.
    #[serde(flatten)]
    pub counters: UsageCounters,
}

/// The meter.
pub struct UsageMeter {
    store: Arc<dyn KvStore>,
    pending: Mutex<hashbrown::HashMap<UsageKey, UsageCounters>>,
}

impl UsageMeter {
    /// A meter persisting to `store`.
    pub fn new(store: Arc<dyn KvStore>) -> Self {
        UsageMeter {
            store,
            pending: Mutex::new(hashbrown::HashMap::new()),
        }
    }

    /// Add to the counters of `key`.
    pub fn record(&self, key: UsageOf<'_>, update: impl FnOnce(&mut UsageCounters)) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(&key) {
            Some(counters) => update(counters),
            None => update(pending.entry(key.to_key()).or_default()),
        }
    }

    /// Merge the pending counters into the store. Rows that fail to merge
    /// stay pending for the next flush.
    pub fn flush(&self) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let mut first_error = None;
        for (key, counters) in batch {
            if let Err(e) = self.merge(&key, &counters) {
                first_error.get_or_insert(e);
                self.record(key.of(), |c| c.merge(&counters));
            }
        }
        match first_error {
            None => self.store.flush(),
            Some(e) => Err(e),
        }
    }

    fn merge(&self, key: &UsageKey, add: &UsageCounters) -> Result<(), StoreError> {
        let store_key = key.store_key();
        loop {
            let current = self.store.get(NAMESPACE, store_key.as_bytes())?;
            let mut counters: UsageCounters = current
                .as_deref()
                .and_then(|v| serde_json::from_slice(v).ok())
                .unwrap_or_default();
            counters.merge(add);
            let value = serde_json::to_vec(&counters).map_err(|e| StoreError(e.to_string()))?;
            match self.store.write(
                NAMESPACE,
                store_key.as_bytes(),
                Expect::Value(current),
                Some(&value),
                None,
            ) {
                Ok(()) => return Ok(()),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Store(e)) => return Err(e),
                Err(WriteError::QuotaExceeded) => return Err(StoreError("quota".into())),
            }
        }
    }

    /// Rows for days `from..=to`, optionally of one department, after
    /// flushing what is pending.
    pub fn report(
        &self,
        from: Date,
        to: Date,
        department: Option<&str>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        self.flush()?;
        let mut rows = Vec::new();
        let mut day = from;
        while day <= to {
            let prefix = match department {
                Some(d) => format!("{day}/{d}/"),
                None => format!("{day}/"),
            };
            for (key, value) in self
                .store
                .scan(NAMESPACE, prefix.as_bytes(), None, usize::MAX)?
            {
                let key = String::from_utf8_lossy(&key).into_owned();
                let parts: Vec<&str> = key.splitn(4, '/').collect();
                let (Some(counters), [d, dept, plugin, version]) = (
                    serde_json::from_slice::<UsageCounters>(&value).ok(),
                    parts.as_slice(),
                ) else {
                    continue;
                };
                rows.push(UsageRow {
                    day: d.to_string(),
                    department: dept.to_string(),
                    plugin: plugin.to_string(),
                    version: version.to_string(),
                    counters,
                });
            }
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(rows)
    }

    /// Calls plugin `plugin` made on `day` (stored plus pending), all versions.
    pub fn calls_on(&self, day: &str, plugin: &str) -> u64 {
        let pending: u64 = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(k, _)| k.day == day && k.plugin == plugin)
            .map(|(_, c)| c.calls)
            .sum();
        let stored: u64 = self
            .store
            .scan(NAMESPACE, format!("{day}/").as_bytes(), None, usize::MAX)
            .unwrap_or_default()
            .iter()
            .filter(|(k, _)| String::from_utf8_lossy(k).split('/').nth(2) == Some(plugin))
            .filter_map(|(_, v)| serde_json::from_slice::<UsageCounters>(v).ok())
            .map(|c| c.calls)
            .sum();
        pending + stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn of<'a>(day: &'a str, version: &'a str) -> UsageOf<'a> {
        UsageOf {
            day,
            department: "water",
            plugin: "water-bill",
            version,
        }
    }

    #[test]
    fn a_borrowed_key_finds_the_row_an_owned_key_made() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SledStore::open(dir.path()).expect("store"));
        let meter = UsageMeter::new(store);
        meter.record(of("2026-12-01", "1.0.0"), |c| c.calls += 1);
        meter.record(of("2026-12-01", "1.0.0"), |c| c.calls += 2);
        let owned = of("2026-12-01", "1.0.0").to_key();
        meter.record(owned.of(), |c| c.errors += 1);
        meter.record(of("2026-12-01", "1.0.1"), |c| c.calls += 5);
        meter.record(of("2026-12-02", "1.0.0"), |c| c.calls += 7);
        {
            let pending = meter.pending.lock().expect("lock");
            assert_eq!(pending.len(), 3, "one row per day and version");
            let row = pending.get(&owned).expect("the row");
            assert_eq!((row.calls, row.errors), (3, 1));
        }
        assert_eq!(meter.calls_on("2026-12-01", "water-bill"), 8);
        meter.flush().expect("flush");
        let day = parse_day("2026-12-01").expect("day");
        let rows = meter.report(day, day, Some("water")).expect("report");
        let calls: Vec<_> = rows
            .iter()
            .map(|r| (r.version.as_str(), r.counters.calls))
            .collect();
        assert_eq!(calls, [("1.0.0", 3), ("1.0.1", 5)]);
    }
}
