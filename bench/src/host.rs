//! Islet under test: an in-process server, or the runtime on its own, and
//! the components they run.

use anyhow::{Context as _, anyhow};
use islet_host::auth::PairwiseSubjects;
use islet_host::capabilities::GuestRequest;
use islet_host::limits::LimitPolicy;
use islet_host::manifest::Manifest;
use islet_host::registry::sha256_hex;
use islet_host::runtime::{
    CallInput, CallOutput, HostServices, Interruption, PreparedPlugin, Runtime, RuntimeConfig,
};
use islet_host::store::{KvStore, SledStore};
use islet_host::{RunningServer, ServerConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The compiled-artifact cache the benchmark's hosts share (entries are
/// keyed by component and engine, so sharing is safe). Part 4 uses empty
/// folders of its own instead.
pub fn cache_dir() -> PathBuf {
    islet_tests::workspace().join("target").join("bench-cache")
}

/// Run `f`, turning a panic of the test harness into an error.
fn harness<T>(what: &str, f: impl FnOnce() -> T + std::panic::UnwindSafe) -> anyhow::Result<T> {
    std::panic::catch_unwind(f).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        anyhow!("{what}: {message}")
    })
}

/// The built component `name` (`hello`, `hostile`, `cpu-heavy`, ...).
pub fn component(name: &str) -> anyhow::Result<Vec<u8>> {
    harness(&format!("cannot build component {name}"), || {
        islet_tests::component(name)
    })
}

/// The manifest of component `name`, under plugin id `id`.
pub fn manifest_as(name: &str, id: &str) -> anyhow::Result<String> {
    harness(&format!("cannot read the manifest of {name}"), || {
        islet_tests::manifest_as(name, id, None)
    })
}

/// Calls per minute and per day that never throttle a benchmark.
const UNTHROTTLED: u64 = 1 << 40;

/// An Islet server on a random local port with a fresh data folder, as in
/// production (dev keys, pooling, epoch interruption, default limits) except
/// for the quotas a load test would otherwise measure instead of the host:
/// the per-caller rate and the daily quota are raised (all the benchmark's
/// calls come from one address), the per-address connection cap is off, and
/// the per-plugin concurrency cap is set to its maximum. Every check still runs on every request.
pub struct IsletServer {
    running: Option<RunningServer>,
    data: tempfile::TempDir,
}

impl IsletServer {
    /// Start serving on `runtime`. With `breaker` off, no version is ever
    /// suspended, however many of its calls fail.
    pub fn start(runtime: &tokio::runtime::Runtime, breaker: bool) -> anyhow::Result<IsletServer> {
        Self::start_with(runtime, breaker, |_| {})
    }

    /// Like [`IsletServer::start`], letting `adjust` change the config
    /// (a shared store, its secrets) before it starts.
    pub fn start_with(
        runtime: &tokio::runtime::Runtime,
        breaker: bool,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> anyhow::Result<IsletServer> {
        let data = tempfile::tempdir().context("cannot create a data folder")?;
        let mut config = ServerConfig::new(data.path().to_path_buf());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.dev = true;
        config.cache_dir = cache_dir();
        let limits = &mut config.limits;
        for l in [&mut limits.default, &mut limits.max] {
            l.rate_per_minute = UNTHROTTLED;
            l.daily_calls = UNTHROTTLED;
        }
        limits.default.concurrency = limits.max.concurrency;
        // Every load connection comes from 127.0.0.1.
        config.connections.max_connections_per_address = 0;
        if !breaker {
            // The breaker suspends a version when more than this share of
            // its recent calls failed: never, at 100%.
            limits.default.breaker_failure_percent = 100;
        }
        adjust(&mut config);
        let running = runtime
            .block_on(islet_host::start(config))
            .context("cannot start Islet")?;
        Ok(IsletServer {
            running: Some(running),
            data,
        })
    }

    /// The running server (its state: registry, store, notifications).
    pub fn running(&self) -> anyhow::Result<&RunningServer> {
        self.running.as_ref().context("the server was stopped")
    }

    /// The host's data folder.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The bound address.
    pub fn addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.running()?.addr())
    }

    /// Install `component` with `manifest` (blocking: compiles or loads
    /// from the cache).
    pub fn install(&self, manifest: &str, component: &[u8]) -> anyhow::Result<()> {
        self.running()?
            .state()
            .registry
            .install(manifest, component, "bench")
            .context("install failed")?;
        Ok(())
    }

    /// Shut down cleanly.
    pub fn stop(mut self, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
        if let Some(running) = self.running.take() {
            runtime.block_on(running.shutdown())?;
        }
        Ok(())
    }
}

/// The sandbox provider's signing secret in a [`DirectRuntime`].
pub const SANDBOX_SECRET: &[u8; 32] = b"bench-sandbox-secret-0123456789a";

/// The runtime alone, with its own store in a temporary folder.
pub struct DirectRuntime {
    /// The runtime.
    pub runtime: Runtime,
    /// The money path behind its `payment` capability.
    pub payments: Arc<islet_host::payment::Payments>,
    /// Consents behind `identity.claim` and `notification`.
    pub consents: Arc<islet_host::consent::Consents>,
    /// A current-thread executor: the calls run on the bench's own thread,
    /// as a request runs on its worker.
    executor: tokio::runtime::Runtime,
    _data: tempfile::TempDir,
}

