//! The lane long calls share, so short calls keep the machine.
//!
//! A call becomes long once it used a few milliseconds of CPU or grew its
//! memory a lot ([`super::meter`] decides). From then on it runs only while
//! it holds one of the lane's few turns, and gives its turn back at every
//! epoch tick (a two-level feedback queue, like an OS scheduler's). Turns
//! alone bound how many long calls run at once, not how much of the CPU
//! they take: on a small host one turn is half the machine. So while short
//! calls are in flight the lane is also *paced*: long calls together may use
//! at most `share` of the workers' CPU time (a token bucket of CPU
//! nanoseconds, refilled with wall time), and a turn is granted only while
//! the bucket is not in debt. With no short call in flight, long calls take
//! turns freely: the lane never leaves the CPU idle.

use super::meter::CallClock;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default share (percent) of the workers' CPU that long calls together
/// may use while short calls are in flight.
pub const DEFAULT_SHARE_PERCENT: u8 = 25;

/// Wall time whose worth of CPU share the lane may bank (or owe).
const BURST: Duration = Duration::from_millis(20);

/// The lane long calls share: turns and the pace at which they are granted.
#[derive(Debug, Clone)]
pub struct HeavyLane {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    turns: Arc<Semaphore>,
    size: usize,
    /// CPU nanoseconds long calls may use per nanosecond of wall time while
    /// short calls are in flight.
    rate: f64,
    /// Most CPU nanoseconds the bucket holds, and most it may owe.
    burst_ns: f64,
    bucket: Mutex<Bucket>,
    /// Calls running that are not (yet) long.
    short_calls: AtomicUsize,
}

/// CPU nanoseconds long calls may still use, as of `at`.
#[derive(Debug)]
struct Bucket {
    tokens_ns: f64,
    at: Instant,
}

impl HeavyLane {
    /// A lane of `turns` turns (at least 1) on a host of `workers` async
    /// workers, whose long calls together take at most `share_percent` of
    /// the workers' CPU while short calls are in flight.
    pub fn new(turns: usize, workers: usize, share_percent: u8) -> Self {
        let rate = f64::from(share_percent.clamp(1, 100)) / 100.0 * workers.max(1) as f64;
        let burst_ns = rate * BURST.as_nanos() as f64;
        HeavyLane {
            shared: Arc::new(Shared {
                turns: Arc::new(Semaphore::new(turns.max(1))),
                size: turns.max(1),
                rate,
                burst_ns,
                bucket: Mutex::new(Bucket {
                    tokens_ns: burst_ns,
                    at: Instant::now(),
                }),
                short_calls: AtomicUsize::new(0),
            }),
        }
    }

    /// The lane of a host with `workers` async workers: turns for all but
    /// one, so a worker is always left for short requests, paced at
    /// `share_percent`.
    pub fn for_workers(workers: usize, share_percent: u8) -> Self {
        HeavyLane::new(workers.saturating_sub(1), workers, share_percent)
    }

    /// How many long calls may run at once.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// Calls running now that are not long.
    pub fn short_calls(&self) -> usize {
        self.shared.short_calls.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn bucket(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at).as_nanos() as f64;
        bucket.tokens_ns = (bucket.tokens_ns + elapsed * self.rate).min(self.burst_ns);
        bucket.at = now;
    }

    /// Long calls used `cpu` on a turn.
    fn spend(&self, cpu: Duration) {
        let mut bucket = self.bucket();
        self.refill(&mut bucket, Instant::now());
        bucket.tokens_ns = (bucket.tokens_ns - cpu.as_nanos() as f64).max(-self.burst_ns);
    }

    /// How long a turn must wait before it may run: nothing while no short
    /// call is in flight or the bucket is not in debt.
    fn wait(&self) -> Option<Duration> {
        if self.short_calls.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut bucket = self.bucket();
        self.refill(&mut bucket, Instant::now());
        (bucket.tokens_ns < 0.0)
            .then(|| Duration::from_nanos((-bucket.tokens_ns / self.rate).ceil() as u64))
    }
}

/// CPU time per call above which a plugin's next calls start in the lane,
/// as long calls: the same as a call's own demotion point.
const HEAVY_AFTER: Duration = super::meter::DEMOTE_AFTER;

/// Share of faulted calls (per 1024) from which a plugin's next calls start
/// in the lane.
const FAILING_FROM: u64 = 512;

/// What a plugin version's recent calls cost: moving averages of the CPU
/// time of a whole call (instantiation, guest, host calls and teardown) and
/// of how many faulted (trapped, panicked, ran out of CPU, memory or time,
/// answered too much). A version whose calls are long on average, or mostly
/// fault, starts its next calls as long: their first milliseconds and their
/// teardown (faulting in and giving back large memories) are paced with the
/// other long calls, so a service that crashes on every call cannot take the
/// host's CPU from healthy ones however cheap each crash is. A few good
/// calls clear it (weight 1/4).
#[derive(Debug, Default)]
pub struct CallHistory {
    average_cpu_ns: AtomicU64,
    /// Faulted share, per 1024.
    failing: AtomicU64,
}

impl CallHistory {
    /// Whether the next call should start as a long call.
    pub fn is_heavy(&self) -> bool {
        self.average_cpu_ns.load(Ordering::Relaxed) >= HEAVY_AFTER.as_nanos() as u64
            || self.failing.load(Ordering::Relaxed) >= FAILING_FROM
    }

    /// A call used `cpu` in all and `faulted` or not.
    pub fn record(&self, cpu: Duration, faulted: bool) {
        let cpu = u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX);
        average(&self.average_cpu_ns, cpu);
        average(&self.failing, if faulted { 1024 } else { 0 });
    }
}

