//! Orders through the `payment` capability of a real guest: idempotency,
//! amounts at the edges, refunds, close and expiry, isolation between
//! plugins and citizens, and at-least-once event delivery.

use islet_tests::Backend;
use islet_tests::TestHost;
use islet_tests::payments::{
    MERCHANT, Notice, admin_order, create_order, created, journal, new_order, paid_order, pay,
    payment_host, probe_events, sandbox_secret, wait_for,
};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn creation_is_idempotent_and_amounts_are_checked_at_the_edges(backend: Backend) {
    let host = payment_host(backend).await;
    let eve = host.token("eve", &[]);
    let first = created(&host, &eve, "k-1", 1234).await;
    assert_eq!(
        (first["status"].as_str(), first["kind"].clone()),
        (Some("created"), json!({"non-tax": "FEE-0101"}))
    );
    assert_eq!(
        first["checkout_url"],
        format!("/pay/{}", first["id"].as_str().unwrap())
    );
    let (status, view) = host
        .get_json(
            &format!("/api/v1/orders/{}", first["id"].as_str().unwrap()),
            Some(&eve),
        )
        .await;
    assert_eq!(
        (status, &view["kind"]),
        (200, &json!({"non-tax": "FEE-0101"})),
        "{view}"
    );
    assert_eq!(view["service_name"], "Payment probe test guest");
    let again = created(&host, &eve, "k-1", 1234).await;
    assert_eq!(
        again["id"], first["id"],
        "same key, same parameters: same order"
    );
    let (status, body) = create_order(&host, "payment-probe", &eve, new_order("k-1", 1235)).await;
    assert_eq!((status, code(&body)), (422, "key-reused"), "{body}");
    let mallory = host.token("mallory", &[]);
    let (status, body) =
        create_order(&host, "payment-probe", &mallory, new_order("k-1", 1234)).await;
    assert_eq!(
        (status, code(&body)),
        (422, "key-reused"),
        "another payer: {body}"
    );
    let (status, body) = host
        .get_json("/p/payment-probe/orders/by-key/k-1", Some(&eve))
        .await;
    assert_eq!((status, &body["id"]), (200, &first["id"]));

    for (amount, expected) in [
        (json!(0), Some("invalid-amount")),
        (json!(1), None),
        (json!(100_000_000u64), None),
        (json!(100_000_001u64), Some("invalid-amount")),
        (json!(u64::MAX), Some("invalid-amount")),
    ] {
        let mut body = new_order(&format!("edge-{amount}"), 1);
        body["amount_fen"] = amount.clone();
        let (status, answer) = create_order(&host, "payment-probe", &eve, body).await;
        match expected {
            None => assert_eq!(
                (status, answer["amount_fen"].clone()),
                (200, amount),
                "{answer}"
            ),
            Some(c) => assert_eq!((status, code(&answer)), (422, c), "{amount}: {answer}"),
        }
    }
    // 2^64 and -1 do not even reach the host: the guest's JSON refuses them.
    for raw in ["18446744073709551616", "-1"] {
        let body = format!(
            r#"{{"merchant":"{MERCHANT}","amount_fen":{raw},"description":"x","kind":"service-fee","order_key":"o","expires_in_s":60}}"#
        );
        let response = host
            .http
            .post(host.url("/p/payment-probe/orders"))
            .bearer_auth(&eve)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
    for (field, value) in [
        ("order_key", json!("has space")),
        ("description", json!("")),
        ("expires_in_s", json!(0)),
        ("expires_in_s", json!(604_801)),
    ] {
        let mut body = new_order("arg", 5);
        body[field] = value;
        let (status, answer) = create_order(&host, "payment-probe", &eve, body).await;
        assert_eq!(
            (status, code(&answer)),
            (422, "invalid-argument"),
            "{field}: {answer}"
        );
    }
    let anonymous = host
        .http
        .post(host.url("/p/payment-probe/orders"))
        .json(&new_order("anon", 5))
        .send()
        .await
        .unwrap();
    let (status, body) = islet_tests::json_of(anonymous).await;
    assert_eq!((status, code(&body)), (422, "no-citizen"));
}

async fn refunds_are_partial_full_idempotent_and_bounded(backend: Backend) {
    let host = payment_host(backend).await;
    let fay = host.token("fay", &[]);
    let id = paid_order(&host, &fay, "r-1", 1000).await;
    let refund = |amount: u64, key: &str| {
        let body = json!({"amount_fen": amount, "reason": "overcharged", "refund_key": key});
        let (path, token) = (format!("/p/payment-probe/orders/{id}/refund"), fay.clone());
        let host = &host;
        async move { host.post(&path, &token, Some(body)).await }
    };
    let (status, part) = refund(300, "rf-1").await;
    assert_eq!(
        (
            status,
            part["status"].as_str(),
            part["refunded_fen"].as_u64()
        ),
        (200, Some("partially-refunded"), Some(300))
    );
    let (status, same) = refund(300, "rf-1").await;
    assert_eq!(
        (status, same["refunded_fen"].as_u64()),
        (200, Some(300)),
        "same key: nothing more"
    );
    let (status, body) = refund(200, "rf-1").await;
    assert_eq!((status, code(&body)), (422, "key-reused"));
    let (status, body) = refund(701, "rf-2").await;
    assert_eq!(
        (status, code(&body)),
        (422, "invalid-amount"),
        "over-refund refused"
    );
    let (status, body) = refund(0, "rf-2").await;
    assert_eq!((status, code(&body)), (422, "invalid-amount"));
    let (status, full) = refund(700, "rf-2").await;
    assert_eq!(
        (
            status,
            full["status"].as_str(),
            full["refunded_fen"].as_u64()
        ),
        (200, Some("refunded"), Some(1000))
    );
    let (status, body) = refund(1, "rf-3").await;
    assert_eq!((status, code(&body)), (422, "invalid-state"));
    assert_eq!(
        journal(&host, &id).await,
        ["created", "paid", "refunded", "refunded"]
    );

    let events = probe_events(&host, "payment-probe", 3).await;
    let mut kinds: Vec<String> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["kind"].as_str().unwrap(), e["amount_fen"]))
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["paid:1000", "refunded:300", "refunded:700"]);

    let unpaid = created(&host, &fay, "r-2", 50).await;
    let path = format!(
        "/p/payment-probe/orders/{}/refund",
        unpaid["id"].as_str().unwrap()
    );
    let (status, body) = host
        .post(
            &path,
            &fay,
            Some(json!({"amount_fen": 1, "reason": "x", "refund_key": "k"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (422, "invalid-state"),
        "an unpaid order cannot be refunded"
    );

    let (_, statement) = host
        .get_json("/admin/v1/reconciliation", Some(&host.admin()))
        .await;
    let day = &statement["merchants"][MERCHANT];
    assert_eq!(
        (
            day["paid_fen"].as_u64(),
            day["refunded_fen"].as_u64(),
            day["net_fen"].as_i64()
        ),
        (Some(1000), Some(1000), Some(0)),
        "{statement}"
    );
    assert_eq!(statement["mismatches"], json!([]), "{statement}");
}

async fn orders_close_and_expire_and_cannot_be_paid_after(backend: Backend) {
    let host = payment_host(backend).await;
    let gus = host.token("gus", &[]);
    let open = created(&host, &gus, "c-1", 80).await;
    let id = open["id"].as_str().unwrap();
    let (status, closed) = host
        .post(&format!("/p/payment-probe/orders/{id}/close"), &gus, None)
        .await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")));
    let (status, again) = host
        .post(&format!("/p/payment-probe/orders/{id}/close"), &gus, None)
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("closed")),
        "closing twice is fine"
    );
    let (status, body) = pay(&host, &gus, id, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_order_state"))
    );
    let secret = sandbox_secret(&host);
    let (status, _) = Notice::paid(&secret, id, "late-txn", 80).send(&host).await;
    assert_eq!(
        status, 400,
        "a payment the provider does not know of, for a closed order, is a mismatch"
    );

    let mut short = new_order("x-1", 90);
    short["expires_in_s"] = json!(1);
    let (status, expiring) = create_order(&host, "payment-probe", &gus, short).await;
    assert_eq!(status, 200, "{expiring}");
    let expiring_id = expiring["id"].as_str().unwrap().to_string();
    wait_for("expiry", WAIT, || async {
        let (_, o) = host
            .get_json(&format!("/api/v1/orders/{expiring_id}"), Some(&gus))
            .await;
        (o["status"] == "expired").then_some(())
    })
    .await;
    let (status, _) = pay(&host, &gus, &expiring_id, json!({})).await;
    assert_eq!(status, 409);

    // Cancel from the cashier closes the order too.
    let cancelled = created(&host, &gus, "c-2", 70).await;
    let cancelled_id = cancelled["id"].as_str().unwrap();
    let (status, body) = host
        .post(
            &format!("/pay/{cancelled_id}"),
            &gus,
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert_eq!(
        (status, body["order"]["status"].as_str()),
        (200, Some("closed")),
        "{body}"
    );
    let paid_id = paid_order(&host, &gus, "c-3", 60).await;
    let (status, body) = host
        .post(
            &format!("/p/payment-probe/orders/{paid_id}/close"),
            &gus,
            None,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (422, "invalid-state"),
        "a paid order cannot be closed"
    );

    let events = probe_events(&host, "payment-probe", 4).await;
    let mut kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["closed", "closed", "expired", "paid"]);
}

