#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use super::*;
use islet_sdk::testing::{TEST_PURPOSE, TestEnv};

fn get(env: &TestEnv, path: &str) -> Response {
    env.call(&router(), Request::get(path))
}

fn post(env: &TestEnv, path: &str, body: &str) -> Response {
    env.call(&router(), Request::post(path, body))
}

fn json_of(r: &Response) -> Value {
    r.body_json().unwrap()
}

#[test]
fn me_shows_both_subjects_or_nulls() {
    let mut env = TestEnv::new();
    let r = get(&env, "/me");
    assert_eq!(r.status(), 200);
    assert_eq!(
        json_of(&r),
        json!({"subject": null, "department_subject": null})
    );
    env.as_caller("pw-a");
    assert_eq!(
        json_of(&get(&env, "/me")),
        json!({"subject": "pw-a", "department_subject": "dept-pw-a"})
    );
}

#[test]
fn claims_pass_through_with_their_errors() {
    let mut env = TestEnv::new();
    let r = get(&env, "/claim/real-name");
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["error"]["code"], "no-caller");
    assert!(json_of(&r)["error"].get("consent").is_none());

    env.as_caller("pw-a");
    let r = get(&env, "/claim/real-name");
    assert_eq!(r.status(), 422);
    let error = &json_of(&r)["error"];
    assert_eq!(error["code"], "no-consent");
    assert!(error["message"].is_string());
    assert_eq!(
        error["consent"],
        json!({"item": "real-name", "purpose": TEST_PURPOSE})
    );

    env.allow_claim(DataItem::RealName)
        .set_claim(DataItem::RealName, "Li Lei");
    let r = get(&env, "/claim/real-name");
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&r), json!({"value": "Li Lei"}));

    env.allow_claim(DataItem::Phone);
    let r = get(&env, "/claim/phone");
    assert_eq!(json_of(&r)["error"]["code"], "not-available");
    env.fail_claim(DataItem::Email, Some(ClaimError::NotDeclared));
    let r = get(&env, "/claim/email");
    assert_eq!(json_of(&r)["error"]["code"], "not-declared");

    for bad in ["real_name", "RealName", "name"] {
        let r = get(&env, &format!("/claim/{bad}"));
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(json_of(&r)["error"]["code"], "bad-item");
    }
}

#[test]
fn sends_pass_through_with_their_errors() {
    let mut env = TestEnv::new();
    let body = r#"{"recipient":"pw-a","template":"status",
        "params":{"case":"12","status":"resolved"},"link":"/cases/12"}"#;
    let r = post(&env, "/send", body);
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["error"]["code"], "no-consent");

    env.consent_messages("pw-a", "status", 1);
    let r = post(&env, "/send", body);
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    assert_eq!(json_of(&r), json!({"id": "m1"}));
    let sent = env.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "pw-a");
    assert_eq!(sent[0].template, "status");
    assert_eq!(
        sent[0].params,
        [
            ("case".to_string(), "12".to_string()),
            ("status".to_string(), "resolved".to_string())
        ]
    );
    assert_eq!(sent[0].link.as_deref(), Some("/cases/12"));
    // The one-time consent is used up.
    assert_eq!(
        json_of(&post(&env, "/send", body))["error"]["code"],
        "no-consent"
    );

    env.consent_messages("pw-a", "alerts", 5);
    let minimal = r#"{"recipient":"pw-a","template":"alerts","params":{"text":"hi"},"link":null}"#;
    assert_eq!(json_of(&post(&env, "/send", minimal))["id"], "m2");
    let outside = r#"{"recipient":"pw-a","template":"alerts","link":"https://x.example/"}"#;
    let r = post(&env, "/send", outside);
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["error"]["code"], "bad-parameters");
    env.set_notification_unavailable(Some("down"));
    assert_eq!(
        json_of(&post(&env, "/send", minimal))["error"]["code"],
        "unavailable"
    );
}

#[test]
fn bad_bodies_are_400() {
    let env = TestEnv::new();
    for body in [
        "",
        "nope",
        r#"{"template":"status"}"#,
        r#"{"recipient":"a","template":"status","params":{"n":1}}"#,
        r#"{"recipient":"a","template":"status","params":["x"]}"#,
    ] {
        let r = post(&env, "/send", body);
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(json_of(&r)["error"]["code"], "bad-json");
    }
}
