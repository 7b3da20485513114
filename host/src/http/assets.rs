//! The admin console (`/admin`) and the demo app shell (`/`): static pages
//! built into the binary, served with a strict content security policy.
//! They are plain HTML, CSS and JavaScript modules: no build step, nothing
//! fetched from elsewhere; they talk to the JSON API of this host.
//!
//! Each answer carries an `ETag` (a hash of the file, which is part of the
//! binary): a browser revalidating (`Cache-Control: no-cache`) gets 304
//! without the body. Text is compressed (gzip or brotli, as the browser
//! accepts) by tower-http's `CompressionLayer`.

use super::error::ApiError;
use super::openapi_schemas as schema;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tower_http::compression::CompressionLayer;

const ADMIN_HTML: &str = include_str!("console/admin.html");
const SHELL_HTML: &str = include_str!("console/shell.html");
const CASHIER_HTML: &str = include_str!("console/cashier.html");
const CASHIER_JS: &str = include_str!("console/cashier.js");
const ADMIN_JS: &str = include_str!("console/admin.js");
/// The console's money, messages, usage and audit screens.
const ADMIN_MONEY_JS: &str = include_str!("console/admin_money.js");
/// The inline-SVG bar chart of the usage screen.
const CHART_JS: &str = include_str!("console/chart.js");
const SHELL_JS: &str = include_str!("console/shell.js");
const COMMON_JS: &str = include_str!("console/common.js");
/// The bridge mini-service pages load (`<script src="/assets/islet.js">`).
const ISLET_JS: &str = include_str!("console/islet.js");
const STYLE_CSS: &str = include_str!("console/style.css");
/// The pages' translation helper (`t(key, params)`, `Intl` formatters).
const I18N_JS: &str = include_str!("console/i18n.js");
/// The pages' texts, one catalogue per language (translators edit these).
const ZH_CN_JSON: &str = include_str!("console/i18n/zh-CN.json");
const EN_JSON: &str = include_str!("console/i18n/en.json");
/// The API reference page (`/docs/api`) and its renderer of `/openapi.json`.
const API_HTML: &str = include_str!("console/api.html");
const API_JS: &str = include_str!("console/api.js");

/// The policy of the pages' scripts and stylesheet themselves: they fetch
/// nothing and may not be framed.
pub const ASSET_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The policy of the platform's own pages (the shell, the cashier, the
/// console) served to `authority` (the `Host` the browser asked for):
/// scripts and stylesheets only from this host's `/assets/`, never from a
/// mini-service's `/p/...` on the same origin; the API of this host; frames
/// only for the shell's mini-service pages; no plugins, no inline code.
///
/// Browsers take an `http:` source to cover `https:` too, so the policy
/// holds behind a TLS proxy; the proxy must pass the `Host` the browser
/// sent (nginx: `proxy_set_header Host $host;`). Without a usable `Host`,
/// no script runs.
pub fn page_content_security_policy(authority: Option<&str>) -> String {
    let assets = match authority.filter(|a| is_authority(a)) {
        Some(authority) => format!("http://{authority}/assets/"),
        None => "'none'".to_string(),
    };
    format!(
        "default-src 'none'; script-src {assets}; style-src {assets}; connect-src 'self'; \
         img-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// `host[:port]` made only of what a host name, an IP literal and a port
/// may contain: nothing that could end the source or add another.
fn is_authority(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The authority the browser asked for: `Host` (HTTP/1.1) or the request
/// target's authority (HTTP/2).
fn authority<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// The compression of the pages and their assets: gzip or brotli, for
/// bodies above a few dozen bytes.
pub fn compression() -> CompressionLayer {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .no_deflate()
        .no_zstd()
}

/// The weak ETag of a built-in file (weak: the compressed forms share
/// it), computed once per file.
fn etag(body: &'static str) -> HeaderValue {
    static TAGS: OnceLock<Mutex<HashMap<usize, HeaderValue>>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut tags = tags.lock().unwrap_or_else(|e| e.into_inner());
    tags.entry(body.as_ptr() as usize)
        .or_insert_with(|| {
            let digest = Sha256::digest(body.as_bytes());
            let tag = format!("W/\"{}\"", hex::encode(&digest[..12]));
            HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("W/\"0\""))
        })
        .clone()
}

/// Whether `If-None-Match` in `request` names `tag` (weak comparison).
fn not_modified(request: &HeaderMap, tag: &HeaderValue) -> bool {
    let ours = tag.to_str().unwrap_or_default().trim_start_matches("W/");
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == ours)
}

/// A static file with the console's security and caching headers (its
/// content security `policy`), or 304 when the browser's copy is current.
fn serve(
    request: &HeaderMap,
    content_type: &'static str,
    policy: HeaderValue,
    body: &'static str,
) -> Response {
    let tag = etag(body);
    let fresh = not_modified(request, &tag);
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::CONTENT_SECURITY_POLICY, policy),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::ETAG, tag),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, body).into_response()
}

