//! The console's money and messages screens in headless Chromium
//! (`tests/browser/money_console.mjs`): merchants, orders with journal and
//! events, reconciliation, notification deliveries, usage and the audit
//! log, with real data: a paid order, an unpaid one and a message whose
//! webhook delivery failed. The script clicks Redeliver on a payment event
//! and on the failed message and runs axe-core on every screen.

use crate::browser::{CHROMIUM, run_script};
use crate::notification::{PROBE, consented, send, status_params, subject};
use islet_tests::payments::{MERCHANT, created, open_merchant, pay, wait_for};
use islet_tests::{TestHost, output_dir};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// An address nobody listens on: every webhook delivery to it fails.
fn dead_webhook() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}/hook")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_and_messages_screens_in_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's Chromium"
    );
    let browser_dir = islet_tests::browser_node_modules();
    let webhook = dead_webhook();
    let host = TestHost::start_with(move |c| {
        c.payment.retry_base = Duration::from_millis(100);
        c.payment.min_expiry_s = 1;
        c.notification.webhook_url = Some(webhook);
        c.notification.webhook_retry_base = Duration::from_millis(100);
        c.notification.max_attempts = 1;
    })
    .await;
    host.install("payment-probe").await;
    open_merchant(&host, MERCHANT, "probe", "payment-probe").await;
    host.install(PROBE).await;
    let citizen = host.token("citizen-1", &[]);

    // A paid order and an unpaid one.
    let paid = created(&host, &citizen, "console-paid", 4268).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, body) = pay(&host, &citizen, &paid, json!({})).await;
    assert_eq!(status, 200, "{body}");
    wait_for("the payment", WAIT, || async {
        let (_, o) = host
            .get_json(&format!("/p/payment-probe/orders/{paid}"), Some(&citizen))
            .await;
        (o["status"] == "paid").then_some(())
    })
    .await;
    let unpaid = created(&host, &citizen, "console-unpaid", 300).await["id"]
        .as_str()
        .expect("id")
        .to_string();

    // A message whose webhook delivery failed.
    let me = subject(&host, PROBE, &citizen).await;
    consented(&host, &citizen, PROBE, "status").await;
    let (status, sent) = send(&host, PROBE, &me, "status", status_params(), None).await;
    assert_eq!(status, 200, "{sent}");
    let message = sent["id"].as_str().expect("message id").to_string();
    let admin = host.admin();
    wait_for("the delivery given up", WAIT, || async {
        let (_, list) = host
            .get_json("/admin/v1/notification-deliveries", Some(&admin))
            .await;
        list["deliveries"]
            .as_array()
            .and_then(|l| l.iter().find(|d| d["delivery"]["id"] == message.as_str()))
            .filter(|d| d["status"] == "failed")
            .map(|_| ())
    })
    .await;

    let screenshots = output_dir().join("screenshots-money");
    let _ = std::fs::remove_dir_all(&screenshots);
    let env = [
        ("BASE_URL", host.base.clone()),
        ("ADMIN_TOKEN", admin.clone()),
        ("OPERATOR_TOKEN", host.token("ops-1", &["operator"])),
        ("PAID_ORDER", paid.clone()),
        ("UNPAID_ORDER", unpaid.clone()),
        ("MESSAGE_ID", message.clone()),
        ("TODAY", islet_host::clock::today().to_string()),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ("CHROMIUM", CHROMIUM.to_string()),
    ];
    let started = Instant::now();
    let run = run_script(
        &browser_dir,
        "money_console.mjs",
        "money",
        &env,
        async |request: Value| {
            (
                400,
                json!({"error": format!("unexpected request {request}")}),
            )
        },
    )
    .await;
    eprintln!(
        "money console script took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    assert!(
        run.success,
        "tests/browser/money_console.mjs failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        run.status, run.stdout, run.stderr
    );

    // The clicks reached the host: both redeliveries are in the audit log
    // under the admin's name, and none under the operator's.
    let (status, audit) = host
        .get_json("/admin/v1/audit?actor=admin-1&limit=100", Some(&admin))
        .await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .map(|l| l.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(actions.contains(&"payment-event.redeliver"), "{audit}");
    assert!(actions.contains(&"notification.redeliver"), "{audit}");
    let (_, by_operator) = host
        .get_json("/admin/v1/audit?actor=ops-1", Some(&admin))
        .await;
    assert_eq!(by_operator["entries"], json!([]), "{by_operator}");
    host.stop().await;
}