impl DirectRuntime {
    /// A runtime configured as the product's, except for `pooling`,
    /// `interruption` and the cache folder.
    pub fn new(
        pooling: bool,
        interruption: Interruption,
        cache: &Path,
    ) -> anyhow::Result<DirectRuntime> {
        let data = tempfile::tempdir().context("cannot create a data folder")?;
        let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&data.path().join("db"))?);
        Self::on_store(pooling, interruption, cache, store, data)
    }

    /// Like [`DirectRuntime::new`], with Cranelift's incremental
    /// compilation cache holding up to `compile_cache_bytes` (as a
    /// development host has it).
    pub fn with_compile_cache(
        cache: &Path,
        compile_cache_bytes: usize,
    ) -> anyhow::Result<DirectRuntime> {
        let data = tempfile::tempdir().context("cannot create a data folder")?;
        let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&data.path().join("db"))?);
        Self::build(
            true,
            Interruption::Epoch,
            cache,
            store,
            data,
            compile_cache_bytes,
        )
    }

    /// Like [`DirectRuntime::new`], on `store` (`data` lives as long as the
    /// runtime).
    pub fn on_store(
        pooling: bool,
        interruption: Interruption,
        cache: &Path,
        store: Arc<dyn KvStore>,
        data: tempfile::TempDir,
    ) -> anyhow::Result<DirectRuntime> {
        Self::build(pooling, interruption, cache, store, data, 0)
    }

    fn build(
        pooling: bool,
        interruption: Interruption,
        cache: &Path,
        store: Arc<dyn KvStore>,
        data: tempfile::TempDir,
        compile_cache_bytes: usize,
    ) -> anyhow::Result<DirectRuntime> {
        let payments = Arc::new(islet_host::payment::Payments::new(
            store.clone(),
            Arc::new(islet_host::payment::sandbox::SandboxProvider::new(
                store.clone(),
                SANDBOX_SECRET.to_vec(),
                Duration::from_secs(1),
            )),
            islet_host::payment::PaymentConfig::default(),
        ));
        let consents = Arc::new(islet_host::consent::Consents::new(store.clone()));
        let runtime = Runtime::new(
            &RuntimeConfig {
                pooling,
                interruption,
                max_instances: 16,
                max_memory_bytes: LimitPolicy::default().max.memory_bytes(),
                epoch_tick: Duration::from_millis(2),
                long_call_share_percent: islet_host::runtime::DEFAULT_LONG_CALL_SHARE_PERCENT,
                cache_dir: cache.to_path_buf(),
                compile_cache_bytes,
            },
            HostServices {
                payments: payments.clone(),
                consents: consents.clone(),
                notifications: Arc::new(islet_host::notify::Notifications::new(
                    consents.clone(),
                    islet_host::notify::NotificationConfig {
                        plugin_daily_quota: u64::MAX,
                        citizen_daily_cap: u64::MAX,
                        ..Default::default()
                    },
                    Vec::new(),
                )),
                store,
                pairwise: Arc::new(PairwiseSubjects::new(vec![7; 32])),
                guest_log: Arc::default(),
            },
        )
        .context("cannot build the runtime")?;
        let executor = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start an executor")?;
        Ok(DirectRuntime {
            runtime,
            payments,
            consents,
            executor,
            _data: data,
        })
    }

    /// Activate `component` as described by `manifest`.
    pub fn prepare(&self, manifest: &str, component: &[u8]) -> anyhow::Result<PreparedPlugin> {
        let manifest: Manifest = manifest.parse()?;
        let limits = LimitPolicy::default()
            .resolve(&manifest.limits)
            .map_err(|e| anyhow!("{e}"))?;
        let granted = islet_host::manifest::Grants::everything_requested(&manifest);
        Ok(self
            .runtime
            .prepare(manifest, limits, component, &sha256_hex(component), granted)?)
    }

    /// Run one anonymous request on a fresh instance of `plugin`.
    pub fn call(
        &self,
        plugin: &PreparedPlugin,
        request: GuestRequest,
    ) -> anyhow::Result<CallOutput> {
        self.call_as(plugin, request, None)
    }

    /// Run one request of `citizen` (none: anonymous) on a fresh instance.
    pub fn call_as(
        &self,
        plugin: &PreparedPlugin,
        request: GuestRequest,
        citizen: Option<Arc<islet_host::auth::Citizen>>,
    ) -> anyhow::Result<CallOutput> {
        let output = self.block_on(self.runtime.call(
            plugin,
            CallInput {
                request,
                citizen,
                request_id: Arc::from("bench"),
            },
        ))?;
        Ok(output)
    }

    /// Run `work` to completion on this thread.
    pub fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.executor.block_on(work)
    }
}

/// The signed-in citizen of the benchmark's guest calls, holding
/// `personal_data`.
pub fn bench_citizen(
    personal_data: std::collections::BTreeMap<islet_host::manifest::DataItem, String>,
) -> Arc<islet_host::auth::Citizen> {
    Arc::new(islet_host::auth::Citizen {
        subject: "bench-citizen".into(),
        issuer: "islet-dev".into(),
        roles: Vec::new(),
        assurance_level: 3,
        expires_at: u64::MAX,
        personal_data,
    })
}

impl DirectRuntime {
    /// Open merchant account `city-fees` and let `payment-probe` charge to it.
    pub fn open_city_fees(&self) -> anyhow::Result<()> {
        let ledger = self.payments.ledger();
        ledger.create_merchant("city-fees", "probe", "City fees", 0)?;
        ledger.grant_merchant("city-fees", "payment-probe", true)?;
        Ok(())
    }
}

/// A request for a guest: `method path?query` with `body`.
pub fn guest_request(method: &str, path: &str, query: &str, body: Vec<u8>) -> GuestRequest {
    GuestRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: Vec::new(),
        body,
    }
}
