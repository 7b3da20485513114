//! Per-citizen, per-plugin rate limiting: one token bucket per caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle, full ones are swept.
const SWEEP_ABOVE: usize = 10_000;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by (plugin, caller): `per_minute` tokens refilled
/// evenly, burst up to `per_minute`.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl RateLimiter {
    /// Take one token for `caller` of `plugin`; on refusal, how long until
    /// the next token.
    pub fn take(&self, plugin: &str, caller: &str, per_minute: u64) -> Result<(), Duration> {
        let capacity = per_minute.max(1) as f64;
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, b| {
                let refilled = b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second;
                refilled < capacity
            });
        }
        let bucket = buckets
            .entry((plugin.to_string(), caller.to_string()))
            .or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
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
}
