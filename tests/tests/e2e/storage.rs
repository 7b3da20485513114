//! Storage semantics through a real guest: errors arrive as values.

use islet_tests::{Backend, TestHost, component, json_of};

const PROBE_SMALL_QUOTA: &str = r#"
id = "probe-small"
name = "Probe with a small quota"
version = "0.1.0"
department = "testing"
description = "Storage probe"
category = "test"
capabilities = ["identity", "storage", "log"]
[limits]
storage-mib = 1
request-body-kib = 2048
"#;

async fn put(host: &TestHost, path: &str, body: Vec<u8>) -> serde_json::Value {
    let response = host
        .http
        .put(host.url(path))
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn post(host: &TestHost, path: &str, body: serde_json::Value) -> serde_json::Value {
    let response = host
        .http
        .post(host.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn quota_and_size_errors_are_values(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    let response = host.upload(PROBE_SMALL_QUOTA, component("probe")).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );

    let long_key = "k".repeat(300);
    let body = put(
        &host,
        &format!("/p/probe-small/kv/{long_key}"),
        b"v".to_vec(),
    )
    .await;
    assert_eq!(body["error"], "key-too-large");

    let body = put(&host, "/p/probe-small/kv/big", vec![7; (1 << 20) + 1]).await;
    assert_eq!(body["error"], "value-too-large");

    // Fill 2 MiB in 64 KiB values: the quota (1 MiB) stops it part way.
    let response = host
        .http
        .post(host.url("/p/probe-small/fill?bytes=2097152&chunk=65536"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"], "quota-exceeded");
    let written = body["written"].as_u64().unwrap();
    assert!(written > 0 && written <= 1 << 20, "{body}");

    // The plugin keeps working: reads and deletes still succeed, and a
    // delete frees room for a new write.
    let (status, keys) = host
        .get_json("/p/probe-small/kv?prefix=fill/&limit=1000", None)
        .await;
    assert_eq!(status, 200);
    let first = keys["keys"][0].as_str().unwrap().to_string();
    let response = host
        .http
        .delete(host.url(&format!("/p/probe-small/kv/{first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await.1["existed"], true);
    let body = put(&host, "/p/probe-small/kv/after-delete", vec![1; 1000]).await;
    assert_eq!(body["ok"], true, "{body}");

    let (_, admin) = host
        .get_json("/admin/v1/plugins/probe-small", Some(&host.admin()))
        .await;
    let used = admin["storage_bytes"].as_u64().unwrap();
    assert!(used <= 1 << 20, "usage {used} above quota");
    host.stop().await;
}

async fn compare_and_swap_increment_and_listing(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("probe").await;

    let body = post(
        &host,
        "/p/probe/cas/flag",
        serde_json::json!({"expected": null, "new": "one"}),
    )
    .await;
    assert_eq!(body["ok"], true, "{body}");
    let body = post(
        &host,
        "/p/probe/cas/flag",
        serde_json::json!({"expected": null, "new": "two"}),
    )
    .await;
    assert_eq!(body["error"], "conflict");
    let body = post(
        &host,
        "/p/probe/cas/flag",
        serde_json::json!({"expected": "one", "new": "two"}),
    )
    .await;
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(
        host.get("/p/probe/kv/flag", None)
            .await
            .text()
            .await
            .unwrap(),
        "two"
    );

    assert_eq!(
        post(&host, "/p/probe/incr/counter?by=5", serde_json::json!({})).await["value"],
        5
    );
    assert_eq!(
        post(&host, "/p/probe/incr/counter?by=-2", serde_json::json!({})).await["value"],
        3
    );
    assert_eq!(
        post(&host, "/p/probe/incr/flag?by=1", serde_json::json!({})).await["error"],
        "not-a-number"
    );

    // Concurrent increments never lose an update.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = host.http.clone();
        let url = host.url("/p/probe/incr/race?by=1");
        tasks.push(tokio::spawn(async move {
            client.post(url).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(
        host.get("/p/probe/kv/race", None)
            .await
            .text()
            .await
            .unwrap(),
        "20"
    );

    for i in 0..5 {
        put(&host, &format!("/p/probe/kv/list/{i}"), b"x".to_vec()).await;
    }
    let (_, page1) = host
        .get_json("/p/probe/kv?prefix=list/&limit=2", None)
        .await;
    assert_eq!(page1["keys"], serde_json::json!(["list/0", "list/1"]));
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = host
        .get_json(
            &format!("/p/probe/kv?prefix=list/&limit=10&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(
        page2["keys"],
        serde_json::json!(["list/2", "list/3", "list/4"])
    );
    assert!(page2["next_cursor"].is_null());
    host.stop().await;
}

islet_tests::on_every_backend!(
    quota_and_size_errors_are_values,
    compare_and_swap_increment_and_listing,
);
