//! The admin console (`/admin`) and the demo app shell (`/`) in headless
//! Chromium: `tests/browser/console.mjs` (Playwright) clicks through review
//! (capabilities, personal data, message templates), gray release,
//! rollback, take-down, the shell's home screen, paying a water bill in the
//! sandbox cashier, the live inbox, consents and the data-access trail,
//! checking each effect through the API. Staff move reports on from here,
//! when the script asks (`@@rust {...}` on its stdout, answered on its
//! stdin). Needs Node.js and Debian's `chromium`.

use islet_tests::{TestHost, component, json_of, output_dir};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
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
        ("/assets/i18n.js", "text/javascript"),
        ("/assets/i18n/zh-CN.json", "application/json"),
        ("/assets/i18n/en.json", "application/json"),
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
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        if content_type == "text/html" {
            // Scripts and styles from the host's /assets/ only: never a
            // mini-service's script under /p/ on the same origin.
            let assets = format!("{}/assets/", host.base);
            for directive in [
                format!("script-src {assets};"),
                format!("style-src {assets};"),
                "connect-src 'self'".to_string(),
            ] {
                assert!(csp.contains(&directive), "{path}: {csp}");
            }
        } else {
            assert!(!csp.contains("script-src"), "{path}: {csp}");
        }
    }
    // A forged Host adds no source: the page runs no script at all.
    let r = host
        .http
        .get(host.url("/"))
        .header("host", "evil.example/ 'unsafe-inline'")
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'none';"), "{csp}");
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
    let browser_dir = islet_tests::browser_node_modules();

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
    open_water_supply(&host, &admin).await;
    // Two more versions in review: the water company's next release (it
    // asks for the citizen's real name) and a city alert service with a
    // long-term message template (the people-probe test component).
    submit_water_bill_next(&host).await;
    let upload = upload_with_manifest(&host, "people-probe", CITY_ALERTS, &admin).await;
    assert_eq!(upload.0, 201, "{}", upload.1);
    let submit = post(
        &host,
        "/admin/v1/plugins/city-alerts/versions/0.1.0/submit",
        &admin,
    )
    .await;
    assert_eq!(submit.0, 200, "{}", submit.1);
    // The citizen's identity token carries their real name.
    let mut claims = host.claims("citizen-1", &[]);
    claims.name = Some(CITIZEN_NAME.into());
    let citizen = host.sign(&claims);
    let staff = host.token("staff-1", &["staff:community"]);

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
    let started = Instant::now();
    let mut staff_answers = Vec::new();
    let run = run_script(
        &browser_dir,
        "console.mjs",
        "console",
        &env,
        async |request: Value| {
            let answer = rust_side(&host, &staff, &request).await;
            staff_answers.push((request, answer.clone()));
            answer
        },
    )
    .await;
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

    // Review: the water company's 0.2.0 was approved without the real name,
    // the alert service with long-term messages but without the phone.
    let plugins = host.admin_plugins().await;
    let grants = |id: &str, version: &str| {
        find(&plugins, id)["history"]
            .as_array()
            .and_then(|h| h.iter().find(|v| v["version"] == version))
            .map(|v| v["grants"].clone())
            .unwrap_or_else(|| panic!("{id} {version}: {plugins}"))
    };
    let water = grants("water-bill", "0.2.0");
    assert_eq!(water["personal_data"], json!([]), "{water}");
    assert_eq!(
        water["capabilities"],
        json!(["identity", "storage", "log", "payment"])
    );
    let alerts = grants("city-alerts", "0.1.0");
    assert_eq!(alerts["personal_data"], json!(["real-name"]), "{alerts}");
    assert_eq!(alerts["templates"], json!(["alerts", "status"]), "{alerts}");
    assert_eq!(alerts["long_term_messages"], true, "{alerts}");

    // Staff moved both reports on; each reporter had said yes once.
    assert_eq!(staff_answers.len(), 2, "{staff_answers:?}");
    for (request, (status, answer)) in &staff_answers {
        assert_eq!(*status, 200, "{request}: {answer}");
        assert_eq!(answer["notification"]["sent"], true, "{request}: {answer}");
    }
    // The inbox: two messages, the tapped one read; both consents used.
    let (status, inbox) = host.get_json("/api/v1/inbox", Some(&citizen)).await;
    assert_eq!(status, 200, "{inbox}");
    let messages = inbox["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{inbox}");
    let first = messages
        .iter()
        .find(|m| m["link"] == "/p/community-report/reports/1")
        .unwrap_or_else(|| panic!("no message about report 1: {inbox}"));
    assert_eq!(first["read"], true, "{first}");
    assert_eq!(first["service_name"], "Community reports");
    assert!(
        first["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Report #1 (Lane 3, Siming) is now accepted.")),
        "{first}"
    );
    assert_eq!(inbox["unread"], 1, "{inbox}");
    // Another citizen sees none of it.
    let other = host.token("citizen-2", &[]);
    let (_, theirs) = host.get_json("/api/v1/inbox", Some(&other)).await;
    assert_eq!(theirs["messages"], json!([]), "{theirs}");
    let (_, theirs) = host.get_json("/api/v1/me/data-access", Some(&other)).await;
    assert_eq!(theirs["entries"], json!([]), "{theirs}");

    // Consents: the real-name consent was withdrawn in Me → Privacy; the
    // report-status ones are used up.
    let (status, consents) = host.get_json("/api/v1/consents", Some(&citizen)).await;
    assert_eq!(status, 200, "{consents}");
    let list = consents["consents"].as_array().expect("consents");
    assert!(
        !list.iter().any(|c| c["item"] == "real-name"),
        "withdrawn: {consents}"
    );
    for c in list.iter().filter(|c| c["template"] == "report-status") {
        assert_eq!(c["remaining"], 0, "{c}");
    }
    // The receipt asks again, and the trail keeps what was read.
    let (status, receipt) = host
        .get_json("/p/water-bill/api/bills/2026-10/receipt", Some(&citizen))
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["payer_name"], Value::Null, "{receipt}");
    assert_eq!(receipt["consent"]["item"], "real-name", "{receipt}");
    let (status, trail) = host
        .get_json("/api/v1/me/data-access", Some(&citizen))
        .await;
    assert_eq!(status, 200, "{trail}");
    let entries = trail["entries"].as_array().expect("entries");
    assert!(!entries.is_empty(), "{trail}");
    for e in entries {
        assert_eq!(
            (e["plugin"].as_str(), e["item"].as_str()),
            (Some("water-bill"), Some("real-name")),
            "{e}"
        );
        assert_eq!(e["purpose"], "Printed on your payment receipt");
        assert!(e.get("subject").is_none(), "{e}");
    }
    let (status, admin_trail) = host
        .get_json(
            "/admin/v1/plugins/water-bill/data-access",
            Some(&host.admin()),
        )
        .await;
    assert_eq!(status, 200, "{admin_trail}");
    assert_eq!(
        admin_trail["entries"].as_array().map(Vec::len),
        Some(entries.len()),
        "{admin_trail}"
    );
    host.stop().await;
}

