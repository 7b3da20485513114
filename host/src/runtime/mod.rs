//! The Wasm runtime: one engine with a pooling allocator and an epoch
//! ticker, compiled-artifact caching, import checks, plugin preparation and
//! per-request invocation.

mod answer;
mod cache;
pub mod compile_cache;
mod imports;
mod invoke;
mod lane;
mod meter;
mod metered;
mod prepare;

pub use cache::{ArtifactCache, Eviction, write_atomically};
pub use imports::{ImportError, check_imports};
pub use invoke::{CallInput, CallOutput, GuestFault};
pub use lane::{DEFAULT_SHARE_PERCENT as DEFAULT_LONG_CALL_SHARE_PERCENT, HeavyLane, LaneTurn};
pub use meter::{CallClock, Interrupt, MemoryLimiter, Meter, thread_cpu_time};
pub use prepare::{PrepareError, PreparedPlugin};

use crate::auth::PairwiseSubjects;
use crate::store::KvStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How runaway guests are stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interruption {
    /// Epoch ticks from one thread; at each deadline the guest's thread CPU
    /// time and wall time are checked against its budgets (the default).
    #[default]
    Epoch,
    /// Fuel: a deterministic count of Wasm operations, [`FUEL_PER_CPU_MS`]
    /// per millisecond of CPU budget. Wall-clock time is then only bounded
    /// outside the guest.
    Fuel,
    /// No interruption at all. Only for measuring what interruption costs;
    /// a looping guest would never stop.
    Unbounded,
}

/// Fuel granted per millisecond of CPU budget in [`Interruption::Fuel`] mode
/// (roughly one simple Wasm operation per nanosecond).
pub const FUEL_PER_CPU_MS: u64 = 1_000_000;

/// How the engine is sized.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Use the pooling allocator (the default) or allocate per instance.
    pub pooling: bool,
    /// How runaway guests are stopped.
    pub interruption: Interruption,
    /// Instances that may exist at once (pooling allocator slots).
    pub max_instances: u32,
    /// Largest memory any plugin may be granted, in bytes (pool slot size).
    pub max_memory_bytes: usize,
    /// Epoch tick: the granularity of CPU deadlines.
    pub epoch_tick: Duration,
    /// Share (percent) of the workers' CPU long calls together may use
    /// while short calls are in flight ([`HeavyLane`]).
    pub long_call_share_percent: u8,
    /// Where compiled artifacts are cached.
    pub cache_dir: PathBuf,
    /// Bytes of compiled function bodies kept in memory for incremental
    /// compilation ([`compile_cache`]); 0 turns it off. Development hosts
    /// turn it on, so a JS service's reload compiles only what changed.
    pub compile_cache_bytes: usize,
}

/// Host services capabilities draw on.
pub struct HostServices {
    /// The key-value store behind `storage`.
    pub store: Arc<dyn KvStore>,
    /// Pairwise subject derivation for `identity`.
    pub pairwise: Arc<PairwiseSubjects>,
    /// The money path behind `payment`.
    pub payments: Arc<crate::payment::Payments>,
    /// Consents, subjects and the data-access trail behind `identity`.
    pub consents: Arc<crate::consent::Consents>,
    /// Inboxes and outbound channels behind `notification`.
    pub notifications: Arc<crate::notify::Notifications>,
    /// Caps and per-plugin rate buckets behind `log`.
    pub guest_log: Arc<crate::capabilities::log::LogGate>,
}

/// The engine and everything shared by all plugins.
pub struct Runtime {
    engine: Engine,
    cache: ArtifactCache,
    tick: Duration,
    interruption: Interruption,
    services: HostServices,
    lane: HeavyLane,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Build the engine and start its epoch ticker.
    pub fn new(config: &RuntimeConfig, services: HostServices) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(config))?;
        let cache = ArtifactCache::new(&engine, config.cache_dir.clone())?;
        let tick = config.epoch_tick.max(Duration::from_millis(1));
        let ticker = EpochTicker::start(engine.clone(), tick)?;
        Ok(Runtime {
            engine,
            cache,
            tick,
            interruption: config.interruption,
            services,
            lane: HeavyLane::for_workers(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
                config.long_call_share_percent,
            ),
            _ticker: ticker,
        })
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Remove compiled artifacts `policy` says are unused or over budget.
    pub fn evict_artifacts(
        &self,
        policy: &crate::config::CachePolicy,
    ) -> std::io::Result<Eviction> {
        self.cache.evict(policy.unused, policy.max_bytes)
    }
}

fn engine_config(config: &RuntimeConfig) -> Config {
    let instances = config.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::new();
    // A Rust wasm32-wasip2 component holds one linear memory but several
    // core instances and tables (the module plus wit-component shims).
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(8))
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .max_core_instances_per_component(16)
        .max_memory_size(config.max_memory_bytes)
        // Reset a slot by re-zeroing only the pages the guest dirtied
        // (PAGEMAP_SCAN, Linux 6.7+) up to 2 MiB, instead of madvise: no page
        // faults on the next use and no TLB-shootdown IPIs across cores.
        // Older kernels fall back to memset of the low bytes plus madvise.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10)
        // Every call runs on a fiber stack from the pool; reset the top of
        // it in place rather than giving it back to the kernel each time.
        .total_stacks(instances)
        .async_stack_keep_resident(64 << 10)
        // Give back what a call dirtied beyond that at once: a batch would
        // keep a burst of large calls resident until more calls come (an
        // idle host held 1.2 GiB after ten 200 MiB calls with batches of 16).
        .decommit_batch_size(1);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(config.interruption == Interruption::Epoch)
        .consume_fuel(config.interruption == Interruption::Fuel);
    if config.pooling {
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    if config.compile_cache_bytes > 0 {
        let store = Arc::new(compile_cache::FunctionCache::new(
            config.compile_cache_bytes,
        ));
        if let Err(e) = c.enable_incremental_compilation(store) {
            tracing::warn!("incremental compilation is off: {e}");
        }
    }
    c
}

/// Increments the engine's epoch from one thread until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("islet-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
