//! Per-caller, per-plugin rate limiting on `governor` (GCRA): one keyed
//! limiter per plugin, its callers in a sharded map, so concurrent calls
//! take no global lock. A caller may burst `per_minute` calls, then one
//! call every `60 s / per_minute`.

use dashmap::DashMap;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Callers one plugin's limiter keeps before it forgets those whose
/// bucket is full again.
const SWEEP_ABOVE: usize = 10_000;
/// How many calls pass between checks of the limiter's size.
const CHECK_SIZE_EVERY: u64 = 1024;

struct PluginLimiter {
    per_minute: u64,
    limiter: DefaultKeyedRateLimiter<String>,
    calls: AtomicU64,
}

impl PluginLimiter {
    fn new(per_minute: u64) -> Self {
        let n = NonZeroU32::new(u32::try_from(per_minute).unwrap_or(u32::MAX).max(1))
            .unwrap_or(NonZeroU32::MIN);
        PluginLimiter {
            per_minute,
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)),
            calls: AtomicU64::new(0),
        }
    }
}

/// Rate limits keyed by (plugin, caller).
#[derive(Default)]
pub struct RateLimiter {
    plugins: DashMap<String, Arc<PluginLimiter>>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// Take one call for `caller` of `plugin`; on refusal, how long until
    /// the next one is allowed.
    pub fn take(&self, plugin: &str, caller: &str, per_minute: u64) -> Result<(), Duration> {
        let limiter = self.limiter(plugin, per_minute);
        let calls = limiter.calls.fetch_add(1, Ordering::Relaxed);
        if calls % CHECK_SIZE_EVERY == CHECK_SIZE_EVERY - 1 && limiter.limiter.len() > SWEEP_ABOVE {
            limiter.limiter.retain_recent();
            limiter.limiter.shrink_to_fit();
        }
        limiter
            .limiter
            .check_key(&caller.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The plugin's limiter at `per_minute` (a new one when its limit
    /// changed, e.g. a new version).
    fn limiter(&self, plugin: &str, per_minute: u64) -> Arc<PluginLimiter> {
        if let Some(l) = self.plugins.get(plugin)
            && l.per_minute == per_minute
        {
            return l.clone();
        }
        let fresh = Arc::new(PluginLimiter::new(per_minute));
        let mut entry = self
            .plugins
            .entry(plugin.to_string())
            .or_insert_with(|| fresh.clone());
        if entry.per_minute != per_minute {
            *entry = fresh;
        }
        entry.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_caller() {
        let r = RateLimiter::default();
        for _ in 0..3 {
            assert!(r.take("p", "alice", 3).is_ok());
        }
        let wait = r.take("p", "alice", 3).unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(
            r.take("p", "bob", 3).is_ok(),
            "another caller has its own bucket"
        );
        assert!(
            r.take("q", "alice", 3).is_ok(),
            "another plugin has its own bucket"
        );
    }

    #[test]
    fn a_changed_limit_takes_effect() {
        let r = RateLimiter::default();
        assert!(r.take("p", "alice", 1).is_ok());
        assert!(r.take("p", "alice", 1).is_err());
        assert!(r.take("p", "alice", 5).is_ok(), "a new version's limit");
    }

    #[test]
    fn concurrent_callers_get_exactly_their_burst() {
        let r = Arc::new(RateLimiter::default());
        let allowed = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (r, allowed) = (r.clone(), allowed.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        // Two callers shared by all threads.
                        if r.take("p", &format!("caller-{}", t % 2), 100).is_ok() {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 100 each, give or take the few that refilled during the test.
        let n = allowed.load(Ordering::Relaxed);
        assert!((200..=204).contains(&n), "{n}");
    }
}
