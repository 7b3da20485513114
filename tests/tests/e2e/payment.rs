//! The money path through the real host: the water-bill sample end to end,
//! and provider notifications (signature, window, replay, amount, dedup).

use islet_tests::payments::{
    Notice, admin_order, created, journal, open_merchant, pay, payment_host, probe_events,
    sandbox_secret, wait_for,
};
use islet_tests::{Backend, TestHost, json_of};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn order_status(host: &TestHost, token: &str, id: &str) -> String {
    let (status, body) = host
        .get_json(&format!("/api/v1/orders/{id}"), Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body["status"].as_str().unwrap_or_default().to_string()
}

async fn bill(host: &TestHost, token: &str, period: &str) -> Value {
    let (status, account) = host
        .get_json("/p/water-bill/api/account", Some(token))
        .await;
    assert_eq!(status, 200, "{account}");
    account["bills"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["period"] == period).cloned())
        .unwrap_or(Value::Null)
}

async fn water_bill_is_paid_through_the_cashier_and_the_plugin_hears_of_it(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install("water-bill").await;
    open_merchant(&host, "water-supply", "water", "water-bill").await;
    let alice = host.token("alice", &[]);

    let unpaid = bill(&host, &alice, "2026-10").await;
    assert_eq!(unpaid["status"], "unpaid", "{unpaid}");
    let (status, started) = host
        .post("/p/water-bill/api/bills/2026-10/pay", &alice, None)
        .await;
    assert_eq!(status, 200, "{started}");
    let order_id = started["order"]["id"].as_str().unwrap().to_string();
    assert_eq!(started["checkout_url"], format!("/pay/{order_id}"));
    assert_eq!(started["order"]["amount_fen"], unpaid["amount_fen"]);

    // The cashier page is served by the host, and the order is the citizen's.
    let page = host.get(&format!("/pay/{order_id}"), None).await;
    assert_eq!(page.status(), 200);
    let (status, view) = host
        .get_json(&format!("/api/v1/orders/{order_id}"), Some(&alice))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["status"].as_str(), view["merchant_name"].as_str()),
        (Some("created"), Some("water-supply account"))
    );
    assert!(
        view.get("citizen").is_none() && view.get("payer").is_none(),
        "{view}"
    );

    // Pay: the order becomes paid only once the signed notification arrived.
    let (status, paid) = pay(&host, &alice, &order_id, json!({})).await;
    assert_eq!(status, 200, "{paid}");
    wait_for("the order to be paid", WAIT, || async {
        (order_status(&host, &alice, &order_id).await == "paid").then_some(())
    })
    .await;
    // The plugin was told and shows the bill paid.
    let shown = wait_for("the bill to show paid", WAIT, || async {
        let b = bill(&host, &alice, "2026-10").await;
        (b["status"] == "paid").then_some(b)
    })
    .await;
    assert_eq!(shown["order_id"], order_id.as_str());

    // The host records the delivery right after the handler returns.
    let detail = wait_for("the delivery recorded", WAIT, || async {
        let d = admin_order(&host, &order_id).await;
        (d["events"][0]["status"] != "pending").then_some(d)
    })
    .await;
    assert_eq!(journal(&host, &order_id).await, ["created", "paid"]);
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{detail}");
    assert_eq!(
        (
            events[0]["kind"].as_str(),
            events[0]["status"].as_str(),
            events[0]["delivered_to"].as_str()
        ),
        (Some("paid"), Some("delivered"), Some("0.1.0"))
    );
    assert!(
        detail["order"]["provider_txn"]
            .as_str()
            .is_some_and(|t| t.starts_with("sbx"))
    );

    // The citizen's order list shows it; paying again is refused.
    let (_, mine) = host.get_json("/api/v1/orders", Some(&alice)).await;
    assert_eq!(mine["orders"][0]["id"], order_id.as_str());
    assert_eq!(mine["orders"][0]["status"], "paid");
    let (status, again) = pay(&host, &alice, &order_id, json!({})).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("invalid_order_state"))
    );

    // The day's statement agrees with the provider.
    let (status, statement) = host
        .get_json("/admin/v1/reconciliation", Some(&host.admin()))
        .await;
    assert_eq!(status, 200, "{statement}");
    let water = &statement["merchants"]["water-supply"];
    assert_eq!(
        (water["paid_count"].as_u64(), water["paid_fen"].clone()),
        (Some(1), unpaid["amount_fen"].clone())
    );
    assert_eq!(statement["mismatches"], json!([]), "{statement}");
}

