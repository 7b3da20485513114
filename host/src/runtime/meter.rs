//! Per-call accounting: the CPU and wall-clock budget checked at each epoch
//! tick, and the memory limiter summing all of an instance's memories.

use super::lane::LaneTurn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::UpdateDeadline;

/// Why the runtime interrupted a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The guest used up its CPU time.
    Cpu,
    /// The call ran past its wall-clock timeout.
    Wall,
}

/// CPU time of the calling thread (what a call used is summed over its
/// polls by [`CallClock`]).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we pass.
    #[allow(unsafe_code, reason = "libc call with a valid out-pointer")]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// CPU time after which a still-running guest call counts as long: from
/// then on it runs only with a turn of the [`super::HeavyLane`], so long
/// calls together never take more than the lane's share of the workers and
/// short requests keep the rest.
pub(super) const DEMOTE_AFTER: Duration = Duration::from_millis(4);

/// CPU time one call has used across its polls. An async call may move
/// between worker threads and share them with other tasks, so its CPU time
/// is the sum of the thread CPU time of each of its own polls
/// ([`super::Metered`] marks where each poll starts and ends).
#[derive(Debug, Default)]
pub struct CallClock {
    spent_ns: AtomicU64,
    /// Thread CPU time when the current poll started; 0 between polls.
    poll_start_ns: AtomicU64,
    /// A blocking host call under this call was cut at its deadline.
    cut: AtomicBool,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl CallClock {
    /// A poll of the call starts on this thread.
    pub fn poll_started(&self) {
        self.poll_start_ns
            .store(nanos(thread_cpu_time()).max(1), Ordering::Relaxed);
    }

    /// The current poll ended on this thread.
    pub fn poll_ended(&self) {
        let start = self.poll_start_ns.swap(0, Ordering::Relaxed);
        if start != 0 {
            let spent = nanos(thread_cpu_time()).saturating_sub(start);
            self.spent_ns.fetch_add(spent, Ordering::Relaxed);
        }
    }

    /// CPU used so far, the running poll included (read on its thread).
    pub fn used(&self) -> Duration {
        let start = self.poll_start_ns.load(Ordering::Relaxed);
        let running = if start == 0 {
            0
        } else {
            nanos(thread_cpu_time()).saturating_sub(start)
        };
        Duration::from_nanos(
            self.spent_ns
                .load(Ordering::Relaxed)
                .saturating_add(running),
        )
    }

    /// Record that a blocking host call was cut at the call's deadline.
    pub fn mark_cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    /// Whether a blocking host call was cut at the call's deadline.
    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

/// CPU and wall-clock budget of one call.
#[derive(Debug)]
pub struct Meter {
    clock: Arc<CallClock>,
    wall_start: Instant,
    cpu_budget: Duration,
    wall_budget: Duration,
    turn: LaneTurn,
    /// Set once the call counts as long (it then runs on lane turns).
    pub long: bool,
    /// Set when the meter stopped the guest.
    pub interrupted: Option<Interrupt>,
}

impl Meter {
    /// Start measuring now; `clock` counts the call's CPU time, `turn` is
    /// its place in the lane it queues in once it runs long.
    pub fn start(
        cpu_budget: Duration,
        wall_budget: Duration,
        clock: Arc<CallClock>,
        turn: LaneTurn,
    ) -> Self {
        Meter {
            clock,
            wall_start: Instant::now(),
            cpu_budget,
            wall_budget,
            turn,
            long: false,
            interrupted: None,
        }
    }

    /// The clock counting the call's CPU time.
    pub fn clock(&self) -> &Arc<CallClock> {
        &self.clock
    }

    /// CPU used since start.
    pub fn cpu_used(&self) -> Duration {
        self.clock.used()
    }

    /// Wall time since start.
    pub fn wall_used(&self) -> Duration {
        self.wall_start.elapsed()
    }

    /// When the call's wall-clock budget ends: no host call the guest makes
    /// waits past it.
    pub fn deadline(&self) -> Instant {
        self.wall_start + self.wall_budget
    }

    /// A host call was cut at [`Meter::deadline`]: the call ends as a
    /// wall-clock timeout.
    pub fn cut_at_deadline(&mut self) {
        self.interrupted = Some(Interrupt::Wall);
    }

    /// Ticks before the first check: CPU time never exceeds wall time, so
    /// nothing needs checking until the smaller budget could have been spent.
    pub fn first_deadline_ticks(&self, tick: Duration) -> u64 {
        let budget = self.cpu_budget.min(self.wall_budget).min(DEMOTE_AFTER);
        (budget.as_micros() / tick.as_micros().max(1)).max(1) as u64
    }

    /// Called at each epoch deadline: stop the guest, or yield to the other
    /// tasks and run one more tick. A long call (`grew_large`: its memory
    /// grew past [`DEMOTE_ABOVE_BYTES`]) first gives its lane turn back and
    /// waits for the next one.
    pub fn on_deadline(&mut self, grew_large: bool) -> UpdateDeadline {
        if self.wall_used() >= self.wall_budget {
            self.interrupted = Some(Interrupt::Wall);
            return UpdateDeadline::Interrupt;
        }
        let cpu = self.cpu_used();
        if cpu >= self.cpu_budget {
            self.interrupted = Some(Interrupt::Cpu);
            return UpdateDeadline::Interrupt;
        }
        self.long |= grew_large || cpu >= DEMOTE_AFTER;
        if !self.long {
            return UpdateDeadline::Yield(1);
        }
        self.turn.give_back();
        UpdateDeadline::YieldCustom(1, Box::pin(self.turn.take()))
    }
}

/// Memory growth beyond which a call counts as long: faulting in and
/// releasing many pages is kernel CPU time spent for one guest. A memory's
/// initial size does not count: it is the module's image, mapped
/// copy-on-write from the compiled artifact (a JS engine's heap snapshot is
/// tens of MiB), and touching it is guest CPU time the epoch sees.
pub const DEMOTE_ABOVE_BYTES: usize = 8 << 20;

/// Caps the sum of all linear memories (and table elements) of one instance.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
    /// Bytes added by `memory.grow` after the memories were created.
    grown: usize,
    peak: usize,
    table_elements: usize,
    turn: LaneTurn,
    /// Set when a growth was refused for lack of budget.
    pub refused: bool,
}

/// Table elements one instance may hold in all.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes of linear memory in total; growing
    /// past [`DEMOTE_ABOVE_BYTES`] first waits for a `turn` in the lane of
    /// long calls.
    pub fn new(limit: usize, turn: LaneTurn) -> Self {
        MemoryLimiter {
            limit,
            used: 0,
            grown: 0,
            peak: 0,
            table_elements: 0,
            turn,
            refused: false,
        }
    }