/// One of the platform's pages, with the page policy for its authority.
fn page(headers: &HeaderMap, uri: &Uri, body: &'static str) -> Response {
    let policy = page_content_security_policy(authority(headers, uri));
    match HeaderValue::from_str(&policy) {
        Ok(policy) => serve(headers, HTML, policy, body),
        // Unreachable (the authority is checked), but never a page without a policy.
        Err(_) => ApiError::internal("the page policy is not a header value").into_response(),
    }
}

/// `GET /admin`, `GET /admin/`: the admin console.
#[utoipa::path(get, path = "/admin", tag = "pages",
    responses(
        (status = 200, description = "The admin console.", content_type = "text/html"),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
    ))]
pub async fn admin_page(headers: HeaderMap, uri: Uri) -> Response {
    page(&headers, &uri, ADMIN_HTML)
}

/// `GET /`: the demo app shell (the city app's home screen).
#[utoipa::path(get, path = "/", tag = "pages",
    responses(
        (status = 200, description = "The demo app shell (the city app's home screen).", content_type = "text/html"),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
    ))]
pub async fn shell_page(headers: HeaderMap, uri: Uri) -> Response {
    page(&headers, &uri, SHELL_HTML)
}

/// `GET /pay/{order}`: the sandbox provider's cashier. The page reads the
/// order through `/api/v1/orders/{id}` with the citizen's token.
#[utoipa::path(get, path = "/pay/{id}", tag = "payments",
    params(("id" = String, Path, description = "The order.")),
    responses(
        (status = 200, description = "The sandbox cashier page; it reads the order with the citizen's token.", content_type = "text/html"),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
    ))]
pub async fn cashier_page(headers: HeaderMap, uri: Uri) -> Response {
    page(&headers, &uri, CASHIER_HTML)
}

/// `GET /docs/api`: the API reference page.
pub async fn docs_page(headers: HeaderMap, uri: Uri) -> Response {
    page(&headers, &uri, API_HTML)
}

/// How long a client may use its copy of `/openapi.json` without asking.
const REFERENCE_MAX_AGE: &str = "public, max-age=300";

