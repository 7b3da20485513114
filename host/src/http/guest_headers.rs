//! What a plugin's answer may say to the browser. Every plugin answers on
//! the platform's own origin, so a header with an origin-wide effect
//! (`Set-Cookie`, `Clear-Site-Data`, `Strict-Transport-Security`,
//! `Alt-Svc`, ...) would act on the whole city app and every other
//! service. Only an allowlist passes ([`screen`]): what describes the body
//! (type, caching, disposition, language), `Location` within the plugin's
//! own `/p/{id}/` path, CORS headers (the host's CORS layer has the last
//! word), `Retry-After`, `Allow` and custom `x-` headers outside the names
//! the host and its proxies own. The rest is dropped and counted
//! (`islet_guest_headers_dropped_total{plugin,reason}`). An answer with too
//! many headers, or too many bytes of them, is refused as the guest's
//! fault. [`guest_response`] is the whole conversion of a guest's answer
//! into an HTTP response: pure, so tests and fuzzers call it directly.

use crate::capabilities::{GuestHeader, GuestResponse};
use crate::runtime::GuestFault;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

/// Tells the app (and canary checks) which plugin version answered.
pub const VERSION_HEADER: &str = "x-islet-plugin-version";

/// Bounds on a guest answer's headers (`[guest-headers]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct HeaderLimits {
    /// Most headers one answer may carry (dropped ones included).
    pub max_count: usize,
    /// Most bytes of header names and values one answer may carry.
    pub max_bytes: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        HeaderLimits {
            max_count: 64,
            max_bytes: 16 << 10,
        }
    }
}

impl HeaderLimits {
    /// `self` when within what the host can hold (at most 10,000 headers
    /// and 1 MiB; at least one header of 1 KiB), else why not.
    pub fn checked(self) -> Result<Self, String> {
        if !(1..=10_000).contains(&self.max_count) {
            return Err(format!(
                "max-count {} is not within 1..=10000",
                self.max_count
            ));
        }
        if !(1024..=1 << 20).contains(&self.max_bytes) {
            return Err(format!(
                "max-bytes {} is not within 1024..=1048576",
                self.max_bytes
            ));
        }
        Ok(self)
    }
}

/// Why a guest header was dropped (the metric's `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Connection management: the host's HTTP stack owns it.
    HopByHop,
    /// A header the host or its proxies set (request id, CSP, framing,
    /// `X-Forwarded-*`, `X-Accel-*`, ...).
    HostOwned,
    /// `Location` pointing outside the plugin's own path.
    LocationOutsidePlugin,
    /// Not on the allowlist (cookies, origin-wide policies, `Refresh`,
    /// `Link`, authentication challenges, ...).
    NotAllowed,
}

impl DropReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::HopByHop => "hop_by_hop",
            DropReason::HostOwned => "host_owned",
            DropReason::LocationOutsidePlugin => "location_outside_plugin",
            DropReason::NotAllowed => "not_allowed",
        }
    }
}

/// A header the guest sent that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Its name, lower case.
    pub name: HeaderName,
    /// Why.
    pub reason: DropReason,
}

/// The headers that passed and those that did not.
#[derive(Debug, Default)]
pub struct Screened {
    /// What the client gets from the guest.
    pub headers: HeaderMap,
    /// What was dropped, in the guest's order.
    pub dropped: Vec<Dropped>,
}

/// Where the answer goes: the plugin and the path the client asked for
/// (`/p/{plugin}/...`), against which a relative `Location` resolves.
#[derive(Debug, Clone, Copy)]
pub struct AnswerContext<'a> {
    /// Plugin id.
    pub plugin: &'a str,
    /// The request's path as the client sent it.
    pub request_path: &'a str,
}