/// A hostile service page (the page-probe test guest) in the app shell:
/// `islet.pay` to anything but the city cashier for the service's own
/// order, bridge requests from a page the shell did not open (another
/// service's page the frame went to, a nested frame, a page claiming
/// another service) and scripts from `/p/...` in the shell, cashier and
/// console are all refused, while the pages keep working; axe-core finds
/// no serious accessibility problem on them (`tests/browser/hostile_pages.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_service_pages_are_refused_by_the_shell() {
    let host = TestHost::start().await;
    let orders = hostile_page_setup(&host).await;
    let run = run_hostile_pages(&host, "bridge", &orders).await;
    assert!(
        run.success,
        "tests/browser/hostile_pages.mjs (bridge) failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        run.status, run.stdout, run.stderr
    );
    // Nothing was paid or closed by the refused attempts.
    let (status, order) = host
        .get_json(
            &format!("/api/v1/orders/{}", orders.water),
            Some(&orders.citizen),
        )
        .await;
    assert_eq!(
        (status, order["status"].as_str()),
        (200, Some("created")),
        "{order}"
    );
    host.stop().await;
}

/// A service answer carrying `Clear-Site-Data` (the page-probe test
/// guest's `/clear-site-data`) opened in the app shell: the citizen is
/// still signed in afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_answer_cannot_sign_the_citizen_out_of_the_shell() {
    let host = TestHost::start().await;
    let orders = hostile_page_setup(&host).await;
    let run = run_hostile_pages(&host, "clear-site-data", &orders).await;
    assert!(
        run.success,
        "tests/browser/hostile_pages.mjs (clear-site-data) failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        run.status, run.stdout, run.stderr
    );
    host.stop().await;
}

