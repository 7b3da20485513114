//! The money path survives `kill -9`: of the host after a payment
//! notification was applied but before the plugin acknowledged its event,
//! and after the citizen paid but before the provider's notification
//! arrived (its notification is held back a minute: the host's query at the
//! provider settles it). After a restart each order is paid exactly once and
//! its event is delivered.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::*;

fn post(url: &str, token: &str, body: Value) -> (u16, Value) {
    send(reqwest::Method::POST, url, token, Some(body), None)
}

fn journal(base: &str, admin: &str, id: &str) -> Vec<String> {
    let (status, detail) = get(&format!("{base}/admin/v1/orders/{id}"), Some(admin));
    assert_eq!(status, 200, "{detail}");
    detail["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

fn new_order(key: &str) -> Value {
    json!({"merchant": "city-fees", "amount_fen": 1999, "description": "Permit fee",
           "kind": "service-fee", "order_key": key, "expires_in_s": 3600})
}

#[test]
fn a_killed_host_loses_no_payment_and_still_delivers_the_event() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let config = data.path().join("islet.toml");
    std::fs::write(
        &config,
        "[payment]\nretry-base-ms = 200\nquery-after-ms = 1000\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let (server, base) = serve_dev(config, data_dir);
    let admin = dev_token(data_dir, "ops-1", &["admin"]);
    let citizen = dev_token(data_dir, "resident-9", &[]);
    install_probe(&base, &admin);
    // The merchant account, from the CLI as an admin would.
    let cli = ["--server", base.as_str(), "--token", admin.as_str()];
    let with_server = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&cli);
        run(&all)
    };
    let out = with_server(&[
        "merchant",
        "create",
        "city-fees",
        "--department",
        "probe",
        "--name",
        "City fees",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("opened city-fees (City fees, department probe)"),
        "{}",
        stdout(&out)
    );
    let out = with_server(&[
        "merchant",
        "create",
        "city-fees",
        "--department",
        "probe",
        "--name",
        "Again",
    ]);
    assert!(
        !out.status.success() && stderr(&out).contains("merchant_exists"),
        "{}",
        stderr(&out)
    );
    let out = with_server(&["merchant", "grant", "city-fees", "payment-probe"]);
    assert!(
        out.status.success() && stdout(&out).contains("plugins: payment-probe"),
        "{}",
        stderr(&out)
    );
    let out = with_server(&["merchant", "grant", "no-such", "payment-probe"]);
    assert!(
        !out.status.success() && stderr(&out).contains("merchant_not_found"),
        "{}",
        stderr(&out)
    );
    let fail = format!("{base}/p/payment-probe/fail-events");
    assert_eq!(
        send(reqwest::Method::POST, &fail, &citizen, None, Some("error")).0,
        200
    );

    // 1. Notified and applied, event not yet acknowledged: kill -9.
    let (status, order) = post(
        &format!("{base}/p/payment-probe/orders"),
        &citizen,
        new_order("crash-1"),
    );
    assert_eq!(status, 200, "{order}");
    let id = order["id"].as_str().unwrap().to_string();
    let (status, body) = post(
        &format!("{base}/pay/{id}"),
        &citizen,
        json!({"action": "pay"}),
    );
    assert_eq!(status, 200, "{body}");
    wait_for(
        "a refused delivery of the paid event",
        Duration::from_secs(30),
        || {
            let (_, detail) = get(&format!("{base}/admin/v1/orders/{id}"), Some(&admin));
            let event = &detail["events"][0];
            (detail["order"]["status"] == "paid" && event["attempts"].as_u64() >= Some(1))
                .then_some(())
        },
    );
    // 2. Paid in the cashier, notification still on its way: kill -9.
    let (_, second) = post(
        &format!("{base}/p/payment-probe/orders"),
        &citizen,
        new_order("crash-2"),
    );
    let second_id = second["id"].as_str().unwrap().to_string();
    let (status, _) = post(
        &format!("{base}/pay/{second_id}"),
        &citizen,
        json!({"action": "pay", "delay_ms": 60000}),
    );
    assert_eq!(status, 200);
    server.crash();

    let (_server, base) = serve_dev(config, data_dir);
    assert_eq!(
        journal(&base, &admin, &id),
        ["created", "paid"],
        "paid once after the crash"
    );
    let (_, detail) = get(&format!("{base}/admin/v1/orders/{id}"), Some(&admin));
    assert_eq!(detail["events"][0]["status"], "pending", "{detail}");
    let fail = format!("{base}/p/payment-probe/fail-events");
    assert_eq!(
        send(reqwest::Method::POST, &fail, &citizen, None, Some("")).0,
        200
    );
    let events = wait_for("both events at the plugin", Duration::from_secs(30), || {
        let (_, events) = get(&format!("{base}/p/payment-probe/events"), Some(&citizen));
        (events["events"].as_array().map_or(0, Vec::len) >= 2).then_some(events)
    });
    let mut ids: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    ids.sort();
    let mut expected = vec![format!("evt-{id}-2"), format!("evt-{second_id}-2")];
    expected.sort();
    assert_eq!(ids, expected, "{events}");
    assert_eq!(journal(&base, &admin, &id), ["created", "paid"]);
    assert_eq!(
        journal(&base, &admin, &second_id),
        ["created", "paid"],
        "settled after the restart (the host's query or the provider's retry)"
    );
    let (status, statement) = get(&format!("{base}/admin/v1/reconciliation"), Some(&admin));
    assert_eq!(status, 200);
    assert_eq!(statement["mismatches"], json!([]), "{statement}");
    assert_eq!(
        statement["merchants"]["city-fees"]["paid_count"], 2,
        "{statement}"
    );
}
