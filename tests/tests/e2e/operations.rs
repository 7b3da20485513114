//! Operations through a real host over HTTP: who may read `/metrics` (and
//! that it carries the process's own metrics), anonymous rate limits keyed
//! on the client address with `X-Forwarded-For` believed only from trusted
//! proxies, and the console's assets with ETags, 304s and compression.
//! (Webhook signatures, rotation and concurrency are in
//! `notification/webhook.rs`; the access log and `islet config show` run
//! the real binary, in `host/tests/operations.rs`.)

use islet_tests::{METRICS_TOKEN, TestHost, component, json_of, manifest_as};
use std::io::Read as _;

async fn metrics_as(host: &TestHost, token: Option<&str>) -> reqwest::Response {
    let mut request = host.http.get(host.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_without_the_token_and_served_with_it() {
    let host = TestHost::start().await;
    for token in [
        None,
        Some("not-the-metrics-token"),
        Some(&host.admin() as &str),
    ] {
        let (status, body) = json_of(metrics_as(&host, token).await).await;
        assert_eq!(status, 401, "{token:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token");
        assert!(body["error"]["request_id"].is_string(), "{body}");
    }
    let response = metrics_as(&host, Some(METRICS_TOKEN)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for metric in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_threads",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(metric)),
            "{metric} missing from:\n{text}"
        );
    }
    assert!(text.contains("islet_installed_plugins"), "{text}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_absent_unless_configured_and_open_on_their_own_address() {
    // No token: the main address has no /metrics at all.
    let host = TestHost::start_with(|c| c.metrics.token = None).await;
    let (status, body) = json_of(metrics_as(&host, Some(METRICS_TOKEN)).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    host.stop().await;

    let host = TestHost::start_with(|c| {
        c.metrics.token = None;
        c.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let (status, _) = json_of(metrics_as(&host, None).await).await;
    assert_eq!(status, 404, "not on the main address");
    let metrics_addr = host.server().metrics_addr().expect("a metrics address");
    let response = host
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("process_threads"));
    // Nothing else is served there.
    let response = host
        .http
        .get(format!("http://{metrics_addr}/api/v1/catalog"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await.0, 404);
    host.stop().await;
}

/// `hello` installed as `limited`, 3 calls a minute per caller.
async fn install_limited(host: &TestHost) {
    let base = manifest_as("hello", "limited", None);
    let head = base.split("[limits]").next().unwrap().to_string();
    let manifest = format!("{head}\n[limits]\nrate-per-minute = 3\n");
    let response = host.upload(&manifest, component("hello")).await;
    assert!(response.status().is_success());
}

async fn anonymous_call(host: &TestHost, forwarded_for: &str) -> u16 {
    host.http
        .get(host.url("/p/limited/"))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarded_for_does_not_change_the_key_of_an_untrusted_peer() {
    // Trusted proxies default to none: the test client (127.0.0.1) is the
    // client, whatever it writes.
    let host = TestHost::start().await;
    install_limited(&host).await;
    for n in 1..=3 {
        assert_eq!(anonymous_call(&host, &format!("203.0.113.{n}")).await, 200);
    }
    assert_eq!(
        anonymous_call(&host, "198.51.100.77").await,
        429,
        "a new X-Forwarded-For is not a new budget"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_s_forwarded_for_keys_the_client() {
    let host =
        TestHost::start_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    install_limited(&host).await;
    for _ in 0..3 {
        assert_eq!(anonymous_call(&host, "203.0.113.1").await, 200);
    }
    assert_eq!(anonymous_call(&host, "203.0.113.1").await, 429);
    assert_eq!(
        anonymous_call(&host, "203.0.113.2").await,
        200,
        "another client behind the proxy has its own budget"
    );
    // A client writing its own entry at the left changes nothing: the
    // right-most address the proxy did not vouch for is the client.
    assert_eq!(anonymous_call(&host, "6.6.6.6, 203.0.113.1").await, 429);
    assert_eq!(
        anonymous_call(&host, "203.0.113.1, 127.0.0.9").await,
        429,
        "our own proxies in the chain are skipped"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_assets_answer_304_to_their_etag_and_come_compressed() {
    let host = TestHost::start().await;
    for path in ["/assets/admin.js", "/assets/style.css", "/admin", "/"] {
        let plain = host.http.get(host.url(path)).send().await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none());
        let etag = plain.headers()["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with("W/\""), "{path}: {etag}");
        let body = plain.bytes().await.unwrap();
        assert!(body.len() > 1000, "{path}");

        let again = host
            .http
            .get(host.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.headers().contains_key("content-security-policy"));
        assert!(again.bytes().await.unwrap().is_empty());

        let stale = host
            .http
            .get(host.url(path))
            .header("if-none-match", "W/\"something-older\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");

        let gzip = host
            .http
            .get(host.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gzip.headers()["content-encoding"], "gzip", "{path}");
        let packed = gzip.bytes().await.unwrap();
        assert!(packed.len() < body.len() / 2, "{path}: {}", packed.len());
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, body, "{path}");

        let br = host
            .http
            .get(host.url(path))
            .header("accept-encoding", "br")
            .send()
            .await
            .unwrap();
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
    }
    // JSON from the API is not compressed (secrets in bodies, BREACH).
    let catalog = host
        .http
        .get(host.url("/api/v1/catalog"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(catalog.headers().get("content-encoding").is_none());
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_host_evicts_compiled_artifacts_unused_for_too_long() {
    let cache = tempfile::tempdir().unwrap();
    let stale = cache.path().join("0123-stale.cwasm");
    std::fs::write(&stale, b"old native code").unwrap();
    let two_days = std::time::Duration::from_secs(48 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - two_days)
        .unwrap();
    let dir = cache.path().to_path_buf();
    let host = TestHost::start_with(move |c| {
        c.cache_dir = dir;
        c.cache.unused = std::time::Duration::from_secs(24 * 3600);
    })
    .await;
    host.install("hello").await;
    islet_tests::payments::wait_for(
        "the stale artifact evicted",
        std::time::Duration::from_secs(10),
        || async { (!stale.exists()).then_some(()) },
    )
    .await;
    let kept: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
        .collect();
    assert_eq!(kept.len(), 1, "hello's fresh artifact stays");
    host.stop().await;
}
