//! The admin console (`/admin`) and the demo app shell (`/`): static pages
//! built into the binary, served with a strict content security policy.
//! They are plain HTML, CSS and JavaScript modules: no build step, nothing
//! fetched from elsewhere; they talk to the JSON API of this host.

use super::error::ApiError;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

const ADMIN_HTML: &str = include_str!("console/admin.html");
const SHELL_HTML: &str = include_str!("console/shell.html");
const CASHIER_HTML: &str = include_str!("console/cashier.html");
const CASHIER_JS: &str = include_str!("console/cashier.js");
const ADMIN_JS: &str = include_str!("console/admin.js");
const SHELL_JS: &str = include_str!("console/shell.js");
const COMMON_JS: &str = include_str!("console/common.js");
/// The bridge mini-service pages load (`<script src="/assets/islet.js">`).
const ISLET_JS: &str = include_str!("console/islet.js");
const STYLE_CSS: &str = include_str!("console/style.css");

/// Only this host's own scripts, styles and API; frames only for the
/// shell's mini-service pages (same origin); no plugins, no inline code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; frame-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A static file with the console's security and caching headers.
fn serve(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    (headers, body).into_response()
}

/// `GET /admin`, `GET /admin/`: the admin console.
pub async fn admin_page() -> Response {
    serve(HTML, ADMIN_HTML)
}

/// `GET /`: the demo app shell (the city app's home screen).
pub async fn shell_page() -> Response {
    serve(HTML, SHELL_HTML)
}

/// `GET /pay/{order}`: the sandbox provider's cashier. The page reads the
/// order through `/api/v1/orders/{id}` with the citizen's token.
pub async fn cashier_page() -> Response {
    serve(HTML, CASHIER_HTML)
}

/// `GET /assets/{file}`: the pages' scripts and stylesheet.
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (content_type, body) = match file.as_str() {
        "admin.js" => (JS, ADMIN_JS),
        "shell.js" => (JS, SHELL_JS),
        "common.js" => (JS, COMMON_JS),
        "cashier.js" => (JS, CASHIER_JS),
        "islet.js" => (JS, ISLET_JS),
        "style.css" => (CSS, STYLE_CSS),
        _ => {
            return Err(ApiError::not_found(
                "not_found",
                format!("no asset {file:?}"),
            ));
        }
    };
    Ok(serve(content_type, body))
}
