//! Time is shared fairly: a guest waiting inside a host call ends at its
//! own wall-clock limit (not when the wait would have ended), a service
//! crashing on every call is paced on the long-call lane, and their
//! neighbour keeps its latency meanwhile.

use islet_tests::{METRICS_TOKEN, TestHost, component, json_of, manifest_as};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `hostile` installed as `id` with `[limits]` replaced by `limits`.
async fn install_hostile_with(host: &TestHost, id: &str, limits: &str) {
    let base = manifest_as("hostile", id, None);
    let head = base.split("[limits]").next().unwrap_or(&base).to_string();
    let manifest = format!("{head}\n[limits]\n{limits}\n");
    let response = host.upload(&manifest, component("hostile")).await;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "installing {id}: {status} {body}");
}

/// `hello` with its rate limit lifted (every test request comes from one
/// address).
async fn install_hello(host: &TestHost) {
    let hello =
        islet_tests::manifest("hello").replace("[limits]", "[limits]\nrate-per-minute = 60000");
    let response = host.upload(&hello, component("hello")).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap_or_default()
    );
}

/// Latencies of `n` sequential `GET /p/hello/` calls; panics on any error.
async fn hello_latencies(host: &TestHost, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = host.get("/p/hello/", None).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "hello failed next to sleeping guests: {body}");
        out.push(started.elapsed());
    }
    out.sort();
    out
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guest_sleeping_in_a_host_call_ends_at_its_wall_clock_limit() {
    let host = TestHost::start().await;
    install_hello(&host).await;
    install_hostile_with(
        &host,
        "sleepy",
        "timeout-ms = 2000\ncpu-ms = 1000\nconcurrency = 8",
    )
    .await;

    // A short sleep is allowed and answered normally.
    let (status, _) = json_of(host.get("/p/sleepy/sleep?ms=50", None).await).await;
    assert_eq!(status, 200);

    let quiet = hello_latencies(&host, 200).await;

    // Four guests each asking for 10 s of sleep, next to hello.
    let mut sleepers = Vec::new();
    for _ in 0..4 {
        let (client, url) = (host.http.clone(), host.url("/p/sleepy/sleep?ms=10000"));
        sleepers.push(tokio::spawn(async move {
            let started = Instant::now();
            let response = client.get(url).send().await.expect("request");
            let request_id = response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let (status, body) = json_of(response).await;
            (started.elapsed(), status, body, request_id)
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let during = hello_latencies(&host, 200).await;

    for sleeper in sleepers {
        let (took, status, body, request_id) = sleeper.await.expect("sleeper");
        println!("sleep(10 s) under a 2 s limit answered after {took:?}: {status} {body}");
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (504, Some("plugin_timeout")),
            "{body}"
        );
        assert_eq!(body["error"]["request_id"], request_id.as_str());
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("2000 ms")),
            "{body}"
        );
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(2600),
            "answered after {took:?}, not at its 2 s limit"
        );
    }
    let (quiet_p99, during_p99) = (p99(&quiet), p99(&during));
    println!("hello p99 quiet {quiet_p99:?}, next to 4 sleeping guests {during_p99:?}");
    assert!(
        during_p99 <= (quiet_p99 * 2).max(quiet_p99 + Duration::from_millis(20)),
        "hello p99 went from {quiet_p99:?} to {during_p99:?} next to sleeping guests"
    );
    // The timed-out plugin serves its next request normally.
    assert_eq!(host.get("/p/sleepy/ok", None).await.status(), 200);
    host.stop().await;
}

/// Latencies of `GET /p/hello/` from `callers` concurrent loops of `n`
/// calls each; panics on any error.
async fn hello_latencies_from(host: &TestHost, callers: usize, n: usize) -> Vec<Duration> {
    let mut loops = Vec::new();
    for _ in 0..callers {
        let (client, url) = (host.http.clone(), host.url("/p/hello/"));
        loops.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let started = Instant::now();
                let response = client.get(url.clone()).send().await.expect("hello");
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                assert_eq!(
                    status, 200,
                    "hello failed next to a crashing service: {body}"
                );
                out.push(started.elapsed());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for one in loops {
        all.extend(one.await.expect("hello loop"));
    }
    all.sort();
    all
}

/// `islet_long_calls_total` of `plugin` started long (`from="start"`).
async fn long_calls_started(host: &TestHost, plugin: &str) -> u64 {
    let text = host
        .http
        .get(host.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("islet_long_calls_total{"))
        .filter(|l| l.contains(&format!("plugin=\"{plugin}\"")) && l.contains("from=\"start\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_crashing_on_every_call_is_paced_and_its_neighbour_keeps_its_latency() {
    let host = TestHost::start().await;
    install_hello(&host).await;
    // One caller (this test's address) cannot open the breaker: the
    // crashes keep reaching the guest.
    install_hostile_with(&host, "crashy", "rate-per-minute = 60000\nconcurrency = 8").await;
    let quiet = hello_latencies_from(&host, 4, 100).await;

    // Four loops trapping and four panicking, as fast as they are answered.
    let stop = Arc::new(AtomicBool::new(false));
    let mut crashers = Vec::new();
    for path in ["/p/crashy/trap", "/p/crashy/panic"].repeat(4) {
        let (client, url, stop) = (host.http.clone(), host.url(path), stop.clone());
        crashers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = client.get(url.clone()).send().await.expect("crash");
                answers.push(json_of(response).await);
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = hello_latencies_from(&host, 4, 100).await;
    stop.store(true, Ordering::Relaxed);
    let mut crashes = 0;
    for crasher in crashers {
        for (status, body) in crasher.await.expect("crasher") {
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(
                status == 500 && ["plugin_trapped", "plugin_panicked"].contains(&code.as_str()),
                "a crash got {status} {body}"
            );
            assert!(body["error"]["request_id"].is_string(), "{body}");
            crashes += 1;
        }
    }
    let paced = long_calls_started(&host, "crashy").await;
    println!("{crashes} crashes answered, {paced} of them started on the long-call lane");
    assert!(
        paced > 0 && paced + 20 >= crashes,
        "after its first crashes every crash should start on the lane: {paced} of {crashes}"
    );
    assert_eq!(
        long_calls_started(&host, "hello").await,
        0,
        "hello's short calls were paced"
    );
    let (quiet_p99, during_p99) = (p99(&quiet), p99(&during));
    println!("hello p99 quiet {quiet_p99:?}, next to a crashing service {during_p99:?}");
    assert!(
        during_p99 <= (quiet_p99 * 2).max(quiet_p99 + Duration::from_millis(20)),
        "hello p99 went from {quiet_p99:?} to {during_p99:?} next to a crashing service"
    );

    // A few good calls clear the history: the service is short again.
    for _ in 0..8 {
        assert_eq!(host.get("/p/crashy/ok", None).await.status(), 200);
    }
    let settled = long_calls_started(&host, "crashy").await;
    for _ in 0..8 {
        assert_eq!(host.get("/p/crashy/ok", None).await.status(), 200);
    }
    assert_eq!(
        long_calls_started(&host, "crashy").await,
        settled,
        "good calls still started on the lane"
    );
    host.stop().await;
}