/// Headers that describe the answer's body or how to cache it.
const ALLOWED: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-language",
    "content-disposition",
    "content-range",
    "accept-ranges",
    "cache-control",
    "pragma",
    "etag",
    "last-modified",
    "expires",
    "vary",
    "age",
    "retry-after",
    "allow",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
];
/// Connection management, owned by the host's HTTP stack.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "trailer",
    "te",
];
/// Names the host, the browser-security policy or a proxy in front owns.
const HOST_OWNED: &[&str] = &[
    "content-security-policy",
    "content-security-policy-report-only",
    "access-control-allow-credentials",
    "x-request-id",
    "x-real-ip",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "x-permitted-cross-domain-policies",
    "x-sendfile",
    "x-lighttpd-send-file",
    "x-rewrite-url",
];
/// Prefixes of `x-` names the host or a proxy owns (`X-Accel-Redirect`
/// makes nginx serve an internal location).
const HOST_OWNED_PREFIXES: &[&str] = &["x-forwarded-", "x-islet-", "x-accel-", "x-original-"];

/// Screen a guest's answer headers: refuse the answer when it has more
/// than `limits` allows or a header that is not valid HTTP, otherwise keep
/// what the allowlist passes and list the rest.
pub fn screen(
    headers: &[GuestHeader],
    context: AnswerContext<'_>,
    limits: &HeaderLimits,
) -> Result<Screened, GuestFault> {
    if headers.len() > limits.max_count {
        return Err(GuestFault::InvalidResponse(format!(
            "{} headers exceed the limit of {} per answer",
            headers.len(),
            limits.max_count
        )));
    }
    let bytes = headers.iter().fold(0usize, |n, h| {
        n.saturating_add(h.name.len() + h.value.len())
    });
    if bytes > limits.max_bytes {
        return Err(GuestFault::InvalidResponse(format!(
            "{bytes} bytes of headers exceed the limit of {} per answer",
            limits.max_bytes
        )));
    }
    let mut out = Screened::default();
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
            GuestFault::InvalidResponse(format!("invalid header name {:?}", h.name))
        })?;
        let value = HeaderValue::from_str(&h.value)
            .map_err(|_| GuestFault::InvalidResponse(format!("invalid value for header {name}")))?;
        match verdict(&name, &value, context) {
            None => {
                out.headers.append(name, value);
            }
            Some(reason) => out.dropped.push(Dropped { name, reason }),
        }
    }
    Ok(out)
}

/// `None` when the header passes, else why not.
fn verdict(
    name: &HeaderName,
    value: &HeaderValue,
    context: AnswerContext<'_>,
) -> Option<DropReason> {
    let n = name.as_str();
    if HOP_BY_HOP.contains(&n) {
        return Some(DropReason::HopByHop);
    }
    if HOST_OWNED.contains(&n) || HOST_OWNED_PREFIXES.iter().any(|p| n.starts_with(p)) {
        return Some(DropReason::HostOwned);
    }
    if name == header::LOCATION {
        return (!location_within_plugin(value, context))
            .then_some(DropReason::LocationOutsidePlugin);
    }
    if ALLOWED.contains(&n) || n.starts_with("x-") {
        return None;
    }
    Some(DropReason::NotAllowed)
}

/// Whether `Location` stays within `/p/{plugin}/` once a browser resolves
/// it against the request path: no scheme or authority, no backslash (a
/// browser reads it as `/`), no control characters, and its dot segments
/// (`..`, `%2e%2e` and mixes) removed first.
fn location_within_plugin(value: &HeaderValue, context: AnswerContext<'_>) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    if text.bytes().any(|b| b == b'\\' || b <= b' ' || b == 0x7f) {
        return false;
    }
    let path = text.split(['?', '#']).next().unwrap_or("");
    // A scheme (`https:`, `javascript:`) or an authority (`//host`).
    if path.split('/').next().is_some_and(|s| s.contains(':')) || path.starts_with("//") {
        return false;
    }
    let own = format!("/p/{}/", context.plugin);
    let joined = if path.starts_with('/') {
        path.to_string()
    } else if path.is_empty() {
        return true;
    } else {
        let base = context.request_path;
        let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{path}")
    };
    let resolved = remove_dot_segments(&joined);
    resolved.starts_with(&own) || resolved == own.trim_end_matches('/')
}

