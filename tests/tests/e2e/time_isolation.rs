//! Time is shared fairly: a guest waiting inside a host call ends at its
//! own wall-clock limit (not when the wait would have ended), and its
//! neighbour keeps its latency meanwhile.

use islet_tests::{TestHost, component, json_of, manifest_as};
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