    /// Highest total memory seen.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Whether the instance's memory grew past [`DEMOTE_ABOVE_BYTES`]
    /// beyond its initial size.
    pub fn grew_large(&self) -> bool {
        self.grown > DEMOTE_ABOVE_BYTES
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime::ResourceLimiterAsync for MemoryLimiter {
    async fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let next = self.used.saturating_add(grow);
        if next > self.limit || maximum.is_some_and(|m| desired > m) {
            self.refused = true;
            return Ok(false);
        }
        // Wasmtime asks with `current == 0` when it creates a memory.
        let grown = if current == 0 {
            self.grown
        } else {
            self.grown.saturating_add(grow)
        };
        if grown > DEMOTE_ABOVE_BYTES && !self.turn.holds() {
            // Faulting in (and later releasing) this much is long work for
            // one guest: it queues with the other long calls.
            self.turn.take().await;
        }
        self.used = next;
        self.grown = grown;
        self.peak = self.peak.max(next);
        Ok(true)
    }

    async fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let next = self
            .table_elements
            .saturating_add(desired.saturating_sub(current));
        if next > MAX_TABLE_ELEMENTS || maximum.is_some_and(|m| desired > m) {
            self.refused = true;
            return Ok(false);
        }
        self.table_elements = next;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiterAsync as _;

    const MIB: usize = 1 << 20;

    #[tokio::test]
    async fn a_large_initial_image_is_not_a_long_call_but_growing_past_it_is() {
        let lane = super::super::HeavyLane::new(1, 1, 100);
        let turn = LaneTurn::new(&lane, Arc::new(CallClock::default()));
        let mut limiter = MemoryLimiter::new(64 * MIB, turn.clone());
        // A JS engine's heap snapshot: created at 40 MiB.
        assert!(
            limiter
                .memory_growing(0, 40 * MIB, None)
                .await
                .unwrap_or(false)
        );
        assert!(!limiter.grew_large(), "the initial image counts as growth");
        assert!(!turn.holds(), "creating the memory took a lane turn");
        // Short growths stay short.
        assert!(
            limiter
                .memory_growing(40 * MIB, 44 * MIB, None)
                .await
                .unwrap_or(false)
        );
        assert!(!limiter.grew_large());
        // Past DEMOTE_ABOVE_BYTES of growth the call queues in the lane.
        assert!(
            limiter
                .memory_growing(44 * MIB, 50 * MIB, None)
                .await
                .unwrap_or(false)
        );
        assert!(limiter.grew_large());
        assert!(turn.holds());
        assert_eq!(limiter.peak(), 50 * MIB);
        // The limit counts everything, the initial size included.
        assert!(
            !limiter
                .memory_growing(50 * MIB, 65 * MIB, None)
                .await
                .unwrap_or(true)
        );
        assert!(limiter.refused);
    }
}
