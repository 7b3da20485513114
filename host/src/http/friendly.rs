//! Friendly error pages for citizens: when a browser navigates to a
//! mini-service's page (`/p/...`, in the app shell's frame) and the host
//! refuses (no such service, taken down, failing, busy), it gets a short
//! page in the citizen's language with the way back, instead of the JSON
//! error an API caller gets. Same status, same `Retry-After`; API calls
//! (`fetch`, or anything not asking for HTML) still get the JSON error.

use super::RequestId;
use super::error::HostError;
use super::lang;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Marks a response as a page the host wrote on purpose (not an error
/// body to turn into JSON).
#[derive(Debug, Clone, Copy)]
pub struct HostPage;

/// The page's stylesheet (inline, allowed by its hash).
const STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",\"PingFang SC\",\
\"Hiragino Sans GB\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",\"Source Han Sans SC\",sans-serif;\
color:#1f2933;background:#f4f6f8}main{max-width:28rem;margin:0 auto;padding:48px 24px;text-align:center}\
.icon{width:64px;height:64px;margin:0 auto 16px;border-radius:50%;background:#fff;border:1px solid #dfe3e8;\
display:flex;align-items:center;justify-content:center;font-size:28px;color:#5f6b7a}\
h1{font-size:1.3rem;margin:0 0 8px}p{margin:8px 0;color:#4b5563}.ref{font-size:.8rem;color:#5f6b7a}\
a{display:inline-block;margin-top:16px;padding:10px 18px;border-radius:8px;background:#0a7d5a;color:#fff;\
text-decoration:none;font-weight:600}a:focus-visible{outline:3px solid #07603f;outline-offset:2px}";

/// Whether the request is a browser navigation asking for a page: `GET`
/// or `HEAD`, `Accept` naming `text/html`, and (when the browser says)
/// `Sec-Fetch-Mode: navigate`.
pub fn wants_html(method: &Method, headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    let navigation = headers
        .get("sec-fetch-mode")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|mode| mode.eq_ignore_ascii_case("navigate"));
    (method == Method::GET || method == Method::HEAD) && accepts_html && navigation
}

/// Turn a host error on a plugin route into the friendly page when the
/// request was a navigation asking for HTML.
pub async fn friendly_errors(request: Request, next: Next) -> Response {
    let html = wants_html(request.method(), request.headers());
    let language = lang::ui_language(&lang::wanted(request.headers(), None));
    let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    let plugin = plugin_of(request.uri().path());
    let response = next.run(request).await;
    if !html {
        return response;
    }
    let Some(error) = response.extensions().get::<HostError>().cloned() else {
        return response;
    };
    let status = response.status();
    let body = page(
        language,
        Kind::of(error.code, status.as_u16()),
        error.code,
        plugin.as_deref(),
        request_id.as_deref(),
    );
    let mut friendly = (status, body).into_response();
    let headers = friendly.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(policy) = HeaderValue::from_str(policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    friendly.extensions_mut().insert(HostPage);
    friendly
}

/// The page's own policy: nothing but its inline stylesheet.
fn policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'"
        )
    })
}

/// The plugin id in `/p/{id}/...`, when it is a valid id.
fn plugin_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/p/")?;
    let id = rest.split('/').next()?;
    crate::manifest::is_valid_id(id).then(|| id.to_string())
}

/// What went wrong, as the citizen needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No such service (or nothing released).
    Missing,
    /// Taken down by the platform.
    TakenDown,
    /// Too many calls, suspended, at capacity: try again soon.
    Busy,
    /// The service failed.
    Failing,
    /// Anything else the host refused.
    Refused,
}

impl Kind {
    fn of(code: &str, status: u16) -> Kind {
        match code {
            "plugin_not_found" | "plugin_not_released" | "not_found" | "invalid_path" => {
                Kind::Missing
            }
            "plugin_disabled" => Kind::TakenDown,
            "rate_limited"
            | "daily_quota_exceeded"
            | "plugin_suspended"
            | "plugin_busy"
            | "busy"
            | "memory_busy"
            | "store_unavailable" => Kind::Busy,
            _ if status == 429 => Kind::Busy,
            _ if status >= 500 => Kind::Failing,
            _ => Kind::Refused,
        }
    }
}