/// RFC 3986 §5.2.4, with WHATWG's percent-encoded dots (`%2e`).
fn remove_dot_segments(path: &str) -> String {
    let is_dot = |s: &str| s == "." || s.eq_ignore_ascii_case("%2e");
    let is_dot_dot = |s: &str| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            ".." | ".%2e" | "%2e." | "%2e%2e"
        )
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        if is_dot(segment) {
            if i == last {
                out.push("");
            }
        } else if is_dot_dot(segment) {
            if out.len() > 1 {
                out.pop();
            }
            if i == last {
                out.push("");
            }
        } else {
            out.push(segment);
        }
    }
    out.join("/")
}

/// Turn a guest's answer into the HTTP response the client gets: a final
/// status, the screened headers, `nosniff` and the version header. Pure:
/// the caller counts `dropped` and answers a fault as the guest's.
pub fn guest_response(
    answer: GuestResponse,
    context: AnswerContext<'_>,
    version: &str,
    limits: &HeaderLimits,
) -> Result<(Response, Vec<Dropped>), GuestFault> {
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|s| !s.is_informational())
        .ok_or_else(|| {
            GuestFault::InvalidResponse(format!(
                "status {} is not a valid final status",
                answer.status
            ))
        })?;
    let screened = screen(&answer.headers, context, limits)?;
    let mut out = Response::new(Body::from(answer.body));
    *out.status_mut() = status;
    *out.headers_mut() = screened.headers;
    let headers = out.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(version) {
        headers.insert(HeaderName::from_static(VERSION_HEADER), v);
    }
    Ok((out, screened.dropped))
}

