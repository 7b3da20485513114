//! Notifications through the real host and the real `people-probe` guest:
//! every refusal with its reason, quotas, one-time consents under racing
//! sends, long-term consent only where allowed, and isolation between
//! plugins. The inbox, its live stream and the webhook are in the
//! submodules.

mod inbox;
mod webhook;

use islet_tests::Backend;
use islet_tests::TestHost;
use serde_json::{Value, json};

pub const PROBE: &str = "people-probe";

/// Release people-probe 0.1.0 as `id` through review with exactly `grants`.
pub async fn release_with(host: &TestHost, id: &str, grants: Value) {
    let admin = host.admin();
    let (status, body) = host.upload_version(PROBE, id, "0.1.0", &admin).await;
    assert_eq!(status, 201, "{body}");
    let base = format!("/admin/v1/plugins/{id}/versions/0.1.0");
    for (action, body) in [
        ("submit", None),
        ("approve", Some(grants.clone())),
        ("release", Some(json!({"percent": 100}))),
    ] {
        let (status, answer) = host.post(&format!("{base}/{action}"), &admin, body).await;
        assert_eq!(status, 200, "{action}: {answer}");
    }
}

/// The citizen's pairwise subject in `plugin`.
pub async fn subject(host: &TestHost, plugin: &str, token: &str) -> String {
    let (status, body) = host.get_json(&format!("/p/{plugin}/me"), Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["subject"].as_str().expect("a subject").to_string()
}

/// `POST /api/v1/consents {"plugin", "template"}` as `token`.
pub async fn consent(host: &TestHost, token: &str, plugin: &str, template: &str) -> (u16, Value) {
    host.post(
        "/api/v1/consents",
        token,
        Some(json!({"plugin": plugin, "template": template})),
    )
    .await
}

/// Consent and assert it was recorded.
pub async fn consented(host: &TestHost, token: &str, plugin: &str, template: &str) {
    let (status, body) = consent(host, token, plugin, template).await;
    assert_eq!(status, 201, "{body}");
}

/// Ask `plugin` to send `template` with `params` to `recipient`.
pub async fn send(
    host: &TestHost,
    plugin: &str,
    recipient: &str,
    template: &str,
    params: Value,
    link: Option<&str>,
) -> (u16, Value) {
    let clerk = host.token("clerk", &[]);
    let body =
        json!({"recipient": recipient, "template": template, "params": params, "link": link});
    host.post(&format!("/p/{plugin}/send"), &clerk, Some(body))
        .await
}

/// A status update for case 12.
pub fn status_params() -> Value {
    json!({"case": "12", "status": "resolved"})
}

/// The error code of a JSON error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// `GET /api/v1/inbox` (plus `query`) as `token`.
pub async fn inbox(host: &TestHost, token: &str, query: &str) -> Value {
    let (status, body) = host
        .get_json(&format!("/api/v1/inbox{query}"), Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn each_refusal_names_its_reason_and_a_good_send_lands_in_the_inbox(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install(PROBE).await;
    let ann = host.token("ann", &[]);
    let me = subject(&host, PROBE, &ann).await;

    let (status, body) = send(&host, PROBE, &me, "status", status_params(), None).await;
    assert_eq!((status, code(&body)), (422, "no-consent"), "{body}");
    consented(&host, &ann, PROBE, "status").await;

    for params in [
        json!({"case": "12"}),
        json!({"case": "12", "status": "x", "colour": "red"}),
        json!({"case": "12", "status": "s".repeat(201)}),
    ] {
        let (status, body) = send(&host, PROBE, &me, "status", params.clone(), None).await;
        assert_eq!(
            (status, code(&body)),
            (422, "bad-parameters"),
            "{params}: {body}"
        );
    }
    let long = format!("/{}", "x".repeat(200));
    for link in [
        "cases/12",
        "//evil.example/x",
        "/cases/../../admin",
        "/a b",
        long.as_str(),
    ] {
        let (status, body) = send(&host, PROBE, &me, "status", status_params(), Some(link)).await;
        assert_eq!(
            (status, code(&body)),
            (422, "bad-parameters"),
            "{link}: {body}"
        );
    }
    let (status, body) = send(&host, PROBE, "nobody", "status", status_params(), None).await;
    assert_eq!((status, code(&body)), (422, "unknown-recipient"), "{body}");
    let (status, body) = send(&host, PROBE, &me, "nope", status_params(), None).await;
    assert_eq!(
        (status, code(&body)),
        (422, "template-not-approved"),
        "{body}"
    );
    assert_eq!(
        inbox(&host, &ann, "").await["messages"],
        json!([]),
        "refusals deliver nothing"
    );

    let (status, sent) = send(
        &host,
        PROBE,
        &me,
        "status",
        status_params(),
        Some("/cases/12"),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let page = inbox(&host, &ann, "").await;
    let message = &page["messages"][0];
    assert_eq!(message["id"], sent["id"]);
    assert_eq!(message["body"], "Your case 12 is now resolved.");
    assert_eq!(message["title"], "Status update");
    assert_eq!(message["service_name"], "People probe test guest");
    assert_eq!(message["plugin"], PROBE);
    assert_eq!(message["link"], "/p/people-probe/cases/12");
    assert_eq!(message["read"], false);
    assert_eq!(page["unread"], 1);

    let (status, body) = send(&host, PROBE, &me, "status", status_params(), None).await;
    assert_eq!(
        (status, code(&body)),
        (422, "no-consent"),
        "the one-time consent is used: {body}"
    );
    host.stop().await;
}

async fn a_template_or_capability_not_granted_is_not_approved(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    release_with(
        &host,
        PROBE,
        json!({"capabilities": ["identity", "storage", "log", "notification"], "templates": ["alerts"], "long_term_messages": true}),
    )
    .await;
    let ann = host.token("ann", &[]);
    let me = subject(&host, PROBE, &ann).await;
    let (status, body) = consent(&host, &ann, PROBE, "status").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("template_not_approved")),
        "{body}"
    );
    let (status, body) = send(&host, PROBE, &me, "status", status_params(), None).await;
    assert_eq!(
        (status, code(&body)),
        (422, "template-not-approved"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("status"),
        "{body}"
    );
    consented(&host, &ann, PROBE, "alerts").await;
    let (status, body) = send(
        &host,
        PROBE,
        &me,
        "alerts",
        json!({"text": "Water off"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "the approved template works: {body}");

    // Templates approved, the capability itself not granted.
    release_with(
        &host,
        "mute-probe",
        json!({"capabilities": ["identity", "storage", "log"], "templates": ["status", "alerts"], "long_term_messages": true}),
    )
    .await;
    let mine = subject(&host, "mute-probe", &ann).await;
    consented(&host, &ann, "mute-probe", "status").await;
    let (status, body) = send(&host, "mute-probe", &mine, "status", status_params(), None).await;
    assert_eq!(
        (status, code(&body)),
        (422, "template-not-approved"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("capability"),
        "{body}"
    );
    host.stop().await;
}

async fn daily_quotas_per_plugin_and_per_citizen(backend: Backend) {
    let host = TestHost::start_on_with(backend, |c| {
        c.notification.plugin_daily_quota = 3;
        c.notification.citizen_daily_cap = 2;
    })
    .await;
    host.install(PROBE).await;
    let (ann, bob) = (host.token("ann", &[]), host.token("bob", &[]));
    let (ann_s, bob_s) = (
        subject(&host, PROBE, &ann).await,
        subject(&host, PROBE, &bob).await,
    );
    for _ in 0..3 {
        consented(&host, &ann, PROBE, "status").await;
        consented(&host, &bob, PROBE, "status").await;
    }
    for expected in [200, 200, 422] {
        let (status, body) = send(&host, PROBE, &ann_s, "status", status_params(), None).await;
        assert_eq!(status, expected, "{body}");
        if status == 422 {
            assert_eq!(code(&body), "quota-exceeded", "the citizen's cap: {body}");
        }
    }
    let (status, body) = send(&host, PROBE, &bob_s, "status", status_params(), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(&host, PROBE, &bob_s, "status", status_params(), None).await;
    assert_eq!(
        (status, code(&body)),
        (422, "quota-exceeded"),
        "the plugin's quota: {body}"
    );

    let (_, consents) = host.get_json("/api/v1/consents", Some(&bob)).await;
    assert_eq!(
        consents["consents"][0]["remaining"], 2,
        "a refused send keeps the consent: {consents}"
    );
    host.stop().await;
}

async fn race(host: &TestHost, recipient: &str, sends: usize) -> Vec<(u16, Value)> {
    let mut tasks = Vec::new();
    for _ in 0..sends {
        let (base, recipient) = (host.base.clone(), recipient.to_string());
        let (http, clerk) = (host.http.clone(), host.token("clerk", &[]));
        tasks.push(tokio::spawn(async move {
            let response = http
                .post(format!("{base}/p/{PROBE}/send"))
                .bearer_auth(clerk)
                .json(&json!({"recipient": recipient, "template": "status", "params": status_params()}))
                .send()
                .await
                .expect("send");
            islet_tests::json_of(response).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

async fn a_one_time_consent_is_used_exactly_once_by_racing_sends(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install(PROBE).await;
    let ann = host.token("ann", &[]);
    let me = subject(&host, PROBE, &ann).await;

    consented(&host, &ann, PROBE, "status").await;
    let results = race(&host, &me, 20).await;
    let sent = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(sent, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, b)| *s == 200 || code(b) == "no-consent"),
        "{results:?}"
    );

    consented(&host, &ann, PROBE, "status").await;
    consented(&host, &ann, PROBE, "status").await;
    let results = race(&host, &me, 20).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 200).count(),
        2,
        "{results:?}"
    );

    let page = inbox(&host, &ann, "").await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(3), "{page}");
    assert_eq!(page["unread"], 3);
    let (_, consents) = host.get_json("/api/v1/consents", Some(&ann)).await;
    assert_eq!(consents["consents"][0]["remaining"], 0, "{consents}");
    host.stop().await;
}

async fn long_term_consent_only_where_an_admin_allowed_it(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    release_with(
        &host,
        "plain-probe",
        json!({"capabilities": ["identity", "storage", "log", "notification"], "templates": ["status", "alerts"], "long_term_messages": false}),
    )
    .await;
    host.install(PROBE).await; // everything requested, long-term included
    let ann = host.token("ann", &[]);

    let (status, body) = consent(&host, &ann, "plain-probe", "alerts").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("long_term_not_allowed")),
        "{body}"
    );
    let plain = subject(&host, "plain-probe", &ann).await;
    let (status, body) = send(
        &host,
        "plain-probe",
        &plain,
        "alerts",
        json!({"text": "hi"}),
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (422, "no-consent"), "{body}");

    let me = subject(&host, PROBE, &ann).await;
    let (status, body) = send(&host, PROBE, &me, "alerts", json!({"text": "hi"}), None).await;
    assert_eq!((status, code(&body)), (422, "no-consent"), "{body}");
    consented(&host, &ann, PROBE, "alerts").await;
    for i in 0..3 {
        let (status, body) = send(
            &host,
            PROBE,
            &me,
            "alerts",
            json!({"text": format!("alert {i}")}),
            None,
        )
        .await;
        assert_eq!(status, 200, "a long-term consent is not used up: {body}");
    }
    host.stop().await;
}

async fn a_plugin_cannot_address_a_subject_of_another_plugin(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install_as(PROBE, "probe-a").await;
    host.install_as(PROBE, "probe-b").await;
    let ann = host.token("ann", &[]);
    let (status, me_in_a) = host.get_json("/p/probe-a/me", Some(&ann)).await;
    assert_eq!(status, 200, "{me_in_a}");
    let me_in_b = subject(&host, "probe-b", &ann).await;
    consented(&host, &ann, "probe-b", "status").await;
    consented(&host, &ann, "probe-b", "status").await;

    for foreign in [&me_in_a["subject"], &me_in_a["department_subject"]] {
        let foreign = foreign.as_str().expect("a subject");
        let (status, body) = send(&host, "probe-b", foreign, "status", status_params(), None).await;
        assert_eq!(
            (status, code(&body)),
            (422, "unknown-recipient"),
            "{foreign}: {body}"
        );
    }
    let (status, body) = send(&host, "probe-b", &me_in_b, "status", status_params(), None).await;
    assert_eq!(status, 200, "its own subject works: {body}");
    host.stop().await;
}

islet_tests::on_every_backend!(
    each_refusal_names_its_reason_and_a_good_send_lands_in_the_inbox,
    a_template_or_capability_not_granted_is_not_approved,
    daily_quotas_per_plugin_and_per_citizen,
    a_one_time_consent_is_used_exactly_once_by_racing_sends,
    long_term_consent_only_where_an_admin_allowed_it,
    a_plugin_cannot_address_a_subject_of_another_plugin,
);
