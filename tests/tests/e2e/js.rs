//! JavaScript mini-services through the real host: components built by the
//! JS SDK (componentize-js) are accepted with only their declared
//! `islet:platform` imports, answer requests, take payments through the
//! cashier and hear of them, and misbehaving JS is contained with the same
//! error codes as Rust guests.

use islet_tests::js::{js_component, js_manifest};
use islet_tests::payments::{admin_order, open_merchant, pay, wait_for};
use islet_tests::{TestHost, json_of};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Upload JS component `name` with `manifest` as admin. Compiling
/// SpiderMonkey (a 12 MiB component) can outlast the shared client's 60 s
/// on a busy machine: this upload waits up to 10 minutes.
async fn upload_js(host: &TestHost, manifest: &str, name: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest.to_string())
        .part(
            "component",
            reqwest::multipart::Part::bytes(js_component(name)).file_name("c.wasm"),
        );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client")
        .post(host.url("/admin/v1/plugins"))
        .bearer_auth(host.admin())
        .multipart(form)
        .send()
        .await
        .expect("upload request")
}

async fn install_js(host: &TestHost, name: &str) {
    let response = upload_js(host, &js_manifest(name), name).await;
    let (status, body) = json_of(response).await;
    assert!(
        (200..300).contains(&status),
        "installing {name}: {status} {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_service_is_accepted_and_answers_with_the_sdk() {
    let host = TestHost::start().await;
    // The component imports exactly what its manifest declares: without
    // `storage` declared the host refuses it, naming the import.
    let undeclared = js_manifest("js-hello").replace(
        r#"capabilities = ["identity", "log", "storage"]"#,
        r#"capabilities = ["identity", "log"]"#,
    );
    let (status, refused) = json_of(upload_js(&host, &undeclared, "js-hello").await).await;
    assert!(
        (400..500).contains(&status)
            && refused["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("islet:platform/storage")),
        "{status} {refused}"
    );
    install_js(&host, "js-hello").await;
    let anonymous = host.get("/p/js-hello/", None).await;
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.text().await.unwrap_or_default(), "Hello from JS");

    let alice = host.token("alice", &[]);
    let (status, first) = host.post("/p/js-hello/visits", &alice, None).await;
    assert_eq!(
        (status, first["visits"].clone()),
        (200, json!(1)),
        "{first}"
    );
    let (_, second) = host.post("/p/js-hello/visits", &alice, None).await;
    assert_eq!(second["visits"], 2, "{second}");

    let (status, echo) = host.get_json("/p/js-hello/echo/a/b?q=x%20y", None).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo, json!({"rest": "a/b", "q": "x y"}));
    let (status, missing) = host.get_json("/p/js-hello/nope", None).await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let anon = host
        .http
        .post(host.url("/p/js-hello/visits"))
        .send()
        .await
        .expect("POST");
    let request_id = anon.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    let (status, anon) = json_of(anon).await;
    assert_eq!(
        (status, anon["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{anon}"
    );
    // The JS SDK's error answers carry the host's request id too.
    assert!(!request_id.is_empty());
    assert_eq!(anon["error"]["request_id"], request_id.as_str(), "{anon}");
    host.stop().await;
}

async fn card(host: &TestHost, token: &str) -> Value {
    let (status, body) = host.get_json("/p/bus-card/api/card", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The state of `version` in a plugin answer's history.
fn state_of(plugin: &Value, version: &str) -> String {
    plugin["history"]
        .as_array()
        .and_then(|h| h.iter().find(|v| v["version"] == version))
        .and_then(|v| v["state"].as_str())
        .unwrap_or("absent")
        .to_string()
}

/// Take the JS bus card through the listing life cycle as the people who
/// do it: the transport department's developer uploads and submits it, a
/// reviewer approves it with explicit grants (capabilities and its message
/// template) and releases it to everyone.
pub(crate) async fn release_bus_card_through_review(host: &TestHost) {
    let developer = host.token("dev-transport", &["developer:transport"]);
    let reviewer = host.token("reviewer-1", &["reviewer"]);
    let form = reqwest::multipart::Form::new()
        .text("manifest", js_manifest("bus-card"))
        .part(
            "component",
            reqwest::multipart::Part::bytes(js_component("bus-card")).file_name("c.wasm"),
        );
    let uploaded = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client")
        .post(host.url("/admin/v1/plugins/bus-card/versions"))
        .bearer_auth(&developer)
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    let (status, body) = json_of(uploaded).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(state_of(&body, "0.1.0"), "uploaded", "{body}");
    // Nobody is served before review.
    let (status, _) = host.get_json("/p/bus-card/", None).await;
    assert_eq!(status, 404, "served before release");

    let base = "/admin/v1/plugins/bus-card/versions/0.1.0";
    // The developer cannot approve their own version on this path.
    let (status, body) = host
        .post(
            &format!("{base}/approve"),
            &developer,
            Some(json!({"all_requested": true})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = host.post(&format!("{base}/submit"), &developer, None).await;
    assert_eq!(
        (status, state_of(&body, "0.1.0")),
        (200, "in-review".into()),
        "{body}"
    );
    let grants = json!({
        "capabilities": ["identity", "storage", "log", "payment", "notification"],
        "templates": ["topup-credited"],
    });
    let (status, body) = host
        .post(&format!("{base}/approve"), &reviewer, Some(grants))
        .await;
    assert_eq!(
        (status, state_of(&body, "0.1.0")),
        (200, "approved".into()),
        "{body}"
    );
    let (status, body) = host.post(&format!("{base}/release"), &reviewer, None).await;
    assert_eq!(
        (status, state_of(&body, "0.1.0")),
        (200, "released".into()),
        "{body}"
    );
    assert_eq!(body["version"], "0.1.0", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_bus_card_is_reviewed_released_and_topped_up_through_the_cashier() {
    let host = TestHost::start().await;
    release_bus_card_through_review(&host).await;
    open_merchant(&host, "transport-fees", "transport", "bus-card").await;
    let alice = host.token("alice", &[]);

    let (status, body) = host
        .post(
            "/api/v1/consents",
            &alice,
            Some(json!({"plugin": "bus-card", "template": "topup-credited"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let registered = host
        .http
        .put(host.url("/p/bus-card/api/card"))
        .bearer_auth(&alice)
        .json(&json!({"number": "31000012"}))
        .send()
        .await
        .expect("PUT");
    let (status, body) = json_of(registered).await;
    assert_eq!(
        (status, body["balance_fen"].clone()),
        (200, json!(0)),
        "{body}"
    );

    let (status, started) = host
        .post(
            "/p/bus-card/api/topups",
            &alice,
            Some(json!({"amount_fen": 5000})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let order_id = started["order_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(started["checkout_url"], format!("/pay/{order_id}"));

    let (status, paid) = pay(&host, &alice, &order_id, json!({})).await;
    assert_eq!(status, 200, "{paid}");
    let credited = wait_for("the card to be credited", WAIT, || async {
        let c = card(&host, &alice).await;
        (c["card"]["balance_fen"] == 5000).then_some(c)
    })
    .await;
    assert_eq!(credited["topups"][0]["status"], "credited", "{credited}");

    let detail = wait_for("the delivery recorded", WAIT, || async {
        let d = admin_order(&host, &order_id).await;
        (d["events"][0]["status"] == "delivered").then_some(d)
    })
    .await;
    assert_eq!(detail["events"][0]["kind"], "paid", "{detail}");

    let inbox = wait_for("the message in the inbox", WAIT, || async {
        let (_, page) = host.get_json("/api/v1/inbox", Some(&alice)).await;
        (page["messages"].as_array().is_some_and(|m| !m.is_empty())).then_some(page)
    })
    .await;
    let message = &inbox["messages"][0];
    assert_eq!(message["title"], "公交卡充值到账", "{inbox}");
    assert!(
        message["body"]
            .as_str()
            .is_some_and(|b| b.contains("50.00")),
        "{inbox}"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_js_is_contained_with_the_rust_error_codes() {
    let host = TestHost::start().await;
    install_js(&host, "js-hostile").await;
    let cases = [
        ("/spin", 504, "plugin_cpu_limit"),
        ("/hog", 500, "plugin_memory_limit"),
        ("/throw", 500, "plugin_trapped"),
        ("/big?bytes=4194304", 502, "plugin_response_too_large"),
    ];
    for (path, status, code) in cases {
        let (got, body) = host.get_json(&format!("/p/js-hostile{path}"), None).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
        assert!(body["error"]["request_id"].is_string(), "{path}: {body}");
        assert_eq!(
            host.get("/p/js-hostile/ok", None).await.status(),
            200,
            "after {path}"
        );
    }
    host.stop().await;
}

/// The process's resident memory, bytes (Linux).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// p50 and p99 of `n` sequential GETs of `path`, milliseconds.
async fn latencies(host: &TestHost, path: &str, n: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = std::time::Instant::now();
        let response = host.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let _ = response.bytes().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[n / 2], times[(n * 99 / 100).min(n - 1)])
}

/// JS hello figures next to Rust hello, printed (not asserted):
/// `cargo test -p islet-tests --test e2e js_hello_figures -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it by name with --ignored --nocapture"]
async fn js_hello_figures() {
    let host = TestHost::start().await;
    let js_mib = js_component("js-hello").len() as f64 / 1048576.0;
    let rust = islet_tests::component("hello");
    let rate = "[limits]\nrate-per-minute = 60000";
    let js_manifest = js_manifest("js-hello").replace("[limits]", rate);
    let started = std::time::Instant::now();
    assert!(
        upload_js(&host, &js_manifest, "js-hello")
            .await
            .status()
            .is_success()
    );
    let js_install = started.elapsed();
    let rust_manifest = islet_tests::manifest("hello").replace("[limits]", rate);
    let started = std::time::Instant::now();
    assert!(
        host.upload(&rust_manifest, rust)
            .await
            .status()
            .is_success()
    );
    let rust_install = started.elapsed();
    // Warm up both, then 500 sequential requests each.
    latencies(&host, "/p/js-hello/", 20).await;
    latencies(&host, "/p/hello/", 20).await;
    let (js_p50, js_p99) = latencies(&host, "/p/js-hello/", 500).await;
    let (rust_p50, rust_p99) = latencies(&host, "/p/hello/", 500).await;

    // Memory per installed JS plugin: five more copies under other ids.
    let before = rss_bytes();
    for i in 0..5 {
        let manifest = js_manifest.replace("id = \"js-hello\"", &format!("id = \"js-hello-{i}\""));
        assert!(
            upload_js(&host, &manifest, "js-hello")
                .await
                .status()
                .is_success()
        );
        assert_eq!(
            host.get(&format!("/p/js-hello-{i}/"), None).await.status(),
            200
        );
    }
    let per_plugin = rss_bytes().saturating_sub(before) / 5;
    println!(
        "JS hello: component {:.1} MiB, install (compile + activate) {:.0} ms, \
         p50 {js_p50:.2} ms, p99 {js_p99:.2} ms at concurrency 1, \
         {:.1} MiB resident per installed and called plugin",
        js_mib,
        js_install.as_secs_f64() * 1000.0,
        per_plugin as f64 / 1048576.0
    );
    println!(
        "Rust hello: install {:.0} ms, p50 {rust_p50:.2} ms, p99 {rust_p99:.2} ms",
        rust_install.as_secs_f64() * 1000.0
    );
    host.stop().await;
}

/// The bus card's own page in the app shell, in Chromium
/// (`tests/browser/bus_card.mjs`): released through review, opened from
/// the home screen, a card registered and topped up through the consent
/// sheet and the cashier, credited, the message in the Inbox; axe-core
/// finds no serious problem on the page or the shell around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_bus_card_page_works_in_the_app_shell_in_chromium() {
    use crate::browser::{CHROMIUM, run_script};
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's Chromium"
    );
    let browser_dir = islet_tests::browser_node_modules();
    let host = TestHost::start().await;
    release_bus_card_through_review(&host).await;
    open_merchant(&host, "transport-fees", "transport", "bus-card").await;
    let screenshots = islet_tests::output_dir().join("screenshots-bus-card");
    let _ = std::fs::remove_dir_all(&screenshots);
    let citizen = host.token("citizen-1", &[]);
    let env = [
        ("BASE_URL", host.base.clone()),
        ("CITIZEN_TOKEN", citizen.clone()),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ("CHROMIUM", CHROMIUM.to_string()),
    ];
    let run = run_script(
        &browser_dir,
        "bus_card.mjs",
        "bus-card",
        &env,
        async |request: Value| {
            (
                400,
                json!({"error": format!("unexpected request {request}")}),
            )
        },
    )
    .await;
    assert!(
        run.success,
        "tests/browser/bus_card.mjs failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        run.status, run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("axe bus card: register"),
        "{}",
        run.stdout
    );
    // What the clicks did, seen from the API: one paid order, the card credited.
    let (status, orders) = host.get_json("/api/v1/orders", Some(&citizen)).await;
    assert_eq!(status, 200, "{orders}");
    let list = orders["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{orders}");
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["amount_fen"].as_u64()),
        (Some("paid"), Some(5000)),
        "{orders}"
    );
    assert_eq!(card(&host, &citizen).await["card"]["balance_fen"], 5000);
    host.stop().await;
}
