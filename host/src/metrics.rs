//! Prometheus metrics: one recorder per process, rendered at `GET /metrics`
//! with the process's own metrics (`process_*`: resident memory, CPU time,
//! open file descriptors, threads). A background thread runs the
//! exporter's upkeep, so histogram data is drained even when nobody scrapes.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Request latency histogram buckets, seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Guest memory histogram buckets, bytes.
const MEMORY_BUCKETS: &[f64] = &[
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    536_870_912.0,
];

/// How often the exporter's upkeep runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus handle, installing the recorder on first use.
/// Hosts in one process (tests) share it.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("islet_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("islet_guest_memory_peak_bytes".into()),
                        MEMORY_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("islet_guest_cpu_seconds".into()),
                        LATENCY_BUCKETS,
                    )
                });
            match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => {
                    start_upkeep(h.clone());
                    process_collector().describe();
                    Some(h)
                }
                Err(e) => {
                    tracing::error!("metrics are unavailable: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// Run the exporter's upkeep every [`UPKEEP_EVERY`], for the life of the
/// process (the recorder lives as long).
fn start_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("islet-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the metrics upkeep thread: {e}");
    }
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// The exposition text, with the process metrics read now; `None` when no
/// recorder could be installed.
pub fn render() -> Option<String> {
    let handle = handle()?;
    process_collector().collect();
    Some(handle.render())
}

/// What one plugin call did, for metrics.
pub struct CallMetrics<'a> {
    /// Plugin id.
    pub plugin: &'a str,
    /// Plugin version.
    pub version: &'a str,
    /// HTTP status sent to the app.
    pub status: u16,
    /// Time in the host for this request.
    pub duration: Duration,
    /// Guest CPU, if it ran to completion.
    pub cpu: Option<Duration>,
    /// Peak guest memory, if it ran to completion.
    pub peak_memory: Option<usize>,
    /// Host calls per capability: identity, storage, log, payment,
    /// notification.
    pub capability_calls: [u32; 5],
}

/// Record one guest call. The metric handles of each plugin version are
/// registered once and kept (a bounded cache), so a call costs atomic
/// updates, not a label set built, hashed and looked up per metric.
pub fn record_call(m: &CallMetrics<'_>) {
    let Some(handles) = call_handles(m.plugin, m.version) else {
        return record_call_unkept(m);
    };
    handles.requests(m.status).increment(1);
    handles.duration.record(m.duration.as_secs_f64());
    let (p, v) = (&handles.plugin, &handles.version);
    if let Some(cpu) = m.cpu {
        handles.cpu_total.get_or_init(|| metrics::counter!("islet_guest_cpu_microseconds_total", "plugin" => p.clone(), "version" => v.clone()))
            .increment(cpu.as_micros() as u64);
        handles.cpu.get_or_init(|| metrics::histogram!("islet_guest_cpu_seconds", "plugin" => p.clone(), "version" => v.clone()))
            .record(cpu.as_secs_f64());
    }
    if let Some(peak) = m.peak_memory {
        handles.peak_memory.get_or_init(|| metrics::histogram!("islet_guest_memory_peak_bytes", "plugin" => p.clone(), "version" => v.clone()))
            .record(peak as f64);
    }
    for ((counter, capability), calls) in handles
        .capability_calls
        .iter()
        .zip(CAPABILITIES)
        .zip(m.capability_calls)
    {
        if calls > 0 {
            counter
                .get_or_init(|| metrics::counter!("islet_capability_calls_total", "plugin" => p.clone(), "capability" => capability))
                .increment(u64::from(calls));
        }
    }
}

/// The capabilities counted in `islet_capability_calls_total`, in the
/// order of [`CallMetrics::capability_calls`].
const CAPABILITIES: [&str; 5] = ["identity", "storage", "log", "payment", "notification"];

/// Plugin versions whose handles are kept.
const KEPT_VERSIONS: usize = 4096;

