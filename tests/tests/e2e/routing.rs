//! Routing, catalog, health, request ids, header hygiene.

use islet_tests::{TestHost, json_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_routed_and_listed_in_the_catalog() {
    let host = TestHost::start().await;
    host.install("hello").await;
    host.install("community-report").await;

    let (status, body) = host.get_json("/api/v1/catalog", None).await;
    assert_eq!(status, 200);
    let plugins = body["plugins"].as_array().unwrap();
    let ids: Vec<&str> = plugins.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["community-report", "hello"]);
    let report = &plugins[0];
    for field in ["name", "description", "department", "category", "version"] {
        assert!(
            report[field].as_str().is_some_and(|s| !s.is_empty()),
            "catalog lacks {field}: {report}"
        );
    }
    assert_eq!(report["department"], "community");

    let (status, body) = host.get_json("/p/hello/", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("guest"),
        "{body}"
    );

    let token = host.token("alice", &[]);
    let response = host.get("/p/hello/anything/below", Some(&token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-islet-plugin-version"], "0.1.0");
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        !body["message"].as_str().unwrap().contains("alice"),
        "the real id must not leak: {body}"
    );

    let response = host.get("/p/hello", None).await;
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/p/hello/");

    let page = host.get("/p/community-report/", None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let (status, body) = host.get_json("/p/nobody/", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "plugin_not_found");
    let (status, body) = host.get_json("/nowhere", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let response = host
        .http
        .delete(host.url("/api/v1/catalog"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");

    assert_eq!(host.get_json("/healthz", None).await.0, 200);
    let (status, body) = host.get_json("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["plugins"], 2);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_accepted_returned_and_put_in_errors() {
    let host = TestHost::start().await;
    host.install("hello").await;
    let response = host
        .http
        .get(host.url("/p/hello/"))
        .header("x-request-id", "app-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "app-req-42");

    let response = host
        .http
        .get(host.url("/p/missing/"))
        .header("x-request-id", "app-req-43")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "app-req-43");
    let (_, body) = json_of(response).await;
    assert_eq!(body["error"]["request_id"], "app-req-43");

    let response = host.get("/p/missing/", None).await;
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!generated.is_empty());
    let (_, body) = json_of(response).await;
    assert_eq!(body["error"]["request_id"], generated.as_str());

    // A plugin's own error answers (here the Rust SDK router's 405) carry
    // the same id: the host hands it to the guest as `x-request-id`.
    let response = host
        .http
        .post(host.url("/p/hello/x"))
        .header("x-request-id", "app-req-44")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    assert_eq!(body["error"]["request_id"], "app-req-44", "{body}");
    for sent in [None, Some("bad id with spaces")] {
        let mut request = host.http.post(host.url("/p/hello/x"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let response = request.send().await.unwrap();
        let generated = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_ne!(Some(generated.as_str()), sent);
        let (_, body) = json_of(response).await;
        assert_eq!(body["error"]["request_id"], generated.as_str(), "{body}");
    }

    let response = host
        .http
        .get(host.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "bad id with spaces");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_plugin_and_bodies_are_limited() {
    let host = TestHost::start().await;
    host.install("hostile").await;
    let token = host.token("alice", &[]);
    let response = host
        .http
        .post(host.url("/p/hostile/echo?x=1&y=2"))
        .bearer_auth(&token)
        .header("cookie", "session=secret")
        .header("x-app-version", "5.1")
        .body("hello body")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!text.contains("authorization"), "{text}");
    assert!(!text.contains("cookie"), "{text}");
    assert!(!text.contains(&token), "{text}");
    assert!(text.contains("x-app-version"), "{text}");
    assert!(text.contains("x=1&y=2"), "{text}");
    assert!(text.contains("/echo"), "{text}");

    let too_big = vec![b'x'; 1024 * 1024 + 1];
    let response = host
        .http
        .post(host.url("/p/hostile/echo"))
        .body(too_big)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "request_too_large");
    host.stop().await;
}
