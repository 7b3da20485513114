//! Concurrency cap, rate limit, daily quota and circuit breaker.

use islet_tests::{TestHost, component, json_of, manifest_as};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_concurrency_cap_answers_503_at_once() {
    let host = TestHost::start().await;
    install_with_limits(
        &host,
        "hostile",
        "capped",
        "concurrency = 2\nmemory-mib = 16\n",
    )
    .await;
    let start = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let (client, url) = (host.http.clone(), host.url("/p/capped/spin"));
        calls.push(tokio::spawn(async move {
            let r = client.get(url).send().await.unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let status = r.status().as_u16();
            let code = json_of(r).await.1["error"]["code"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (status, code, retry, start.elapsed())
        }));
    }
    let mut busy = Vec::new();
    let mut ran = Vec::new();
    for c in calls {
        let (status, code, retry, at) = c.await.unwrap();
        match status {
            503 => {
                assert_eq!(code, "plugin_busy");
                assert_eq!(retry.as_deref(), Some("1"));
                busy.push(at);
            }
            504 => ran.push(at),
            other => panic!("unexpected {other} {code}"),
        }
    }
    assert!(
        ran.len() >= 2 && ran.len() <= 4,
        "ran {} (cap 2, some may start after others finish)",
        ran.len()
    );
    assert!(busy.len() >= 6, "only {} refused", busy.len());
    // Refusals come back without waiting: before any capped call finished.
    let first_finished = ran.iter().min().unwrap();
    let refused_early = busy.iter().filter(|t| *t < first_finished).count();
    assert!(
        refused_early >= 6,
        "refusals waited for the running calls ({refused_early} early)"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_per_citizen_and_answers_429() {
    let host = TestHost::start().await;
    install_with_limits(&host, "hello", "limited", "rate-per-minute = 5\n").await;
    let alice = host.token("alice", &[]);
    let bob = host.token("bob", &[]);
    for _ in 0..5 {
        assert_eq!(host.get("/p/limited/", Some(&alice)).await.status(), 200);
    }
    let r = host.get("/p/limited/", Some(&alice)).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry), "retry-after {retry}");
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(
        host.get("/p/limited/", Some(&bob)).await.status(),
        200,
        "bob has his own budget"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_holds_across_a_restart() {
    let mut host = TestHost::start().await;
    install_with_limits(&host, "hello", "daily", "daily-calls = 3\n").await;
    for _ in 0..3 {
        assert_eq!(host.get("/p/daily/", None).await.status(), 200);
    }
    let (status, body) = host.get_json("/p/daily/", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("daily_quota_exceeded"))
    );
    host.restart().await;
    let r = host.get("/p/daily/", None).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.status(), 429, "the quota is remembered across a restart");
    let (_, report) = host.get_json("/admin/v1/usage", Some(&host.admin())).await;
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["plugin"] == "daily")
        .cloned()
        .unwrap();
    assert_eq!(row["calls"], 3);
    assert_eq!(row["rejected"], 2);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_on_failures_and_recovers() {
    let host = TestHost::start().await;
    install_with_limits(
        &host,
        "hostile",
        "flaky",
        "breaker-window = 4\nbreaker-failure-percent = 50\nbreaker-cooldown-s = 1\nbreaker-min-callers = 1\nmemory-mib = 16\n",
    )
    .await;
    let admin = host.admin();
    for _ in 0..4 {
        assert_eq!(host.get("/p/flaky/trap", None).await.status(), 500);
    }
    let r = host.get("/p/flaky/ok", None).await;
    assert!(r.headers().contains_key("retry-after"));
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("plugin_suspended")),
        "{body}"
    );
    let (_, plugin) = host.get_json("/admin/v1/plugins/flaky", Some(&admin)).await;
    assert_eq!(plugin["breaker"], "open");
    let metrics = host.metrics().await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("islet_breaker_state{")
                && l.contains("plugin=\"flaky\"")
                && l.ends_with(" 2")),
        "breaker gauge not open"
    );
    let (_, audit) = host
        .get_json(
            "/admin/v1/audit?target=flaky&action=breaker.open",
            Some(&admin),
        )
        .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
    assert_eq!(audit["entries"][0]["actor"], "islet");

    // After the cooldown one probe goes through; it succeeds, so it closes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(host.get("/p/flaky/ok", None).await.status(), 200);
    assert_eq!(host.get("/p/flaky/ok", None).await.status(), 200);
    let (_, plugin) = host.get_json("/admin/v1/plugins/flaky", Some(&admin)).await;
    assert_eq!(plugin["breaker"], "closed");

    // Open it again (the window now holds one success, so three failures
    // make 3 of 4); an admin resumes it without waiting.
    for _ in 0..3 {
        assert_eq!(host.get("/p/flaky/trap", None).await.status(), 500);
    }
    assert_eq!(host.get("/p/flaky/ok", None).await.status(), 503);
    let r = host
        .http
        .post(host.url("/admin/v1/plugins/flaky/resume"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["breaker_before"].as_str(), body["breaker"].as_str()),
        (Some("open"), Some("closed"))
    );
    assert_eq!(host.get("/p/flaky/ok", None).await.status(), 200);
    let (_, audit) = host
        .get_json(
            "/admin/v1/audit?target=flaky&action=breaker.close",
            Some(&admin),
        )
        .await;
    let actors: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, vec!["admin-1", "islet"]);
    host.stop().await;
}