async fn twenty_concurrent_duplicate_notifications_make_one_transition_and_one_event(
    backend: Backend,
) {
    let host = payment_host(backend).await;
    let bob = host.token("bob", &[]);
    let order = created(&host, &bob, "dup-1", 2500).await;
    let id = order["id"].as_str().unwrap().to_string();
    let secret = sandbox_secret(&host);

    let notices: Vec<Notice> = (0..20)
        .map(|_| Notice::paid(&secret, &id, "txn-dup-1", 2500))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for notice in notices {
        let (client, url) = (
            host.http.clone(),
            host.url("/api/v1/payments/notify/sandbox"),
        );
        tasks.spawn(async move { notice.send_to(&client, &url).await });
    }
    let answers: Vec<(u16, Value)> = tasks.join_all().await;
    let applied = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["outcome"] == "applied")
        .count();
    let duplicate = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["outcome"] == "duplicate")
        .count();
    assert_eq!((applied, duplicate), (1, 19), "{answers:?}");

    assert_eq!(journal(&host, &id).await, ["created", "paid"]);
    let recorded = probe_events(&host, "payment-probe", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, recorded_later) = host.get_json("/p/payment-probe/events", Some(&bob)).await;
    assert_eq!(
        recorded["events"].as_array().unwrap().len(),
        1,
        "{recorded}"
    );
    assert_eq!(
        recorded_later["deliveries"], 1,
        "one event id, delivered once: {recorded_later}"
    );
    assert_eq!(recorded_later["events"][0]["id"], format!("evt-{id}-2"));

    // The same notification once more, later: still one transition.
    let (status, body) = Notice::paid(&secret, &id, "txn-dup-1", 2500)
        .send(&host)
        .await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("duplicate")));
    // Another transaction for a paid order is refused.
    let (status, body) = Notice::paid(&secret, &id, "txn-other", 2500)
        .send(&host)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("notification_mismatch"))
    );
}

async fn forged_stale_replayed_and_wrong_notifications_change_nothing(backend: Backend) {
    let host = payment_host(backend).await;
    let carol = host.token("carol", &[]);
    let order = created(&host, &carol, "bad-1", 1000).await;
    let id = order["id"].as_str().unwrap().to_string();
    let secret = sandbox_secret(&host);

    let forged = Notice::paid(b"not-the-secret-not-the-secret-xx", &id, "t1", 1000);
    let mut tampered = Notice::paid(&secret, &id, "t1", 1000);
    tampered.body = serde_json::to_vec(
        &json!({"order_id": id, "txn_id": "t1", "amount_fen": 1, "currency": "CNY"}),
    )
    .unwrap();
    let stale = Notice::signed(
        &secret,
        json!({"order_id": id, "txn_id": "t1", "amount_fen": 1000, "currency": "CNY"}),
        islet_tests::now() - 3600,
    );
    let wrong_amount = Notice::paid(&secret, &id, "t1", 999);
    let wrong_currency = Notice::signed(
        &secret,
        json!({"order_id": id, "txn_id": "t1", "amount_fen": 1000, "currency": "USD"}),
        islet_tests::now(),
    );
    let unknown_order = Notice::paid(&secret, "o-does-not-exist", "t1", 1000);
    for (notice, status, code) in [
        (&forged, 401, "invalid_signature"),
        (&tampered, 401, "invalid_signature"),
        (&stale, 401, "stale_timestamp"),
        (&wrong_amount, 400, "notification_mismatch"),
        (&wrong_currency, 400, "notification_mismatch"),
        (&unknown_order, 404, "unknown_order"),
    ] {
        let (got, body) = notice.send(&host).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let missing_headers = host
        .http
        .post(host.url("/api/v1/payments/notify/sandbox"))
        .body(forged.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(missing_headers).await.0, 401);
    let (status, _) = {
        let r = host
            .http
            .post(host.url("/api/v1/payments/notify/alipay"))
            .body("{}")
            .send()
            .await
            .unwrap();
        json_of(r).await
    };
    assert_eq!(status, 404, "unknown provider");
    assert_eq!(
        order_status(&host, &carol, &id).await,
        "created",
        "nothing changed"
    );
    assert_eq!(journal(&host, &id).await, ["created"]);

    // A genuine notification works once; its replay (same nonce) is refused.
    let genuine = Notice::paid(&secret, &id, "t1", 1000);
    assert_eq!(genuine.send(&host).await.0, 200);
    let (status, body) = genuine.send(&host).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("replayed_nonce"))
    );
    assert_eq!(journal(&host, &id).await, ["created", "paid"]);

    // Reconciliation lists the refused notifications that were genuine
    // (wrong amount, wrong currency, unknown order) and the paid order the
    // sandbox never took money for (the test played the provider).
    let (_, statement) = host
        .get_json("/admin/v1/reconciliation", Some(&host.admin()))
        .await;
    let problems: Vec<String> = statement["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["order_id"].as_str().unwrap_or(""),
                m["problem"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("999 CNY") && p.contains("refused")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("USD")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("unknown-order")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("not in the provider's statement")),
        "{problems:?}"
    );
    let (status, body) = host
        .get_json(
            "/admin/v1/reconciliation?date=2026-13-01",
            Some(&host.admin()),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
}

