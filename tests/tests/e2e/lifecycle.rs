//! Review, gray release, rollback, take-down and curation over HTTP, with
//! the roles that may do each.

use islet_tests::{Backend, TestHost, component, json_of, manifest_as};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

async fn post(host: &TestHost, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    host.post(path, token, body).await
}

async fn upload(host: &TestHost, name: &str, id: &str, version: &str, token: &str) -> (u16, Value) {
    host.upload_version(name, id, version, token).await
}

async fn served_version(host: &TestHost, path: &str, token: Option<&str>) -> String {
    let r = host.get(path, token).await;
    assert_eq!(r.status(), 200, "{path}");
    r.headers()["x-islet-plugin-version"]
        .to_str()
        .unwrap()
        .to_string()
}

fn version_state(plugin: &Value, version: &str) -> String {
    plugin["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == version)
        .map(|v| v["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn review_gray_release_promote_and_rollback(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("community-report").await; // 0.1.0, released by an admin in one step
    let dev = host.token("dev-1", &["developer:community"]);
    let reviewer = host.token("rev-1", &["reviewer"]);
    let id = "community-report";
    let base = format!("/admin/v1/plugins/{id}");

    let (status, body) = upload(&host, id, id, "0.2.0", &dev).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(version_state(&body, "0.2.0"), "uploaded");
    let checks = &body["history"][0]["checks"];
    for check in ["component", "imports", "size", "limits", "purposes"] {
        assert!(
            checks
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == check && c["passed"] == true),
            "{checks}"
        );
    }

    // Refused transitions name the allowed ones.
    let (status, body) = post(
        &host,
        &format!("{base}/versions/0.2.0/approve"),
        &reviewer,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowed now: submit"),
        "{body}"
    );

    let (status, _) = post(&host, &format!("{base}/versions/0.2.0/submit"), &dev, None).await;
    assert_eq!(status, 200);
    let (_, queue) = host
        .get_json("/admin/v1/review-queue", Some(&reviewer))
        .await;
    assert_eq!(queue["queue"][0]["version"], "0.2.0");
    assert!(queue["queue"][0]["checks"].as_array().unwrap().len() >= 5);

    // Only one version in review at a time.
    let (status, _) = upload(&host, id, id, "0.3.0", &dev).await;
    assert_eq!(status, 201);
    let (status, body) = post(&host, &format!("{base}/versions/0.3.0/submit"), &dev, None).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = post(
        &host,
        &format!("{base}/versions/0.2.0/reject"),
        &reviewer,
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(status, 409, "a rejection needs a reason: {body}");

    let grants = json!({"capabilities": ["identity", "storage", "log"]});
    let (status, body) = post(
        &host,
        &format!("{base}/versions/0.2.0/approve"),
        &reviewer,
        Some(grants),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &host,
        &format!("{base}/versions/0.2.0/release"),
        &reviewer,
        Some(json!({"percent": 0, "testers": ["tester-1"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version_state(&body, "0.2.0"), "gray");

    let tester = host.token("tester-1", &[]);
    let other = host.token("citizen-x", &[]);
    assert_eq!(
        served_version(&host, "/p/community-report/", Some(&tester)).await,
        "0.2.0"
    );
    assert_eq!(
        served_version(&host, "/p/community-report/", Some(&other)).await,
        "0.1.0"
    );
    assert_eq!(
        served_version(&host, "/p/community-report/", None).await,
        "0.1.0"
    );

    // Gray share: sticky per citizen, and both versions serve a crowd.
    let (status, _) = post(
        &host,
        &format!("{base}/gray"),
        &reviewer,
        Some(json!({"percent": 30})),
    )
    .await;
    assert_eq!(status, 200);
    let mut gray = 0;
    for i in 0..60 {
        let t = host.token(&format!("crowd-{i}"), &[]);
        let first = served_version(&host, "/p/community-report/", Some(&t)).await;
        assert_eq!(
            first,
            served_version(&host, "/p/community-report/", Some(&t)).await,
            "sticky"
        );
        gray += usize::from(first == "0.2.0");
    }
    assert!(
        (5..=35).contains(&gray),
        "{gray} of 60 in a 30% gray release"
    );

    let (status, body) = post(&host, &format!("{base}/promote"), &reviewer, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], "0.2.0");
    assert_eq!(version_state(&body, "0.1.0"), "superseded");
    assert_eq!(
        served_version(&host, "/p/community-report/", None).await,
        "0.2.0"
    );

    let (status, body) = post(&host, &format!("{base}/rollback"), &reviewer, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], "0.1.0");
    assert_eq!(
        served_version(&host, "/p/community-report/", Some(&tester)).await,
        "0.1.0"
    );
    let (status, body) = post(&host, &format!("{base}/rollback"), &reviewer, None).await;
    assert_eq!(status, 409, "nothing left to roll back to: {body}");

    // Every action is in the audit log, with who did it.
    let (_, audit) = host
        .get_json(
            &format!("/admin/v1/audit?target={id}&limit=50"),
            Some(&host.admin()),
        )
        .await;
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (action, actor) in [
        ("plugin.install", "admin-1"),
        ("plugin.upload", "dev-1"),
        ("plugin.submit", "dev-1"),
        ("plugin.approve", "rev-1"),
        ("plugin.release", "rev-1"),
        ("plugin.gray", "rev-1"),
        ("plugin.promote", "rev-1"),
        ("plugin.rollback", "rev-1"),
    ] {
        assert!(
            actions.contains(&(action.to_string(), actor.to_string())),
            "{action} by {actor} missing: {actions:?}"
        );
    }
    host.stop().await;
}

async fn roles_are_scoped_to_departments_and_duties(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("community-report").await;
    host.install("hello").await;
    let dev_a = host.token("dev-a", &["developer:community"]);
    let reviewer = host.token("rev-1", &["reviewer"]);
    let operator = host.token("ops-1", &["operator"]);
    let citizen = host.token("alice", &[]);

    // A developer of department A cannot upload for B (whose plugin answers
    // as an absent one would), nor approve anything.
    let (status, body) = upload(&host, "hello", "hello", "0.2.0", &dev_a).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("plugin_not_found")),
        "{body}"
    );
    let (status, _) = upload(
        &host,
        "community-report",
        "community-report",
        "0.2.0",
        &dev_a,
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = post(
        &host,
        "/admin/v1/plugins/community-report/versions/0.2.0/submit",
        &dev_a,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &host,
        "/admin/v1/plugins/community-report/versions/0.2.0/approve",
        &dev_a,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(&host, "/admin/v1/plugins/hello/take-down", &dev_a, None).await;
    assert_eq!(status, 404, "another department's plugin is not visible");
    let (status, _) = post(
        &host,
        "/admin/v1/plugins/community-report/take-down",
        &dev_a,
        None,
    )
    .await;
    assert_eq!(
        status, 403,
        "their own plugin: visible, but not theirs to take down"
    );
    // A developer sees only their department.
    let (_, list) = host.get_json("/admin/v1/plugins", Some(&dev_a)).await;
    let ids: Vec<&str> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["community-report"]);

    // Reviewers review but do not upload; operators only read.
    let (status, _) = upload(&host, "hello", "hello", "0.3.0", &reviewer).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &host,
        "/admin/v1/plugins/community-report/versions/0.2.0/approve",
        &operator,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, list) = host.get_json("/admin/v1/plugins", Some(&operator)).await;
    assert_eq!(
        (status, list["plugins"].as_array().unwrap().len()),
        (200, 2)
    );
    assert_eq!(
        host.get_json("/admin/v1/audit", Some(&operator)).await.0,
        200
    );
    assert_eq!(
        host.get_json("/admin/v1/plugins", Some(&citizen)).await.0,
        403
    );
    // Only an admin installs in one step.
    let r = host
        .upload(
            &manifest_as("hello", "hello", Some("0.5.0")),
            component("hello"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest_as("hello", "hello", Some("0.6.0")))
        .part(
            "component",
            reqwest::multipart::Part::bytes(component("hello")).file_name("c.wasm"),
        );
    let r = host
        .http
        .post(host.url("/admin/v1/plugins"))
        .bearer_auth(&reviewer)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    host.stop().await;
}

async fn grants_are_enforced_at_runtime(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    let admin = host.admin();
    let (status, body) = upload(&host, "probe", "probe", "0.1.0", &admin).await;
    assert_eq!(status, 201, "{body}");
    post(
        &host,
        "/admin/v1/plugins/probe/versions/0.1.0/submit",
        &admin,
        None,
    )
    .await;
    let (status, body) = post(
        &host,
        "/admin/v1/plugins/probe/versions/0.1.0/approve",
        &admin,
        Some(json!({"capabilities": ["log"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        &host,
        "/admin/v1/plugins/probe/versions/0.1.0/release",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Asked for identity and storage, granted neither: it runs, degraded.
    let alice = host.token("alice", &[]);
    let (status, who) = host.get_json("/p/probe/whoami", Some(&alice)).await;
    assert_eq!((status, &who["anonymous"]), (200, &json!(true)), "{who}");
    let r = host
        .http
        .put(host.url("/p/probe/kv/x"))
        .body("v")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await.1["error"], "unavailable");

    // Granting more than was requested is refused.
    let (status, _) = upload(&host, "hello", "probe", "0.2.0", &admin).await;
    assert_eq!(status, 201);
    post(
        &host,
        "/admin/v1/plugins/probe/versions/0.2.0/submit",
        &admin,
        None,
    )
    .await;
    let (status, body) = post(
        &host,
        "/admin/v1/plugins/probe/versions/0.2.0/approve",
        &admin,
        Some(json!({"capabilities": ["storage"]})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    host.stop().await;
}

async fn rollback_and_take_down_under_load(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    let unlimited = |v: &str| {
        manifest_as("hello", "hello", Some(v))
            .replace("[limits]", "[limits]\nrate-per-minute = 60000")
    };
    assert!(
        host.upload(&unlimited("1.0.0"), component("hello"))
            .await
            .status()
            .is_success()
    );
    assert!(
        host.upload(&unlimited("1.1.0"), component("hello"))
            .await
            .status()
            .is_success()
    );
    let admin = host.admin();
    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for _ in 0..3 {
        let (client, url, stop) = (host.http.clone(), host.url("/p/hello/"), stop.clone());
        streams.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut versions = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let r = client.get(&url).send().await.unwrap();
                if r.status() == 200 {
                    versions.insert(
                        r.headers()["x-islet-plugin-version"]
                            .to_str()
                            .unwrap()
                            .to_string(),
                    );
                } else {
                    failures.push(r.status().as_u16());
                }
            }
            (failures, versions)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let (status, _) = post(&host, "/admin/v1/plugins/hello/rollback", &admin, None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    for s in streams {
        let (failures, versions) = s.await.unwrap();
        assert!(failures.is_empty(), "failed during rollback: {failures:?}");
        assert!(versions.contains("1.0.0"), "{versions:?}");
    }

    let (status, _) = post(&host, "/admin/v1/plugins/hello/take-down", &admin, None).await;
    assert_eq!(status, 200);
    let (status, body) = host.get_json("/p/hello/", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("plugin_disabled"))
    );
    let (_, catalog) = host.get_json("/api/v1/catalog", None).await;
    assert_eq!(catalog["plugins"], json!([]));
    let (status, body) = post(&host, "/admin/v1/plugins/hello/take-down", &admin, None).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = post(&host, "/admin/v1/plugins/hello/put-back", &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(served_version(&host, "/p/hello/", None).await, "1.0.0");
    host.stop().await;
}

async fn catalog_curation_is_separate_from_availability(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("hello").await;
    host.install("community-report").await;
    let admin = host.admin();
    let put = |id: &str, body: Value| {
        host.http
            .put(host.url(&format!("/admin/v1/plugins/{id}/catalog")))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let r = put(
        "hello",
        json!({"featured": true, "district": "Siming", "category": "tools", "order": 1}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let (_, catalog) = host.get_json("/api/v1/catalog", None).await;
    let first = &catalog["plugins"][0];
    assert_eq!(
        (first["id"].as_str(), first["featured"].as_bool()),
        (Some("hello"), Some(true))
    );
    assert_eq!(
        (first["district"].as_str(), first["category"].as_str()),
        (Some("Siming"), Some("tools"))
    );

    let r = put("hello", json!({"hidden": true})).await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, catalog) = host.get_json("/api/v1/catalog", None).await;
    let ids: Vec<&str> = catalog["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["community-report"]);
    assert_eq!(
        host.get("/p/hello/", None).await.status(),
        200,
        "hidden is not taken down"
    );
    host.stop().await;
}

islet_tests::on_every_backend!(
    review_gray_release_promote_and_rollback,
    roles_are_scoped_to_departments_and_duties,
    grants_are_enforced_at_runtime,
    rollback_and_take_down_under_load,
    catalog_curation_is_separate_from_availability,
);

/// The catalog entry of `id` as `token` sees it: its version, if listed.
async fn catalog_version(host: &TestHost, id: &str, token: Option<&str>) -> Option<String> {
    let (status, catalog) = host.get_json("/api/v1/catalog", token).await;
    assert_eq!(status, 200, "{catalog}");
    catalog["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .map(|p| p["version"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_gray_only_service_is_in_the_catalog_of_its_testers_only() {
    let host = TestHost::start().await;
    let dev = host.token("dev-1", &["developer:platform"]);
    let reviewer = host.token("rev-1", &["reviewer"]);
    let (status, body) = upload(&host, "hello", "greeter", "0.1.0", &dev).await;
    assert_eq!(status, 201, "{body}");
    let base = "/admin/v1/plugins/greeter/versions/0.1.0";
    for (action, token, body) in [
        ("submit", &dev, None),
        ("approve", &reviewer, Some(json!({"all_requested": true}))),
        (
            "release",
            &reviewer,
            Some(json!({"percent": 0, "testers": ["tester-1"]})),
        ),
    ] {
        let (status, answer) = post(&host, &format!("{base}/{action}"), token, body).await;
        assert_eq!(status, 200, "{action}: {answer}");
    }
    let tester = host.token("tester-1", &[]);
    let other = host.token("citizen-x", &[]);
    assert_eq!(
        catalog_version(&host, "greeter", Some(&tester))
            .await
            .as_deref(),
        Some("0.1.0"),
        "the tester sees the gray-only service"
    );
    assert_eq!(catalog_version(&host, "greeter", Some(&other)).await, None);
    assert_eq!(catalog_version(&host, "greeter", None).await, None);
    assert_eq!(
        catalog_version(&host, "greeter", Some("not-a-token")).await,
        None,
        "a bad token lists what everyone sees"
    );
    // What the catalog lists, the tester is served.
    assert_eq!(
        served_version(&host, "/p/greeter/", Some(&tester)).await,
        "0.1.0"
    );
    host.stop().await;
}
