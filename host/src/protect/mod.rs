//! Protection of the platform from one plugin and of a plugin from its
//! callers: the circuit breaker per version, the rate limit per citizen, the
//! concurrency cap and the daily call quota per plugin. One way in:
//! [`Protection::admit`], whose [`Admission`] is finished with the outcome.

mod breaker;
mod rate;

pub use breaker::{Breaker, BreakerPolicy, BreakerState, Transition, Verdict};
pub use rate::RateLimiter;

use crate::audit::AuditLog;
use crate::limits::Limits;
use crate::usage::{UsageMeter, today};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a call was refused before reaching the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The version's breaker is open; retry after this long.
    Suspended(Duration),
    /// This caller exceeded the plugin's rate; retry after this long.
    RateLimited(Duration),
    /// The plugin used its calls for today; retry after this long.
    DailyQuota(Duration),
    /// The plugin is at its concurrency cap.
    Busy,
}

impl Rejection {
    /// Short reason, used as a metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Suspended(_) => "breaker",
            Rejection::RateLimited(_) => "rate",
            Rejection::DailyQuota(_) => "daily",
            Rejection::Busy => "concurrency",
        }
    }
}

/// The identity of a plugin version, as protection sees it.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Plugin id.
    pub plugin: &'a str,
    /// Version.
    pub version: &'a str,
    /// Effective limits.
    pub limits: &'a Limits,
}

type VersionKey = (String, String);

/// Shared protection state of a host.
pub struct Protection {
    rate: RateLimiter,
    concurrency: Mutex<HashMap<String, (u64, Arc<Semaphore>)>>,
    daily: Mutex<HashMap<String, (Arc<str>, u64)>>,
    breakers: Mutex<HashMap<VersionKey, Breaker>>,
    audit: Arc<AuditLog>,
    usage: Arc<UsageMeter>,
}

/// Permission to run one call; finish it with the outcome.
pub struct Admission {
    _permit: OwnedSemaphorePermit,
    probe: bool,
    key: VersionKey,
    caller: u64,
    protection: Arc<Protection>,
    finished: bool,
}

/// A short hash of a caller key: the breaker remembers who failed
/// without keeping citizen ids or addresses.
fn caller_hash(caller: &str) -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = CALLER_HASHER.build_hasher();
    h.write(caller.as_bytes());
    h.finish()
}

/// One random hash key per process.
static CALLER_HASHER: std::sync::LazyLock<std::collections::hash_map::RandomState> =
    std::sync::LazyLock::new(std::collections::hash_map::RandomState::new);

fn until_midnight() -> Duration {
    let now = crate::clock::now_secs();
    Duration::from_secs(crate::clock::business().seconds_to_midnight(now))
}

impl Protection {
    /// Protection recording breaker changes in `audit` and reading today's
    /// calls from `usage` after a restart.
    pub fn new(audit: Arc<AuditLog>, usage: Arc<UsageMeter>) -> Self {
        Protection {
            rate: RateLimiter::default(),
            concurrency: Mutex::new(HashMap::new()),
            daily: Mutex::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
            audit,
            usage,
        }
    }

    /// Admit a call by `caller` (a pairwise-free key: citizen id or address)
    /// to `target`, or say why not. Checks run from cheapest to the one that
    /// consumes: breaker, rate, concurrency, daily quota.
    pub fn admit(
        self: &Arc<Self>,
        target: &Target<'_>,
        caller: &str,
    ) -> Result<Admission, Rejection> {
        let key = (target.plugin.to_string(), target.version.to_string());
        let probe = self.check_breaker(&key, target.limits)?;
        let result = self.admit_after_breaker(target, caller);
        match result {
            Ok(permit) => Ok(Admission {
                _permit: permit,
                probe,
                key,
                caller: caller_hash(caller),
                protection: self.clone(),
                finished: false,
            }),
            Err(rejection) => {
                if probe {
                    // The probe did not run; let the next call probe.
                    self.with_breaker(&key, target.limits, |b| b.reopen_for_probe());
                }
                Err(rejection)
            }
        }
    }

    fn admit_after_breaker(
        &self,
        target: &Target<'_>,
        caller: &str,
    ) -> Result<OwnedSemaphorePermit, Rejection> {
        let limits = target.limits;
        self.rate
            .take(target.plugin, caller, limits.rate_per_minute)
            .map_err(Rejection::RateLimited)?;
        let permit = self
            .semaphore(target.plugin, limits.concurrency)
            .try_acquire_owned()
            .map_err(|_| Rejection::Busy)?;
        self.count_daily(target.plugin, limits.daily_calls)?;
        Ok(permit)
    }

