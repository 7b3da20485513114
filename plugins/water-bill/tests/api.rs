//! The water-bill service through the native harness: the fake ledger plays
//! the host's payment platform, `env.pay` the citizen in the cashier and
//! `env.deliver` the host delivering events.

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use islet_sdk::identity::{ClaimError, DataItem};
use islet_sdk::payment::{self, NewOrder, OrderKind, OrderStatus, PaymentEvent};
use islet_sdk::testing::{TEST_PURPOSE, TestEnv};
use islet_sdk::{Request, Response};
use serde_json::Value;
use water_bill::{Account, BillStatus, on_payment, router};

fn call(env: &TestEnv, req: Request) -> Response {
    env.call(&router(), req)
}

fn account(env: &TestEnv) -> Account {
    let r = call(env, Request::get("/api/account"));
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    r.body_json().unwrap()
}

fn status(env: &TestEnv, period: &str) -> BillStatus {
    account(env).bill(period).unwrap().status
}

fn pay(env: &TestEnv, period: &str) -> Response {
    call(env, Request::post(&format!("/api/bills/{period}/pay"), ""))
}

/// Pay `period` and return the order id of the answer.
fn order_for(env: &TestEnv, period: &str) -> String {
    let r = pay(env, period);
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    let body: Value = r.body_json().unwrap();
    assert_eq!(body["checkout_url"], body["order"]["checkout_url"]);
    body["order"]["id"].as_str().unwrap().to_owned()
}

fn citizen() -> TestEnv {
    let mut env = TestEnv::new();
    env.grant_merchant("water-supply").as_caller("pw-alice");
    env
}

fn deliver(env: &TestEnv, event: &PaymentEvent) {
    assert_eq!(env.deliver(on_payment, event), Ok(()));
}

#[test]
fn anonymous_callers_are_turned_away() {
    let env = TestEnv::new();
    assert_eq!(call(&env, Request::get("/api/account")).status(), 401);
    assert_eq!(pay(&env, "2026-10").status(), 401);
    assert!(env.keys("").is_empty());
}

#[test]
fn the_account_is_seeded_once_from_the_subject() {
    let mut env = citizen();
    let first = account(&env);
    assert_eq!(first, account(&env));
    assert!(first.number.starts_with("WB-") && first.number.len() == 11);
    let bills: Vec<_> = first
        .bills
        .iter()
        .map(|b| (b.period.as_str(), b.amount_fen, b.status))
        .collect();
    assert_eq!(
        bills,
        [
            ("2026-09", 4105, BillStatus::Paid),
            ("2026-10", 4268, BillStatus::Unpaid),
            ("2026-11", 3915, BillStatus::Unpaid),
        ]
    );
    let json: Value = call(&env, Request::get("/api/account"))
        .body_json()
        .unwrap();
    assert_eq!(json["bills"][1]["status"], "unpaid");
    assert_eq!(json["bills"][1]["order_id"], Value::Null);
    assert!(json["bills"][0]["paid_at"].is_u64());
    env.as_caller("pw-bob");
    assert_ne!(account(&env).number, first.number);
    assert_eq!(env.keys("account/").len(), 2);
}

#[test]
fn paying_a_bill_creates_one_order_and_the_event_marks_it_paid() {
    let env = citizen();
    let number = account(&env).number;
    let r = pay(&env, "2026-10");
    assert_eq!(r.status(), 200);
    let body: Value = r.body_json().unwrap();
    assert_eq!(body["checkout_url"], "/pay/o1");
    assert_eq!(body["order"]["status"], "created");
    let order = env.order("o1").unwrap();
    assert_eq!(order.amount_fen, 4268);
    assert_eq!(order.merchant, "water-supply");
    assert_eq!(order.kind, OrderKind::ServiceFee);
    assert_eq!(order.order_key, format!("{number}-2026-10-1"));
    assert_eq!(order.description, format!("Water bill 2026-10 ({number})"));
    assert_eq!(order.expires_at - order.created_at, 7200);
    assert_eq!(order.payer, "pw-alice");
    assert_eq!(status(&env, "2026-10"), BillStatus::Pending);

    // Paying again before paying in the cashier returns the same order.
    assert_eq!(order_for(&env, "2026-10"), "o1");
    assert_eq!(env.orders().len(), 1);

    let paid = env.pay("o1");
    assert_eq!(
        status(&env, "2026-10"),
        BillStatus::Pending,
        "the page is no proof"
    );
    deliver(&env, &paid);
    let bill = account(&env).bill("2026-10").unwrap().clone();
    assert_eq!(bill.status, BillStatus::Paid);
    assert_eq!(bill.order_id.as_deref(), Some("o1"));
    assert_eq!(bill.paid_at, paid.order.paid_at);
    // A repeated delivery changes nothing.
    let again = PaymentEvent {
        attempt: 2,
        ..paid.clone()
    };
    deliver(&env, &again);
    assert_eq!(account(&env).bill("2026-10").unwrap(), &bill);
    assert!(env.stored("event/e1").is_some());

    let r = pay(&env, "2026-10");
    assert_eq!(r.status(), 409);
    assert_eq!(pay(&env, "2026-09").status(), 409, "paid at the counter");
    assert_eq!(pay(&env, "2031-01").status(), 404);
}

