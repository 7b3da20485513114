//! The service through the SDK's native test harness: `TestEnv` plays the
//! host (consents, the Inbox, the signed-in caller and staff).

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use __CRATE__::{TEMPLATE, router};
use islet_sdk::Request;
use islet_sdk::testing::TestEnv;
use serde_json::{Value, json};

fn call(env: &TestEnv, req: Request) -> (u16, Value) {
    let r = env.call(&router(), req);
    (r.status(), r.body_json().unwrap_or(Value::Null))
}

#[test]
fn news_reaches_subscribers_who_consented_once_per_consent() {
    let mut env = TestEnv::new();
    for subject in ["pw-alice", "pw-bob"] {
        env.as_caller(subject);
        let (status, body) = call(&env, Request::post("/api/subscription", ""));
        assert_eq!((status, &body["consent"]["template"]), (200, &json!(TEMPLATE)));
    }
    // Only Alice said yes, once.
    env.consent_messages("pw-alice", TEMPLATE, 1);
    env.as_staff("clerk-1");
    let news = json!({"text": "The pool reopens on Monday."});
    let (status, body) = call(&env, Request::post_json("/api/news", &news));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["sent"].as_u64(), body["skipped"].as_u64()), (Some(1), Some(1)));
    let sent = env.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "pw-alice");
    assert_eq!(sent[0].params, [("text".to_string(), "The pool reopens on Monday.".to_string())]);
    // Her consent is used up: the next news item skips her.
    let (_, body) = call(&env, Request::post_json("/api/news", &news));
    assert_eq!(body["sent"], 0);
}

#[test]
fn only_staff_post_news_and_bad_text_is_refused() {
    let mut env = TestEnv::new();
    env.as_caller("pw-alice");
    let (status, _) = call(&env, Request::post_json("/api/news", &json!({"text": "hi"})));
    assert_eq!(status, 403);
    env.as_staff("clerk-1");
    let (status, _) = call(&env, Request::post_json("/api/news", &json!({"text": " "})));
    assert_eq!(status, 400);
    let (status, _) = call(&env, Request::post("/api/news", "not json"));
    assert_eq!(status, 400);
    assert!(env.sent().is_empty());
}
