//! Personal data through the real host and a real guest: a claim is
//! released only when declared, granted and consented, every release is in
//! the citizen's trail, revocation works for the very next call.

use super::notification::release_with;
use islet_tests::{Backend, TestHost, json_of};
use serde_json::{Value, json};

/// A citizen token carrying personal data claims.
fn citizen_with_data(host: &TestHost, sub: &str) -> String {
    let mut claims = host.claims(sub, &[]);
    claims.name = Some(format!("Name of {sub}"));
    claims.phone_number = Some("13900001111".into());
    claims.national_id = Some("350203199001011234".into());
    host.sign(&claims)
}

async fn claim(host: &TestHost, plugin: &str, item: &str, token: Option<&str>) -> (u16, Value) {
    host.get_json(&format!("/p/{plugin}/claim/{item}"), token)
        .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn consent(host: &TestHost, token: &str, body: Value) -> (u16, Value) {
    host.post("/api/v1/consents", token, Some(body)).await
}

async fn the_privacy_notice_lists_only_what_an_admin_granted(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    release_with(
        &host,
        "people-probe",
        json!({"capabilities": ["identity", "notification"], "personal_data": ["real-name"], "templates": ["status", "alerts"]}),
    )
    .await;
    let (status, notice) = host
        .get_json("/api/v1/catalog/people-probe/privacy", None)
        .await;
    assert_eq!(status, 200, "{notice}");
    assert_eq!(notice["name"], "People probe test guest");
    assert_eq!(
        notice["personal_data"],
        json!([{"item": "real-name", "label": "real name", "purpose": "Shown on your permit"}]),
        "phone is declared but not granted"
    );
    let templates: Vec<&str> = notice["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(
        templates,
        vec!["status"],
        "alerts is long-term, not allowed here: {notice}"
    );
    assert_eq!(notice["templates"][0]["title"], "Status update");
    let (status, body) = host.get_json("/api/v1/catalog/nope/privacy", None).await;
    assert_eq!((status, code(&body)), (404, "plugin_not_found"), "{body}");
    host.stop().await;
}

async fn a_claim_needs_declaration_grant_and_consent_and_leaves_a_trail(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    release_with(
        &host,
        "people-probe",
        json!({"capabilities": ["identity", "storage", "log", "notification"], "personal_data": ["real-name"]}),
    )
    .await;
    let ann = citizen_with_data(&host, "ann");

    let (status, body) = claim(&host, "people-probe", "national-id", Some(&ann)).await;
    assert_eq!((status, code(&body)), (422, "not-declared"), "{body}");
    let (status, body) = claim(&host, "people-probe", "phone", Some(&ann)).await;
    assert_eq!(
        (status, code(&body)),
        (422, "not-granted"),
        "declared, not granted: {body}"
    );
    let (status, body) = claim(&host, "people-probe", "real-name", Some(&ann)).await;
    assert_eq!((status, code(&body)), (422, "no-consent"), "{body}");
    assert_eq!(
        body["error"]["consent"],
        json!({"item": "real-name", "purpose": "Shown on your permit"}),
        "the app learns what to ask"
    );
    let (status, body) = claim(&host, "people-probe", "real-name", None).await;
    assert_eq!((status, code(&body)), (422, "no-caller"), "{body}");

    // Consent only for what the manifest declares.
    let (status, body) = consent(
        &host,
        &ann,
        json!({"plugin": "people-probe", "item": "national-id"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("not_declared")),
        "{body}"
    );
    let (status, _) = consent(&host, &ann, json!({"plugin": "nope", "item": "real-name"})).await;
    assert_eq!(status, 404);
    let (status, _) = consent(&host, &ann, json!({"plugin": "people-probe"})).await;
    assert_eq!(status, 400);
    let (status, given) = consent(
        &host,
        &ann,
        json!({"plugin": "people-probe", "item": "real-name"}),
    )
    .await;
    assert_eq!(status, 201, "{given}");
    assert_eq!(
        (given["purpose"].as_str(), given["service_name"].as_str()),
        (
            Some("Shown on your permit"),
            Some("People probe test guest")
        )
    );
    let consent_id = given["id"].as_str().unwrap().to_string();

    let response = host
        .http
        .get(host.url("/p/people-probe/claim/real-name"))
        .bearer_auth(&ann)
        .header("x-request-id", "claim-req-1")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["value"].as_str()),
        (200, Some("Name of ann")),
        "{body}"
    );

    // The trail: the citizen's own, and the plugin's for admins.
    let (status, trail) = host.get_json("/api/v1/me/data-access", Some(&ann)).await;
    assert_eq!(status, 200, "{trail}");
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{trail}");
    let entry = &entries[0];
    assert_eq!(
        (
            entry["plugin"].as_str(),
            entry["item"].as_str(),
            entry["purpose"].as_str(),
            entry["consent_id"].as_str(),
            entry["request_id"].as_str()
        ),
        (
            Some("people-probe"),
            Some("real-name"),
            Some("Shown on your permit"),
            Some(consent_id.as_str()),
            Some("claim-req-1")
        )
    );
    assert!(entry.get("subject").is_none(), "{entry}");
    let (_, me) = host.get_json("/p/people-probe/me", Some(&ann)).await;
    let (status, admin_trail) = host
        .get_json(
            "/admin/v1/plugins/people-probe/data-access",
            Some(&host.admin()),
        )
        .await;
    assert_eq!(status, 200, "{admin_trail}");
    assert_eq!(
        admin_trail["entries"][0]["subject"], me["subject"],
        "admins see the pseudonym"
    );
    assert!(
        !admin_trail.to_string().contains("\"ann\""),
        "never the citizen's id"
    );
    let (status, _) = host
        .get_json("/admin/v1/plugins/people-probe/data-access", Some(&ann))
        .await;
    assert_eq!(status, 403);

    // Another citizen sees none of it and cannot withdraw it.
    let bob = citizen_with_data(&host, "bob");
    let (_, bobs) = host.get_json("/api/v1/me/data-access", Some(&bob)).await;
    assert_eq!(bobs["entries"], json!([]));
    let (_, bobs) = host.get_json("/api/v1/consents", Some(&bob)).await;
    assert_eq!(bobs["consents"], json!([]));
    let response = host
        .http
        .delete(host.url(&format!("/api/v1/consents/{consent_id}")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (status, body) = claim(&host, "people-probe", "real-name", Some(&bob)).await;
    assert_eq!(
        (status, code(&body)),
        (422, "no-consent"),
        "bob never consented: {body}"
    );

    // A citizen whose token lacks the item: consented, but nothing to give.
    let plain = host.token("cai", &[]);
    consent(
        &host,
        &plain,
        json!({"plugin": "people-probe", "item": "real-name"}),
    )
    .await;
    let (status, body) = claim(&host, "people-probe", "real-name", Some(&plain)).await;
    assert_eq!((status, code(&body)), (422, "not-available"), "{body}");

    // Withdrawal takes effect for the very next call.
    let (_, mine) = host.get_json("/api/v1/consents", Some(&ann)).await;
    assert_eq!(mine["consents"][0]["id"], consent_id.as_str());
    let response = host
        .http
        .delete(host.url(&format!("/api/v1/consents/{consent_id}")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = claim(&host, "people-probe", "real-name", Some(&ann)).await;
    assert_eq!((status, code(&body)), (422, "no-consent"), "{body}");
    let (_, trail) = host.get_json("/api/v1/me/data-access", Some(&ann)).await;
    assert_eq!(
        trail["entries"].as_array().unwrap().len(),
        1,
        "no release after withdrawal"
    );
    let (status, _) = host.get_json("/api/v1/consents", None).await;
    assert_eq!(status, 401);
}

async fn department_subjects_are_shared_within_a_department_only(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    host.install_as("people-probe", "people-a").await;
    host.install_as("people-probe", "people-b").await;
    let dee = host.token("dee", &[]);
    let (_, a) = host.get_json("/p/people-a/me", Some(&dee)).await;
    let (_, b) = host.get_json("/p/people-b/me", Some(&dee)).await;
    assert_ne!(
        a["subject"], b["subject"],
        "pairwise subjects differ per plugin"
    );
    assert!(a["department_subject"].is_string(), "{a}");
    assert_eq!(
        a["department_subject"], b["department_subject"],
        "one department: one subject"
    );
    assert_ne!(a["department_subject"], a["subject"]);
    let eli = host.token("eli", &[]);
    let (_, other) = host.get_json("/p/people-a/me", Some(&eli)).await;
    assert_ne!(other["department_subject"], a["department_subject"]);
    let (_, anonymous) = host.get_json("/p/people-a/me", None).await;
    assert!(anonymous["department_subject"].is_null(), "{anonymous}");
    // Another department gets another subject for the same citizen.
    let manifest = islet_tests::manifest_as("people-probe", "people-c", None)
        .replace("department = \"probe\"", "department = \"housing\"");
    let response = host
        .upload(&manifest, islet_tests::component("people-probe"))
        .await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let (_, c) = host.get_json("/p/people-c/me", Some(&dee)).await;
    assert_ne!(c["department_subject"], a["department_subject"]);
}

async fn grants_beyond_the_manifest_are_refused_at_review(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    let admin = host.admin();
    let (status, body) = host
        .upload_version("people-probe", "people-probe", "0.1.0", &admin)
        .await;
    assert_eq!(status, 201, "{body}");
    let base = "/admin/v1/plugins/people-probe/versions/0.1.0";
    assert_eq!(
        host.post(&format!("{base}/submit"), &admin, None).await.0,
        200
    );
    for (grants, named) in [
        (json!({"personal_data": ["national-id"]}), "national-id"),
        (json!({"templates": ["nope"]}), "nope"),
    ] {
        let (status, body) = host
            .post(&format!("{base}/approve"), &admin, Some(grants))
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(named),
            "{body}"
        );
    }
    let (status, body) = host
        .post(
            &format!("{base}/approve"),
            &admin,
            Some(json!({"all_requested": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, plugin) = host
        .get_json("/admin/v1/plugins/people-probe", Some(&admin))
        .await;
    let grants = &plugin["history"][0]["grants"];
    assert_eq!(
        grants["personal_data"],
        json!(["real-name", "phone"]),
        "{plugin}"
    );
    assert_eq!(grants["long_term_messages"], true);
}

islet_tests::on_every_backend!(
    the_privacy_notice_lists_only_what_an_admin_granted,
    a_claim_needs_declaration_grant_and_consent_and_leaves_a_trail,
    department_subjects_are_shared_within_a_department_only,
    grants_beyond_the_manifest_are_refused_at_review,
);