#[test]
fn expired_orders_make_the_bill_payable_with_a_new_attempt() {
    let env = citizen();
    let number = account(&env).number;
    assert_eq!(order_for(&env, "2026-11"), "o1");
    let expired = env.expire("o1");
    deliver(&env, &expired);
    let bill = account(&env).bill("2026-11").unwrap().clone();
    assert_eq!((bill.status, bill.order_id), (BillStatus::Unpaid, None));

    assert_eq!(order_for(&env, "2026-11"), "o2");
    assert_eq!(
        env.order("o2").unwrap().order_key,
        format!("{number}-2026-11-2")
    );
    // Expired again, but the event is late: paying looks at the order itself.
    env.expire("o2");
    assert_eq!(order_for(&env, "2026-11"), "o3");
    let late = env.payment_events().pop().unwrap();
    assert_eq!(late.order.id, "o2");
    deliver(&env, &late);
    let bill = account(&env).bill("2026-11").unwrap().clone();
    assert_eq!(
        bill.status,
        BillStatus::Pending,
        "an old order's event is ignored"
    );
    assert_eq!((bill.order_id.as_deref(), bill.attempt), (Some("o3"), 3));
}

#[test]
fn closed_orders_and_refunds_move_the_bill() {
    let env = citizen();
    assert_eq!(order_for(&env, "2026-10"), "o1");
    env.run(|| payment::close_order("o1")).unwrap();
    let closed = env.payment_events().pop().unwrap();
    deliver(&env, &closed);
    assert_eq!(status(&env, "2026-10"), BillStatus::Unpaid);

    assert_eq!(order_for(&env, "2026-10"), "o2");
    deliver(&env, &env.pay("o2"));
    env.run(|| payment::refund("o2", 1000, "meter misread", "r1"))
        .unwrap();
    deliver(&env, &env.payment_events().pop().unwrap());
    assert_eq!(status(&env, "2026-10"), BillStatus::Paid, "partly refunded");
    let order = env
        .run(|| payment::refund("o2", 3268, "bill waived", "r2"))
        .unwrap();
    assert_eq!(order.status, OrderStatus::Refunded);
    deliver(&env, &env.payment_events().pop().unwrap());
    assert_eq!(status(&env, "2026-10"), BillStatus::Refunded);
}

#[test]
fn a_second_payment_for_a_paid_bill_is_refunded() {
    let env = citizen();
    let number = account(&env).number;
    assert_eq!(order_for(&env, "2026-10"), "o1");
    // Another order for the same bill, paid as well (e.g. two devices).
    let second = NewOrder::new(
        "water-supply",
        4268,
        "Water bill 2026-10",
        format!("{number}-2026-10-2"),
    );
    env.run(|| payment::create_order(&second)).unwrap();
    deliver(&env, &env.pay("o1"));
    deliver(&env, &env.pay("o2"));
    let bill = account(&env).bill("2026-10").unwrap().clone();
    assert_eq!(
        (bill.status, bill.order_id.as_deref()),
        (BillStatus::Paid, Some("o1"))
    );
    assert_eq!(env.order("o2").unwrap().status, OrderStatus::Refunded);
}

#[test]
fn payment_failures_are_json_errors_and_events_are_retried() {
    let mut env = TestEnv::new();
    env.as_caller("pw-alice");
    let r = pay(&env, "2026-10");
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.error_code().as_deref(),
        Some("payment_merchant_not_granted")
    );
    env.grant_merchant("water-supply")
        .set_payment_unavailable(Some("bank down"));
    assert_eq!(pay(&env, "2026-10").status(), 503);
    env.set_payment_unavailable(None);
    assert_eq!(order_for(&env, "2026-10"), "o1");
    let paid = env.pay("o1");
    env.set_storage_unavailable(Some("disk"));
    assert!(env.deliver(on_payment, &paid).is_err(), "retry later");
    env.set_storage_unavailable(None);
    deliver(&env, &paid);
    assert_eq!(status(&env, "2026-10"), BillStatus::Paid);
    // Events for someone who never opened the service are acknowledged.
    let mut stray = paid.clone();
    stray.id = "e99".into();
    stray.order.payer = "pw-nobody".into();
    deliver(&env, &stray);
    assert!(env.keys("account/pw-nobody").is_empty());
}

