//! Installing, replacing, disabling; what survives a restart; what is refused.

use islet_tests::{Backend, TestHost, component, json_of, manifest, manifest_as};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

async fn replacing_a_version_under_load_fails_no_request(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    // A load test: lift the per-caller rate limit (all of it comes from one address).
    let unlimited = |v: &str| {
        manifest_as("hello", "hello", Some(v))
            .replace("[limits]", "[limits]\nrate-per-minute = 60000")
    };
    let r = host.upload(&unlimited("0.1.0"), component("hello")).await;
    assert!(r.status().is_success());
    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (host.http.clone(), host.url("/p/hello/"), stop.clone());
        streams.push(tokio::spawn(async move {
            let mut versions = std::collections::BTreeSet::new();
            let mut failures = Vec::new();
            let mut count = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let r = client.get(&url).send().await.unwrap();
                count += 1;
                if r.status() != 200 {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    failures.push(format!("{status} {body}"));
                } else {
                    versions.insert(
                        r.headers()["x-islet-plugin-version"]
                            .to_str()
                            .unwrap()
                            .to_string(),
                    );
                }
            }
            (count, failures, versions)
        }));
    }
    for v in ["0.2.0", "0.3.0", "0.4.0"] {
        let r = host.upload(&unlimited(v), component("hello")).await;
        assert_eq!(
            r.status(),
            200,
            "replace returns 200: {}",
            r.text().await.unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut all_versions = std::collections::BTreeSet::new();
    for s in streams {
        let (count, failures, versions) = s.await.unwrap();
        assert!(
            failures.is_empty(),
            "failed requests during replace: {failures:?}"
        );
        assert!(count > 10);
        all_versions.extend(versions);
    }
    assert!(all_versions.contains("0.4.0"), "{all_versions:?}");
    assert!(
        all_versions.len() >= 2,
        "traffic should have seen several versions: {all_versions:?}"
    );
    let (_, body) = host
        .get_json("/admin/v1/plugins/hello", Some(&host.admin()))
        .await;
    assert_eq!(body["version"], "0.4.0");
    assert_eq!(body["history"].as_array().unwrap().len(), 4);
    host.stop().await;
}

async fn disable_and_enable(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("hello").await;
    let admin = host.admin();
    assert_eq!(
        host.post("/admin/v1/plugins/hello/disable", &admin, None)
            .await
            .0,
        200
    );
    let (status, body) = host.get_json("/p/hello/", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("plugin_disabled"))
    );
    let (_, catalog) = host.get_json("/api/v1/catalog", None).await;
    assert_eq!(catalog["plugins"], serde_json::json!([]));

    let r = host
        .http
        .post(host.url("/admin/v1/plugins/hello/enable"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(host.get("/p/hello/", None).await.status(), 200);
    let (_, catalog) = host.get_json("/api/v1/catalog", None).await;
    assert_eq!(catalog["plugins"].as_array().unwrap().len(), 1);

    let r = host
        .http
        .post(host.url("/admin/v1/plugins/ghost/disable"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("plugin_not_found"))
    );
    host.stop().await;
}

async fn registry_data_and_compiled_code_survive_a_restart(backend: Backend) {
    // Its own cache folder, to see the restart load from it.
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_path_buf();
    let mut host = TestHost::start_on_with(backend, move |c| c.cache_dir = cache_dir).await;
    host.install("probe").await;
    host.install("hello").await;
    let (_, before) = host
        .get_json("/admin/v1/plugins/probe", Some(&host.admin()))
        .await;
    // The upload compiled each component once and cached the artifact.
    let cached = std::fs::read_dir(cache.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "cwasm")
        })
        .count();
    assert_eq!(cached, 2, "one cached artifact per component");
    let r = host
        .http
        .put(host.url("/p/probe/kv/kept"))
        .body("still here")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = host
        .http
        .post(host.url("/admin/v1/plugins/hello/disable"))
        .bearer_auth(host.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    host.restart().await;
    let (_, after) = host
        .get_json("/admin/v1/plugins/probe", Some(&host.admin()))
        .await;
    assert_eq!(after["activation"]["from_cache"], true, "{after}");
    assert_eq!(after["sha256"], before["sha256"]);
    assert_eq!(
        host.get("/p/probe/kv/kept", None)
            .await
            .text()
            .await
            .unwrap(),
        "still here"
    );
    assert_eq!(
        host.get("/p/hello/", None).await.status(),
        404,
        "disabled stays disabled"
    );
    host.stop().await;
}

const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";

async fn invalid_uploads_are_refused_and_change_nothing(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("hello").await;
    let before = host.admin_plugins().await;

    let missing_department: String = manifest("hello")
        .lines()
        .filter(|l| !l.starts_with("department"))
        .map(|l| format!("{l}\n"))
        .collect();
    let too_little = manifest_as("probe", "hello", Some("9.9.9")).replace(
        &manifest("probe")
            .lines()
            .find(|l| l.starts_with("capabilities"))
            .unwrap()
            .to_string(),
        "capabilities = [\"log\"]",
    );
    let greedy = manifest_as("hello", "hello", Some("9.9.9"))
        .split("[limits]")
        .next()
        .unwrap()
        .to_string()
        + "[limits]\nmemory-mib = 100000\n";
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "not wasm",
            manifest("hello"),
            b"hello, I am not wasm".to_vec(),
            400,
            "invalid_component",
        ),
        (
            "core module",
            manifest("hello"),
            CORE_MODULE.to_vec(),
            400,
            "not_a_component",
        ),
        (
            "sockets",
            manifest_as("sockets", "hello", Some("9.9.9")),
            component("sockets"),
            400,
            "forbidden_import",
        ),
        (
            "unknown import",
            manifest_as("unknown-import", "hello", Some("9.9.9")),
            component("unknown-import"),
            400,
            "unknown_import",
        ),
        (
            "missing field",
            missing_department,
            component("hello"),
            400,
            "invalid_manifest",
        ),
        (
            "declares too little",
            too_little,
            component("probe"),
            400,
            "undeclared_capability",
        ),
        (
            "limits above maxima",
            greedy,
            component("hello"),
            400,
            "invalid_manifest",
        ),
        (
            "not toml",
            "this is = = not toml".into(),
            component("hello"),
            400,
            "invalid_manifest",
        ),
    ];
    for (what, manifest, bytes, status, code) in cases {
        let (got, body) = json_of(host.upload(&manifest, bytes).await).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.len() > 15,
            "{what}: message should name the problem: {message}"
        );
        assert_eq!(
            host.admin_plugins().await,
            before,
            "{what} changed the registry"
        );
        assert_eq!(
            host.get("/p/hello/", None).await.status(),
            200,
            "{what} broke the live version"
        );
    }

    // Messages name the offending thing.
    let (_, body) = json_of(
        host.upload(&manifest_as("sockets", "hello", None), component("sockets"))
            .await,
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wasi:sockets"),
        "{body}"
    );
    let (_, body) = json_of(
        host.upload(
            &manifest_as("unknown-import", "x1", None),
            component("unknown-import"),
        )
        .await,
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acme:spy"),
        "{body}"
    );

    // A multipart body without the component.
    let form = reqwest::multipart::Form::new().text("manifest", manifest("hello"));
    let r = host
        .http
        .post(host.url("/admin/v1/plugins"))
        .bearer_auth(host.admin())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_upload")),
        "{body}"
    );
    assert_eq!(host.admin_plugins().await, before);
    host.stop().await;
}

islet_tests::on_every_backend!(
    replacing_a_version_under_load_fails_no_request,
    disable_and_enable,
    registry_data_and_compiled_code_survive_a_restart,
    invalid_uploads_are_refused_and_change_nothing,
);
