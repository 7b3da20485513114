//! Mini-service pages are kept apart from the platform: every answer of a
//! plugin route is sandboxed (an opaque origin of its own) and callable
//! cross-origin, and the page gets a service session that works on its own
//! service's routes only, never the citizen's app token.

use islet_tests::{TestHost, json_of, now};
use reqwest::{Method, header};
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

async fn open_session(host: &TestHost, token: &str, plugin: &str) -> (u16, Value) {
    host.post("/api/v1/sessions", token, Some(json!({ "plugin": plugin })))
        .await
}

async fn get_as(host: &TestHost, path: &str, token: &str) -> (u16, Value) {
    host.get_json(path, Some(token)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_session_works_on_its_own_service_only() {
    let host = TestHost::start().await;
    host.install("hello").await;
    host.install_as("hello", "hello-two").await;
    let ann = host.token("ann", &[]);

    let response = host
        .http
        .post(host.url("/api/v1/sessions"))
        .bearer_auth(&ann)
        .json(&json!({ "plugin": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "no-store",
        "a session is never cached"
    );
    let (status, session) = json_of(response).await;
    assert_eq!(status, 201, "{session}");
    let token = session["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("isl_s_"), "{session}");
    assert_eq!(session["plugin"], "hello");
    let expires_in = session["expires_in"].as_u64().unwrap();
    assert!((1700..=1800).contains(&expires_in), "{session}");

    // The same citizen, as the service sees them, with either credential.
    let (status, with_session) = get_as(&host, "/p/hello/", &token).await;
    assert_eq!(status, 200, "{with_session}");
    let (_, with_app_token) = get_as(&host, "/p/hello/", &ann).await;
    assert_eq!(with_session, with_app_token);
    assert_ne!(with_session["message"], "Hello, guest!");

    // Another service refuses it.
    let (status, body) = get_as(&host, "/p/hello-two/", &token).await;
    assert_eq!((status, code(&body)), (401, "invalid_token"), "{body}");
    assert!(message(&body).contains("another service"), "{body}");

    // So does the whole platform API: a page holding it cannot consent,
    // pay, read the inbox, open other sessions or act as staff.
    for path in [
        "/api/v1/consents",
        "/api/v1/orders",
        "/api/v1/inbox",
        "/api/v1/me/data-access",
        "/admin/v1/plugins",
    ] {
        let (status, body) = get_as(&host, path, &token).await;
        assert_eq!(
            (status, code(&body)),
            (401, "invalid_token"),
            "{path}: {body}"
        );
        assert!(message(&body).contains("own service"), "{path}: {body}");
    }
    let (status, body) = host
        .post(
            "/api/v1/consents",
            &token,
            Some(json!({"plugin": "hello", "template": "x"})),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = open_session(&host, &token, "hello-two").await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = host
        .get_json(&format!("/api/v1/inbox/stream?token={token}"), None)
        .await;
    assert_eq!(status, 401, "{body}");

    // Made-up sessions are refused; nothing opens without a citizen.
    let (status, body) = get_as(
        &host,
        "/p/hello/",
        "isl_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    assert_eq!((status, code(&body)), (401, "session_expired"), "{body}");
    let (status, body) = json_of(
        host.http
            .post(host.url("/api/v1/sessions"))
            .json(&json!({ "plugin": "hello" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code(&body)), (401, "unauthenticated"), "{body}");
    let (status, body) = open_session(&host, &ann, "nope").await;
    assert_eq!((status, code(&body)), (404, "plugin_not_found"), "{body}");
    let (status, body) = host
        .post(
            "/api/v1/sessions",
            &ann,
            Some(json!({ "service": "hello" })),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "invalid_body"), "{body}");

    // Sign-out ends the citizen's sessions, not another citizen's.
    let bob = host.token("bob", &[]);
    let (_, bobs) = open_session(&host, &bob, "hello").await;
    let bobs = bobs["token"].as_str().unwrap().to_string();
    let response = host
        .http
        .delete(host.url("/api/v1/sessions"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!((status, body["closed"].as_u64()), (200, Some(1)), "{body}");
    let (status, body) = get_as(&host, "/p/hello/", &token).await;
    assert_eq!((status, code(&body)), (401, "session_expired"), "{body}");
    let (status, _) = get_as(&host, "/p/hello/", &bobs).await;
    assert_eq!(status, 200);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_no_later_than_the_citizen_token() {
    let host = TestHost::start().await;
    host.install("hello").await;
    let mut claims = host.claims("ann", &[]);
    claims.exp = now() + 2;
    let short = host.sign(&claims);
    let (status, session) = open_session(&host, &short, "hello").await;
    assert_eq!(status, 201, "{session}");
    assert!(session["expires_in"].as_u64().unwrap() <= 2, "{session}");
    let token = session["token"].as_str().unwrap().to_string();
    let (status, _) = get_as(&host, "/p/hello/", &token).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let (status, body) = get_as(&host, "/p/hello/", &token).await;
    assert_eq!((status, code(&body)), (401, "session_expired"), "{body}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_answers_are_sandboxed_and_callable_cross_origin() {
    let host = TestHost::start().await;
    host.install("hello").await;

    // Guest answers and the host's own answers on plugin routes alike.
    for (path, status) in [("/p/hello/", 200), ("/p/nope/", 404)] {
        let response = host
            .http
            .get(host.url(path))
            .header(header::ORIGIN, "null")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let headers = response.headers();
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("sandbox allow-scripts"), "{path}: {policy}");
        assert!(!policy.contains("allow-same-origin"), "{path}: {policy}");
        assert!(!policy.contains("allow-top-navigation"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'self'"),
            "{path}: {policy}"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*", "{path}");
        assert!(
            headers
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none(),
            "no credentials cross-origin"
        );
    }

    // A sandboxed page's preflight (origin `null`) is answered by the host;
    // the guest never sees it.
    let calls_before = usage_calls(&host).await;
    assert_eq!(calls_before, 1, "the GET above was counted");
    let response = host
        .http
        .request(Method::OPTIONS, host.url("/p/hello/api/x"))
        .header(header::ORIGIN, "null")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        usage_calls(&host).await,
        calls_before,
        "the guest was not called"
    );

    // The platform's API is not open to other origins: no CORS there.
    let response = host
        .http
        .request(Method::OPTIONS, host.url("/api/v1/consents"))
        .header(header::ORIGIN, "null")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none(),
        "{:?}",
        response.headers()
    );
    let response = host.get("/api/v1/catalog", None).await;
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // The platform's pages may not be framed by anyone.
    for path in ["/", "/admin", "/pay/o-1"] {
        let response = host.get(path, None).await;
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
    host.stop().await;
}

/// Calls `hello` answered today, from the usage API.
async fn usage_calls(host: &TestHost) -> u64 {
    let (status, body) = host.get_json("/admin/v1/usage", Some(&host.admin())).await;
    assert_eq!(status, 200, "{body}");
    body["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["plugin"] == "hello")
        .map(|r| r["calls"].as_u64().unwrap_or(0))
        .sum::<u64>()
}
