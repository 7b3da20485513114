//! The citizen's language at the HTTP edge: the catalog and the privacy
//! notice pick the manifest's localised texts by `?lang=`, the app's
//! language cookie or `Accept-Language` (every language on demand); the
//! platform says its time zone and languages; a browser navigating to a
//! service that is unknown, taken down or failing gets a friendly page in
//! its language (same status), an app gets the JSON error.

use islet_tests::{TestHost, json_of, manifest};
use serde_json::Value;

/// `GET path` with `headers`.
async fn get_with(host: &TestHost, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = host.http.get(host.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

async fn catalog(host: &TestHost, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    json_of(get_with(host, path, headers).await).await
}

fn entry<'a>(catalog: &'a Value, id: &str) -> &'a Value {
    catalog["plugins"]
        .as_array()
        .and_then(|list| list.iter().find(|e| e["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {catalog}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_speaks_the_callers_language() {
    let host = TestHost::start().await;
    host.install("water-bill").await;
    host.install("hello").await;

    let response = get_with(
        &host,
        "/api/v1/catalog",
        &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")],
    )
    .await;
    let vary = response.headers()["vary"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(vary.contains("accept-language"), "{vary}");
    let (status, zh) = json_of(response).await;
    assert_eq!(status, 200, "{zh}");
    let water = entry(&zh, "water-bill");
    assert_eq!(water["name"], "水费缴纳", "{water}");
    assert_eq!(
        water["description"],
        "查看家庭水费账单，并在城市收银台缴费。"
    );
    assert_eq!(water["language"], "zh-CN");
    assert!(water.get("names").is_none(), "only on demand: {water}");
    assert_eq!(entry(&zh, "hello")["name"], "你好");

    // English first, a bare `zh`, nothing, a language nobody wrote.
    for (accept, name, language) in [
        ("en-US,en;q=0.9,zh-CN;q=0.8", "Water bill", "en"),
        ("zh", "水费缴纳", "zh-CN"),
        ("", "Water bill", "en"),
        ("fr-FR", "Water bill", "en"),
        ("fr;q=1, zh-CN;q=0.1", "水费缴纳", "zh-CN"),
        ("zh-CN;q=0, en", "Water bill", "en"),
    ] {
        let headers: Vec<(&str, &str)> = if accept.is_empty() {
            vec![]
        } else {
            vec![("accept-language", accept)]
        };
        let (_, body) = catalog(&host, "/api/v1/catalog", &headers).await;
        let water = entry(&body, "water-bill");
        assert_eq!(
            (water["name"].as_str(), water["language"].as_str()),
            (Some(name), Some(language)),
            "{accept:?}: {water}"
        );
    }
    // `?lang=` beats the app's cookie, which beats Accept-Language.
    let (_, body) = catalog(
        &host,
        "/api/v1/catalog?lang=zh-CN",
        &[("accept-language", "en"), ("cookie", "islet_lang=en")],
    )
    .await;
    assert_eq!(entry(&body, "water-bill")["name"], "水费缴纳");
    let (_, body) = catalog(
        &host,
        "/api/v1/catalog",
        &[
            ("accept-language", "zh-CN"),
            ("cookie", "x=1; islet_lang=en"),
        ],
    )
    .await;
    assert_eq!(entry(&body, "water-bill")["name"], "Water bill");
    // Every language on demand.
    let (status, body) = catalog(
        &host,
        "/api/v1/catalog?all_languages=true",
        &[("accept-language", "zh-CN")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names = &entry(&body, "water-bill")["names"];
    assert_eq!(names["zh-CN"]["name"], "水费缴纳", "{names}");
    assert_eq!(names["en"]["name"], "Water bill", "{names}");
    assert_eq!(
        names["en"]["description"],
        "See your water bills and pay them in the city's cashier."
    );
    let (status, body) = catalog(&host, "/api/v1/catalog?all_languages=maybe", &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "{body}"
    );

    // The consent prompt's words (the privacy notice) follow the language too.
    let (_, notice) = catalog(
        &host,
        "/api/v1/catalog/water-bill/privacy",
        &[("accept-language", "zh-CN")],
    )
    .await;
    assert_eq!(
        (notice["name"].as_str(), notice["language"].as_str()),
        (Some("水费缴纳"), Some("zh-CN")),
        "{notice}"
    );
    let (_, notice) = catalog(
        &host,
        "/api/v1/catalog/water-bill/privacy",
        &[("accept-language", "en")],
    )
    .await;
    assert_eq!(notice["name"], "Water bill", "{notice}");

    // Staff see every language's texts.
    let (status, plugin) = host
        .get_json("/admin/v1/plugins/water-bill", Some(&host.admin()))
        .await;
    assert_eq!(status, 200, "{plugin}");
    assert_eq!(plugin["names"]["zh-CN"]["name"], "水费缴纳", "{plugin}");
    assert_eq!(plugin["names"]["en"]["name"], "Water bill", "{plugin}");

    // The platform's settings for the pages.
    let (status, platform) =
        catalog(&host, "/api/v1/platform", &[("accept-language", "en-GB")]).await;
    assert_eq!(status, 200, "{platform}");
    assert_eq!(platform["time_zone"], "Asia/Shanghai");
    assert_eq!(platform["languages"], serde_json::json!(["zh-CN", "en"]));
    assert_eq!(platform["default_language"], "zh-CN");
    assert_eq!(platform["language"], "en");
    let (_, platform) = catalog(&host, "/api/v1/platform", &[("accept-language", "de")]).await;
    assert_eq!(platform["language"], "zh-CN", "the default: {platform}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_with_bad_language_tables_are_refused() {
    let host = TestHost::start().await;
    let good = manifest("hello");
    assert!(good.contains("[i18n.zh-CN]"), "{good}");
    for (bad, says) in [
        (good.replace("[i18n.zh-CN]", "[i18n.chinese]"), "chinese"),
        (good.replace("[i18n.zh-CN]", "[i18n.zh-cn]"), "zh-CN"),
        (good.replace("[i18n.zh-CN]", "[i18n.en]"), "own language"),
        (
            good.replace("name = \"你好\"", "name = \"  \""),
            "name must not be empty",
        ),
        (
            good.replace("name = \"你好\"", "title = \"你好\""),
            "unknown field",
        ),
        (
            good.replace(
                "name = \"你好\"",
                &format!("name = \"{}\"", "长".repeat(65)),
            ),
            "at most 64",
        ),
    ] {
        let response = host.upload(&bad, islet_tests::component("hello")).await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, 400, "{says}: {body}");
        assert_eq!(body["error"]["code"], "invalid_manifest", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{says}: {message}");
    }
    let (_, plugins) = host
        .get_json("/admin/v1/plugins", Some(&host.admin()))
        .await;
    assert_eq!(
        plugins["plugins"],
        serde_json::json!([]),
        "nothing half-installed"
    );
    host.stop().await;
}

/// What a browser sends when it navigates a frame to a page.
const NAVIGATION: [(&str, &str); 3] = [
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-dest", "iframe"),
];

async fn page_of(
    host: &TestHost,
    path: &str,
    language: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut headers: Vec<(&str, &str)> = NAVIGATION.to_vec();
    headers.push(("accept-language", language));
    let response = get_with(host, path, &headers).await;
    let status = response.status().as_u16();
    let h = response.headers().clone();
    (status, h, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_errors_are_pages_for_browsers_and_json_for_apps() {
    let host = TestHost::start().await;
    host.install("hello").await;
    host.install("hostile").await;

    // An unknown service, in Chinese for a Chinese browser.
    let (status, headers, body) = page_of(&host, "/p/no-such-service/", "zh-CN,zh;q=0.9").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert_eq!(headers["content-language"], "zh-CN");
    assert!(body.contains("<html lang=\"zh-CN\">"), "{body}");
    assert!(body.contains("找不到这项服务"), "{body}");
    assert!(body.contains("data-code=\"plugin_not_found\""), "{body}");
    assert!(body.contains("‹ 返回"), "the way back: {body}");
    let request_id = headers["x-request-id"].to_str().unwrap();
    assert!(body.contains(request_id), "the reference: {body}");
    // Still sandboxed like every answer of /p/, and no script at all.
    let policies: Vec<&str> = headers
        .get_all("content-security-policy")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        policies.iter().any(|p| p.starts_with("sandbox")),
        "{policies:?}"
    );
    assert!(
        policies
            .iter()
            .any(|p| p.starts_with("default-src 'none'; style-src 'sha256-")),
        "{policies:?}"
    );
    assert!(!body.contains("<script"), "{body}");
    // The same address for an app: the JSON error, same status.
    let (status, json) = json_of(
        get_with(
            &host,
            "/p/no-such-service/",
            &[("accept", "application/json")],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (404, Some("plugin_not_found")),
        "{json}"
    );
    // A page's own fetch asking for HTML is not a navigation: JSON.
    let (status, json) = json_of(
        get_with(
            &host,
            "/p/no-such-service/",
            &[("accept", "text/html"), ("sec-fetch-mode", "cors")],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (404, Some("plugin_not_found")),
        "{json}"
    );

    // Taken down, in English for an English browser; a way to try again.
    let (status, body) = host
        .post("/admin/v1/plugins/hello/take-down", &host.admin(), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, headers, body) = page_of(&host, "/p/hello/", "en-US,en;q=0.9").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(headers["content-language"], "en");
    assert!(body.contains("This service is paused"), "{body}");
    assert!(body.contains("data-code=\"plugin_disabled\""), "{body}");
    assert!(body.contains("href=\"/p/hello/\""), "{body}");
    let (status, json) = json_of(host.get("/p/hello/", None).await).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (404, Some("plugin_disabled")),
        "{json}"
    );
    // A form post (not a page) to a taken-down service: JSON.
    let response = host
        .http
        .post(host.url("/p/hello/"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("post");
    let (status, json) = json_of(response).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (404, Some("plugin_disabled")),
        "{json}"
    );
    // The app's language pick (its cookie) wins over the browser's.
    let mut headers: Vec<(&str, &str)> = NAVIGATION.to_vec();
    headers.extend([("accept-language", "en"), ("cookie", "islet_lang=zh-CN")]);
    let body = get_with(&host, "/p/hello/", &headers)
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(body.contains("这项服务已暂停"), "{body}");

    // A failing service: the page says so, with its 500.
    let (status, headers, body) = page_of(&host, "/p/hostile/trap", "zh-CN").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("这项服务出了问题"), "{body}");
    assert!(body.contains("data-code=\"plugin_trapped\""), "{body}");
    let (status, json) = json_of(host.get("/p/hostile/trap", None).await).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (500, Some("plugin_trapped")),
        "{json}"
    );
    // A service's own answers are never replaced.
    let (status, _, body) = page_of(&host, "/p/hostile/", "zh-CN").await;
    assert!(!body.contains("service-error"), "{status}: {body}");
    host.stop().await;
}