async fn plugins_and_citizens_see_only_their_own_orders(backend: Backend) {
    let host = payment_host(backend).await;
    host.install_as("payment-probe", "other-probe").await;
    let hal = host.token("hal", &[]);
    let ivy = host.token("ivy", &[]);
    let order = created(&host, &hal, "iso-1", 400).await;
    let id = order["id"].as_str().unwrap();

    // Another plugin cannot read, close or refund it, nor charge the merchant.
    for (method, path) in [
        ("GET", format!("/p/other-probe/orders/{id}")),
        ("POST", format!("/p/other-probe/orders/{id}/close")),
        ("GET", "/p/other-probe/orders/by-key/iso-1".to_string()),
    ] {
        let request = if method == "GET" {
            host.http.get(host.url(&path))
        } else {
            host.http.post(host.url(&path))
        };
        let (status, body) =
            islet_tests::json_of(request.bearer_auth(&hal).send().await.unwrap()).await;
        assert_eq!((status, code(&body)), (422, "not-found"), "{path}: {body}");
    }
    let (status, body) = create_order(&host, "other-probe", &hal, new_order("iso-2", 5)).await;
    assert_eq!(
        (status, code(&body)),
        (422, "merchant-not-granted"),
        "{body}"
    );
    let mut unknown = new_order("iso-3", 5);
    unknown["merchant"] = json!("no-such-merchant");
    let (status, body) = create_order(&host, "payment-probe", &hal, unknown).await;
    assert_eq!((status, code(&body)), (422, "merchant-not-granted"));

    // Another citizen cannot see it in the app API or pay it.
    let (status, body) = host
        .get_json(&format!("/api/v1/orders/{id}"), Some(&ivy))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (status, _) = pay(&host, &ivy, id, json!({})).await;
    assert_eq!(status, 404);
    let (_, list) = host.get_json("/api/v1/orders", Some(&ivy)).await;
    assert_eq!(list["orders"], json!([]));
    let (status, _) = host.get_json("/api/v1/orders", None).await;
    assert_eq!(status, 401);
    let (status, _) = host
        .get_json(&format!("/admin/v1/orders/{id}"), Some(&hal))
        .await;
    assert_eq!(status, 403, "a citizen is not staff");

    // The owner pages through their orders, newest first.
    for n in 2..=5 {
        created(&host, &hal, &format!("page-{n}"), 10 * n).await;
    }
    let (_, page1) = host.get_json("/api/v1/orders?limit=3", Some(&hal)).await;
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, page2) = host
        .get_json(
            &format!("/api/v1/orders?limit=3&cursor={cursor}"),
            Some(&hal),
        )
        .await;
    let ids: Vec<&str> = page1["orders"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["orders"].as_array().unwrap())
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[4], id, "oldest last");
    assert!(page2["next_cursor"].is_null());
    let (status, _) = host.get_json("/api/v1/orders?limit=0", Some(&hal)).await;
    assert_eq!(status, 400);

    // Revoking the grant stops new orders at once.
    let response = host
        .http
        .delete(host.url(&format!(
            "/admin/v1/merchants/{MERCHANT}/plugins/payment-probe"
        )))
        .bearer_auth(host.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = create_order(&host, "payment-probe", &hal, new_order("iso-4", 5)).await;
    assert_eq!((status, code(&body)), (422, "merchant-not-granted"));
}

