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

/// Record a finished plugin call.
pub fn record_call(m: &CallMetrics<'_>) {
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
    for (capability, calls) in ["identity", "storage", "log", "payment", "notification"]
        .iter()
        .zip(m.capability_calls)
    {
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
