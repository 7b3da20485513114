//! What keeps a mini-service's web pages apart from the platform and from
//! each other: every answer of `/p/{plugin}/...` carries a content security
//! policy with `sandbox` (without `allow-same-origin`), so its pages run in
//! an opaque origin of their own. They cannot read the platform's storage
//! (where the app shell keeps the citizen's token), script the shell or
//! another service's page, or call the platform API with the citizen's
//! credentials. They call their own routes cross-origin, which CORS allows
//! (bearer tokens only; the host never uses cookies), with the service
//! session the shell gave them.

use axum::http::{HeaderName, HeaderValue, Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy on every answer of a plugin route. The guest may add its own
/// (stricter) policy; browsers enforce both.
pub const PLUGIN_CONTENT_SECURITY_POLICY: &str = "sandbox allow-scripts allow-forms \
     allow-popups allow-modals allow-downloads; frame-ancestors 'self'";

/// Adds the sandbox policy to every answer of a plugin route (next to a
/// policy of the guest's own, never instead of it).
pub fn sandbox_pages() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::appending(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PLUGIN_CONTENT_SECURITY_POLICY),
    )
}

/// Cross-origin calls to plugin routes: from any origin (a sandboxed page's
/// origin is `null`), without credentials, with the headers an app sends.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-islet-plugin-version"),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600))
        // Any origin gets the same `*` answer, so answers do not vary by
        // the CORS request headers (and none is built per request).
        .vary([])
}