/// The texts of one page: icon, title, explanation.
fn texts(language: &str, kind: Kind) -> (&'static str, &'static str, &'static str) {
    let zh = language == "zh-CN";
    match (kind, zh) {
        (Kind::Missing, true) => (
            "?",
            "找不到这项服务",
            "地址可能有误，或这项服务已不再提供。",
        ),
        (Kind::Missing, false) => (
            "?",
            "This service does not exist",
            "The address may be wrong, or the service is no longer offered.",
        ),
        (Kind::TakenDown, true) => (
            "!",
            "这项服务已暂停",
            "这项服务目前已下线，暂时无法使用。请稍后再来。",
        ),
        (Kind::TakenDown, false) => (
            "!",
            "This service is paused",
            "The service has been taken offline for now. Please come back later.",
        ),
        (Kind::Busy, true) => ("…", "服务繁忙", "这项服务现在太忙了，请稍等片刻再试。"),
        (Kind::Busy, false) => (
            "…",
            "This service is busy",
            "The service is too busy right now. Please wait a moment and try again.",
        ),
        (Kind::Failing, true) => (
            "!",
            "这项服务出了问题",
            "这项服务暂时无法正常工作，问题已被记录。请稍后再试。",
        ),
        (Kind::Failing, false) => (
            "!",
            "This service ran into a problem",
            "The service is not working properly right now; the problem has been logged. Please try again later.",
        ),
        (Kind::Refused, true) => ("!", "无法显示此页面", "这项服务拒绝了这个请求。"),
        (Kind::Refused, false) => (
            "!",
            "This page cannot be shown",
            "The service refused this request.",
        ),
    }
}

/// The friendly page.
fn page(
    language: &str,
    kind: Kind,
    code: &str,
    plugin: Option<&str>,
    request_id: Option<&str>,
) -> String {
    let zh = language == "zh-CN";
    let (icon, title, text) = texts(language, kind);
    let back = if zh {
        "点击上方的“‹ 返回”回到城市服务。"
    } else {
        "Use “‹ Back” above to return to the city services."
    };
    let retry = match (plugin, kind) {
        (Some(id), Kind::TakenDown | Kind::Busy | Kind::Failing) => format!(
            "<a href=\"/p/{}/\" data-testid=\"service-error-retry\">{}</a>",
            escape(id),
            if zh { "重试" } else { "Try again" }
        ),
        _ => String::new(),
    };
    let reference = request_id
        .map(|id| {
            format!(
                "<p class=\"ref\">{} <code>{}</code></p>",
                if zh { "请求编号" } else { "Reference" },
                escape(id)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"{language}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <main data-testid=\"service-error\" data-code=\"{code}\">\n\
         <div class=\"icon\" aria-hidden=\"true\">{icon}</div>\n<h1>{title}</h1>\n<p>{text}</p>\n\
         <p data-testid=\"service-error-back\">{back}</p>\n{retry}\n{reference}\n</main>\n</body>\n</html>\n",
        code = escape(code),
    )
}

/// `text` safe inside HTML text and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_navigations_asking_for_html_get_the_page() {
        let nav = headers(&[
            ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert!(wants_html(&Method::GET, &nav));
        assert!(!wants_html(&Method::POST, &nav));
        let fetch = headers(&[("accept", "text/html"), ("sec-fetch-mode", "cors")]);
        assert!(!wants_html(&Method::GET, &fetch));
        assert!(wants_html(
            &Method::GET,
            &headers(&[("accept", "text/html")])
        ));
        assert!(!wants_html(
            &Method::GET,
            &headers(&[("accept", "application/json")])
        ));
        assert!(!wants_html(&Method::GET, &HeaderMap::new()));
    }

    #[test]
    fn codes_map_to_what_the_citizen_needs_to_know() {
        assert_eq!(Kind::of("plugin_not_found", 404), Kind::Missing);
        assert_eq!(Kind::of("plugin_disabled", 404), Kind::TakenDown);
        assert_eq!(Kind::of("rate_limited", 429), Kind::Busy);
        assert_eq!(Kind::of("plugin_trapped", 500), Kind::Failing);
        assert_eq!(Kind::of("request_too_large", 413), Kind::Refused);
    }

    #[test]
    fn the_page_escapes_and_speaks_the_language() {
        let p = page(
            "zh-CN",
            Kind::TakenDown,
            "plugin_disabled",
            Some("water-bill"),
            Some("a<b"),
        );
        assert!(p.contains("<html lang=\"zh-CN\">"), "{p}");
        assert!(p.contains("这项服务已暂停"), "{p}");
        assert!(p.contains("href=\"/p/water-bill/\""), "{p}");
        assert!(p.contains("a&lt;b") && !p.contains("a<b"), "{p}");
        let p = page("en", Kind::Missing, "plugin_not_found", None, None);
        assert!(
            p.contains("This service does not exist") && !p.contains("href="),
            "{p}"
        );
        assert!(policy().starts_with("default-src 'none'; style-src 'sha256-"));
    }
}
