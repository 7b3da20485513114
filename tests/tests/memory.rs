//! The host-wide memory budget and resident memory after bursts, measured
//! on this process's RSS (the host runs in it): a binary of its own, so no
//! other test shares the process, and its tests run one at a time.

use islet_tests::load::{
    hello_calls, install_with_limits, loop_callers, rss_mib, rss_peak, rss_settled,
};
use islet_tests::{TestHost, json_of};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One test at a time: each reads the process's RSS.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_hungry_calls_stay_within_the_host_budget() {
    let _alone = ONE_AT_A_TIME.lock().await;
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
    let sampler = rss_peak(Duration::from_millis(10), &stop);
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
    let (after, settled) = rss_settled(before, 128, Duration::from_secs(5)).await;
    eprintln!(
        "memory: RSS before {before} MiB, peak {peak} MiB, after {after} MiB \
         ({settled:?} to settle); {ok} hungry calls answered, refused {codes:?}"
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
    // What the calls dirtied is given back once they end.
    assert!(
        after < before + 256,
        "RSS stayed at {after} MiB after the burst (from {before} MiB)"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_answers_leave_no_resident_memory() {
    let _alone = ONE_AT_A_TIME.lock().await;
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
    let sampler = rss_peak(Duration::from_millis(5), &stop);
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
    let (after, settled) = rss_settled(before, 64, Duration::from_secs(5)).await;
    eprintln!(
        "large answers: RSS before {before} MiB, peak {peak} MiB, after {after} MiB \
         ({settled:?} to settle)"
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
    let _alone = ONE_AT_A_TIME.lock().await;
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