/// Move the average in `value` a quarter of the way to `sample`.
fn average(value: &AtomicU64, sample: u64) {
    let _ = value.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
        Some(old - old / 4 + sample / 4)
    });
}

/// One call's place in the [`HeavyLane`]: counted as a short call until it
/// first needs a turn, then the turn it holds, if any. Shared by the call's
/// meter (which gives the turn back at each tick) and its memory limiter
/// (which takes one before a large growth).
#[derive(Debug, Clone)]
pub struct LaneTurn {
    state: Arc<TurnState>,
}

#[derive(Debug)]
struct TurnState {
    lane: Arc<Shared>,
    clock: Arc<CallClock>,
    /// The turn held and the call's CPU time when it was granted.
    held: Mutex<Option<(OwnedSemaphorePermit, Duration)>>,
    /// Still counted among the lane's short calls.
    short: AtomicBool,
}

impl LaneTurn {
    /// A short call in `lane`, its CPU time counted by `clock`.
    pub fn new(lane: &HeavyLane, clock: Arc<CallClock>) -> Self {
        lane.shared.short_calls.fetch_add(1, Ordering::Relaxed);
        LaneTurn {
            state: Arc::new(TurnState {
                lane: lane.shared.clone(),
                clock,
                held: Mutex::new(None),
                short: AtomicBool::new(true),
            }),
        }
    }

    /// Whether the call holds a turn now.
    pub fn holds(&self) -> bool {
        self.state.held().is_some()
    }

    /// Give the turn back (the next long call in line gets it); the CPU
    /// used on it is charged to the lane.
    pub fn give_back(&self) {
        self.state.give_back();
    }

    /// Whether the call ran as a long call (it took a turn at some point).
    pub fn was_long(&self) -> bool {
        !self.state.short.load(Ordering::Relaxed)
    }

    /// The call ended and its instance was torn down, which took `teardown`
    /// of CPU: a long call's teardown is charged to the lane too.
    pub fn finish(&self, teardown: Duration) {
        if !self.state.short.load(Ordering::Relaxed) {
            self.state.lane.spend(teardown);
        }
        self.state.give_back();
    }

    /// Wait for a turn and for the lane's pace, then hold the turn. The call
    /// no longer counts as short.
    pub fn take(&self) -> impl Future<Output = ()> + Send + 'static {
        let state = self.state.clone();
        async move {
            state.no_longer_short();
            // The lane is never closed; a call waiting here past its
            // deadline is ended by the wall-clock timeout around it.
            let Ok(turn) = state.lane.turns.clone().acquire_owned().await else {
                return;
            };
            while let Some(wait) = state.lane.wait() {
                tokio::time::sleep(wait).await;
            }
            *state.held() = Some((turn, state.clock.used()));
        }
    }
}

impl TurnState {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<(OwnedSemaphorePermit, Duration)>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn no_longer_short(&self) {
        if self.short.swap(false, Ordering::Relaxed) {
            self.lane.short_calls.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn give_back(&self) {
        let held = self.held().take();
        if let Some((turn, since)) = held {
            self.lane.spend(self.clock.used().saturating_sub(since));
            drop(turn);
        }
    }
}

impl Drop for TurnState {
    fn drop(&mut self) {
        self.give_back();
        self.no_longer_short();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Burn about `d` of this thread's CPU time.
    fn burn(d: Duration) {
        let start = super::super::meter::thread_cpu_time();
        while super::super::meter::thread_cpu_time() - start < d {
            std::hint::black_box(0u64);
        }
    }

    #[tokio::test]
    async fn long_calls_are_paced_only_while_short_calls_run() {
        // 2 workers at 25 %: long calls may use 0.5 ms of CPU per ms.
        let lane = HeavyLane::new(1, 2, 25);
        let long_clock = Arc::new(CallClock::default());
        let long = LaneTurn::new(&lane, long_clock.clone());
        let short = LaneTurn::new(&lane, Arc::new(CallClock::default()));
        assert_eq!(lane.short_calls(), 2);

        long_clock.poll_started();
        long.take().await;
        assert_eq!(lane.short_calls(), 1, "a call taking a turn is long");
        // Spend the bucket (10 ms) and 10 ms more: the lane owes 10 ms.
        burn(Duration::from_millis(20));
        long.give_back();
        let waited = Instant::now();
        long.take().await;
        let waited = waited.elapsed();
        assert!(
            waited >= Duration::from_millis(15),
            "a short call runs, so the lane's debt is paid first: waited {waited:?}"
        );
        long.give_back();

        // With no short call in flight, turns come at once.
        drop(short);
        assert_eq!(lane.short_calls(), 0);
        burn(Duration::from_millis(20));
        long.take().await;
        burn(Duration::from_millis(20));
        long.give_back();
        let waited = Instant::now();
        long.take().await;
        assert!(
            waited.elapsed() < Duration::from_millis(5),
            "no short call waits, yet the long call waited {:?}",
            waited.elapsed()
        );
        long_clock.poll_ended();
        drop(long);
        assert_eq!(lane.short_calls(), 0);
    }

    #[tokio::test]
    async fn turns_bound_long_calls_running_at_once() {
        let lane = HeavyLane::new(1, 2, 100);
        let a = LaneTurn::new(&lane, Arc::new(CallClock::default()));
        let b = LaneTurn::new(&lane, Arc::new(CallClock::default()));
        a.take().await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), b.take()).await;
        assert!(waiting.is_err(), "a second long call ran beside the first");
        drop(a);
        tokio::time::timeout(Duration::from_secs(1), b.take())
            .await
            .unwrap_or_else(|_| panic!("the freed turn was not granted"));
        assert!(b.holds());
    }
}
