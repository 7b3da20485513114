//! Assemble and run a host: store, secrets, runtime, registry, router.

use crate::auth::{
    PairwiseSubjects, RemoteKeys, TokenVerifier, VerifierKeys, bind_to_store,
    load_or_create_secret, read_secret,
};
use crate::config::{DEV_KEY_FILE, PAIRWISE_SECRET_FILE, ServerConfig};
use crate::http::{self, AppState};
use crate::registry::Registry;
use crate::runtime::{HostServices, Runtime, RuntimeConfig};
use crate::store::KvStore;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A host serving on a socket.
pub struct RunningServer {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Build the shared state from `config` (opens the store, activates plugins).
pub fn build_state(config: &ServerConfig) -> anyhow::Result<Arc<AppState>> {
    crate::private::restrict_new_files();
    crate::malloc::tune();
    for folder in [&config.data_dir, &config.secrets_dir, &config.cache_dir] {
        crate::private::secure_folder(folder)
            .with_context(|| format!("cannot make {} private", folder.display()))?;
    }
    let location = config.store_location()?;
    let store: Arc<dyn KvStore> = location
        .open()
        .with_context(|| format!("cannot open the store ({})", location.describe()))?;
    tracing::info!(store = %location.describe(), "store open");
    crate::clock::set_business_zone(config.business_zone.clone());
    let pairwise_secret = load_or_create_secret(&config.secrets_dir.join(PAIRWISE_SECRET_FILE))?;
    bind_to_store(store.as_ref(), "pairwise", &pairwise_secret)?;
    let pairwise = Arc::new(PairwiseSubjects::with_cache(
        pairwise_secret,
        config.pairwise_cache_entries,
    ));
    let sandbox_secret = load_or_create_secret(
        &config
            .secrets_dir
            .join(crate::payment::sandbox::SECRET_FILE),
    )?;
    bind_to_store(store.as_ref(), "sandbox-pay", &sandbox_secret)?;
    let remote = if config.idp.enabled() {
        Some(Arc::new(RemoteKeys::new(
            &config.issuer,
            config.idp.clone(),
        )?))
    } else {
        None
    };
    let verifier = Arc::new(
        TokenVerifier::with_sources(
            &config.issuer,
            &config.audience,
            &verifier_keys(config)?,
            remote,
            config.claims.clone(),
        )?
        .with_cache(config.token_cache_entries),
    );
    let sandbox = Arc::new(crate::payment::sandbox::SandboxProvider::new(
        store.clone(),
        sandbox_secret,
        config.payment.retry_base,
    ));
    let payments = Arc::new(crate::payment::Payments::new(
        store.clone(),
        sandbox,
        crate::payment::PaymentConfig {
            test_options: config.dev,
            ..config.payment.clone()
        },
    ));
    let indexed = payments.index_events()?;
    if indexed > 0 {
        tracing::info!(events = indexed, "indexed payment events by time");
    }
    let consents = Arc::new(crate::consent::Consents::new(store.clone()));
    let notifications = Arc::new(crate::notify::Notifications::new(
        consents.clone(),
        config.notification.clone(),
        crate::notify::channels_from_config(&config.notification, &config.secrets_dir)?,
    ));
    let runtime = Arc::new(Runtime::new(
        &RuntimeConfig {
            pooling: true,
            interruption: config.interruption,
            max_instances: config.max_instances,
            max_memory_bytes: config.limits.max.memory_bytes(),
            epoch_tick: config.epoch_tick,
            long_call_share_percent: config.long_call_share_percent,
            cache_dir: config.cache_dir.clone(),
            compile_cache_bytes: if config.dev {
                crate::runtime::compile_cache::DEFAULT_BUDGET_BYTES
            } else {
                0
            },
        },
        HostServices {
            store: store.clone(),
            pairwise,
            payments: payments.clone(),
            consents: consents.clone(),
            notifications: notifications.clone(),
            guest_log: Arc::new(crate::capabilities::log::LogGate::new(config.guest_log)),
        },
    )?);
    let audit = Arc::new(crate::audit::AuditLog::new(store.clone()));
    note_zone_change(store.as_ref(), &audit, &config.business_zone)?;
    let usage = Arc::new(crate::usage::UsageMeter::new(store.clone()));
    let protection = Arc::new(crate::protect::Protection::new(
        audit.clone(),
        usage.clone(),
    ));
    let sessions = Arc::new(
        crate::auth::ServiceSessions::shared(store.clone()).with_limits(
            crate::auth::SessionLimits {
                per_citizen: config.citizen_limits.sessions_per_citizen,
                per_minute: config.citizen_limits.sessions_per_minute,
            },
        ),
    );
    let registry = Arc::new(Registry::open(
        runtime.clone(),
        store,
        config.data_dir.clone(),
        config.limits,
        config.max_component_bytes,
    )?);
    Ok(Arc::new(AppState {
        registry,
        runtime,
        verifier,
        fault_log: Arc::default(),
        pool: Arc::new(crate::pool::InstancePool::new(
            config.max_instances,
            config.pool,
        )),
        max_component_bytes: config.max_component_bytes,
        protection,
        usage,
        audit,
        payments,
        consents,
        notifications,
        sessions,
        ops: http::ops::OpsSettings {
            metrics_token: config.metrics.resolved_token()?,
            metrics_listen: config.metrics.listen,
            trusted_proxies: config.trusted_proxies.clone().into(),
        },
        cache_policy: config.cache,
        streams: Arc::new(http::streams::StreamSlots::new(
            config.citizen_limits.inbox_streams_per_citizen,
        )),
        guest_headers: config.guest_headers,
        dev: config.dev,
    }))
}

fn verifier_keys(config: &ServerConfig) -> anyhow::Result<VerifierKeys> {
    let mut keys = VerifierKeys::default();
    if config.dev {
        keys.hs256.push(load_or_create_secret(
            &config.secrets_dir.join(DEV_KEY_FILE),
        )?);
    }
    if let Some(path) = &config.hs256_secret_file {
        keys.hs256.push(read_secret(path)?);
    }
    for path in &config.rs256_public_key_files {
        keys.rs256_pem
            .push(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    for path in &config.es256_public_key_files {
        keys.es256_pem
            .push(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    Ok(keys)
}

/// Where the business time zone the store's days were last counted in is
/// kept.
const ZONE_NAMESPACE: &str = "host";
const ZONE_KEY: &[u8] = b"business-zone";

/// Record a move of the business time zone in the audit log (once, by the
/// first host to start with the new zone). Days already counted keep
/// their dates; the day of the move is longer or shorter instead, so no
/// figure is counted twice or lost.
fn note_zone_change(
    store: &dyn KvStore,
    audit: &crate::audit::AuditLog,
    zone: &crate::clock::BusinessZone,
) -> anyhow::Result<()> {
    let before = store.get(ZONE_NAMESPACE, ZONE_KEY)?;
    let now = zone.name().as_bytes().to_vec();
    if before.as_deref() == Some(now.as_slice()) {
        return Ok(());
    }
    let batch = crate::store::Batch::new()
        .expect(ZONE_KEY, before.clone())
        .put(ZONE_KEY, now);
    match store.commit(ZONE_NAMESPACE, &batch) {
        Ok(()) => {}
        // Another host recorded the same move at the same moment.
        Err(crate::store::WriteError::Conflict) => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("cannot record the business time zone: {e}")),
    }
    let before = before.map(|b| String::from_utf8_lossy(&b).into_owned());
    if let Some(before) = &before {
        tracing::warn!(
            from = %before,
            to = %zone.name(),
            today = %zone.date_of(crate::clock::now_secs()),
            "the business time zone moved: days counted so far keep their dates, today's figures continue under the new zone's date"
        );
    }
    audit.record(
        "host",
        "clock.time-zone",
        "business-time-zone",
        serde_json::json!(before),
        serde_json::json!(zone.name()),
    )?;
    Ok(())
}

/// Start a host: build its state, bind `config.listen` and serve in the
/// background.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let build_config = config.clone();
    let state = tokio::task::spawn_blocking(move || build_state(&build_config)).await??;
    serve(config.listen, state, config.connections).await
}

/// Serve an already built `state` on `listen`, under `connections`.
pub async fn serve(
    listen: SocketAddr,
    state: Arc<AppState>,
    connections: crate::conn::ConnectionLimits,
) -> anyhow::Result<RunningServer> {
    // The identity provider's keys, before the first request (a provider
    // that is down only delays sign-ins; a wrong one stops the host).
    let remote = state.verifier.remote().cloned();
    if let Some(remote) = &remote {
        remote.start().await?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    crate::metrics::handle();
    let (stop_metrics, metrics_stopped) = oneshot::channel::<()>();
    let metrics_addr = match state.ops.metrics_listen {
        Some(at) => Some(serve_metrics(at, state.clone(), metrics_stopped).await?),
        None => None,
    };
    let app = http::router(state.clone());
    let usage = state.usage.clone();
    state
        .payments
        .sandbox()
        .set_notify_url(format!("http://{addr}/api/v1/payments/notify/sandbox"));
    let events = Arc::new(crate::payment::delivery::PluginEventTarget {
        registry: state.registry.clone(),
        runtime: state.runtime.clone(),
        payments: state.payments.clone(),
        pool: state.pool.clone(),
    });
    let payments = state.payments.clone();
    let notifications = state.notifications.clone();
    let registry = state.registry.clone();
    let store = state.registry.store().clone();
    let runtime = state.runtime.clone();
    let cache_policy = state.cache_policy;
    let task = tokio::spawn(async move {
        let (stop_flusher, flusher_stopped) = oneshot::channel::<()>();
        let flusher = tokio::spawn(flush_usage_periodically(usage.clone(), flusher_stopped));
        let (stop_delivery, delivery_stopped) = oneshot::channel::<()>();
        let delivery = tokio::spawn(crate::payment::delivery::run(
            payments,
            events,
            delivery_stopped,
        ));
        let (stop_follower, follower_stopped) = oneshot::channel::<()>();
        let follower = tokio::spawn(follow_registry(registry, store, follower_stopped));
        let (stop_relay, relay_stopped) = oneshot::channel::<()>();
        let relay = tokio::spawn(crate::notify::relay_other_hosts(
            notifications.clone(),
            relay_stopped,
        ));
        let (stop_cache, cache_stopped) = oneshot::channel::<()>();
        let cache = tokio::spawn(evict_artifacts_periodically(
            runtime,
            cache_policy,
            cache_stopped,
        ));
        let (stop_keys, keys_stopped) = oneshot::channel::<()>();
        let keys = remote.map(|remote| tokio::spawn(remote.run(keys_stopped)));
        let (stop_outbox, outbox_stopped) = oneshot::channel::<()>();
        let outbox = tokio::spawn(crate::notify::run(notifications.clone(), outbox_stopped));
        let served = crate::conn::serve(listener, app, connections, async move {
            let _ = rx.await;
            let _ = stop_metrics.send(());
            // Live inbox streams never end by themselves.
            notifications.close();
        })
        .await;
        // Stop the flusher and wait for it, so nothing holds the store once
        // this task ends (the data folder can then be opened again).
        let _ = stop_flusher.send(());
        let _ = flusher.await;
        let _ = stop_delivery.send(());
        let _ = delivery.await;
        let _ = stop_outbox.send(());
        let _ = outbox.await;
        let _ = stop_follower.send(());
        let _ = follower.await;
        let _ = stop_relay.send(());
        let _ = relay.await;
        let _ = stop_cache.send(());
        let _ = cache.await;
        let _ = stop_keys.send(());
        if let Some(keys) = keys {
            let _ = keys.await;
        }
        if let Err(e) = tokio::task::spawn_blocking(move || usage.flush()).await {
            tracing::error!("cannot flush usage at shutdown: {e}");
        }
        served
    });
    tracing::info!(%addr, plugins = state.registry.list().len(), "islet is serving");
    Ok(RunningServer {
        addr,
        metrics_addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The separate metrics address, when `[metrics] listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared state (registry, runtime).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stop accepting, let in-flight requests finish, then release the
    /// store (so the data folder can be opened again).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await??;
        self.state.registry.flush()?;
        Ok(())
    }

    /// Serve until the process receives Ctrl-C or SIGTERM, then shut down:
    /// stop accepting, let in-flight requests and background work finish
    /// (nothing is left half-done or leased), for at most `grace`.
    pub async fn run_until_signal(self, grace: std::time::Duration) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!(grace_s = grace.as_secs_f64(), "shutting down");
        match tokio::time::timeout(grace, self.shutdown()).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!(
                    "in-flight work did not finish within the {} s grace period; exiting",
                    grace.as_secs()
                );
                Ok(())
            }
        }
    }
}

/// Serve `/metrics` alone on `listen` until `stop`; the bound address.
async fn serve_metrics(
    listen: SocketAddr,
    state: Arc<AppState>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([metrics] listen)"))?;
    let addr = listener.local_addr()?;
    let app = http::metrics_router(state);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!("the metrics address failed: {e}");
        }
    });
    tracing::info!(%addr, "metrics served");
    Ok(addr)
}

/// How often the compiled-artifact cache is checked for entries to evict.
const EVICT_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Evict unused and over-budget compiled artifacts now and then (and once
/// at start).
async fn evict_artifacts_periodically(
    runtime: Arc<Runtime>,
    policy: crate::config::CachePolicy,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(EVICT_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        let runtime = runtime.clone();
        match tokio::task::spawn_blocking(move || runtime.evict_artifacts(&policy)).await {
            Ok(Ok(r)) if r.removed > 0 => tracing::info!(
                removed = r.removed,
                freed_bytes = r.freed_bytes,
                kept_bytes = r.kept_bytes,
                "evicted compiled artifacts"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot evict compiled artifacts: {e}"),
            Err(e) => tracing::warn!("artifact eviction failed: {e}"),
        }
    }
}

/// How often usage counters are merged into the store.
const USAGE_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

async fn flush_usage_periodically(
    usage: Arc<crate::usage::UsageMeter>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(USAGE_FLUSH_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        let usage = usage.clone();
        match tokio::task::spawn_blocking(move || usage.flush()).await {
            Ok(Err(e)) => tracing::warn!("usage flush failed (kept for the next one): {e}"),
            Err(e) => tracing::warn!("usage flush task failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
}

/// How often a host reconciles its registry with the store (other hosts'
/// changes normally arrive at once, announced).
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Take in installs, releases, rollbacks and take-downs made on other hosts
/// of the deployment: at once when one is announced, and by a full
/// reconcile every [`FOLLOW_EVERY`] in case an announcement was lost. A
/// store no other host can share has nothing to follow.
async fn follow_registry(
    registry: Arc<Registry>,
    store: Arc<dyn KvStore>,
    mut stop: oneshot::Receiver<()>,
) {
    let Some(mut announced) = store.announcements() else {
        return;
    };
    let mut tick = tokio::time::interval(FOLLOW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let only = tokio::select! {
            _ = tick.tick() => None,
            _ = &mut stop => return,
            received = announced.recv() => match received {
                Ok(a) if a.topic == crate::registry::ANNOUNCE_TOPIC => Some(a.note),
                Ok(a) if a.topic == crate::store::RESYNC => None,
                Ok(_) => continue,
                // Fell behind, or the store resynced: reconcile everything.
                Err(_) => None,
            },
        };
        let registry = registry.clone();
        let work = move || match only {
            Some(id) => registry.follow_announced(&id).map(|()| 1),
            None => registry.follow(),
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(0)) => {}
            Ok(Ok(changed)) => {
                tracing::info!(changed, "registry changes from other hosts taken in")
            }
            Ok(Err(e)) => tracing::warn!("cannot follow the registry: {e}"),
            Err(e) => tracing::warn!("registry follower failed: {e}"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
