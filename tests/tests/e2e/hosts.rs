//! Several hosts, one PostgreSQL store: what one host changes, every host
//! serves; counters and quotas add up across hosts.

use islet_tests::payments::{MERCHANT, create_order, new_order, open_merchant};
use islet_tests::{Backend, TestHost, json_of};
use serde_json::json;
use std::time::{Duration, Instant};

/// Two hosts of one deployment on a fresh PostgreSQL schema.
async fn two_hosts() -> (TestHost, TestHost) {
    let a = TestHost::start_on(Backend::Postgres).await;
    let b = a.peer().await;
    (a, b)
}

/// Poll `path` on `host` until it answers `want`; the time it took.
async fn until_status(host: &TestHost, path: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        let status = host.get(path, None).await.status().as_u16();
        if status == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} on {} still answers {status}, not {want}",
            host.base
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until `host` serves plugin `id`'s full release.
async fn until_known(host: &TestHost, id: &str) {
    let started = Instant::now();
    let admin = host.admin();
    while host
        .get_json(&format!("/admin/v1/plugins/{id}"), Some(&admin))
        .await
        .1["status"]
        != "active"
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} never saw {id}",
            host.base
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_on_one_host_is_served_by_the_other_within_a_second() {
    let (a, b) = two_hosts().await;
    assert_eq!(b.get("/p/hello/", None).await.status(), 404);
    a.install("hello").await;
    let took = until_status(&b, "/p/hello/", 200).await;
    assert!(
        took < Duration::from_secs(1),
        "B served hello after {took:?}"
    );

    // A take-down on B stops A too; putting it back serves again.
    let admin = b.admin();
    let (status, body) = b
        .post("/admin/v1/plugins/hello/take-down", &admin, None)
        .await;
    assert_eq!(status, 200, "{body}");
    let took = until_status(&a, "/p/hello/", 404).await;
    assert!(took < Duration::from_secs(1), "A stopped after {took:?}");
    let (status, _) = a
        .post("/admin/v1/plugins/hello/put-back", &a.admin(), None)
        .await;
    assert_eq!(status, 200);
    until_status(&b, "/p/hello/", 200).await;

    // The catalog is the same on both.
    let (_, on_a) = a.get_json("/api/v1/catalog", None).await;
    let (_, on_b) = b.get_json("/api/v1/catalog", None).await;
    assert_eq!(on_a, on_b);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gray_buckets_and_citizens_subjects_are_the_same_on_every_host() {
    let (a, b) = two_hosts().await;
    a.install("community-report").await;
    let id = "community-report";
    let reviewer = a.admin();
    let (status, body) = a
        .upload_version("community-report", id, "0.2.0", &a.admin())
        .await;
    assert_eq!(status, 201, "{body}");
    let base = format!("/admin/v1/plugins/{id}/versions/0.2.0");
    for (step, body) in [
        ("submit", None),
        (
            "approve",
            Some(json!({"capabilities": ["identity", "storage", "log"]})),
        ),
        ("release", Some(json!({"percent": 40}))),
    ] {
        let (status, answer) = a.post(&format!("{base}/{step}"), &reviewer, body).await;
        assert_eq!(status, 200, "{step}: {answer}");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut gray = 0;
    for n in 0..30 {
        let citizen = a.token(&format!("citizen-{n}"), &[]);
        let mut versions = Vec::new();
        for host in [&a, &b] {
            let response = host.get("/p/community-report/", Some(&citizen)).await;
            assert_eq!(response.status(), 200);
            versions.push(
                response.headers()["x-islet-plugin-version"]
                    .to_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert_eq!(versions[0], versions[1], "citizen-{n} is in one bucket");
        gray += usize::from(versions[0] == "0.2.0");
    }
    assert!((3..=22).contains(&gray), "{gray} of 30 in a 40% release");

    // One citizen has one pairwise subject in one service, whichever host.
    a.install("probe").await;
    until_known(&b, "probe").await;
    let citizen = a.token("citizen-1", &[]);
    let (_, on_a) = a.get_json("/p/probe/whoami", Some(&citizen)).await;
    let (_, on_b) = b.get_json("/p/probe/whoami", Some(&citizen)).await;
    assert!(on_a["subject"].is_string(), "{on_a}");
    assert_eq!(on_a["subject"], on_b["subject"]);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_across_hosts_and_a_shared_daily_quota() {
    let a = TestHost::start_on_with(Backend::Postgres, |c| {
        c.payment.orders_per_plugin_per_day = 4;
    })
    .await;
    let (url, secrets) = (a.config.store_url.clone(), a.config.secrets_dir.clone());
    let b = TestHost::start_with(move |c| {
        c.store_url = url;
        c.secrets_dir = secrets;
        c.payment.orders_per_plugin_per_day = 4;
    })
    .await;
    a.install("probe").await;
    until_known(&b, "probe").await;

    let mut calls = tokio::task::JoinSet::new();
    for n in 0..50 {
        let host = if n % 2 == 0 { &a } else { &b };
        let (http, url) = (host.http.clone(), host.url("/p/probe/incr/counter?by=1"));
        calls.spawn(
            async move { json_of(http.post(url).json(&json!({})).send().await.unwrap()).await },
        );
    }
    while let Some(answer) = calls.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let on_b = b
        .get("/p/probe/kv/counter", None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(on_b, "50", "every increment counted once");

    // The daily order quota is one count for the plugin on every host.
    a.install("payment-probe").await;
    open_merchant(&a, MERCHANT, "probe", "payment-probe").await;
    until_known(&b, "payment-probe").await;
    let citizen = a.token("payer", &[]);
    let mut created = 0;
    let mut refused = Vec::new();
    for n in 0..6 {
        let host = if n % 2 == 0 { &a } else { &b };
        let (status, body) = create_order(
            host,
            "payment-probe",
            &citizen,
            new_order(&format!("q-{n}"), 5),
        )
        .await;
        match status {
            200 => created += 1,
            _ => refused.push(body["error"]["code"].clone()),
        }
    }
    assert_eq!(created, 4, "the quota of 4 holds across hosts: {refused:?}");
    assert!(refused.iter().all(|e| e == "quota-exceeded"), "{refused:?}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_one_host_works_on_the_other_until_sign_out_anywhere() {
    let (a, mut b) = two_hosts().await;
    a.install("probe").await;
    until_known(&b, "probe").await;
    let mut claims = a.claims("citizen-7", &[]);
    claims.national_id = Some("350203199001011234".into());
    claims.phone_number = Some("13900001111".into());
    let citizen = a.sign(&claims);
    let (status, body) = a
        .post(
            "/api/v1/sessions",
            &citizen,
            Some(json!({"plugin": "probe"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let session = body["token"].as_str().unwrap().to_string();
    let (_, direct) = a.get_json("/p/probe/whoami", Some(&citizen)).await;
    let (status, on_b) = b.get_json("/p/probe/whoami", Some(&session)).await;
    assert_eq!(status, 200, "{on_b}");
    assert_eq!(on_b["subject"], direct["subject"], "the same caller on B");

    // A restart of B ends nothing.
    b.restart().await;
    let (status, _) = b.get_json("/p/probe/whoami", Some(&session)).await;
    assert_eq!(status, 200);

    // Personal data in the session is not in the store in the clear (the
    // row is sealed with a key derived from the token).
    let url = a.config.store_url.clone().unwrap();
    let rows = tokio::task::spawn_blocking(move || {
        let store = islet_host::store::PgStore::connect(&url, 1).unwrap();
        islet_host::store::KvStore::scan(&store, "sessions", b"", None, 100).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "the session and its index row");
    for (key, value) in &rows {
        for needle in ["350203199001011234", "13900001111", "citizen-7"] {
            let clear = needle.as_bytes();
            assert!(
                !key.windows(clear.len()).any(|w| w == clear)
                    && !value.windows(clear.len()).any(|w| w == clear),
                "{needle} is in the store in the clear"
            );
        }
    }
    // Sign-out on B ends the session on A within a second.
    let (status, closed) = b
        .http
        .delete(b.url("/api/v1/sessions"))
        .bearer_auth(&citizen)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map(|s| (s, ()))
        .unwrap();
    assert_eq!(status, 200, "{closed:?}");
    tokio::time::sleep(islet_host::auth::SESSION_RECHECK + Duration::from_millis(100)).await;
    let (status, body) = a.get_json("/p/probe/whoami", Some(&session)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_made_on_one_host_and_paid_on_the_other_is_delivered_once() {
    let a = TestHost::start_on_with(Backend::Postgres, |c| {
        c.payment.retry_base = Duration::from_millis(100);
    })
    .await;
    let (url, secrets) = (a.config.store_url.clone(), a.config.secrets_dir.clone());
    let b = TestHost::start_with(move |c| {
        c.store_url = url;
        c.secrets_dir = secrets;
        c.payment.retry_base = Duration::from_millis(100);
    })
    .await;
    a.install("payment-probe").await;
    open_merchant(&a, MERCHANT, "probe", "payment-probe").await;
    until_known(&b, "payment-probe").await;
    let citizen = a.token("payer-1", &[]);
    let mut orders = Vec::new();
    for n in 0..6 {
        let (status, order) = create_order(
            &a,
            "payment-probe",
            &citizen,
            new_order(&format!("x-{n}"), 100 + n),
        )
        .await;
        assert_eq!(status, 200, "{order}");
        let id = order["id"].as_str().unwrap().to_string();
        // Paid at B's cashier: B's provider notifies B.
        let (status, body) = b
            .post(
                &format!("/pay/{id}"),
                &citizen,
                Some(json!({"action": "pay"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        orders.push(id);
    }
    let started = Instant::now();
    loop {
        let (_, events) = a.get_json("/p/payment-probe/events", Some(&citizen)).await;
        if events["events"].as_array().map_or(0, Vec::len) >= orders.len() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both hosts' workers ran; each event reached the plugin exactly once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, events) = b.get_json("/p/payment-probe/events", Some(&citizen)).await;
    assert_eq!(events["deliveries"], orders.len(), "{events}");
    for id in &orders {
        assert_eq!(events["attempts"][format!("evt-{id}-2")], 1, "{events}");
    }
    let admin = a.admin();
    for id in &orders {
        let (_, detail) = b
            .get_json(&format!("/admin/v1/orders/{id}"), Some(&admin))
            .await;
        assert_eq!(detail["order"]["status"], "paid", "{detail}");
        assert_eq!(detail["events"][0]["status"], "delivered", "{detail}");
    }
    b.stop().await;
    a.stop().await;
}
