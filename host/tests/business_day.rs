//! The city's business day, in a host process of its own: the daily quota,
//! usage and reconciliation turn at midnight of the configured time zone
//! (a fixed offset chosen so that midnight comes during the test), and
//! moving the zone neither double-counts nor loses a call.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use islet_host::clock::{BusinessZone, now_secs};

use serde_json::{Value, json};
use std::time::Duration;
use support::*;

/// A fixed-offset zone whose next midnight is `secs` from now.
fn zone_with_midnight_in(secs: u64) -> String {
    let utc_of_day = (now_secs() % 86_400) as i64;
    let mut offset = (86_400 - secs as i64 - utc_of_day).rem_euclid(86_400);
    if offset > 43_200 {
        offset -= 86_400;
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    format!("{sign}{:02}:{:02}:{:02}", a / 3600, a % 3600 / 60, a % 60)
}

fn write_config(path: &std::path::Path, zone: Option<&str>) {
    let mut config = "[limits.default]\ndaily-calls = 4\n".to_string();
    if let Some(zone) = zone {
        config.push_str(&format!("[clock]\ntime-zone = \"{zone}\"\n"));
    }
    std::fs::write(path, config).unwrap();
}

fn post(url: &str, token: &str, body: Value) -> (u16, Value) {
    send(reqwest::Method::POST, url, token, Some(body), None)
}

/// A paid order of `payment-probe`; its id.
fn paid_order(base: &str, citizen: &str, admin: &str, key: &str) -> String {
    let (status, order) = post(
        &format!("{base}/p/payment-probe/orders"),
        citizen,
        json!({"merchant": "city-fees", "amount_fen": 1200, "description": "Permit fee",
               "kind": "service-fee", "order_key": key, "expires_in_s": 3600}),
    );
    assert_eq!(status, 200, "{order}");
    let id = order["id"].as_str().unwrap().to_string();
    let (status, body) = post(
        &format!("{base}/pay/{id}"),
        citizen,
        json!({"action": "pay"}),
    );
    assert_eq!(status, 200, "{body}");
    wait_for("the payment", Duration::from_secs(20), || {
        let (_, detail) = get(&format!("{base}/admin/v1/orders/{id}"), Some(admin));
        (detail["order"]["status"] == "paid").then_some(())
    });
    id
}

/// Call the plugin until its daily quota refuses: the calls answered and
/// the refusal's `Retry-After` (seconds).
fn calls_until_quota(base: &str, citizen: &str) -> (u64, u64) {
    let client = reqwest::blocking::Client::new();
    for answered in 0..100 {
        let r = client
            .get(format!("{base}/p/payment-probe/events"))
            .bearer_auth(citizen)
            .send()
            .unwrap();
        if r.status() == 429 {
            let retry = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body: Value = r.json().unwrap();
            assert_eq!(body["error"]["code"], "daily_quota_exceeded", "{body}");
            return (answered, retry);
        }
        assert_eq!(r.status(), 200);
    }
    panic!("the daily quota of 4 calls never refused");
}

fn usage_calls(base: &str, admin: &str, from: &str, to: &str) -> (Value, u64) {
    let (status, usage) = get(
        &format!("{base}/admin/v1/usage?from={from}&to={to}"),
        Some(admin),
    );
    assert_eq!(status, 200, "{usage}");
    let calls = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["plugin"] == "payment-probe")
        .map(|r| r["calls"].as_u64().unwrap())
        .sum();
    (usage, calls)
}

fn next_day(date: &str) -> String {
    let d: jiff::civil::Date = date.parse().unwrap();
    d.tomorrow().unwrap().to_string()
}

fn previous_day(date: &str) -> String {
    let d: jiff::civil::Date = date.parse().unwrap();
    d.yesterday().unwrap().to_string()
}

