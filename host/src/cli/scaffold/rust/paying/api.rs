//! The service through the SDK's native test harness: `TestEnv` plays the
//! host's payment platform (`env.pay` is the citizen paying in the cashier,
//! `env.deliver` the host delivering the event).

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use __CRATE__::{MERCHANT, on_payment, router};
use islet_sdk::Request;
use islet_sdk::testing::TestEnv;
use serde_json::Value;

fn citizen() -> TestEnv {
    let mut env = TestEnv::new();
    env.grant_merchant(MERCHANT).as_caller("pw-alice");
    env
}

fn create(env: &TestEnv) -> Value {
    let r = env.call(&router(), Request::post("/api/fees", ""));
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    r.body_json().unwrap()
}

fn fees(env: &TestEnv) -> Value {
    let r = env.call(&router(), Request::get("/api/fees"));
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    r.body_json::<Value>().unwrap()["fees"].clone()
}

#[test]
fn anonymous_callers_cannot_pay() {
    let env = TestEnv::new();
    let r = env.call(&router(), Request::post("/api/fees", ""));
    assert_eq!(r.status(), 401);
}

#[test]
fn a_fee_is_paid_only_when_the_paid_event_arrives_once() {
    let env = citizen();
    let created = create(&env);
    let id = created["order"]["id"].as_str().unwrap().to_owned();
    assert!(created["checkout_url"].as_str().unwrap().contains(&id));
    assert_eq!(fees(&env)[0]["status"], "pending");

    let paid = env.pay(&id);
    assert_eq!(env.deliver(on_payment, &paid), Ok(()));
    assert_eq!(fees(&env)[0]["status"], "paid");
    // Delivered again (at least once): nothing changes.
    assert_eq!(env.deliver(on_payment, &paid), Ok(()));
    assert_eq!(fees(&env).as_array().unwrap().len(), 1);
}

#[test]
fn an_order_that_expires_unpaid_ends_the_fee() {
    let env = citizen();
    let id = create(&env)["order"]["id"].as_str().unwrap().to_owned();
    let expired = env.expire(&id);
    assert_eq!(env.deliver(on_payment, &expired), Ok(()));
    assert_eq!(fees(&env)[0]["status"], "expired");
}

#[test]
fn without_the_merchant_grant_the_order_is_refused() {
    let mut env = TestEnv::new();
    env.as_caller("pw-bob");
    let r = env.call(&router(), Request::post("/api/fees", ""));
    assert_eq!(r.status(), 403, "{:?}", r.body_text());
}