#[test]
fn the_page_and_its_assets_are_served() {
    let env = TestEnv::new();
    let r = call(&env, Request::get("/"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = r.body_text().unwrap();
    assert!(html.contains("<script src=\"page.js\">") && !html.contains("<script>"));
    assert!(html.contains("data-testid=\"receipt-name-prompt\""));
    let js = call(&env, Request::get("/page.js"));
    assert!(html.contains("<script src=\"/assets/islet.js\">"));
    let js = js.body_text().unwrap();
    assert!(js.contains("islet.pay(r.checkout_url"));
    assert!(js.contains("islet.askConsent({ item: 'real-name' })"));
    assert!(!js.contains("localStorage") && !js.contains("/api/v1/"));
    assert_eq!(
        call(&env, Request::get("/page.css")).header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

fn receipt(env: &TestEnv, period: &str) -> Response {
    call(env, Request::get(&format!("/api/bills/{period}/receipt")))
}

#[test]
fn the_receipt_prints_the_real_name_only_with_consent() {
    let mut env = citizen();
    env.set_claim(DataItem::RealName, "Li Lei");
    // Not paid yet: no receipt. Unknown period: 404.
    assert_eq!(receipt(&env, "2026-10").status(), 409);
    assert_eq!(receipt(&env, "2031-01").status(), 404);

    // Paid at the counter, no consent: the receipt without the name, and
    // what to ask the citizen.
    let r = receipt(&env, "2026-09");
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    let body: Value = r.body_json().unwrap();
    assert_eq!(body["period"], "2026-09");
    assert_eq!(body["amount_fen"], 4105);
    assert_eq!(body["status"], "paid");
    assert_eq!(body["order_id"], Value::Null);
    assert_eq!(body["payer_name"], Value::Null);
    assert_eq!(body["consent"]["item"], "real-name");
    assert_eq!(body["consent"]["purpose"], TEST_PURPOSE);
    assert!(body.get("name_note").is_none());

    // The citizen said yes: the name is on it, nothing left to ask.
    env.allow_claim(DataItem::RealName);
    let body: Value = receipt(&env, "2026-09").body_json().unwrap();
    assert_eq!(body["payer_name"], "Li Lei");
    assert!(body.get("consent").is_none());
    assert_eq!(body["number"], account(&env).number);

    // Withdrawn: back to asking.
    env.revoke_claim(DataItem::RealName);
    let body: Value = receipt(&env, "2026-09").body_json().unwrap();
    assert_eq!(body["payer_name"], Value::Null);
    assert_eq!(body["consent"]["item"], "real-name");

    // A bill paid online has its order on the receipt.
    env.allow_claim(DataItem::RealName);
    let order = order_for(&env, "2026-10");
    deliver(&env, &env.pay(&order));
    let body: Value = receipt(&env, "2026-10").body_json().unwrap();
    assert_eq!(body["order_id"], order.as_str());
    assert_eq!(body["payer_name"], "Li Lei");
}

#[test]
fn the_receipt_degrades_when_the_name_cannot_be_had() {
    let mut env = citizen();
    env.allow_claim(DataItem::RealName)
        .fail_claim(DataItem::RealName, Some(ClaimError::NotGranted));
    let r = receipt(&env, "2026-09");
    assert_eq!(r.status(), 200);
    let body: Value = r.body_json().unwrap();
    assert_eq!(body["payer_name"], Value::Null);
    assert!(body.get("consent").is_none(), "asking would not help");
    assert!(body["name_note"].as_str().unwrap().contains("not granted"));
    // The identity provider has no name for this citizen.
    env.fail_claim(DataItem::RealName, None);
    let body: Value = receipt(&env, "2026-09").body_json().unwrap();
    assert_eq!(body["payer_name"], Value::Null);
    assert!(body["name_note"].is_string());
    // Anonymous callers get no receipt at all.
    env.anonymous();
    assert_eq!(receipt(&env, "2026-09").status(), 401);
}
