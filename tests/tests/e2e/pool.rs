//! One plugin cannot take the host's instance slots from another: a hostile
//! guest holding long calls at high concurrency next to `hello`, which keeps
//! every call and its latency. (The memory budget and resident-memory tests
//! are in the `memory` test binary: they measure this process's RSS.)

use islet_tests::TestHost;
use islet_tests::load::{hello_calls, install_with_limits, loop_callers, p99};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `hello` measured quiet, then next to 40 callers looping on the hog's
/// `path` (hostile installed as `hog` with `limits`) on a host of 16 slots.
/// Returns the hog's outcomes: (answered, refused with `plugin_busy`,
/// ended by a limit).
async fn hello_next_to(label: &str, limits: &str, path: &str) -> (usize, usize, usize) {
    let host = TestHost::start_with(|c| c.max_instances = 16).await;
    install_with_limits(&host, "hello", "hello", "rate-per-minute = 60000\n").await;
    install_with_limits(&host, "hostile", "hog", limits).await;
    hello_calls(&host, 20).await; // warm up
    let (quiet, failed) = hello_calls(&host, 200).await;
    assert!(failed.is_empty(), "{failed:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let hogs = loop_callers(&host, 40, path, &stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (busy, failed) = hello_calls(&host, 200).await;
    stop.store(true, Ordering::Relaxed);
    let (mut answered, mut refused, mut limited) = (0, 0, 0);
    for h in hogs {
        for (status, code) in h.await.unwrap() {
            match (status, code.as_str()) {
                (200, _) => answered += 1,
                (503, "plugin_busy") => refused += 1,
                (504, "plugin_cpu_limit" | "plugin_timeout") => limited += 1,
                other => panic!("the hog got {other:?}"),
            }
        }
    }
    let (quiet_p99, busy_p99) = (p99(quiet), p99(busy));
    eprintln!(
        "{label}: hello p99 quiet {quiet_p99:?}, next to the hog {busy_p99:?}; \
         hog {answered} answered, {refused} refused, {limited} ended by a limit"
    );
    assert!(
        failed.is_empty(),
        "hello failed next to the hog: {failed:?}"
    );
    assert!(refused > 0, "the hog was never refused");
    // Twice the quiet p99, plus 10 ms for a 2-core machine shared with builds.
    assert!(
        busy_p99 <= quiet_p99 * 2 + Duration::from_millis(10),
        "hello p99 {busy_p99:?} next to the hog, {quiet_p99:?} quiet"
    );
    host.stop().await;
    (answered, refused, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plugin_holding_long_calls_leaves_slots_to_hello() {
    let (answered, _, _) = hello_next_to(
        "sleeping hog",
        "concurrency = 256\nmemory-mib = 16\ntimeout-ms = 30000\nrate-per-minute = 60000\n",
        "/p/hog/hold?ms=1000",
    )
    .await;
    // 16 slots, a share of 8: the hog ran 8 calls at a time.
    assert!(answered >= 8, "the hog ran only {answered} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plugin_spinning_at_high_concurrency_leaves_slots_to_hello() {
    let (_, _, limited) = hello_next_to(
        "spinning hog",
        "concurrency = 256\nmemory-mib = 16\ncpu-ms = 1000\ntimeout-ms = 30000\n\
         rate-per-minute = 60000\n",
        "/p/hog/spin",
    )
    .await;
    assert!(limited >= 1, "no spinning call reached its CPU limit");
}
