//! A host that holds against hostile input: what a plugin's answer may say
//! to the browser, what a plugin sees of a request (never a token), the
//! JSON error on every refusal, bounded bodies and manifests, and the
//! least a department's developer may learn.

use islet_tests::payments::{created, payment_host};
use islet_tests::{Backend, TestHost, component, json_of, manifest, manifest_as};
use serde_json::{Value, json};

/// Assert `response` is the host's JSON error with `status` and `code`
/// and the request id of its `X-Request-Id` header; its body.
async fn json_error(response: reqwest::Response, status: u16, code: &str, what: &str) -> Value {
    let got = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: status; body {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content type {content_type:?}; body {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(!request_id.is_empty(), "{what}: no X-Request-Id");
    assert_eq!(
        body["error"]["request_id"],
        request_id.as_str(),
        "{what}: {body}"
    );
    body
}

async fn mirror_host() -> TestHost {
    let host = TestHost::start().await;
    host.install("mirror").await;
    host
}

/// The guest answers exactly `headers`; what reaches the client.
async fn answered(host: &TestHost, headers: &[(&str, &str)]) -> reqwest::Response {
    let response = host
        .http
        .post(host.url("/p/mirror/headers"))
        .json(&headers)
        .send()
        .await
        .expect("POST /headers");
    assert_eq!(response.status(), 200);
    response
}

fn dropped_count(plugin: &str, reason: &str) -> f64 {
    let text = islet_host::metrics::handle()
        .map(|h| h.render())
        .unwrap_or_default();
    let prefix =
        format!("islet_guest_headers_dropped_total{{plugin=\"{plugin}\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_answer_passes_only_allowlisted_headers_and_drops_are_counted() {
    let host = mirror_host().await;
    let before = dropped_count("mirror", "not_allowed");
    let before_owned = dropped_count("mirror", "host_owned");
    let response = answered(
        &host,
        &[
            ("Set-Cookie", "islet_token=stolen; Path=/"),
            ("Clear-Site-Data", "\"storage\", \"cookies\""),
            (
                "Strict-Transport-Security",
                "max-age=63072000; includeSubDomains",
            ),
            ("Alt-Svc", "h3=\"evil.example:443\""),
            ("Refresh", "0; url=https://evil.example/"),
            ("Link", "<https://evil.example/x.js>; rel=preload"),
            ("WWW-Authenticate", "Basic realm=\"city\""),
            ("Content-Security-Policy", "script-src *"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Request-Id", "forged"),
            ("X-Accel-Redirect", "/internal/secrets"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("ETag", "\"v1\""),
            ("Content-Disposition", "inline"),
            ("X-Total-Count", "3"),
        ],
    )
    .await;
    let headers = response.headers().clone();
    for gone in [
        "set-cookie",
        "clear-site-data",
        "strict-transport-security",
        "alt-svc",
        "refresh",
        "link",
        "www-authenticate",
        "x-forwarded-for",
        "x-accel-redirect",
    ] {
        assert!(headers.get(gone).is_none(), "{gone} reached the client");
    }
    for kept in [
        ("content-type", "text/plain; charset=utf-8"),
        ("cache-control", "no-store"),
        ("etag", "\"v1\""),
        ("content-disposition", "inline"),
        ("x-total-count", "3"),
    ] {
        assert_eq!(headers[kept.0], kept.1, "{}", kept.0);
    }
    // Only the host's own policy and request id.
    let policies: Vec<_> = headers.get_all("content-security-policy").iter().collect();
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert!(policies[0].to_str().unwrap_or("").starts_with("sandbox"));
    assert_ne!(headers["x-request-id"], "forged");
    assert!(dropped_count("mirror", "not_allowed") >= before + 7.0);
    assert!(dropped_count("mirror", "host_owned") >= before_owned + 4.0);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_redirects_only_within_its_own_path() {
    let host = mirror_host().await;
    for (location, kept) in [
        ("/p/mirror/done", true),
        ("done?x=1", true),
        ("../mirror/list", true),
        ("https://evil.example/login", false),
        ("//evil.example/p/mirror/", false),
        ("/admin", false),
        ("/p/other/", false),
        ("../../api/v1/me/data-access", false),
        ("/p/mirror/%2e%2e/other/", false),
        ("/\\evil.example", false),
    ] {
        let response = answered(&host, &[("Location", location)]).await;
        assert_eq!(
            response.headers().get("location").is_some(),
            kept,
            "Location {location}"
        );
    }
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_or_too_large_answer_headers_are_the_guests_fault() {
    let host = mirror_host().await;
    // The SDK adds `content-type`: 63 + 1 headers are within the limit.
    let (status, _) = host.get_json("/p/mirror/many?n=63", None).await;
    assert_eq!(status, 200, "64 headers are within the limit");
    let r = host.get("/p/mirror/many?n=64", None).await;
    let body = json_error(r, 502, "plugin_invalid_response", "65 headers").await;
    assert!(body.to_string().contains("limit of 64"), "{body}");
    // 100,000 distinct names: once a panic of the host's header map (500).
    let r = host.get("/p/mirror/many?n=100000", None).await;
    json_error(r, 502, "plugin_invalid_response", "100,000 headers").await;
    let r = host.get("/p/mirror/huge?bytes=20000", None).await;
    let body = json_error(r, 502, "plugin_invalid_response", "a 20 KB header").await;
    assert!(body.to_string().contains("16384"), "{body}");
    let (status, _) = host.get_json("/p/mirror/echo", None).await;
    assert_eq!(status, 200, "the plugin answers after its refused answers");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_limits_come_from_the_config() {
    let host = TestHost::start_with(|c| c.guest_headers.max_count = 10).await;
    host.install("mirror").await;
    let (status, _) = host.get_json("/p/mirror/many?n=9", None).await;
    assert_eq!(status, 200);
    let r = host.get("/p/mirror/many?n=10", None).await;
    let body = json_error(r, 502, "plugin_invalid_response", "11 headers").await;
    assert!(body.to_string().contains("limit of 10"), "{body}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_a_plugin_in_any_form() {
    let host = mirror_host().await;
    let token = host.token("citizen-1", &[]);
    let response = host
        .http
        .get(host.url(&format!(
            "/p/mirror/echo?a=1&token={token}&next=%2F%3Ftoken%3D{token}&b=2"
        )))
        .bearer_auth(&token)
        .header("cookie", format!("islet_token={token}"))
        .header("referer", format!("{}/?token={token}", host.base))
        .header("x-token", &token)
        .header("accept", "application/json")
        .send()
        .await
        .expect("GET echo");
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap_or_default();
    let echo: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(echo["query"], "a=1&b=2", "{echo}");
    // The signature alone would do: no part of the token may pass.
    let signature = token.rsplit('.').next().unwrap_or(&token);
    assert!(
        !text.contains(signature),
        "the token reached the guest: {text}"
    );
    let names: Vec<&str> = echo["headers"]
        .as_array()
        .map(|a| a.iter().filter_map(|h| h[0].as_str()).collect())
        .unwrap_or_default();
    for gone in ["authorization", "cookie", "referer", "x-token"] {
        assert!(
            !names.contains(&gone),
            "{gone} reached the guest: {names:?}"
        );
    }
    assert!(names.contains(&"accept"), "{names:?}");

    // A service session is a token too.
    let (status, session) = host
        .post(
            "/api/v1/sessions",
            &token,
            Some(json!({"plugin": "mirror"})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let session_token = session["token"].as_str().unwrap_or_default().to_string();
    assert!(!session_token.is_empty(), "{session}");
    let response = host
        .http
        .post(host.url(&format!("/p/mirror/echo?session={session_token}")))
        .bearer_auth(&session_token)
        .send()
        .await
        .expect("POST echo");
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap_or_default();
    assert!(!text.contains(&session_token), "{text}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_the_json_error_with_the_request_id() {
    let host = TestHost::start_with(|c| c.max_component_bytes = 1 << 20).await;
    host.install("mirror").await;
    let admin = host.admin();
    let citizen = host.token("citizen-2", &[]);
    let h = &host.http;

    let r = h.get(host.url("/no/such/route")).send().await.expect("GET");
    json_error(r, 404, "not_found", "unknown route").await;
    let r = h.delete(host.url("/healthz")).send().await.expect("DELETE");
    json_error(r, 405, "method_not_allowed", "wrong method").await;
    let r = h
        .get(host.url("/admin/v1/nope"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    json_error(r, 404, "not_found", "unknown admin route").await;
    let r = h
        .delete(host.url("/admin/v1/plugins"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("DELETE");
    json_error(r, 405, "method_not_allowed", "wrong method (admin)").await;
    let r = h
        .delete(host.url("/admin/v1/plugins"))
        .send()
        .await
        .expect("DELETE");
    json_error(
        r,
        405,
        "method_not_allowed",
        "wrong method, no token (admin)",
    )
    .await;
    let r = h
        .get(host.url("/admin/v1/payment-events?limit=many"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    json_error(r, 400, "invalid_query", "bad query (admin)").await;
    let r = h
        .get(host.url("/admin/v1/payment-events?stauts=failed"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    let body = json_error(r, 400, "invalid_query", "a typo'd filter").await;
    assert!(body.to_string().contains("stauts"), "{body}");
    let r = h
        .get(host.url("/api/v1/orders?limit=many"))
        .bearer_auth(&citizen)
        .send()
        .await
        .expect("GET");
    json_error(r, 400, "bad_request", "bad query (citizen)").await;
    let r = h
        .get(host.url("/admin/v1/plugins/%FF%FE"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    json_error(r, 400, "invalid_path", "a path that is not UTF-8").await;
    let r = h.get(host.url("/p/%0d%0a")).send().await.expect("GET");
    json_error(r, 400, "invalid_path", "an encoded CR LF as plugin id").await;

    // JSON bodies: syntax, type, and the token before either.
    let catalog = host.url("/admin/v1/plugins/mirror/catalog");
    let r = h
        .put(&catalog)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("PUT");
    json_error(r, 400, "invalid_json", "broken JSON").await;
    let r = h
        .put(&catalog)
        .bearer_auth(&admin)
        .body("{}")
        .send()
        .await
        .expect("PUT");
    json_error(r, 415, "unsupported_media_type", "no content type").await;
    let r = h.put(&catalog).body("{").send().await.expect("PUT");
    json_error(r, 401, "unauthenticated", "no token, bad body").await;
    let r = h
        .put(&catalog)
        .bearer_auth(&citizen)
        .body("{")
        .send()
        .await
        .expect("PUT");
    json_error(r, 403, "forbidden", "a citizen, bad body").await;

    // Multipart: no boundary; an upload over the limit, with and without
    // a token, gets a readable 413/401 instead of a reset connection.
    let r = h
        .post(host.url("/admin/v1/plugins"))
        .bearer_auth(&admin)
        .header("content-type", "multipart/form-data")
        .body("x")
        .send()
        .await
        .expect("POST");
    json_error(r, 400, "bad_request", "multipart without boundary").await;
    let big = || {
        reqwest::multipart::Form::new()
            .text("manifest", manifest("mirror"))
            .part(
                "component",
                reqwest::multipart::Part::bytes(vec![0u8; 3 << 20]).file_name("c.wasm"),
            )
    };
    let r = h
        .post(host.url("/admin/v1/plugins"))
        .bearer_auth(&admin)
        .multipart(big())
        .send()
        .await
        .expect("an upload over the limit gets an answer");
    let body = json_error(r, 413, "upload_too_large", "upload over the limit").await;
    assert!(body.to_string().contains("1048576"), "{body}");
    let r = h
        .post(host.url("/admin/v1/plugins"))
        .multipart(big())
        .send()
        .await
        .expect("an anonymous upload gets an answer");
    json_error(r, 401, "unauthenticated", "anonymous upload").await;
    let r = h
        .post(host.url("/api/v1/consents"))
        .bearer_auth(&citizen)
        .body(vec![b' '; 3 << 20])
        .send()
        .await
        .expect("a body over the default limit gets an answer");
    json_error(r, 413, "body_too_large", "body over the default limit").await;
    let r = h
        .post(host.url("/api/v1/consents"))
        .body(vec![b' '; 3 << 20])
        .send()
        .await
        .expect("an anonymous body over the limit gets an answer");
    json_error(r, 401, "unauthenticated", "anonymous body over the limit").await;
    let r = h
        .post(host.url("/api/v1/sessions"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("POST");
    json_error(r, 401, "unauthenticated", "anonymous broken session body").await;
    let r = h
        .post(host.url("/p/mirror/echo"))
        .body(vec![b'x'; 2 << 20])
        .send()
        .await
        .expect("a plugin body over its limit gets an answer");
    json_error(r, 413, "request_too_large", "plugin body over its limit").await;
    let (status, _) = host.get_json("/healthz", None).await;
    assert_eq!(status, 200);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curation_refuses_unknown_fields_and_unbounded_strings() {
    let host = mirror_host().await;
    let admin = host.admin();
    let put = |body: Value| {
        host.http
            .put(host.url("/admin/v1/plugins/mirror/catalog"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let (status, body) = json_of(
        put(json!({"featured": true, "district": "Nanshan"}))
            .await
            .expect("PUT"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = put(json!({"featurd": false})).await.expect("PUT");
    let body = json_error(r, 422, "invalid_body", "a typo'd field").await;
    assert!(body.to_string().contains("featurd"), "{body}");
    let r = put(json!({"district": "d".repeat(41)})).await.expect("PUT");
    let body = json_error(r, 422, "invalid_body", "a long district").await;
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("district") && message.contains("40"),
        "{message}"
    );
    let r = put(json!({"category": "c".repeat(100_000)}))
        .await
        .expect("PUT");
    json_error(r, 422, "invalid_body", "a long category").await;
    // A field name of 100,000 characters is not echoed back whole.
    let r = put(json!({ "f".repeat(100_000): 1 })).await.expect("PUT");
    let body = json_error(r, 422, "invalid_body", "a huge unknown field").await;
    assert!(
        body.to_string().len() < 2_000,
        "{} bytes",
        body.to_string().len()
    );
    let r = put(json!({"order": i32::MAX})).await.expect("PUT");
    json_error(r, 422, "invalid_body", "an extreme order").await;
    // The refused bodies left the curation as it was.
    let (_, plugin) = host
        .get_json("/admin/v1/plugins/mirror", Some(&admin))
        .await;
    assert_eq!(plugin["curation"]["featured"], true, "{plugin}");
    assert_eq!(plugin["curation"]["district"], "Nanshan", "{plugin}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_bodies_refuse_unknown_fields_and_are_bounded() {
    let host = mirror_host().await;
    let admin = host.admin();
    let (status, body) = host
        .upload_version("mirror", "mirror", "0.2.0", &admin)
        .await;
    assert_eq!(status, 201, "{body}");
    let action = |a: &str| format!("/admin/v1/plugins/mirror/versions/0.2.0/{a}");
    let (status, body) = host.post(&action("submit"), &admin, None).await;
    assert_eq!(status, 200, "{body}");
    for (path, bad, field) in [
        (action("approve"), json!({"capabilitys": []}), "capabilitys"),
        (
            action("approve"),
            json!({"templates": ["Not An Id"]}),
            "templates",
        ),
        (
            action("reject"),
            json!({"reason": "r".repeat(2001)}),
            "reason",
        ),
        (
            action("reject"),
            json!({"reason": "no", "because": 1}),
            "because",
        ),
        (
            "/admin/v1/plugins/mirror/gray".to_string(),
            json!({"percent": 10, "testers": vec!["t"; 1001]}),
            "testers",
        ),
        (
            "/admin/v1/plugins/mirror/gray".to_string(),
            json!({"percent": 10, "testers": ["x".repeat(300)]}),
            "testers",
        ),
    ] {
        let r = host
            .http
            .post(host.url(&path))
            .bearer_auth(&admin)
            .json(&bad)
            .send()
            .await
            .expect("POST");
        let body = json_error(r, 422, "invalid_body", &format!("{path} {field}")).await;
        assert!(body.to_string().contains(field), "{path}: {body}");
    }
    let (status, body) = host
        .post(&action("reject"), &admin, Some(json!({"reason": "fine"})))
        .await;
    assert_eq!(status, 200, "a bounded body still works: {body}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_with_too_many_templates_is_refused() {
    let host = TestHost::start().await;
    let mut text = manifest_as("mirror", "many-templates", None)
        .replace("capabilities = []", "capabilities = [\"notification\"]");
    for i in 0..51 {
        text.push_str(&format!(
            "\n[[templates]]\nid = \"t{i}\"\ntitle = \"Title\"\nbody = \"Body\"\nkind = \"one-time\"\n"
        ));
    }
    let r = host.upload(&text, component("mirror")).await;
    let body = json_error(r, 400, "invalid_manifest", "51 templates").await;
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("templates") && message.contains("50"),
        "{message}"
    );
    host.stop().await;
}

/// `(status, code, message with the id replaced)` of a request by `token`.
async fn answer_of(
    host: &TestHost,
    method: reqwest::Method,
    path: &str,
    token: &str,
    id: &str,
) -> (u16, Value) {
    let r = host
        .http
        .request(method, host.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(r).await;
    let mut error = body["error"].clone();
    if let Some(e) = error.as_object_mut() {
        e.remove("request_id");
        if let Some(m) = e.get("message").and_then(Value::as_str) {
            let m = m.replace(id, "ID");
            e.insert("message".into(), json!(m));
        }
    }
    (status, error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_departments_plugins_answer_exactly_like_absent_ones() {
    let host = mirror_host().await;
    // `mirror` belongs to department "platform".
    let outsider = host.token("dev-9", &["developer:parks"]);
    let owner = host.token("dev-1", &["developer:platform"]);
    use reqwest::Method;
    let routes: Vec<(Method, &str)> = vec![
        (Method::GET, "/admin/v1/plugins/ID"),
        (Method::POST, "/admin/v1/plugins/ID/versions/0.1.0/submit"),
        (Method::POST, "/admin/v1/plugins/ID/versions/0.1.0/approve"),
        (Method::POST, "/admin/v1/plugins/ID/versions/9.9.9/release"),
        (Method::POST, "/admin/v1/plugins/ID/gray"),
        (Method::POST, "/admin/v1/plugins/ID/take-down"),
        (Method::POST, "/admin/v1/plugins/ID/rollback"),
        (Method::PUT, "/admin/v1/plugins/ID/catalog"),
        (Method::POST, "/admin/v1/plugins/ID/resume"),
        (Method::GET, "/admin/v1/plugins/ID/data-access"),
    ];
    for (method, path) in routes {
        let hidden = answer_of(
            &host,
            method.clone(),
            &path.replace("ID", "mirror"),
            &outsider,
            "mirror",
        )
        .await;
        let absent = answer_of(
            &host,
            method.clone(),
            &path.replace("ID", "zz-absent"),
            &outsider,
            "zz-absent",
        )
        .await;
        assert_eq!(hidden, absent, "{method} {path}");
        assert!(
            hidden.0 == 404 || hidden.0 == 403,
            "{method} {path}: {hidden:?}"
        );
        // The owner does see it (not a 404).
        let own = answer_of(
            &host,
            method.clone(),
            &path.replace("ID", "mirror"),
            &owner,
            "mirror",
        )
        .await;
        assert_ne!(
            own.1["code"], "plugin_not_found",
            "{method} {path}: {own:?}"
        );
    }
    let (status, listed) = host.get_json("/admin/v1/plugins", Some(&outsider)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["plugins"], json!([]), "{listed}");
    // Uploading a version of another department's plugin: the same 404.
    let (status, body) = host
        .upload_version("mirror", "mirror", "0.3.0", &outsider)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "plugin_not_found", "{body}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_platform_roles_see_a_citizens_platform_wide_key() {
    let host = payment_host(Backend::Sled).await;
    let citizen = host.token("payer-1", &[]);
    let order = created(&host, &citizen, "key-1", 500).await;
    let id = order["id"].as_str().unwrap_or_default().to_string();
    let path = format!("/admin/v1/orders/{id}");
    for role in ["admin", "reviewer", "operator"] {
        let (status, body) = host
            .get_json(&path, Some(&host.token("staff", &[role])))
            .await;
        assert_eq!(status, 200, "{role}: {body}");
        assert!(body["order"]["citizen"].is_string(), "{role}: {body}");
    }
    // payment-probe belongs to department "probe".
    let developer = host.token("dev-2", &["developer:probe"]);
    let (status, body) = host.get_json(&path, Some(&developer)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["order"].get("citizen").is_none(), "{body}");
    assert!(body["order"]["payer"].is_string(), "{body}");
    let key = {
        let (_, b) = host.get_json(&path, Some(&host.admin())).await;
        b["order"]["citizen"].as_str().unwrap_or("-").to_string()
    };
    assert!(!body.to_string().contains(&key), "the key leaked: {body}");
    // Another department: the same 404 as an order that does not exist.
    let outsider = host.token("dev-3", &["developer:parks"]);
    let hidden = answer_of(&host, reqwest::Method::GET, &path, &outsider, &id).await;
    let absent_path = format!("/admin/v1/orders/{}", "0".repeat(id.len()));
    let absent = answer_of(
        &host,
        reqwest::Method::GET,
        &absent_path,
        &outsider,
        &"0".repeat(id.len()),
    )
    .await;
    assert_eq!(hidden.0, 404, "{hidden:?}");
    assert_eq!(hidden, absent);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_sign_the_citizen_out_in_chromium() {
    const CHROMIUM: &str = "/usr/bin/chromium";
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `apt-get update && apt-get install -y chromium`"
    );
    let dir = islet_tests::browser_node_modules();
    let host = mirror_host().await;
    let token = host.token("citizen-3", &[]);
    let run = tokio::process::Command::new("node")
        .arg("clear-site-data.mjs")
        .current_dir(&dir)
        .env("BASE_URL", &host.base)
        .env("CITIZEN_TOKEN", &token)
        .env("CHROMIUM", CHROMIUM)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the browser script ends within 2 minutes")
        .expect("node (Node.js) is needed for the browser tests");
    assert!(
        output.status.success(),
        "tests/browser/clear-site-data.mjs failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    host.stop().await;
}