async fn the_sandbox_notifies_repeatedly_and_late_and_can_fail(backend: Backend) {
    let host = payment_host(backend).await;
    let dan = host.token("dan", &[]);
    let late = created(&host, &dan, "late-1", 300).await;
    let late_id = late["id"].as_str().unwrap().to_string();
    let (status, body) = pay(
        &host,
        &dan,
        &late_id,
        json!({"notify_times": 3, "delay_ms": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        order_status(&host, &dan, &late_id).await,
        "created",
        "not paid before the notification"
    );
    wait_for("the late notification", WAIT, || async {
        (order_status(&host, &dan, &late_id).await == "paid").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        journal(&host, &late_id).await,
        ["created", "paid"],
        "three notifications, one transition"
    );

    let failing = created(&host, &dan, "fail-1", 300).await;
    let failing_id = failing["id"].as_str().unwrap();
    let (status, body) = pay(&host, &dan, failing_id, json!({"fail": true})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_order_state")),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(order_status(&host, &dan, failing_id).await, "created");
}

islet_tests::on_every_backend!(
    water_bill_is_paid_through_the_cashier_and_the_plugin_hears_of_it,
    twenty_concurrent_duplicate_notifications_make_one_transition_and_one_event,
    forged_stale_replayed_and_wrong_notifications_change_nothing,
    the_sandbox_notifies_repeatedly_and_late_and_can_fail,
);

/// The cashier's test options (failing, repeated and late notifications)
/// are for development hosts: a production host refuses them, whoever asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_cashier_refuses_the_sandbox_test_options() {
    let fixtures = islet_tests::workspace().join("tests/fixtures");
    let host = TestHost::start_with(|c| {
        c.dev = false;
        c.rs256_public_key_files = vec![fixtures.join("rs256-public.pem")];
    })
    .await;
    let private = std::fs::read(fixtures.join("rs256-private.pem")).unwrap();
    let citizen = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &host.claims("erin", &[]),
        &jsonwebtoken::EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    for options in [
        json!({"action": "pay", "notify_times": 25}),
        json!({"action": "pay", "delay_ms": 60000}),
        json!({"action": "pay", "fail": true}),
    ] {
        let (status, body) = host
            .post("/pay/o1234567890abcdef", &citizen, Some(options))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("test_options_not_allowed")),
            "{body}"
        );
    }
    // The cashier itself works: a plain Pay of an unknown order is a 404.
    let (status, body) = host
        .post(
            "/pay/o1234567890abcdef",
            &citizen,
            Some(json!({"action": "pay"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("order_not_found")),
        "{body}"
    );
}
