//! The community-report API through the native harness: residents file and
//! follow reports, staff handle them.

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use community_report::router;
use islet_sdk::testing::TestEnv;
use islet_sdk::{Request, Response};
use serde_json::{Value, json};

fn call(env: &TestEnv, req: Request) -> Response {
    env.call(&router(), req)
}

fn body(r: &Response) -> Value {
    r.body_json().unwrap()
}

fn file(env: &TestEnv, description: &str) -> u64 {
    let r = call(
        env,
        Request::post_json(
            "/api/reports",
            &json!({"category": "street-light", "description": description, "location": "Zhongshan Rd 12"}),
        ),
    );
    assert_eq!(r.status(), 201, "{:?}", r.body_text());
    body(&r)["id"].as_u64().unwrap()
}

fn set_status(env: &TestEnv, id: u64, status: &str) -> Response {
    call(
        env,
        Request::post_json(
            &format!("/api/reports/{id}/status"),
            &json!({"status": status, "comment": format!("now {status}")}),
        ),
    )
}

fn ids(r: &Response) -> Vec<u64> {
    body(r)["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn resident_files_and_follows_a_report() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    let r = call(
        &env,
        Request::post_json(
            "/api/reports",
            &json!({"category": "road", "description": "  Deep pothole  ", "location": "Lujiang Rd 3"}),
        ),
    );
    assert_eq!(r.status(), 201);
    assert_eq!(r.header("location"), Some("api/reports/1"));
    let report = body(&r);
    assert_eq!(report["id"], 1);
    assert_eq!(report["status"], "submitted");
    assert_eq!(report["description"], "Deep pothole");
    assert_eq!(report["owner"], "alice");
    assert_eq!(report["history"][0]["status"], "submitted");
    assert!(report["created_at"].as_u64().unwrap() > 1_600_000_000);

    let second = file(&env, "Light is out");
    assert_eq!(second, 2);
    let r = call(&env, Request::get("/api/reports/mine"));
    assert_eq!(r.status(), 200);
    assert_eq!(ids(&r), [2, 1], "newest first");
    assert_eq!(body(&r)["next_cursor"], Value::Null);

    let r = call(&env, Request::get("/api/reports/1"));
    assert_eq!(
        (r.status(), body(&r)["category"].clone()),
        (200, json!("road"))
    );
    assert!(
        env.logs()
            .iter()
            .any(|l| l.message.contains("report 1 filed"))
    );
}

#[test]
fn other_residents_see_nothing_of_it() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    let id = file(&env, "Bins overflowing");
    env.as_caller("bob");
    let r = call(&env, Request::get(&format!("/api/reports/{id}")));
    assert_eq!(r.status(), 404);
    assert_eq!(r.error_code().as_deref(), Some("not_found"));
    assert_eq!(
        ids(&call(&env, Request::get("/api/reports/mine"))),
        Vec::<u64>::new()
    );
    // Staff-only routes refuse residents.
    assert_eq!(call(&env, Request::get("/api/reports")).status(), 403);
    assert_eq!(set_status(&env, id, "accepted").status(), 403);
    // Unknown and malformed ids are plain 404s too.
    assert_eq!(call(&env, Request::get("/api/reports/999")).status(), 404);
    assert_eq!(call(&env, Request::get("/api/reports/abc")).status(), 404);
}

#[test]
fn anonymous_callers_get_401() {
    let env = TestEnv::new();
    let new = json!({"category": "noise", "description": "x", "location": "y"});
    for req in [
        Request::post_json("/api/reports", &new),
        Request::get("/api/reports/mine"),
        Request::get("/api/reports/1"),
        Request::get("/api/reports"),
        Request::get("/api/me"),
        Request::post_json("/api/reports/1/status", &json!({"status": "accepted"})),
    ] {
        let r = call(&env, req);
        assert_eq!(r.status(), 401);
        assert_eq!(r.error_code().as_deref(), Some("unauthenticated"));
    }
    assert!(env.keys("").is_empty(), "nothing stored");
    // The page itself is public.
    let page = call(&env, Request::get("/"));
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(call(&env, Request::get("/index.html")).body(), page.body());
}

