//! The admin console (`/admin`) and the demo app shell (`/`) in headless
//! Chromium: `tests/browser/console.mjs` (Playwright) clicks through review,
//! gray release, rollback, take-down, the shell's home screen, and paying a
//! water bill in the sandbox cashier from the shell, checking each effect
//! through the API. Needs Node.js and Debian's `chromium`.

use islet_tests::{TestHost, json_of, output_dir, workspace};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole script normally takes well under a minute.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_are_served_with_security_headers() {
    let host = TestHost::start().await;
    for (path, content_type) in [
        ("/", "text/html"),
        ("/admin", "text/html"),
        ("/admin/", "text/html"),
        ("/assets/admin.js", "text/javascript"),
        ("/assets/shell.js", "text/javascript"),
        ("/assets/cashier.js", "text/javascript"),
        ("/assets/common.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
        ("/pay/some-order", "text/html"),
    ] {
        let r = host.get(path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        assert_eq!(header("cache-control"), "no-cache", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
    }
    let (status, body) = json_of(host.get("/assets/../Cargo.toml", None).await).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = json_of(host.get("/assets/secret.js", None).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // The admin API next to the console is unchanged.
    let (status, _) = host.get_json("/admin/v1/plugins", None).await;
    assert_eq!(status, 401);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_app_shell_in_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's Chromium; \
         run `apt-get update && apt-get install -y chromium`"
    );
    let browser_dir = workspace().join("tests").join("browser");
    ensure_node_modules(&browser_dir);

    let host = TestHost::start().await;
    host.install("hello").await;
    host.install("community-report").await;
    let dev = host.token("dev-1", &["developer:community"]);
    let upload = upload_version(&host, "community-report", "0.2.0", &dev).await;
    assert_eq!(upload.0, 201, "{}", upload.1);
    let submit = post(
        &host,
        "/admin/v1/plugins/community-report/versions/0.2.0/submit",
        &dev,
    )
    .await;
    assert_eq!(submit.0, 200, "{}", submit.1);
    // Some traffic for the console's usage columns.
    for _ in 0..3 {
        assert_eq!(host.get("/p/hello/", None).await.status(), 200);
    }
    assert_eq!(host.get("/p/community-report/", None).await.status(), 200);
    // The water company's service, allowed to charge to its merchant.
    host.install("water-bill").await;
    let admin = host.admin();
    let merchant = host
        .post(
            "/admin/v1/merchants",
            &admin,
            Some(json!({
                "id": "water-supply",
                "department": "water",
                "name": "Islet City Water Supply Co.",
            })),
        )
        .await;
    assert_eq!(merchant.0, 201, "{}", merchant.1);
    let grant = put(
        &host,
        "/admin/v1/merchants/water-supply/plugins/water-bill",
        &admin,
    )
    .await;
    assert_eq!(grant.0, 200, "{}", grant.1);
    let citizen = host.token("citizen-1", &[]);

    let screenshots = output_dir().join("screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    let env = [
        ("BASE_URL", host.base.clone()),
        ("ADMIN_TOKEN", host.admin()),
        ("CITIZEN_TOKEN", citizen.clone()),
        ("TESTER_TOKEN", host.token("tester-1", &[])),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ("CHROMIUM", CHROMIUM.to_string()),
    ];
    let dir = browser_dir.clone();
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || run_script(&dir, &env))
        .await
        .expect("script task");
    eprintln!(
        "browser script took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    assert!(
        run.success,
        "tests/browser/console.mjs failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        run.status, run.stdout, run.stderr
    );

    // The end state the script left, seen from the API.
    let plugins = host.admin_plugins().await;
    let report = find(&plugins, "community-report");
    assert_eq!(report["version"], "0.1.0", "rolled back");
    assert_eq!(report["curation"]["featured"], true);
    assert_eq!(find(&plugins, "hello")["taken_down"], false, "put back");
    // The citizen paid the October water bill and cancelled November's.
    let (status, orders) = host.get_json("/api/v1/orders", Some(&citizen)).await;
    assert_eq!(status, 200, "{orders}");
    let list = orders["orders"].as_array().expect("orders");
    assert_eq!(list.len(), 2, "{orders}");
    let of = |period: &str| {
        list.iter()
            .find(|o| {
                o["description"]
                    .as_str()
                    .is_some_and(|d| d.contains(period))
            })
            .unwrap_or_else(|| panic!("no order for {period}: {orders}"))
    };
    let paid = of("2026-10");
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(paid["amount_fen"], 4268);
    assert_eq!(paid["merchant"], "water-supply");
    assert!(paid["paid_at"].is_u64(), "{paid}");
    assert_eq!(of("2026-11")["status"], "closed");
    let (status, account) = host
        .get_json("/p/water-bill/api/account", Some(&citizen))
        .await;
    assert_eq!(status, 200, "{account}");
    let bill = account["bills"]
        .as_array()
        .and_then(|bills| bills.iter().find(|b| b["period"] == "2026-10"))
        .unwrap_or_else(|| panic!("no bill 2026-10: {account}"));
    assert_eq!(bill["status"], "paid", "{account}");
    assert_eq!(bill["order_id"], paid["id"]);
    host.stop().await;
}

fn find<'a>(plugins: &'a Value, id: &str) -> &'a Value {
    plugins["plugins"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["id"] == id))
        .unwrap_or_else(|| panic!("{id} is not listed: {plugins}"))
}

/// `npm ci` in `dir` when its `node_modules` is missing.
fn ensure_node_modules(dir: &Path) {
    if dir.join("node_modules").join("playwright-core").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run npm (is Node.js installed?): {e}"));
    assert!(status.success(), "`npm ci` in {} failed", dir.display());
}

struct ScriptRun {
    success: bool,
    status: String,
    stdout: String,
    stderr: String,
}

/// Run `node console.mjs` in `dir` with `env`, killing it after
/// [`SCRIPT_TIMEOUT`]. Its output goes to files beside the screenshots.
fn run_script(dir: &Path, env: &[(&str, String)]) -> ScriptRun {
    let logs = output_dir();
    let out_path: PathBuf = logs.join("browser-stdout.log");
    let err_path: PathBuf = logs.join("browser-stderr.log");
    let stdout = std::fs::File::create(&out_path).expect("stdout log");
    let stderr = std::fs::File::create(&err_path).expect("stderr log");
    let mut child = Command::new("node")
        .arg("console.mjs")
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let (success, status) = loop {
        match child.try_wait().expect("wait for node") {
            Some(status) => break (status.success(), status.to_string()),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break (
                    false,
                    format!("killed after {} s", SCRIPT_TIMEOUT.as_secs()),
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    ScriptRun {
        success,
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Upload component `name` as `version` of its own plugin with `token`.
async fn upload_version(host: &TestHost, name: &str, version: &str, token: &str) -> (u16, Value) {
    host.upload_version(name, name, version, token).await
}

async fn put(host: &TestHost, path: &str, token: &str) -> (u16, Value) {
    json_of(
        host.http
            .put(host.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post(host: &TestHost, path: &str, token: &str) -> (u16, Value) {
    json_of(
        host.http
            .post(host.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}