/// The app in the citizen's language, in Chromium launched with a Chinese
/// and then an English locale (`tests/browser/i18n.mjs`): every screen of
/// the shell, the cashier, the consent prompt and the console in that
/// language with axe-core finding no serious problem; sign-in with an
/// expired, a forged and a non-token; a failed list with its retry; a
/// service taken down while its page is open; the consent prompt by
/// keyboard only; the console at 390 px; switching the language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_speaks_chinese_and_english_in_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's Chromium"
    );
    let browser_dir = islet_tests::browser_node_modules();
    let screenshots = output_dir().join("screenshots-i18n");
    let _ = std::fs::remove_dir_all(&screenshots);
    for locale in ["zh-CN", "en-US"] {
        let host = TestHost::start().await;
        host.install("hello").await;
        host.install("community-report").await;
        host.install("water-bill").await;
        let admin = host.admin();
        open_water_supply(&host, &admin).await;
        // A version in review, for the console's review queue.
        submit_water_bill_next(&host).await;
        let citizen = host.token("citizen-1", &[]);
        let (status, body) = host
            .post("/p/water-bill/api/bills/2026-10/pay", &citizen, None)
            .await;
        assert_eq!(status, 200, "{body}");
        let order = body["order"]["id"].as_str().expect("order id").to_string();
        let mut claims = host.claims("citizen-1", &[]);
        let now = islet_tests::now();
        claims.exp = now - 600;
        claims.iat = Some(now - 4200);
        claims.nbf = Some(now - 4200);
        let expired = host.sign(&claims);
        let (signed, _) = citizen.rsplit_once('.').expect("a JWT");
        let forged = format!("{signed}.{}", "A".repeat(43));
        let env = [
            ("BASE_URL", host.base.clone()),
            ("LOCALE", locale.to_string()),
            ("CITIZEN_TOKEN", citizen.clone()),
            ("CITIZEN_SUB", "citizen-1".to_string()),
            ("EXPIRED_TOKEN", expired),
            ("FORGED_TOKEN", forged),
            ("ADMIN_TOKEN", admin.clone()),
            ("WATER_ORDER", order),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
            ("CHROMIUM", CHROMIUM.to_string()),
        ];
        let run = run_script(
            &browser_dir,
            "i18n.mjs",
            &format!("i18n-{locale}"),
            &env,
            async |_| (404, Value::Null),
        )
        .await;
        assert!(
            run.success,
            "tests/browser/i18n.mjs ({locale}) failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            run.status, run.stdout, run.stderr
        );
        // The keyboard gave the consent the script asked for.
        let (_, consents) = host.get_json("/api/v1/consents", Some(&citizen)).await;
        assert_eq!(
            consents["consents"].as_array().map(Vec::len),
            Some(1),
            "{consents}"
        );
        assert_eq!(
            find(&host.admin_plugins().await, "hello")["taken_down"],
            false
        );
        host.stop().await;
    }
}

/// What the hostile-page script needs from the host it runs against.
struct HostilePageSetup {
    /// The citizen's app token.
    citizen: String,
    /// An unpaid water-bill order of the citizen.
    water: String,
    /// An unpaid water-bill order of another citizen.
    other: String,
}

/// page-probe installed as `page-probe` and `page-probe-b`; water-bill
/// allowed to charge, with an unpaid order of the citizen and of another.
/// Open the water company's merchant account and let `water-bill` charge
/// to it, as `admin`.
async fn open_water_supply(host: &TestHost, admin: &str) {
    let merchant = host
        .post(
            "/admin/v1/merchants",
            admin,
            Some(json!({
                "id": "water-supply",
                "department": "water",
                "name": "Islet City Water Supply Co.",
            })),
        )
        .await;
    assert_eq!(merchant.0, 201, "{}", merchant.1);
    let grant = put(
        host,
        "/admin/v1/merchants/water-supply/plugins/water-bill",
        admin,
    )
    .await;
    assert_eq!(grant.0, 200, "{}", grant.1);
}