/// One plugin version's call metrics, registered.
struct CallHandles {
    plugin: String,
    version: String,
    /// `islet_requests_total` by status, registered as statuses appear.
    by_status: std::sync::RwLock<Vec<(u16, metrics::Counter)>>,
    duration: metrics::Histogram,
    // The others are registered at their first value, as the macros would.
    cpu_total: OnceLock<metrics::Counter>,
    cpu: OnceLock<metrics::Histogram>,
    peak_memory: OnceLock<metrics::Histogram>,
    capability_calls: [OnceLock<metrics::Counter>; 5],
}

impl CallHandles {
    fn new(plugin: &str, version: &str) -> Self {
        let (p, v) = (plugin.to_string(), version.to_string());
        CallHandles {
            by_status: Default::default(),
            duration: metrics::histogram!("islet_request_duration_seconds", "plugin" => p.clone(), "version" => v.clone()),
            cpu_total: OnceLock::new(),
            cpu: OnceLock::new(),
            peak_memory: OnceLock::new(),
            capability_calls: Default::default(),
            plugin: p,
            version: v,
        }
    }

    /// The request counter of `status`.
    fn requests(&self, status: u16) -> metrics::Counter {
        let known = self
            .by_status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, c)| c.clone());
        if let Some(counter) = known {
            return counter;
        }
        let counter = metrics::counter!("islet_requests_total", "plugin" => self.plugin.clone(), "version" => self.version.clone(), "status" => status.to_string());
        let mut all = self
            .by_status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Statuses are three digits: the list stays short.
        if !all.iter().any(|(s, _)| *s == status) {
            all.push((status, counter.clone()));
        }
        counter
    }
}

/// A (plugin, version) pair looked up without copying it (hashes like
/// the tuple of `String`s).
#[derive(Hash, PartialEq, Eq)]
struct VersionRef<'a>(&'a str, &'a str);

impl quick_cache::Equivalent<(String, String)> for VersionRef<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

/// The instance pool's gauges (`islet_pool_free_slots`,
/// `islet_pool_free_memory_mib`), registered once rather than looked up on
/// every call; `None` when no recorder could be installed.
pub fn pool_gauges() -> Option<&'static [metrics::Gauge; 2]> {
    static GAUGES: OnceLock<[metrics::Gauge; 2]> = OnceLock::new();
    // Handles taken before the recorder is installed would count nowhere.
    handle()?;
    Some(GAUGES.get_or_init(|| {
        [
            metrics::gauge!("islet_pool_free_slots"),
            metrics::gauge!("islet_pool_free_memory_mib"),
        ]
    }))
}

/// The kept handles of `plugin` `version`; `None` when this process's
/// recorder is not Islet's (handles registered elsewhere are not kept).
fn call_handles(plugin: &str, version: &str) -> Option<std::sync::Arc<CallHandles>> {
    type Kept = quick_cache::sync::Cache<(String, String), std::sync::Arc<CallHandles>>;
    static KEPT: OnceLock<Kept> = OnceLock::new();
    // Handles taken before the recorder is installed would count nowhere.
    handle()?;
    let kept = KEPT.get_or_init(|| Kept::new(KEPT_VERSIONS));
    if let Some(found) = kept.get(&VersionRef(plugin, version)) {
        return Some(found);
    }
    let handles = std::sync::Arc::new(CallHandles::new(plugin, version));
    kept.insert((plugin.to_string(), version.to_string()), handles.clone());
    Some(handles)
}

/// [`record_call`] through the macros, label sets built per call.
fn record_call_unkept(m: &CallMetrics<'_>) {
    let (plugin, version) = (m.plugin.to_string(), m.version.to_string());
    metrics::counter!("islet_requests_total", "plugin" => plugin.clone(), "version" => version.clone(), "status" => m.status.to_string()).increment(1);
    metrics::histogram!("islet_request_duration_seconds", "plugin" => plugin.clone(), "version" => version.clone()).record(m.duration.as_secs_f64());
    if let Some(cpu) = m.cpu {
        metrics::counter!("islet_guest_cpu_microseconds_total", "plugin" => plugin.clone(), "version" => version.clone()).increment(cpu.as_micros() as u64);
        metrics::histogram!("islet_guest_cpu_seconds", "plugin" => plugin.clone(), "version" => version.clone()).record(cpu.as_secs_f64());
    }
    if let Some(peak) = m.peak_memory {
        metrics::histogram!("islet_guest_memory_peak_bytes", "plugin" => plugin.clone(), "version" => version.clone()).record(peak as f64);
    }
    for (capability, calls) in CAPABILITIES.iter().zip(m.capability_calls) {
        if calls > 0 {
            metrics::counter!("islet_capability_calls_total", "plugin" => plugin.clone(), "capability" => *capability).increment(u64::from(calls));
        }
    }
}