    fn semaphore(&self, plugin: &str, cap: u64) -> Arc<Semaphore> {
        let mut map = self.concurrency.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(plugin) {
            Some((size, sem)) if *size == cap => sem.clone(),
            _ => {
                let sem = Arc::new(Semaphore::new(cap as usize));
                map.insert(plugin.to_string(), (cap, sem.clone()));
                sem
            }
        }
    }

    fn count_daily(&self, plugin: &str, quota: u64) -> Result<(), Rejection> {
        let day = today();
        let mut daily = self.daily.lock().unwrap_or_else(|e| e.into_inner());
        let entry = match daily.get_mut(plugin) {
            Some(entry) if entry.0 == day => entry,
            _ => {
                let used = self.usage.calls_on(&day, plugin);
                daily.insert(plugin.to_string(), (day.clone(), used));
                daily
                    .get_mut(plugin)
                    .ok_or(Rejection::DailyQuota(until_midnight()))?
            }
        };
        if entry.1 >= quota {
            return Err(Rejection::DailyQuota(until_midnight()));
        }
        entry.1 += 1;
        Ok(())
    }

    fn policy(limits: &Limits) -> BreakerPolicy {
        BreakerPolicy {
            failure_percent: limits.breaker_failure_percent,
            window: limits.breaker_window as usize,
            cooldown: Duration::from_secs(limits.breaker_cooldown_s),
            min_callers: usize::try_from(limits.breaker_min_callers).unwrap_or(usize::MAX),
        }
    }

    fn with_breaker<R>(
        &self,
        key: &VersionKey,
        limits: &Limits,
        f: impl FnOnce(&mut Breaker) -> R,
    ) -> R {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        // Looked up first: the key is cloned only for a new breaker.
        if let Some(breaker) = breakers.get_mut(key) {
            return f(breaker);
        }
        let breaker = breakers
            .entry(key.clone())
            .or_insert_with(|| Breaker::new(Self::policy(limits)));
        f(breaker)
    }

    fn check_breaker(&self, key: &VersionKey, limits: &Limits) -> Result<bool, Rejection> {
        let (verdict, transition) = self.with_breaker(key, limits, |b| b.admit(Instant::now()));
        self.note(key, transition, "islet");
        match verdict {
            Verdict::Allow => Ok(false),
            Verdict::Probe => Ok(true),
            Verdict::Reject(wait) => Err(Rejection::Suspended(wait)),
        }
    }

    fn finish(&self, key: &VersionKey, ok: bool, probe: bool, caller: u64) {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let transition = breakers
            .get_mut(key)
            .and_then(|b| b.record(ok, probe, caller, Instant::now()));
        drop(breakers);
        self.note(key, transition, "islet");
    }

    /// The breaker state of a version (closed when never seen).
    pub fn breaker_state(&self, plugin: &str, version: &str) -> BreakerState {
        self.breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(plugin.to_string(), version.to_string()))
            .map_or(BreakerState::Closed, Breaker::state)
    }

    /// Close the breaker of a version on an admin's word; returns the
    /// state it had.
    pub fn resume(&self, plugin: &str, version: &str, actor: &str) -> BreakerState {
        let key = (plugin.to_string(), version.to_string());
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(breaker) = breakers.get_mut(&key) else {
            return BreakerState::Closed;
        };
        let before = breaker.state();
        let transition = breaker.reset();
        drop(breakers);
        self.note(&key, transition, actor);
        before
    }

    /// Record a breaker transition in the metrics and the audit log.
    fn note(&self, key: &VersionKey, transition: Option<Transition>, actor: &str) {
        let Some(t) = transition else {
            return;
        };
        crate::metrics::set_breaker_state(&key.0, &key.1, t.to.gauge());
        tracing::warn!(plugin = %key.0, version = %key.1, from = t.from.name(), to = t.to.name(), "circuit breaker");
        let action = match t.to {
            BreakerState::Open => "breaker.open",
            BreakerState::HalfOpen => "breaker.half-open",
            BreakerState::Closed => "breaker.close",
        };
        let target = key.0.as_str();
        if let Err(e) = self.audit.record(
            actor,
            action,
            target,
            json!({ "version": key.1, "breaker": t.from.name() }),
            json!({ "version": key.1, "breaker": t.to.name() }),
        ) {
            tracing::error!("cannot write audit entry: {e}");
        }
    }
}

impl Admission {
    /// Record the outcome: `ok` unless the guest faulted or answered 5xx.
    pub fn finish(mut self, ok: bool) {
        self.finished = true;
        self.protection
            .finish(&self.key, ok, self.probe, self.caller);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // A call abandoned midway (the client went away) says nothing about
        // the plugin, except that a probe must not block the breaker.
        if !self.finished && self.probe {
            self.protection.finish(&self.key, false, true, self.caller);
        }
    }
}