async fn hostile_page_setup(host: &TestHost) -> HostilePageSetup {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's Chromium"
    );
    host.install("page-probe").await;
    host.install_as("page-probe", "page-probe-b").await;
    host.install("water-bill").await;
    let admin = host.admin();
    open_water_supply(host, &admin).await;
    let citizen = host.token("citizen-1", &[]);
    let other = host.token("citizen-2", &[]);
    let order_of = async |token: &str| {
        let (status, body) = host
            .post("/p/water-bill/api/bills/2026-10/pay", token, None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["order"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no order id: {body}"))
            .to_string()
    };
    let water = order_of(&citizen).await;
    let other = order_of(&other).await;
    HostilePageSetup {
        citizen,
        water,
        other,
    }
}

async fn run_hostile_pages(host: &TestHost, part: &str, setup: &HostilePageSetup) -> ScriptRun {
    let browser_dir = islet_tests::browser_node_modules();
    let screenshots = output_dir().join(format!("screenshots-hostile-{part}"));
    let _ = std::fs::remove_dir_all(&screenshots);
    let env = [
        ("BASE_URL", host.base.clone()),
        ("CITIZEN_TOKEN", setup.citizen.clone()),
        ("CITIZEN_SUB", "citizen-1".to_string()),
        ("ADMIN_TOKEN", host.admin()),
        ("WATER_ORDER", setup.water.clone()),
        ("OTHER_ORDER", setup.other.clone()),
        ("PART", part.to_string()),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ("CHROMIUM", CHROMIUM.to_string()),
    ];
    let label = format!("hostile-{part}");
    run_script(
        &browser_dir,
        "hostile_pages.mjs",
        &label,
        &env,
        async |request: Value| {
            (
                400,
                json!({"error": format!("unexpected request {request}")}),
            )
        },
    )
    .await
}

/// The citizen of the browser script is called this in their identity token.
const CITIZEN_NAME: &str = "Li Lei";

/// A city alert service on the people-probe test component: personal data
/// and a one-time and a long-term template, for the review screen.
const CITY_ALERTS: &str = r#"
id = "city-alerts"
name = "City alerts"
version = "0.1.0"
department = "emergency"
description = "Typhoon, flood and water-cut warnings for your district."
category = "safety"
capabilities = ["identity", "storage", "log", "notification"]
templates = [
  { id = "status", title = "Your request", kind = "one-time", body = "Your case {case} is now {status}." },
  { id = "alerts", title = "City alerts", kind = "long-term", body = "{text}" },
]

[personal-data]
real-name = "Addressing you in a warning"
phone = "Calling you in an emergency"
"#;

/// What the script asks of the Rust side: `{"do": "set-status", "report",
/// "status", "comment"}` moves a report on as staff. The answer is the
/// HTTP status and body.
async fn rust_side(host: &TestHost, staff: &str, request: &Value) -> (u16, Value) {
    match request["do"].as_str() {
        Some("set-status") => {
            let path = format!(
                "/p/community-report/api/reports/{}/status",
                request["report"]
            );
            let body = json!({"status": request["status"], "comment": request["comment"]});
            host.post(&path, staff, Some(body)).await
        }
        _ => (400, json!({"error": format!("unknown request {request}")})),
    }
}

fn find<'a>(plugins: &'a Value, id: &str) -> &'a Value {
    plugins["plugins"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["id"] == id))
        .unwrap_or_else(|| panic!("{id} is not listed: {plugins}"))
}

pub(crate) struct ScriptRun {
    pub(crate) success: bool,
    pub(crate) status: String,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Run `node {script}` in `dir` with `env`, killing it after
/// [`SCRIPT_TIMEOUT`]. Its output goes to files beside the screenshots
/// (`browser-{label}-stdout.log`, `-stderr.log`); a
/// stdout line `@@rust <json>` is a request for `handle`, whose answer
/// (`{"status", "body"}`) goes back as one line on the script's stdin.
pub(crate) async fn run_script(
    dir: &Path,
    script: &str,
    label: &str,
    env: &[(&str, String)],
    mut handle: impl AsyncFnMut(Value) -> (u16, Value),
) -> ScriptRun {
    let logs = output_dir();
    let out_path: PathBuf = logs.join(format!("browser-{label}-stdout.log"));
    let err_path: PathBuf = logs.join(format!("browser-{label}-stderr.log"));
    let mut stdout_log = std::fs::File::create(&out_path).expect("stdout log");
    let stderr = std::fs::File::create(&err_path).expect("stderr log");
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (requests, asked) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(stdout_log, "{line}");
            if let Some(request) = line.strip_prefix("@@rust ") {
                let _ = requests.send(request.to_string());
            }
        }
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let (success, status) = loop {
        if let Ok(request) = asked.try_recv() {
            let request: Value = serde_json::from_str(&request).unwrap_or(Value::Null);
            let (status, body) = handle(request).await;
            let answer = json!({"status": status, "body": body});
            let _ = writeln!(stdin, "{answer}");
            let _ = stdin.flush();
            continue;
        }
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
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    drop(stdin);
    let _ = reader.join();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    ScriptRun {
        success,
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Upload component `name` with the manifest `manifest` for review, as `token`.
async fn upload_with_manifest(
    host: &TestHost,
    name: &str,
    manifest: &str,
    token: &str,
) -> (u16, Value) {
    let id = manifest
        .lines()
        .find_map(|l| l.strip_prefix("id = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("an id line");
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest.to_string())
        .part(
            "component",
            reqwest::multipart::Part::bytes(component(name)).file_name("c.wasm"),
        );
    json_of(
        host.http
            .post(host.url(&format!("/admin/v1/plugins/{id}/versions")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload request"),
    )
    .await
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

/// The water company's next version (0.2.0, asking for the citizen's real
/// name) uploaded and sent to review by its developer.
async fn submit_water_bill_next(host: &TestHost) {
    let water_dev = host.token("dev-2", &["developer:water"]);
    let upload = upload_version(host, "water-bill", "0.2.0", &water_dev).await;
    assert_eq!(upload.0, 201, "{}", upload.1);
    let submit = post(
        host,
        "/admin/v1/plugins/water-bill/versions/0.2.0/submit",
        &water_dev,
    )
    .await;
    assert_eq!(submit.0, 200, "{}", submit.1);
}