#[test]
fn the_page_and_its_assets_are_served_under_a_strict_policy() {
    let env = TestEnv::new();
    let page = call(&env, Request::get("/"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe"));
    let html = page.body_text().unwrap();
    assert!(html.contains("<script src=\"page.js\">") && !html.contains("<script>"));
    assert!(
        html.find("<script src=\"/assets/islet.js\">") < html.find("<script src=\"page.js\">"),
        "the platform's bridge loads first"
    );
    assert!(!html.contains("<style>") && html.contains("href=\"page.css\""));
    assert!(html.contains("data-testid=\"notify-prompt\""));
    // What a status message opens: the same page, assets one level up.
    let linked = call(&env, Request::get("/reports/12"));
    assert_eq!(linked.status(), 200);
    assert!(linked.header("content-security-policy").is_some());
    let html = linked.body_text().unwrap();
    assert!(html.contains("<script src=\"../page.js\">"), "{html}");
    let js = call(&env, Request::get("/page.js"));
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let js = js.body_text().unwrap();
    assert!(js.contains("islet.api") && js.contains("api/reports"));
    // Consent goes through the platform's prompt; the sandboxed page has no
    // storage and no access to the platform API.
    assert!(
        js.contains("islet.askConsent({ template: TEMPLATE })") && js.contains("report-status")
    );
    assert!(!js.contains("localStorage") && !js.contains("/api/v1/"));
    assert_eq!(
        call(&env, Request::get("/page.css")).header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

/// Alice files report 1; she consents to `n` status messages.
fn filed_with_consents(n: u32) -> TestEnv {
    let mut env = TestEnv::new();
    env.as_caller("pw-alice");
    assert_eq!(file(&env, "Lamp 12 is out"), 1);
    if n > 0 {
        env.consent_messages("pw-alice", "report-status", n);
    }
    env.as_staff("clerk");
    env
}

#[test]
fn a_status_change_tells_the_reporter_who_asked() {
    let env = filed_with_consents(1);
    let r = set_status(&env, 1, "accepted");
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    let answer = body(&r);
    assert_eq!(answer["status"], "accepted");
    assert_eq!(answer["id"], 1, "the report, as before");
    assert_eq!(
        answer["notification"],
        json!({"sent": true, "message": "m1"})
    );
    let sent = env.sent();
    assert_eq!(sent.len(), 1);
    let message = &sent[0];
    assert_eq!(
        message.recipient, "pw-alice",
        "the reporter's pairwise subject"
    );
    assert_eq!(message.template, "report-status");
    assert_eq!(message.link.as_deref(), Some("/reports/1"));
    let params: Vec<(&str, &str)> = message
        .params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        params,
        [
            ("report", "1"),
            ("location", "Zhongshan Rd 12"),
            ("status", "accepted"),
            ("note", "“now accepted”"),
        ]
    );
    assert_eq!(env.consents_left("pw-alice", "report-status"), 0);

    // The one message is used up: the next change stands, nobody is told.
    let r = set_status(&env, 1, "in-progress");
    assert_eq!(r.status(), 200);
    let answer = body(&r);
    assert_eq!(answer["status"], "in-progress");
    assert_eq!(answer["notification"]["sent"], false);
    assert_eq!(answer["notification"]["reason"], "no-consent");
    assert!(
        answer["notification"]["note"]
            .as_str()
            .unwrap()
            .starts_with("reporter not notified")
    );
    assert_eq!(env.sent().len(), 1);
}

#[test]
fn without_consent_or_platform_the_change_still_stands() {
    let mut env = filed_with_consents(0);
    let r = set_status(&env, 1, "accepted");
    assert_eq!(r.status(), 200);
    assert_eq!(body(&r)["notification"]["reason"], "no-consent");
    assert!(env.sent().is_empty());
    assert!(
        env.logs()
            .iter()
            .any(|l| l.message.contains("reporter not notified"))
    );

    env.consent_messages("pw-alice", "report-status", 1)
        .set_notification_unavailable(Some("inbox down"));
    let r = set_status(&env, 1, "in-progress");
    assert_eq!(r.status(), 200);
    let answer = body(&r);
    assert_eq!(answer["status"], "in-progress");
    assert_eq!(answer["notification"]["reason"], "unavailable");
    assert_eq!(
        env.consents_left("pw-alice", "report-status"),
        1,
        "not used up"
    );
    env.set_notification_unavailable(None);
    let r = set_status(&env, 1, "resolved");
    assert_eq!(body(&r)["notification"]["sent"], true);
    assert_eq!(env.sent()[0].params[2].1, "resolved");
    // A refused change sends nothing.
    env.consent_messages("pw-alice", "report-status", 1);
    assert_eq!(set_status(&env, 1, "rejected").status(), 409);
    assert_eq!(env.sent().len(), 1);
}

#[test]
fn staff_list_filter_page_and_change_status() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    for i in 1..=5 {
        file(&env, &format!("problem {i}"));
    }
    env.as_staff("clerk");
    let me = body(&call(&env, Request::get("/api/me")));
    assert_eq!(me, json!({"subject": "clerk", "staff": true}));

    let r = call(&env, Request::get("/api/reports?limit=2"));
    assert_eq!(ids(&r), [5, 4]);
    assert_eq!(body(&r)["next_cursor"], "4");
    let r = call(&env, Request::get("/api/reports?limit=2&cursor=4"));
    assert_eq!(ids(&r), [3, 2]);
    let r = call(&env, Request::get("/api/reports?limit=2&cursor=2"));
    assert_eq!(ids(&r), [1]);
    assert_eq!(body(&r)["next_cursor"], Value::Null);

    // Staff may read any single report.
    assert_eq!(call(&env, Request::get("/api/reports/3")).status(), 200);

    let r = set_status(&env, 3, "accepted");
    assert_eq!(r.status(), 200, "{:?}", r.body_text());
    let report = body(&r);
    assert_eq!(report["status"], "accepted");
    assert_eq!(report["history"][1]["comment"], "now accepted");
    assert_eq!(report["history"][1]["by"], "staff");
    assert_eq!(set_status(&env, 3, "in-progress").status(), 200);
    assert_eq!(set_status(&env, 1, "rejected").status(), 200);

    let r = call(&env, Request::get("/api/reports?status=in-progress"));
    assert_eq!(ids(&r), [3]);
    let r = call(&env, Request::get("/api/reports?status=submitted&limit=2"));
    assert_eq!(ids(&r), [5, 4]);
    let r = call(
        &env,
        Request::get("/api/reports?status=submitted&limit=2&cursor=4"),
    );
    assert_eq!(ids(&r), [2]);
    assert_eq!(
        call(&env, Request::get("/api/reports?status=lost")).status(),
        400
    );
    assert_eq!(
        call(&env, Request::get("/api/reports?limit=0")).status(),
        400
    );
    assert_eq!(
        call(&env, Request::get("/api/reports?cursor=x")).status(),
        400
    );

    // The resident sees the new status and its history.
    env.as_caller("alice");
    let r = body(&call(&env, Request::get("/api/reports/3")));
    assert_eq!(r["status"], "in-progress");
    assert_eq!(r["history"].as_array().unwrap().len(), 3);
}

#[test]
fn invalid_transitions_are_409_and_change_nothing() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    let id = file(&env, "Tree fell");
    env.as_staff("clerk");
    let r = set_status(&env, id, "resolved");
    assert_eq!(r.status(), 409);
    assert_eq!(r.error_code().as_deref(), Some("invalid_transition"));
    assert_eq!(set_status(&env, id, "submitted").status(), 409);
    assert_eq!(set_status(&env, id, "accepted").status(), 200);
    assert_eq!(set_status(&env, id, "accepted").status(), 409);
    assert_eq!(set_status(&env, id, "in-progress").status(), 200);
    assert_eq!(set_status(&env, id, "resolved").status(), 200);
    assert_eq!(set_status(&env, id, "rejected").status(), 409);
    let report = body(&call(&env, Request::get(&format!("/api/reports/{id}"))));
    assert_eq!(report["status"], "resolved");
    assert_eq!(report["history"].as_array().unwrap().len(), 4);

    assert_eq!(set_status(&env, 99, "accepted").status(), 404);
    let r = set_status(&env, id, "closed");
    assert_eq!(r.status(), 422);
    let r = call(
        &env,
        Request::post(&format!("/api/reports/{id}/status"), "{oops"),
    );
    assert_eq!(r.status(), 400);
}

#[test]
fn filing_validates_input() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    let post = |v: Value| call(&env, Request::post_json("/api/reports", &v));
    let cases = [
        json!({"category": "fire", "description": "x", "location": "y"}),
        json!({"category": "road", "description": "", "location": "y"}),
        json!({"category": "road", "description": "   ", "location": "y"}),
        json!({"category": "road", "description": "d".repeat(2001), "location": "y"}),
        json!({"category": "road", "description": "x", "location": ""}),
        json!({"category": "road", "description": "x", "location": "l".repeat(201)}),
    ];
    for case in cases {
        let r = post(case.clone());
        assert_eq!(r.status(), 422, "{case}");
        assert_eq!(r.error_code().as_deref(), Some("invalid_input"));
    }
    // Wrong shape (missing field, wrong type) is 422, malformed JSON is 400.
    assert_eq!(
        post(json!({"category": "road", "description": "x"})).status(),
        422
    );
    assert_eq!(
        post(json!({"category": 1, "description": "x", "location": "y"})).status(),
        422
    );
    let r = call(&env, Request::post("/api/reports", "not json"));
    assert_eq!(
        (r.status(), r.error_code().as_deref()),
        (400, Some("invalid_json"))
    );
    // Limits are in characters, not bytes.
    let long = json!({"category": "other", "description": "路".repeat(2000), "location": "厦".repeat(200)});
    assert_eq!(post(long).status(), 201);
    assert_eq!(
        env.stored("seq/report").as_deref(),
        Some(&b"1"[..]),
        "refusals burn no id"
    );
}

#[test]
fn storage_failures_are_reported_not_panicked() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    env.set_storage_quota(10);
    let r = call(
        &env,
        Request::post_json(
            "/api/reports",
            &json!({"category": "road", "description": "x", "location": "y"}),
        ),
    );
    assert_eq!(r.status(), 507);
    env.set_storage_quota(1 << 20)
        .set_storage_unavailable(Some("disk"));
    assert_eq!(call(&env, Request::get("/api/reports/mine")).status(), 503);
}

#[test]
fn wrong_methods_and_paths() {
    let mut env = TestEnv::new();
    env.as_caller("alice");
    let r = call(&env, Request::delete("/api/reports/1"));
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(call(&env, Request::get("/nope")).status(), 404);
}