/// Record a guest fault of `kind` (e.g. `plugin_cpu_limit`).
pub fn record_fault(plugin: &str, version: &str, kind: &'static str) {
    metrics::counter!("islet_guest_faults_total", "plugin" => plugin.to_string(), "version" => version.to_string(), "kind" => kind).increment(1);
}

/// Record a call refused by a quota (`concurrency`, `rate`, `daily`, `breaker`).
pub fn record_rejection(plugin: &str, reason: &'static str) {
    metrics::counter!("islet_quota_rejections_total", "plugin" => plugin.to_string(), "reason" => reason).increment(1);
}

/// Record a call that ran as a long call in the paced lane: `from` is
/// `start` (the plugin's recent calls were long or faulted) or `demoted` (it
/// used 4 ms of CPU or grew its memory past 8 MiB).
pub fn record_long_call(plugin: &str, from: &'static str) {
    metrics::counter!("islet_long_calls_total", "plugin" => plugin.to_string(), "from" => from)
        .increment(1);
}

/// Set a version's breaker state gauge (0 closed, 1 half-open, 2 open).
pub fn set_breaker_state(plugin: &str, version: &str, value: f64) {
    metrics::gauge!("islet_breaker_state", "plugin" => plugin.to_string(), "version" => version.to_string()).set(value);
}

/// Set the number of installed plugins.
pub fn set_installed_plugins(count: usize) {
    metrics::gauge!("islet_installed_plugins").set(count as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_handles_count_every_call_under_its_labels() {
        let call = |status, cpu| CallMetrics {
            plugin: "kept-handles-probe",
            version: "1.2.3",
            status,
            duration: Duration::from_millis(1),
            cpu,
            peak_memory: cpu.map(|_| 1 << 20),
            capability_calls: [2, 0, 0, 0, 0],
        };
        for _ in 0..3 {
            record_call(&call(200, Some(Duration::from_micros(250))));
        }
        record_call(&call(503, None));
        let text = render().expect("a recorder");
        let value = |metric: &str, labels: &[&str]| -> Option<f64> {
            text.lines()
                .filter(|l| l.starts_with(metric) && l.contains("plugin=\"kept-handles-probe\""))
                .find(|l| labels.iter().all(|label| l.contains(label)))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        };
        assert_eq!(
            value(
                "islet_requests_total{",
                &["status=\"200\"", "version=\"1.2.3\""]
            ),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            value("islet_requests_total{", &["status=\"503\""]),
            Some(1.0)
        );
        assert_eq!(
            value("islet_guest_cpu_microseconds_total{", &[]),
            Some(750.0)
        );
        assert_eq!(
            value("islet_request_duration_seconds_count{", &[]),
            Some(4.0)
        );
        assert_eq!(
            value(
                "islet_capability_calls_total{",
                &["capability=\"identity\""]
            ),
            Some(8.0)
        );
        assert_eq!(
            value("islet_capability_calls_total{", &["capability=\"storage\""]),
            None,
            "never called"
        );
    }

    #[test]
    fn the_recorder_comes_with_its_upkeep_thread_and_process_metrics() {
        let text = render().expect("a recorder");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        // Thread names are cut to 15 bytes by the kernel.
        // A new thread names itself once it runs: look for a while.
        let named = || {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .any(|name| name.trim() == "islet-metrics-u")
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !named() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(named(), "no upkeep thread");
    }
}
