//! The service through the SDK's native test harness: `TestEnv` plays the
//! host (storage, the signed-in caller, the log).

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use __CRATE__::router;
use islet_sdk::Request;
use islet_sdk::testing::TestEnv;
use serde_json::Value;

fn hello(env: &TestEnv) -> Value {
    let r = env.call(&router(), Request::get("/api/hello"));
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    r.body_json().unwrap()
}

#[test]
fn guests_are_greeted_and_nothing_is_stored() {
    let env = TestEnv::new();
    let body = hello(&env);
    assert_eq!(body["message"], "Hello, guest!");
    assert!(body.get("visits").is_none());
    assert!(env.keys("").is_empty());
}

#[test]
fn a_citizens_visits_are_counted() {
    let mut env = TestEnv::new();
    env.as_caller("pw-alice");
    assert_eq!(hello(&env)["visits"], 1);
    assert_eq!(hello(&env)["visits"], 2);
    assert_eq!(env.keys("visits/"), ["visits/pw-alice"]);
    env.as_caller("pw-bob");
    assert_eq!(hello(&env)["visits"], 1);
}

#[test]
fn the_page_is_served() {
    let env = TestEnv::new();
    let r = env.call(&router(), Request::get("/"));
    assert_eq!(r.status(), 200);
    assert!(r.body_text().unwrap().contains("<h1>"));
}
