//! Hostile guests fail alone: each gets a clean JSON 5xx while another
//! plugin keeps serving without a single failure.

use islet_tests::{TestHost, component, json_of, manifest_as};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Requests `path` in a loop until stopped; returns (ok, failed).
fn background_stream(
    host: &TestHost,
    path: &str,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<(u64, u64)>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let client = host.http.clone();
    let url = host.url(path);
    let handle = tokio::spawn(async move {
        let ok = AtomicU64::new(0);
        let failed = AtomicU64::new(0);
        while !flag.load(Ordering::Relaxed) {
            match client.get(&url).send().await {
                Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                _ => failed.fetch_add(1, Ordering::Relaxed),
            };
        }
        (ok.into_inner(), failed.into_inner())
    });
    (stop, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_guest_fault_is_a_clean_5xx_and_others_keep_serving() {
    let host = TestHost::start().await;
    // The background stream all comes from one address: lift its rate limit.
    let hello =
        islet_tests::manifest("hello").replace("[limits]", "[limits]\nrate-per-minute = 60000");
    assert!(
        host.upload(&hello, component("hello"))
            .await
            .status()
            .is_success()
    );
    host.install("hostile").await;
    let (stop, stream) = background_stream(&host, "/p/hello/");

    let cases = [
        ("/spin", 504, "plugin_cpu_limit"),
        ("/hog", 500, "plugin_memory_limit"),
        ("/trap", 500, "plugin_trapped"),
        ("/panic", 500, "plugin_panicked"),
        ("/big?bytes=4194304", 502, "plugin_response_too_large"),
    ];
    for (path, status, code) in cases {
        let response = host.get(&format!("/p/hostile{path}"), None).await;
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let (got, body) = json_of(response).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
        assert_eq!(body["error"]["request_id"], request_id.as_str());
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("wasm backtrace"),
            "internals leaked: {message}"
        );
        // The same plugin serves its next request normally.
        assert_eq!(
            host.get("/p/hostile/ok", None).await.status(),
            200,
            "after {path}"
        );
    }

    // Several runaway guests at once.
    let mut spins = Vec::new();
    for _ in 0..4 {
        let client = host.http.clone();
        let url = host.url("/p/hostile/spin");
        spins.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap().status().as_u16()
        }));
    }
    for s in spins {
        assert_eq!(s.await.unwrap(), 504);
    }

    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = stream.await.unwrap();
    assert_eq!(
        failed, 0,
        "hello failed {failed} times while guests misbehaved"
    );
    assert!(ok > 20, "hello answered only {ok} requests");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_clock_timeout_applies_when_cpu_allows_more() {
    let host = TestHost::start().await;
    let manifest =
        manifest_as("hostile", "slow", None) + "\n[limits]\ncpu-ms = 2000\ntimeout-ms = 300\n";
    let manifest = if islet_tests::manifest("hostile").contains("[limits]") {
        // The shipped manifest already has a table; replace it.
        let base = manifest_as("hostile", "slow", None);
        let head = base.split("[limits]").next().unwrap().to_string();
        head + "[limits]\ncpu-ms = 2000\ntimeout-ms = 300\n"
    } else {
        manifest
    };
    let response = host.upload(&manifest, component("hostile")).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let (status, body) = host.get_json("/p/slow/spin", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("plugin_timeout")),
        "{body}"
    );
    host.stop().await;
}