/// Count dropped headers in `islet_guest_headers_dropped_total`.
pub fn record_dropped(plugin: &str, dropped: &[Dropped]) {
    for d in dropped {
        metrics::counter!(
            "islet_guest_headers_dropped_total",
            "plugin" => plugin.to_string(),
            "reason" => d.reason.label()
        )
        .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, value: &str) -> GuestHeader {
        GuestHeader {
            name: name.into(),
            value: value.into(),
        }
    }

    const CX: AnswerContext<'static> = AnswerContext {
        plugin: "hello",
        request_path: "/p/hello/forms/new",
    };

    fn passes(name: &str, value: &str) -> bool {
        let s = screen(&[h(name, value)], CX, &HeaderLimits::default()).unwrap_or_default();
        s.dropped.is_empty() && s.headers.contains_key(name)
    }

    #[test]
    fn body_caching_cors_and_custom_headers_pass() {
        for (n, v) in [
            ("content-type", "text/html"),
            ("Cache-Control", "no-store"),
            ("etag", "\"abc\""),
            ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("expires", "0"),
            ("vary", "accept"),
            ("content-disposition", "attachment; filename=a.pdf"),
            ("content-language", "zh-CN"),
            ("access-control-allow-origin", "*"),
            ("x-total-count", "3"),
            ("allow", "GET, POST"),
        ] {
            assert!(passes(n, v), "{n} should pass");
        }
    }

    #[test]
    fn origin_wide_and_host_headers_are_dropped() {
        for (n, reason) in [
            ("set-cookie", DropReason::NotAllowed),
            ("clear-site-data", DropReason::NotAllowed),
            ("strict-transport-security", DropReason::NotAllowed),
            ("alt-svc", DropReason::NotAllowed),
            ("refresh", DropReason::NotAllowed),
            ("link", DropReason::NotAllowed),
            ("www-authenticate", DropReason::NotAllowed),
            ("content-security-policy", DropReason::HostOwned),
            ("x-forwarded-for", DropReason::HostOwned),
            ("x-real-ip", DropReason::HostOwned),
            ("x-request-id", DropReason::HostOwned),
            ("x-accel-redirect", DropReason::HostOwned),
            ("x-islet-plugin-version", DropReason::HostOwned),
            ("access-control-allow-credentials", DropReason::HostOwned),
            ("transfer-encoding", DropReason::HopByHop),
            ("content-length", DropReason::HopByHop),
        ] {
            let s = screen(&[h(n, "1")], CX, &HeaderLimits::default()).unwrap_or_default();
            assert!(s.headers.is_empty(), "{n} passed");
            assert_eq!(s.dropped.first().map(|d| d.reason), Some(reason), "{n}");
        }
    }

    #[test]
    fn location_stays_within_the_plugin() {
        for ok in [
            "/p/hello/done",
            "/p/hello/",
            "/p/hello",
            "done?x=1",
            "../list",
            "./",
            "?page=2",
        ] {
            assert!(passes("location", ok), "{ok} should pass");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/p/hello/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/admin",
            "/p/hello2/x",
            "/p/other/",
            "../../../admin",
            "/p/hello/../other/",
            "/p/hello/%2e%2e/other/",
            "/p/hello/.%2E/.%2e/admin",
            "..%2f..%2fadmin/../../..",
            "/p/hello/\tx",
        ] {
            assert!(!passes("location", bad), "{bad} should be dropped");
        }
    }

    #[test]
    fn no_random_location_escapes_the_plugin() {
        // Pieces a browser treats specially, glued at random.
        const PIECES: &[&str] = &[
            "/",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2f",
            "\\",
            "?",
            "#",
            ":",
            "//",
            "p",
            "hello",
            "other",
            "a",
            "/p/hello/",
            "http:",
            "\t",
            " ",
            "é",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let n = (next() % 8) as usize + 1;
            let text: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let Ok(value) = HeaderValue::from_str(&text) else {
                continue;
            };
            if location_within_plugin(&value, CX) {
                let path = text.split(['?', '#']).next().unwrap_or("");
                let joined = if path.starts_with('/') {
                    path.to_string()
                } else {
                    format!("/p/hello/forms/{path}")
                };
                let resolved = remove_dot_segments(&joined);
                assert!(
                    resolved == "/p/hello" || resolved.starts_with("/p/hello/"),
                    "{text:?} passed but resolves to {resolved:?}"
                );
                let first = path.split('/').next().unwrap_or("");
                assert!(!first.contains(':') && !text.contains('\\'), "{text:?}");
            }
        }
    }

    #[test]
    fn too_many_or_too_large_headers_refuse_the_answer() {
        let limits = HeaderLimits::default();
        let many: Vec<_> = (0..100_000).map(|i| h(&format!("x-h{i}"), "v")).collect();
        assert!(matches!(
            screen(&many, CX, &limits),
            Err(GuestFault::InvalidResponse(m)) if m.contains("limit of 64")
        ));
        let large = vec![h("x-big", &"a".repeat(20_000))];
        assert!(matches!(
            screen(&large, CX, &limits),
            Err(GuestFault::InvalidResponse(m)) if m.contains("16384")
        ));
        let within: Vec<_> = (0..64).map(|i| h(&format!("x-h{i}"), "v")).collect();
        assert_eq!(
            screen(&within, CX, &limits).map(|s| s.headers.len()).ok(),
            Some(64)
        );
    }

    #[test]
    fn limits_come_from_the_config_file_and_are_checked() {
        use crate::config::{ConfigFile, ServerConfig};
        let parse = |text: &str| {
            toml::from_str::<ConfigFile>(text)
                .map_err(|e| e.to_string())
                .and_then(|f| ServerConfig::from_file(&f, None).map_err(|e| e.to_string()))
        };
        let c = parse("[guest-headers]\nmax-count = 10").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.guest_headers.max_count, 10);
        assert_eq!(c.guest_headers.max_bytes, 16 << 10);
        let err = parse("[guest-headers]\nmax-count = 100000")
            .err()
            .unwrap_or_default();
        assert!(err.contains("max-count"), "{err}");
        assert!(parse("[guest-headers]\nmax-headers = 1").is_err());
    }

    #[test]
    fn conversion_refuses_bad_status_and_marks_the_answer() {
        let answer = |status| GuestResponse {
            status,
            headers: vec![h("set-cookie", "a=b"), h("content-type", "text/plain")],
            body: b"hi".to_vec(),
        };
        let limits = HeaderLimits::default();
        assert!(guest_response(answer(101), CX, "1.0.0", &limits).is_err());
        assert!(guest_response(answer(1000), CX, "1.0.0", &limits).is_err());
        let (response, dropped) =
            guest_response(answer(201), CX, "1.0.0", &limits).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 201);
        assert_eq!(dropped.len(), 1);
        assert!(response.headers().get("set-cookie").is_none());
        assert_eq!(response.headers()["x-islet-plugin-version"], "1.0.0");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}
