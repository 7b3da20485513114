//! The API reference against a real host: `/openapi.json` is an OpenAPI
//! 3.1 description served cacheable, the page that renders it loads only
//! this host's assets, and schemathesis, fuzzing every described operation
//! of a host with sample plugins, an order and a merchant, finds no 5xx and
//! no answer that breaks the description (status, content type, body).

use crate::notification;
use islet_tests::payments::{MERCHANT, open_merchant, paid_order};
use islet_tests::{Backend, TestHost, output_dir, workspace};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_is_an_openapi_3_1_description_of_the_platform() {
    let host = TestHost::start().await;
    let response = host.get("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let content_type = headers["content-type"].to_str().unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let cache = headers["cache-control"].to_str().unwrap_or_default();
    assert!(cache.contains("max-age="), "cacheable: {cache}");
    assert!(headers.contains_key("etag"));
    let doc: Value = response.json().await.expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/catalog", "get"),
        ("/api/v1/consents", "post"),
        ("/api/v1/inbox", "get"),
        ("/api/v1/sessions", "delete"),
        ("/api/v1/payments/notify/{provider}", "post"),
        ("/admin/v1/plugins", "post"),
        ("/admin/v1/plugins/{id}/versions/{version}/{action}", "post"),
        ("/admin/v1/reconciliation", "get"),
        ("/p/{plugin}/{path}", "patch"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/docs/api", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not described"
        );
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    let upload = &paths["/admin/v1/plugins"]["post"];
    assert_eq!(
        upload["security"][0]["bearer"],
        serde_json::json!(["admin"])
    );
    let not_found = &paths["/api/v1/orders/{id}"]["get"]["responses"]["404"];
    assert_eq!(
        not_found["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );

    // The same description again is a 304 for a client that has it.
    let etag = headers["etag"].clone();
    let again = host
        .http
        .get(host.url("/openapi.json"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_is_served_with_its_own_assets_only() {
    let host = TestHost::start().await;
    let page = host.get("/docs/api", None).await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(policy.contains("script-src http://127.0.0.1:"), "{policy}");
    let html = page.text().await.expect("text");
    assert!(html.contains("/assets/api.js"));
    assert!(!html.contains("https://") && !html.contains("//cdn"));
    let script = host.get("/assets/api.js", None).await;
    assert_eq!(script.status(), 200);
    let text = script.text().await.expect("script");
    assert!(text.contains("/openapi.json"));
    assert!(
        !text.contains("https://"),
        "the renderer fetches nothing else"
    );
}

/// The whole description passes openapi-spec-validator's OpenAPI 3.1
/// checks (the official schema plus unique operation ids, resolvable
/// references, path parameters declared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_passes_the_openapi_3_1_validator() {
    let host = TestHost::start().await;
    let text = host
        .get("/openapi.json", None)
        .await
        .text()
        .await
        .expect("text");
    let file = output_dir().join("openapi.json");
    std::fs::write(&file, text).expect("write the description");
    let validator = schemathesis().with_file_name("openapi-spec-validator");
    assert!(
        validator.exists(),
        "openapi-spec-validator is not installed at {}: run `tests/openapi/install-schemathesis`",
        validator.display()
    );
    let output = Command::new(&validator)
        .arg(&file)
        .output()
        .expect("openapi-spec-validator runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.contains("OK"),
        "/openapi.json is not valid OpenAPI 3.1:\n{report}"
    );
}

/// Found by schemathesis: a host error on a compressed route (an unknown
/// asset) claimed `Content-Encoding: gzip` over a plain JSON body, which
/// no client can read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_on_a_compressed_route_is_readable_json() {
    let host = TestHost::start().await;
    for path in [
        "/assets/no-such-script-with-a-long-enough-name.js",
        "/assets/i18n/no-such-language-with-a-long-name.json",
    ] {
        let response = host
            .http
            .get(host.url(path))
            .header("accept-encoding", "gzip, br")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404);
        assert!(
            !response.headers().contains_key("content-encoding"),
            "{path}: {:?}",
            response.headers()
        );
        let body: Value = response.json().await.expect("plain JSON");
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"]["request_id"].is_string());
    }
}

/// The schemathesis command: `ISLET_SCHEMATHESIS`, else the one
/// `tests/openapi/install-schemathesis` puts under `target/`.
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("ISLET_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    workspace().join("target/schemathesis/venv/bin/schemathesis")
}

/// Cases per operation: `base`, times `ISLET_SCHEMATHESIS_SCALE` (default 1)
/// for a longer hunt.
fn examples(base: u32) -> u32 {
    let scale = std::env::var("ISLET_SCHEMATHESIS_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    base.saturating_mul(scale)
}

/// Run schemathesis against `host` with `token` (none: anonymous),
/// `examples` cases per operation; panics with its report when it finds
/// anything.
fn fuzz(host: &TestHost, who: &str, token: Option<&str>, examples: u32) {
    let program = schemathesis();
    assert!(
        program.exists(),
        "schemathesis is not installed at {}: run `tests/openapi/install-schemathesis` \
         (it makes a Python venv under target/; on Debian it needs `apt-get install \
         python3-venv`), or point ISLET_SCHEMATHESIS at a schemathesis 4 executable",
        program.display()
    );
    let started = Instant::now();
    let mut command = Command::new(&program);
    command.current_dir(output_dir()).args([
            "run",
            &host.url("/openapi.json"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            &examples.to_string(),
            "--request-timeout",
            "20",
            // One worker: hypothesis parsing on several threads at once
            // can trip CPython 3.11 ("AST constructor recursion depth").
            "--workers",
            "1",
            // The live inbox stream never ends; its own tests cover it.
            "--exclude-path",
            "/api/v1/inbox/stream",
            "--no-color",
    ]);
    if let Some(token) = token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.output().expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::write(
        output_dir().join(format!("schemathesis-{who}.log")),
        &report,
    );
    println!(
        "schemathesis as {who}: {:.1} s, exit {:?}",
        started.elapsed().as_secs_f64(),
        output.status.code()
    );
    assert!(
        output.status.success(),
        "schemathesis as {who} found answers that break /openapi.json or a 5xx:\n{report}"
    );
    assert!(
        report.contains("passed") && !report.contains("Selected: 0"),
        "schemathesis tested nothing:\n{report}"
    );
}

/// Fuzz a host on `backend` as an admin, a department's developer, a
/// citizen and anonymously.
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_description(
    backend: Backend,
) {
    let host = TestHost::start_on_with(backend, |c| {
        c.payment.retry_base = Duration::from_millis(100);
    })
    .await;
    // Sample services, a merchant and a paid order: the listings and
    // detail routes answer with real bodies, not only empty pages.
    for name in ["hello", "water-bill", "payment-probe"] {
        host.install(name).await;
    }
    open_merchant(&host, MERCHANT, "probe", "payment-probe").await;
    let citizen = host.token("citizen-1", &[]);
    paid_order(&host, &citizen, "openapi-1", 1200).await;
    // Consents and a message in the citizen's inbox.
    host.install(notification::PROBE).await;
    let me = notification::subject(&host, notification::PROBE, &citizen).await;
    for _ in 0..2 {
        notification::consented(&host, &citizen, notification::PROBE, "status").await;
    }
    let (status, body) = notification::send(
        &host,
        notification::PROBE,
        &me,
        "status",
        notification::status_params(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let admin = host.admin();
    // A department's developer sees its own plugins' orders without the
    // platform-wide citizen key: another shape of the same answers.
    let developer = host.token("dev-1", &["developer:probe"]);
    let host = std::sync::Arc::new(host);
    let fuzzed = host.clone();
    let store = format!("{backend:?}").to_lowercase();
    tokio::task::spawn_blocking(move || {
        let runs = [
            ("admin", Some(admin), 20),
            ("developer", Some(developer), 5),
            ("citizen", Some(citizen), 10),
            ("anonymous", None, 5),
        ];
        for (who, token, cases) in runs {
            let label = format!("{store}-{who}");
            fuzz(&fuzzed, &label, token.as_deref(), examples(cases));
        }
    })
    .await
    .expect("schemathesis runs finish");
    // The host is still healthy afterwards.
    let (status, _) = host.get_json("/readyz", None).await;
    assert_eq!(status, 200);
}

islet_tests::on_every_backend!(
    schemathesis_finds_no_server_error_and_no_answer_outside_the_description
);

/// The page in Chromium, in Chinese and in English: every operation of the
/// description rendered, roles and refusals shown, the filter working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_renders_every_operation_in_chromium() {
    assert!(
        std::path::Path::new(crate::browser::CHROMIUM).exists(),
        "{} is missing: the browser tests need Debian's Chromium",
        crate::browser::CHROMIUM
    );
    let browser_dir = islet_tests::browser_node_modules();
    let host = TestHost::start().await;
    let (_, doc) = host.get_json("/openapi.json", None).await;
    let operations: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    let screenshots = output_dir().join("screenshots-api");
    for locale in ["zh-CN", "en-US"] {
        let env = [
            ("BASE_URL", host.base.clone()),
            ("LOCALE", locale.to_string()),
            ("OPERATIONS", operations.to_string()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
            ("CHROMIUM", crate::browser::CHROMIUM.to_string()),
        ];
        let run = crate::browser::run_script(
            &browser_dir,
            "api_reference.mjs",
            &format!("api-{locale}"),
            &env,
            async |_| (404, Value::Null),
        )
        .await;
        assert!(
            run.success,
            "tests/browser/api_reference.mjs ({locale}) failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            run.status, run.stdout, run.stderr
        );
    }
}
