#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use super::*;
use islet_sdk::testing::TestEnv;

fn post(env: &TestEnv, path: &str, body: &str) -> Response {
    env.call(&router(), Request::post(path, body))
}

fn json_of(r: &Response) -> Value {
    r.body_json().unwrap()
}

const ORDER: &str = r#"{"merchant":"m1","amount_fen":250,"description":"Fee",
    "kind":{"non-tax":"103-1"},"order_key":"k1","expires_in_s":600}"#;

#[test]
fn orders_pass_through_verbatim() {
    let mut env = TestEnv::new();
    env.grant_merchant("m1").as_caller("pw-a");
    let r = post(&env, "/orders", ORDER);
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    let order = json_of(&r);
    assert_eq!(order["id"], "o1");
    assert_eq!(order["kind"], json!({"non-tax": "103-1"}));
    assert_eq!(order["status"], "created");
    assert_eq!(order["paid_at"], Value::Null);
    let get = env.call(&router(), Request::get("/orders/o1"));
    assert_eq!(json_of(&get), order);
    let found = env.call(&router(), Request::get("/orders/by-key/k1"));
    assert_eq!(json_of(&found), order);
    env.pay("o1");
    let r = post(
        &env,
        "/orders/o1/refund",
        r#"{"amount_fen":50,"reason":"r","refund_key":"r1"}"#,
    );
    assert_eq!(json_of(&r)["status"], "partially-refunded");
    let r = post(&env, "/orders/o1/close", "");
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["error"]["code"], "invalid-state");
}

#[test]
fn errors_are_422_with_the_variant_and_bad_bodies_400() {
    let mut env = TestEnv::new();
    env.grant_merchant("m1").as_caller("pw-a");
    let zero = ORDER.replace("250", "0");
    let r = post(&env, "/orders", &zero);
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["error"]["code"], "invalid-amount");
    let r = env.call(&router(), Request::get("/orders/o9"));
    assert_eq!(json_of(&r)["error"]["code"], "not-found");
    for amount in ["18446744073709551616", "-1", "1.5", "\"1\""] {
        let r = post(&env, "/orders", &ORDER.replace("250", amount));
        assert_eq!(r.status(), 400, "{amount}");
        assert_eq!(json_of(&r)["error"]["code"], "bad-json");
    }
    let max = ORDER.replace("250", "18446744073709551615");
    assert_eq!(
        json_of(&post(&env, "/orders", &max))["error"]["code"],
        "invalid-amount"
    );
    let r = post(&env, "/orders/o1/refund", r#"{"amount_fen":-1}"#);
    assert_eq!(r.status(), 400);
    env.anonymous();
    let r = post(&env, "/orders", ORDER);
    assert_eq!(json_of(&r)["error"]["code"], "no-citizen");
}

#[test]
fn events_are_recorded_or_refused_on_request() {
    let mut env = TestEnv::new();
    env.grant_merchant("m1").as_caller("pw-a");
    post(&env, "/orders", ORDER);
    let paid = env.pay("o1");
    assert_eq!(post(&env, "/fail-events", "error").status(), 200);
    assert_eq!(
        env.deliver(on_payment, &paid),
        Err("told to fail".to_string())
    );
    post(&env, "/fail-events", "");
    assert_eq!(env.deliver(on_payment, &paid), Ok(()));
    let again = PaymentEvent {
        attempt: 2,
        ..paid.clone()
    };
    assert_eq!(env.deliver(on_payment, &again), Ok(()));
    let r = json_of(&env.call(&router(), Request::get("/events")));
    assert_eq!(
        r["events"],
        json!([{"id": "e1", "kind": "paid", "order_id": "o1", "status": "paid",
                "amount_fen": 250, "attempt": 2}])
    );
    assert_eq!(r["deliveries"], 2);
    assert_eq!(r["attempts"], json!({"e1": 2}));
    assert_eq!(post(&env, "/fail-events", "nope").status(), 400);
}

#[test]
#[should_panic(expected = "told to trap")]
fn trap_mode_panics() {
    let mut env = TestEnv::new();
    env.grant_merchant("m1").as_caller("pw-a");
    post(&env, "/orders", ORDER);
    let paid = env.pay("o1");
    post(&env, "/fail-events", "trap");
    let _ = env.deliver(on_payment, &paid);
}
