//! Per-call accounting: the CPU and wall-clock budget checked at each epoch
//! tick, and the memory limiter summing all of an instance's memories.

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

/// CPU time of the calling thread. The guest runs synchronously on one
/// thread, so the difference across a call is the CPU the call used.
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

/// CPU time after which a still-running guest call yields the core to
/// short requests: its thread's scheduling priority is lowered until the
/// call ends (a two-level feedback queue, like an OS scheduler's).
const DEMOTE_AFTER: Duration = Duration::from_millis(4);
/// The nice value of a demoted guest thread: the lowest, CFS weight 15
/// against 1024 for the threads serving short requests.
const DEMOTED_NICE: i32 = 19;

#[allow(unsafe_code, reason = "libc calls on the current thread only")]
fn set_thread_nice(nice: i32) -> bool {
    // SAFETY: gettid and setpriority take no pointers and act on this thread.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0
    }
}

/// Whether this process may lower a thread's priority and raise it back
/// (root or CAP_SYS_NICE). Without it a demoted pool thread would stay slow
/// for later requests, so demotion is off. Probed once, on a scratch thread.
fn demotion_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        std::thread::spawn(|| set_thread_nice(1) && set_thread_nice(0))
            .join()
            .unwrap_or(false)
    })
}

/// CPU and wall-clock budget of one call.
#[derive(Debug)]
pub struct Meter {
    cpu_start: Duration,
    wall_start: Instant,
    cpu_budget: Duration,
    wall_budget: Duration,
    demoted: bool,
    /// Set when the meter stopped the guest.
    pub interrupted: Option<Interrupt>,
}

impl Meter {
    /// Start measuring now, on the calling thread.
    pub fn start(cpu_budget: Duration, wall_budget: Duration) -> Self {
        Meter {
            cpu_start: thread_cpu_time(),
            wall_start: Instant::now(),
            cpu_budget,
            wall_budget,
            demoted: false,
            interrupted: None,
        }
    }

    /// CPU used since start.
    pub fn cpu_used(&self) -> Duration {
        thread_cpu_time().saturating_sub(self.cpu_start)
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

    /// Called at each epoch deadline: stop the guest or let it run one more tick.
    pub fn on_deadline(&mut self) -> UpdateDeadline {
        if self.wall_used() >= self.wall_budget {
            self.interrupted = Some(Interrupt::Wall);
            UpdateDeadline::Interrupt
        } else if self.cpu_used() >= self.cpu_budget {
            self.interrupted = Some(Interrupt::Cpu);
            UpdateDeadline::Interrupt
        } else {
            if !self.demoted && demotion_supported() && self.cpu_used() >= DEMOTE_AFTER {
                self.demoted = set_thread_nice(DEMOTED_NICE);
            }
            UpdateDeadline::Continue(1)
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if self.demoted && !set_thread_nice(0) {
            tracing::warn!(
                "cannot restore a guest thread's priority (needs CAP_SYS_NICE); \
                 it stays lowered"
            );
        }
    }
}

/// Memory growth beyond which a call is demoted like a long one: faulting
/// in and releasing many pages is kernel CPU time spent for one guest.
const DEMOTE_ABOVE_BYTES: usize = 8 << 20;

/// Caps the sum of all linear memories (and table elements) of one instance.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
    peak: usize,
    table_elements: usize,
    demoted: bool,
    /// Set when a growth was refused for lack of budget.
    pub refused: bool,
}

/// Table elements one instance may hold in all.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes of linear memory in total.
    pub fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            used: 0,
            peak: 0,
            table_elements: 0,
            demoted: false,
            refused: false,
        }
    }

    /// Highest total memory seen.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        if self.demoted {
            set_thread_nice(0);
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
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
        self.used = next;
        self.peak = self.peak.max(next);
        if !self.demoted && next > DEMOTE_ABOVE_BYTES && demotion_supported() {
            self.demoted = set_thread_nice(DEMOTED_NICE);
        }
        Ok(true)
    }

    fn table_growing(
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
