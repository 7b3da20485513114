//! One plugin cannot take the host's instance slots from another: a hostile
//! guest holding long calls at high concurrency next to `hello`, which keeps
//! every call and its latency. (The memory budget and resident-memory tests
//! are in the `memory` test binary: they measure this process's RSS.)

use islet_tests::TestHost;
use islet_tests::load::{hello_calls, install_with_limits, loop_callers, p99};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
