//! Load helpers for the neighbour tests: a hostile plugin loops next to
//! `hello`, whose latency and success are measured, and the host's resident
//! memory is sampled.

use crate::{TestHost, component, json_of, manifest_as};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `name`'s manifest installed as `id` with `limits` as its `[limits]` table.
pub async fn install_with_limits(host: &TestHost, name: &str, id: &str, limits: &str) {
    let base = manifest_as(name, id, None);
    let head = base
        .split("[limits]")
        .next()
        .unwrap_or_default()
        .to_string();
    let manifest = format!("{head}\n[limits]\n{limits}\n");
    let response = host.upload(&manifest, component(name)).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap_or_default()
    );
}

/// This process's resident memory (the test host runs in it), MiB.
pub fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// The 99th percentile of `samples`.
pub fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples
        .get((samples.len() * 99 / 100).min(samples.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// `n` sequential hello calls: their latencies and any failures.
pub async fn hello_calls(host: &TestHost, n: usize) -> (Vec<Duration>, Vec<String>) {
    let mut took = Vec::new();
    let mut failed = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        let r = host.get("/p/hello/", None).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        took.push(start.elapsed());
        if status != 200 {
            failed.push(format!("{status} {body}"));
        }
    }
    (took, failed)
}

/// `callers` tasks calling `path` in a loop until `stop`: (status, error
/// code) of each call. A 503 must carry `Retry-After` and a JSON error.
pub fn loop_callers(
    host: &TestHost,
    callers: usize,
    path: &str,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<(u16, String)>>> {
    (0..callers)
        .map(|_| {
            let (client, url, stop) = (host.http.clone(), host.url(path), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = client.get(&url).send().await.unwrap();
                    let status = r.status().as_u16();
                    let retry = r.headers().contains_key("retry-after");
                    let (_, body) = json_of(r).await;
                    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
                    if status == 503 {
                        assert!(retry, "a 503 without Retry-After: {body}");
                        assert!(body["error"]["message"].is_string(), "{body}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    seen.push((status, code));
                }
                seen
            })
        })
        .collect()
}

/// Sample [`rss_mib`] every `every` until `stop`; the task returns the peak.
pub fn rss_peak(every: Duration, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_mib());
            tokio::time::sleep(every).await;
        }
        peak
    })
}

/// Wait up to `patience` for [`rss_mib`] to come within `margin` MiB of
/// `baseline`: the last reading and how long it took.
pub async fn rss_settled(baseline: u64, margin: u64, patience: Duration) -> (u64, Duration) {
    let start = Instant::now();
    let mut now = rss_mib();
    while now > baseline + margin && start.elapsed() < patience {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = rss_mib();
    }
    (now, start.elapsed())
}
