//! One plugin cannot take the host's instance slots or memory from another:
//! a hostile guest holding long or memory-hungry calls at high concurrency
//! next to `hello`, which keeps every call and its latency.

use islet_tests::{TestHost, component, json_of, manifest_as};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `name`'s manifest installed as `id` with `limits` as its `[limits]` table.
async fn install_with_limits(host: &TestHost, name: &str, id: &str, limits: &str) {
    let base = manifest_as(name, id, None);
    let head = base.split("[limits]").next().unwrap().to_string();
    let manifest = format!("{head}\n[limits]\n{limits}\n");
    let response = host.upload(&manifest, component(name)).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

/// This process's resident memory (the host runs in it), MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// `n` sequential hello calls: their latencies and any failures.
async fn hello_calls(host: &TestHost, n: usize) -> (Vec<Duration>, Vec<String>) {
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

/// Callers looping on `path` until `stop`: (status, error code) of each call.
fn loop_callers(
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
                        // Refused at once or after a short wait, not held.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    seen.push((status, code));
                }
                seen
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plugin_holding_long_calls_leaves_slots_to_hello() {
    let host = TestHost::start_with(|c| c.max_instances = 16).await;
    install_with_limits(&host, "hello", "hello", "rate-per-minute = 60000\n").await;
    install_with_limits(
        &host,
        "hostile",
        "sleepy",
        "concurrency = 256\nmemory-mib = 16\ntimeout-ms = 30000\nrate-per-minute = 60000\n",
    )
    .await;
    hello_calls(&host, 20).await; // warm up
    let (quiet, failed) = hello_calls(&host, 200).await;
    assert!(failed.is_empty(), "{failed:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let hogs = loop_callers(&host, 40, "/p/sleepy/hold?ms=1000", &stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (busy, failed) = hello_calls(&host, 200).await;
    stop.store(true, Ordering::Relaxed);
    let mut hog_ok = 0;
    let mut hog_refused = 0;
    for h in hogs {
        for (status, code) in h.await.unwrap() {
            match (status, code.as_str()) {
                (200, _) => hog_ok += 1,
                (503, "plugin_busy") => hog_refused += 1,
                other => panic!("the hog got {other:?}"),
            }
        }
    }
    let (quiet_p99, busy_p99) = (p99(quiet), p99(busy));
    eprintln!(
        "slots: hello p99 quiet {quiet_p99:?}, next to the hog {busy_p99:?}; \
         hog {hog_ok} answered, {hog_refused} refused"
    );
    assert!(
        failed.is_empty(),
        "hello failed next to the hog: {failed:?}"
    );
    assert!(hog_refused > 0, "the hog was never refused");
    // 16 slots, a share of 8: the hog ran at most 8 calls at a time.
    assert!(hog_ok >= 8, "the hog ran only {hog_ok} calls");
    // Twice the quiet p99, plus 10 ms for a 2-core machine shared with builds.
    assert!(
        busy_p99 <= quiet_p99 * 2 + Duration::from_millis(10),
        "hello p99 {busy_p99:?} next to the hog, {quiet_p99:?} quiet"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_hungry_calls_stay_within_the_host_budget() {
    let host = TestHost::start_with(|c| {
        c.max_instances = 64;
        c.pool.memory_budget_mib = 1024;
    })
    .await;
    install_with_limits(&host, "hello", "hello", "rate-per-minute = 60000\n").await;
    let hungry = "concurrency = 64\nmemory-mib = 256\ncpu-ms = 2000\ntimeout-ms = 30000\nrate-per-minute = 60000\n";
    install_with_limits(&host, "hostile", "hungry-a", hungry).await;
    install_with_limits(&host, "hostile", "hungry-b", hungry).await;
    hello_calls(&host, 20).await;
    let before = rss_mib();

    // 24 callers each asking for 200 MiB held for 400 ms: 4.8 GiB if all ran.
    let stop = Arc::new(AtomicBool::new(false));
    let mut hogs = loop_callers(&host, 12, "/p/hungry-a/hold?mib=200&ms=400", &stop);
    hogs.extend(loop_callers(
        &host,
        12,
        "/p/hungry-b/hold?mib=200&ms=400",
        &stop,
    ));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, failed) = hello_calls(&host, 200).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    let mut ok = 0;
    let mut codes = std::collections::BTreeMap::new();
    for h in hogs {
        for (status, code) in h.await.unwrap() {
            match (status, code.as_str()) {
                (200, _) => ok += 1,
                (503, "plugin_busy" | "memory_busy") => *codes.entry(code).or_insert(0) += 1,
                other => panic!("a hungry call got {other:?}"),
            }
        }
    }
    let mut after = rss_mib();
    let settled = Instant::now();
    while after > before + 128 && settled.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = rss_mib();
    }
    eprintln!(
        "memory: RSS before {before} MiB, peak {peak} MiB, after {after} MiB \
         ({:?} to settle); {ok} hungry calls answered, refused {codes:?}",
        settled.elapsed()
    );
    assert!(
        failed.is_empty(),
        "hello failed next to the hungry calls: {failed:?}"
    );
    assert!(ok >= 3, "only {ok} hungry calls ran");
    assert!(codes.contains_key("plugin_busy"), "{codes:?}");
    // At most 1 GiB of guest memory at once (768 MiB with the reserve).
    assert!(
        peak < before + 1024,
        "RSS went from {before} to {peak} MiB with a 1024 MiB budget"
    );
    // What the calls dirtied is given back once they end (other tests in
    // this process may hold a little more meanwhile).
    assert!(
        after < before + 256,
        "RSS stayed at {after} MiB after the burst (from {before} MiB)"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_answers_leave_no_resident_memory() {
    let host = TestHost::start().await;
    install_with_limits(
        &host,
        "hostile",
        "bigmouth",
        "memory-mib = 512\ncpu-ms = 2000\ntimeout-ms = 30000\nrate-per-minute = 60000\n",
    )
    .await;
    install_with_limits(&host, "hello", "hello", "rate-per-minute = 60000\n").await;
    hello_calls(&host, 20).await;
    let before = rss_mib();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        })
    };
    for _round in 0..3 {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (client, url) = (
                    host.http.clone(),
                    host.url("/p/bigmouth/big?bytes=100000000"),
                );
                tokio::spawn(async move {
                    let r = client.get(url).send().await.unwrap();
                    let status = r.status().as_u16();
                    let (_, body) = json_of(r).await;
                    (status, body)
                })
            })
            .collect();
        for c in calls {
            let (status, body) = c.await.unwrap();
            assert!(
                status == 502 && body["error"]["code"] == "plugin_response_too_large"
                    || status == 503,
                "{status} {body}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    let mut after = rss_mib();
    let settled = Instant::now();
    while after > before + 64 && settled.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = rss_mib();
    }
    eprintln!(
        "large answers: RSS before {before} MiB, peak {peak} MiB, after {after} MiB ({:?} to settle)",
        settled.elapsed()
    );
    let (_, failed) = hello_calls(&host, 20).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        after < before + 128,
        "RSS stayed at {after} MiB after the large answers (from {before} MiB)"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steady_hello_traffic_does_not_grow_resident_memory() {
    // The production pool size: idle slots are where memory could pile up.
    let host = TestHost::start_with(|c| c.max_instances = 256).await;
    install_with_limits(&host, "hello", "hello", "rate-per-minute = 60000\n").await;
    let mut samples = Vec::new();
    let rounds: usize = std::env::var("ISLET_RSS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for _ in 0..rounds {
        let mut calls = Vec::new();
        for _ in 0..8 {
            let (client, url) = (host.http.clone(), host.url("/p/hello/"));
            calls.push(tokio::spawn(async move {
                for _ in 0..250 {
                    let r = client.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap();
                }
            }));
        }
        for c in calls {
            c.await.unwrap();
        }
        samples.push(rss_mib());
    }
    eprintln!("hello: RSS every 2,000 calls: {samples:?} MiB");
    // After the first 2,000 calls warm the pool, memory stays flat (it grew
    // by 3 MiB over 50,000 calls, most of it in the first 10,000).
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    assert!(
        last <= first + 8,
        "RSS grew from {first} to {last} MiB under steady hello traffic"
    );
    host.stop().await;
}