#[test]
fn the_quota_usage_and_reconciliation_turn_at_local_midnight_and_a_zone_move_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let config = dir.path().join("islet.toml");

    // Set up on the default zone (Asia/Shanghai) and spend some calls.
    write_config(&config, None);
    let (server, base) = serve_dev(config.to_str().unwrap(), data_dir);
    let admin = dev_token(data_dir, "ops-1", &["admin"]);
    let citizen = dev_token(data_dir, "resident-7", &[]);
    install_probe(&base, &admin);
    open_probe_merchant(&["--server", base.as_str(), "--token", admin.as_str()]);
    let (status, usage) = get(&format!("{base}/admin/v1/usage"), Some(&admin));
    assert_eq!(
        (status, usage["time_zone"].as_str()),
        (200, Some("Asia/Shanghai"))
    );
    let first_calls = 2;
    for _ in 0..first_calls {
        let (status, body) = get(&format!("{base}/p/payment-probe/events"), Some(&citizen));
        assert_eq!(status, 200, "{body}");
    }
    drop(server);

    // The same store on a zone whose midnight comes in 20 s.
    let zone = zone_with_midnight_in(20);
    write_config(&config, Some(&zone));
    let (server, base) = serve_dev(config.to_str().unwrap(), data_dir);
    let business = BusinessZone::parse(&zone).unwrap();
    let day = business.date_of(now_secs());
    let to_midnight = business.seconds_to_midnight(now_secs());
    assert!(
        to_midnight >= 8,
        "the host took too long to restart: {to_midnight} s before midnight"
    );

    // Before local midnight: one payment, then the quota.
    let before = paid_order(&base, &citizen, &admin, "before-midnight");
    let (answered, retry_after) = calls_until_quota(&base, &citizen);
    let to_midnight = business.seconds_to_midnight(now_secs());
    assert!(
        retry_after <= to_midnight + 1,
        "Retry-After {retry_after} s, local midnight in {to_midnight} s"
    );
    assert!(
        business.date_of(now_secs()) == day,
        "midnight passed during the first part; rerun"
    );

    // After local midnight: the quota is fresh, a second payment.
    std::thread::sleep(Duration::from_secs(to_midnight + 1));
    let next = next_day(&day);
    assert_eq!(business.date_of(now_secs()), next);
    let after = paid_order(&base, &citizen, &admin, "after-midnight");
    let (answered_after, _) = calls_until_quota(&base, &citizen);

    // Usage by local day, in the zone it names: each day holds exactly its
    // quota of 4 calls (order creations included; the calls made under
    // Asia/Shanghai count on the date they were made, which is one of them).
    let (usage, calls_day) = usage_calls(&base, &admin, &day, &day);
    assert_eq!(usage["time_zone"], zone.as_str(), "{usage}");
    assert_eq!(calls_day, 4, "{usage}");
    let (usage, calls_next) = usage_calls(&base, &admin, &next, &next);
    assert_eq!(calls_next, 4, "{usage}");
    // Moving the zone lost and doubled nothing: every answered call is
    // counted once, on one day or another.
    let (usage, all) = usage_calls(&base, &admin, &previous_day(&day), &next);
    assert_eq!(
        all,
        first_calls + (1 + answered) + (1 + answered_after),
        "{usage}"
    );

    // Reconciliation by local day, in the zone it names.
    for (date, order) in [(&day, &before), (&next, &after)] {
        let (status, statement) = get(
            &format!("{base}/admin/v1/reconciliation?date={date}"),
            Some(&admin),
        );
        assert_eq!(status, 200, "{statement}");
        assert_eq!(statement["time_zone"], zone.as_str());
        assert_eq!(statement["mismatches"], json!([]), "{statement}");
        assert_eq!(
            statement["merchants"]["city-fees"]["paid_count"], 1,
            "{date} should hold only {order}: {statement}"
        );
    }

    // The move is in the audit log.
    let (status, audit) = get(
        &format!("{base}/admin/v1/audit?action=clock.time-zone"),
        Some(&admin),
    );
    assert_eq!(status, 200);
    let moves: Vec<&Value> = audit["entries"].as_array().unwrap().iter().collect();
    assert!(
        moves
            .iter()
            .any(|e| e["before"] == "Asia/Shanghai" && e["after"] == zone.as_str()),
        "{audit}"
    );
    drop(server);
}

#[test]
fn a_bad_time_zone_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("islet.toml");
    std::fs::write(&config, "[clock]\ntime-zone = \"Asia/Xiamen\"\n").unwrap();
    let out = run(&[
        "--config",
        config.to_str().unwrap(),
        "config",
        "show",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("[clock] time-zone") && err.contains("Asia/Shanghai"),
        "{err}"
    );
}