async fn a_failing_event_handler_gets_the_event_again_later(backend: Backend) {
    let host = payment_host(backend).await;
    let jo = host.token("jo", &[]);
    let (status, _) = host.post("/p/payment-probe/fail-events", &jo, None).await;
    assert_eq!(status, 200);
    let response = host
        .http
        .post(host.url("/p/payment-probe/fail-events"))
        .bearer_auth(&jo)
        .body("trap")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let id = {
        let order = created(&host, &jo, "t-1", 77).await;
        let id = order["id"].as_str().unwrap().to_string();
        assert_eq!(pay(&host, &jo, &id, json!({})).await.0, 200);
        id
    };
    let failed = wait_for("two failed attempts", WAIT, || async {
        let detail = admin_order(&host, &id).await;
        let event = detail["events"][0].clone();
        (event["attempts"].as_u64() >= Some(2)).then_some(event)
    })
    .await;
    assert_eq!(failed["status"], "pending", "{failed}");
    assert!(
        failed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("panicked")),
        "{failed}"
    );
    let (_, listed) = host
        .get_json(
            "/admin/v1/payment-events?plugin=payment-probe&status=pending",
            Some(&host.admin()),
        )
        .await;
    assert_eq!(listed["events"][0]["id"], failed["id"]);

    let response = host
        .http
        .post(host.url("/p/payment-probe/fail-events"))
        .bearer_auth(&jo)
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = probe_events(&host, "payment-probe", 1).await;
    assert_eq!(events["events"][0]["id"], failed["id"], "the same event id");
    assert!(
        events["events"][0]["attempt"].as_u64() >= Some(3),
        "{events}"
    );
    let delivered = wait_for("delivered status", WAIT, || async {
        let detail = admin_order(&host, &id).await;
        (detail["events"][0]["status"] == "delivered").then_some(detail)
    })
    .await;
    assert!(delivered["events"][0]["last_error"].is_null());

    // Admins may redeliver; the plugin sees the same id again.
    let path = format!(
        "/admin/v1/payment-events/{}/redeliver",
        failed["id"].as_str().unwrap()
    );
    let (status, body) = host.post(&path, &host.admin(), None).await;
    assert_eq!(status, 200, "{body}");
    wait_for("redelivery", WAIT, || async {
        let (_, e) = host.get_json("/p/payment-probe/events", Some(&jo)).await;
        (e["deliveries"].as_u64() == Some(2)).then_some(())
    })
    .await;
    let (status, body) = host
        .post(
            "/admin/v1/payment-events/evt-nope-1/redeliver",
            &host.admin(),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

async fn payment_needs_the_capability_grant_and_stays_within_the_daily_quota(backend: Backend) {
    let host = TestHost::start_on_with(backend, |c| c.payment.orders_per_plugin_per_day = 3).await;
    let admin = host.admin();
    let release = |version: &'static str, capabilities: Value| {
        let (host, admin) = (&host, admin.clone());
        async move {
            let (status, body) = host
                .upload_version("payment-probe", "payment-probe", version, &admin)
                .await;
            assert_eq!(status, 201, "{body}");
            let base = format!("/admin/v1/plugins/payment-probe/versions/{version}");
            for (action, body) in [
                ("submit", None),
                ("approve", Some(json!({ "capabilities": capabilities }))),
                ("release", Some(json!({"percent": 100}))),
            ] {
                let (status, answer) = host
                    .post(&format!("{base}/{action}"), &admin, body.clone())
                    .await;
                assert_eq!(status, 200, "{action}: {answer}");
            }
        }
    };
    // Reviewed without the payment capability: the merchant grant alone is not enough.
    release("0.1.0", json!(["identity", "storage", "log"])).await;
    islet_tests::payments::open_merchant(&host, MERCHANT, "probe", "payment-probe").await;
    let kim = host.token("kim", &[]);
    let (status, body) = create_order(&host, "payment-probe", &kim, new_order("q-0", 5)).await;
    assert_eq!(
        (status, code(&body)),
        (422, "merchant-not-granted"),
        "{body}"
    );

    // Granted: three orders a day, then quota-exceeded; a repeat of an
    // existing key is not a new order.
    release("0.2.0", json!(["identity", "storage", "log", "payment"])).await;
    for n in 1..=3 {
        created(&host, &kim, &format!("q-{n}"), 5).await;
    }
    let (status, body) = create_order(&host, "payment-probe", &kim, new_order("q-4", 5)).await;
    assert_eq!((status, code(&body)), (422, "quota-exceeded"), "{body}");
    created(&host, &kim, "q-2", 5).await;
}