/// `GET /openapi.json`: the description, cacheable by anyone for a few
/// minutes and revalidated by its `ETag`; readable from other origins
/// (API tools), as it holds nothing secret.
pub fn serve_reference(headers: &HeaderMap, document: &'static str) -> Response {
    let mut response = serve(
        headers,
        JSON,
        HeaderValue::from_static(ASSET_CONTENT_SECURITY_POLICY),
        document,
    );
    let answer = response.headers_mut();
    answer.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(REFERENCE_MAX_AGE),
    );
    answer.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /assets/{file}`: the pages' scripts and stylesheet.
#[utoipa::path(get, path = "/assets/{file}", tag = "pages",
    params(("file" = String, Path, description = "A script or the stylesheet (`admin.js`, `style.css`, ...).", example = "style.css")),
    responses(
        (status = 200, description = "The file.", content((String = "text/javascript"), (String = "text/css"))),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
        (status = 404, description = "No such asset.", body = schema::Error),
    ))]
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (content_type, body) = match file.as_str() {
        "admin.js" => (JS, ADMIN_JS),
        "admin_money.js" => (JS, ADMIN_MONEY_JS),
        "chart.js" => (JS, CHART_JS),
        "shell.js" => (JS, SHELL_JS),
        "common.js" => (JS, COMMON_JS),
        "cashier.js" => (JS, CASHIER_JS),
        "islet.js" => (JS, ISLET_JS),
        "i18n.js" => (JS, I18N_JS),
        "api.js" => (JS, API_JS),
        "style.css" => (CSS, STYLE_CSS),
        _ => {
            return Err(ApiError::not_found(
                "not_found",
                format!("no asset {file:?}"),
            ));
        }
    };
    Ok(serve(
        &headers,
        content_type,
        HeaderValue::from_static(ASSET_CONTENT_SECURITY_POLICY),
        body,
    ))
}

/// `GET /assets/i18n/{language}.json`: the pages' texts in one language.
#[utoipa::path(get, path = "/assets/i18n/{file}", tag = "pages",
    params(("file" = String, Path, description = "`zh-CN.json` or `en.json`.", example = "zh-CN.json")),
    responses(
        (status = 200, description = "The pages' texts in one language.", content_type = "application/json", body = Object),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
        (status = 404, description = "No such catalogue.", body = schema::Error),
    ))]
pub async fn catalogue(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let body = match file.as_str() {
        "zh-CN.json" => ZH_CN_JSON,
        "en.json" => EN_JSON,
        _ => {
            return Err(ApiError::not_found(
                "not_found",
                format!("no text catalogue {file:?}"),
            ));
        }
    };
    Ok(serve(
        &headers,
        JSON,
        HeaderValue::from_static(ASSET_CONTENT_SECURITY_POLICY),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::page_content_security_policy as policy;
    use super::*;

    #[test]
    fn pages_load_scripts_and_styles_only_from_assets() {
        let p = policy(Some("city.example:8443"));
        assert!(
            p.contains("script-src http://city.example:8443/assets/;"),
            "{p}"
        );
        assert!(
            p.contains("style-src http://city.example:8443/assets/;"),
            "{p}"
        );
        assert!(!p.contains("script-src 'self'"), "{p}");
        assert!(!p.contains("unsafe"), "{p}");
        assert!(p.contains("frame-ancestors 'none'"), "{p}");
        assert!(policy(Some("[::1]:8080")).contains("script-src http://[::1]:8080/assets/;"));
    }

    #[test]
    fn a_forged_host_adds_no_source() {
        for host in [
            "",
            "evil.example/ 'unsafe-inline'",
            "a; script-src *",
            "a,b",
            "*",
            "a'b",
            "a\"b",
            &"a".repeat(300),
        ] {
            let p = policy(Some(host));
            assert!(p.contains("script-src 'none';"), "{host:?}: {p}");
        }
        assert!(policy(None).contains("script-src 'none';"));
    }

    /// A catalogue's texts by dotted key (`admin.tab.plugins`).
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => panic!("{prefix}: not text: {other}"),
        }
    }

    /// The `money.*` texts of a catalogue, by dotted key.
    fn money_texts(catalogue: &str) -> std::collections::BTreeMap<String, String> {
        let mut all = Vec::new();
        flatten("", &serde_json::from_str(catalogue).unwrap(), &mut all);
        all.into_iter()
            .filter(|(k, _)| k.starts_with("money."))
            .collect()
    }

    /// Every key of the Chinese catalogue is in the English one and the
    /// other way round, and every `{param}` a text uses is in both.
    #[test]
    fn the_catalogues_have_the_same_keys_and_parameters() {
        let params = |text: &str| {
            let mut p: Vec<String> = text
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
                .collect();
            p.sort();
            p
        };
        let mut zh = Vec::new();
        let mut en = Vec::new();
        flatten(
            "",
            &serde_json::from_str(ZH_CN_JSON).expect("zh-CN.json"),
            &mut zh,
        );
        flatten(
            "",
            &serde_json::from_str(EN_JSON).expect("en.json"),
            &mut en,
        );
        let en_map: std::collections::BTreeMap<_, _> = en.iter().cloned().collect();
        let zh_map: std::collections::BTreeMap<_, _> = zh.iter().cloned().collect();
        for (key, text) in &zh_map {
            let other = en_map
                .get(key)
                .unwrap_or_else(|| panic!("en.json lacks {key}"));
            assert_eq!(params(text), params(other), "{key}");
            assert!(!text.trim().is_empty(), "{key}");
        }
        for key in en_map.keys() {
            assert!(zh_map.contains_key(key), "zh-CN.json lacks {key}");
        }
        assert!(zh.len() > 100, "{} texts", zh.len());
    }

    #[test]
    fn the_money_screens_catalogues_hold_every_key_in_both_languages() {
        let en = money_texts(EN_JSON);
        let zh = money_texts(ZH_CN_JSON);
        assert_eq!(
            en.keys().collect::<Vec<_>>(),
            zh.keys().collect::<Vec<_>>(),
            "the same keys in English and Chinese"
        );
        for (key, text) in &zh {
            assert!(
                !text.trim().is_empty() && text != &en[key],
                "{key} is translated"
            );
        }
        // Every key the screens ask for, with its English fallback as in the catalogue.
        let mut asked = 0;
        for piece in ADMIN_MONEY_JS.split("tr('").skip(1) {
            let Some((key, rest)) = piece.split_once('\'') else {
                continue;
            };
            assert!(en.contains_key(key), "{key} is missing from en.json");
            let fallback = rest.trim_start_matches(',').trim_start();
            if let Some(text) = fallback.strip_prefix('\'') {
                let text = text.split('\'').next().unwrap_or_default();
                assert_eq!(en[key], text, "{key}: the fallback and the catalogue agree");
            }
            asked += 1;
        }
        assert!(asked > 80, "{asked} keys");
    }

    #[test]
    fn if_none_match_is_compared_weakly_and_in_lists() {
        let tag = etag(STYLE_CSS);
        assert_eq!(tag, etag(STYLE_CSS), "stable");
        assert_ne!(tag, etag(ADMIN_JS), "per file");
        let ours = tag.to_str().unwrap().to_string();
        let strong = ours.trim_start_matches("W/").to_string();
        for header_value in [ours.as_str(), strong.as_str(), "\"x\", W/\"y\"", "*"] {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, header_value.parse().unwrap());
            let expected = header_value != "\"x\", W/\"y\"";
            assert_eq!(not_modified(&h, &tag), expected, "{header_value}");
        }
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
