//! Guest faults in the host log, per plugin: at most [`PER_SECOND`] lines a
//! second (bursts of [`BURST`]); the faults beyond are counted, and the
//! next line written says how many were left out. A plugin failing a
//! thousand calls a second therefore cannot fill the log; every fault is
//! still counted in the metrics and the usage rows.

use crate::runtime::GuestFault;
use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Fault lines one plugin may write per second.
pub const PER_SECOND: u32 = 5;
/// Fault lines one plugin may write at once above its rate.
pub const BURST: u32 = 20;

/// What to do with one fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write it, saying how many faults of the plugin were left out since
    /// its last line.
    Write {
        /// Faults not written since the last line.
        left_out: u64,
    },
    /// Count it only.
    LeaveOut,
}

/// The per-plugin fault-line buckets.
pub struct FaultLog {
    buckets: DefaultKeyedRateLimiter<String>,
    left_out: DashMap<String, AtomicU64>,
}

impl Default for FaultLog {
    fn default() -> Self {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        FaultLog {
            buckets: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(nonzero(PER_SECOND)).allow_burst(nonzero(BURST)),
            ),
            left_out: DashMap::new(),
        }
    }
}

impl FaultLog {
    /// Decide about one fault of `plugin`.
    pub fn decide(&self, plugin: &str) -> Decision {
        let key = plugin.to_string();
        if self.buckets.check_key(&key).is_ok() {
            let left_out = self
                .left_out
                .get(plugin)
                .map_or(0, |n| n.swap(0, Ordering::Relaxed));
            Decision::Write { left_out }
        } else {
            self.left_out
                .entry(key)
                .or_default()
                .fetch_add(1, Ordering::Relaxed);
            Decision::LeaveOut
        }
    }

    /// Log `fault` of `plugin` `version` (a warning) unless its plugin has
    /// used up its lines.
    pub fn warn(&self, plugin: &str, version: &str, fault: &GuestFault) {
        if let Decision::Write { left_out } = self.decide(plugin) {
            tracing::warn!(
                plugin = %plugin,
                version = %version,
                fault = %fault,
                detail = fault.detail().unwrap_or(""),
                faults_left_out = left_out,
                "guest fault"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_storm_writes_a_burst_then_says_how_many_were_left_out() {
        let log = FaultLog::default();
        let written = (0..1000)
            .filter(|_| matches!(log.decide("storm"), Decision::Write { .. }))
            .count();
        assert!(
            (BURST as usize..=BURST as usize + 2).contains(&written),
            "{written} lines written"
        );
        // Another plugin is not held back by the storm.
        assert_eq!(log.decide("calm"), Decision::Write { left_out: 0 });
        std::thread::sleep(std::time::Duration::from_millis(
            1000 / PER_SECOND as u64 + 50,
        ));
        match log.decide("storm") {
            Decision::Write { left_out } => assert_eq!(left_out as usize, 1000 - written),
            Decision::LeaveOut => panic!("the storm's next line was left out after a refill"),
        }
    }
}