async fn admins_page_through_payment_events_newest_first(backend: Backend) {
    let host = payment_host(backend).await;
    let jo = host.token("jo", &[]);
    let mut orders = Vec::new();
    for n in 0..4 {
        orders.push(paid_order(&host, &jo, &format!("page-{n}"), 100 + n).await);
    }
    let admin = host.admin();
    let (status, all) = host
        .get_json("/admin/v1/payment-events", Some(&admin))
        .await;
    assert_eq!(status, 200, "{all}");
    let all: Vec<Value> = all["events"].as_array().unwrap().clone();
    assert_eq!(all.len(), 4, "one paid event per order: {all:?}");
    let created: Vec<u64> = all
        .iter()
        .map(|e| e["created_ms"].as_u64().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    assert_eq!(
        all[0]["order_id"].as_str(),
        orders.last().map(String::as_str),
        "the last order paid comes first"
    );

    // One at a time, following next_cursor, gives the same list.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/admin/v1/payment-events?limit=1&cursor={c}"),
            None => "/admin/v1/payment-events?limit=1".to_string(),
        };
        let (status, page) = host.get_json(&path, Some(&admin)).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&paged), ids(&all));

    // Filters apply within the pages; a made-up cursor is refused. (The
    // last event may still be on its way to the probe.)
    let delivered = wait_for("four delivered events", WAIT, || async {
        let (_, delivered) = host
            .get_json(
                "/admin/v1/payment-events?status=delivered&plugin=payment-probe",
                Some(&admin),
            )
            .await;
        (delivered["events"].as_array().map(Vec::len) == Some(4)).then_some(delivered)
    })
    .await;
    assert_eq!(delivered["events"].as_array().map(Vec::len), Some(4));
    let (_, none) = host
        .get_json("/admin/v1/payment-events?plugin=hello", Some(&admin))
        .await;
    assert_eq!(
        (none["events"].clone(), none["next_cursor"].clone()),
        (json!([]), Value::Null)
    );
    let (status, body) = host
        .get_json("/admin/v1/payment-events?cursor=o/123", Some(&admin))
        .await;
    assert_eq!((status, code(&body)), (400, "invalid_query"), "{body}");
}

islet_tests::on_every_backend!(
    creation_is_idempotent_and_amounts_are_checked_at_the_edges,
    refunds_are_partial_full_idempotent_and_bounded,
    orders_close_and_expire_and_cannot_be_paid_after,
    plugins_and_citizens_see_only_their_own_orders,
    a_failing_event_handler_gets_the_event_again_later,
    payment_needs_the_capability_grant_and_stays_within_the_daily_quota,
    admins_page_through_payment_events_newest_first,
);
