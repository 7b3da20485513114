//! The HTTP edge: routes, the request id, and nothing about capabilities.

mod admin;
mod assets;
mod caller;
pub mod client_addr;
mod consents;
mod dev;
pub mod error;
mod extract;
pub mod fault_log;
mod friendly;
pub mod guest_headers;
mod guest_request;
mod inbox;
mod isolation;
mod lang;
mod lifecycle;
mod openapi;
mod openapi_schemas;
mod operations;
pub mod ops;
mod payment_admin;
pub mod payments;
mod plugin_route;
mod public;
mod sessions;
pub mod streams;

/// The pure parsers and conversions of the HTTP edge, for the fuzz targets
/// in `host/fuzz/` (not an API for anything else).
#[doc(hidden)]
pub mod fuzzing {
    pub use super::admin::read_upload;
    pub use super::guest_headers::{AnswerContext, HeaderLimits, guest_response};
}

use crate::auth::TokenVerifier;
use crate::registry::Registry;
use crate::runtime::Runtime;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::{ApiError, HostError, error_body};
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Service, ServiceBuilder};

/// Shared state of all handlers.
pub struct AppState {
    /// Installed plugins.
    pub registry: Arc<Registry>,
    /// The Wasm runtime.
    pub runtime: Arc<Runtime>,
    /// Token verification.
    pub verifier: Arc<TokenVerifier>,
    /// Instance slots and the memory budget, shared fairly between plugins:
    /// excess requests wait briefly, then get 503.
    pub pool: Arc<crate::pool::InstancePool>,
    /// Guest faults in the log, a few lines per plugin per second.
    pub fault_log: Arc<fault_log::FaultLog>,
    /// Largest component upload, bytes.
    pub max_component_bytes: usize,
    /// Quotas, rate limits, circuit breakers.
    pub protection: Arc<crate::protect::Protection>,
    /// Usage metering.
    pub usage: Arc<crate::usage::UsageMeter>,
    /// The audit log.
    pub audit: Arc<crate::audit::AuditLog>,
    /// The money path.
    pub payments: Arc<crate::payment::Payments>,
    /// Citizens' consents and data-access trails.
    pub consents: Arc<crate::consent::Consents>,
    /// Inboxes, live inbox streams and outbound channels.
    pub notifications: Arc<crate::notify::Notifications>,
    /// Service sessions handed to the mini-services' sandboxed pages.
    pub sessions: Arc<crate::auth::ServiceSessions>,
    /// Metrics access and trusted proxies.
    pub ops: ops::OpsSettings,
    /// Eviction of compiled artifacts.
    pub cache_policy: crate::config::CachePolicy,
    /// Live inbox streams per citizen.
    pub streams: Arc<streams::StreamSlots>,
    /// Bounds on a plugin answer's headers.
    pub guest_headers: guest_headers::HeaderLimits,
    /// A development host (`islet dev`, `serve --dev`, `demo`): its
    /// development routes answer; a production host refuses them.
    pub dev: bool,
}

/// Run store work off the async executor; a panic in it is a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a store task failed: {e}")))?
}

/// The request id of the current request (from `X-Request-Id` or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Build the router: the route table inside the host-wide middleware.
pub fn router(state: Arc<AppState>) -> Router {
    // The host-wide middleware wraps the table as one service, so a
    // request clones it once (cheap: the table is behind an `Arc`) rather
    // than every route's stack of boxed layers once per middleware.
    let host_wide = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(request_id))
        // Inside the request id (which the span and the line carry).
        .layer(ops::access_log())
        .layer(axum::middleware::from_fn(extract::drain_unread_body))
        // A bug in the host answers 500 JSON instead of dropping the connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        // New signing keys of the identity provider are fetched before
        // any handler verifies a token.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            caller::fetch_new_signing_keys,
        ))
        .service(routes(state));
    Router::new().fallback_service(host_wide)
}

/// The route table, each route with its own middleware.
fn routes(state: Arc<AppState>) -> Router {
    let upload_limit = state.max_component_bytes + (1 << 20);
    // Citizen routes with a body check the token before reading it.
    let signed_in =
        || axum::middleware::from_fn_with_state(state.clone(), caller::require_signed_in);
    // Mini-service pages run sandboxed in origins of their own.
    let redirect = sandboxed(Handler::with_state(
        plugin_route::redirect_to_root,
        state.clone(),
    ));
    let plugin_call = sandboxed(Handler::with_state(
        plugin_route::call_plugin,
        state.clone(),
    ));
    let admin = Router::new()
        .route(
            "/plugins",
            get(admin::list_plugins)
                .post(admin::install_plugin)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/plugins/{id}", get(admin::get_plugin))
        .route(
            "/plugins/{id}/versions",
            post(lifecycle::upload_version).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/plugins/{id}/versions/{version}/{action}",
            post(lifecycle::version_action),
        )
        .route(
            "/plugins/{id}/catalog",
            axum::routing::put(lifecycle::curate),
        )
        .route("/plugins/{id}/resume", post(operations::resume_plugin))
        .route("/plugins/{id}/{action}", post(lifecycle::plugin_action))
        .route("/review-queue", get(lifecycle::review_queue))
        .route("/dev", get(dev::status))
        .route(
            "/dev/plugins",
            post(dev::install).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/merchants",
            get(payment_admin::list_merchants).post(payment_admin::create_merchant),
        )
        .route(
            "/merchants/{id}/plugins/{plugin}",
            axum::routing::put(payment_admin::grant_merchant).delete(payment_admin::grant_merchant),
        )
        .route("/orders", get(payment_admin::list_orders))
        .route("/orders/{id}", get(payment_admin::order_detail))
        .route(
            "/plugins/{id}/data-access",
            get(consents::plugin_data_access),
        )
        .route("/notification-deliveries", get(inbox::deliveries))
        .route(
            "/notification-deliveries/{channel}/{id}/redeliver",
            post(inbox::redeliver),
        )
        .route("/payment-events", get(payment_admin::list_events))
        .route(
            "/payment-events/{id}/redeliver",
            post(payment_admin::redeliver),
        )
        .route("/reconciliation", get(payment_admin::reconciliation))
        .route("/usage", get(operations::usage))
        .route("/audit", get(operations::audit))
        // Who is calling is settled before any body is read.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            caller::require_staff,
        ));
    // The console's and shell's text assets, compressed for the phone.
    let pages = Router::new()
        .route("/", get(assets::shell_page))
        .route("/admin", get(assets::admin_page))
        .route("/admin/", get(assets::admin_page))
        .route("/assets/{file}", get(assets::asset))
        .route("/assets/i18n/{file}", get(assets::catalogue))
        // The API reference: the description and the page that renders it.
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs/api", get(openapi::docs_page))
        .layer(assets::compression());
    Router::new()
        .merge(pages)
        .route("/healthz", get(public::healthz))
        .route("/readyz", get(public::readyz))
        .route("/metrics", get(public::metrics))
        .route("/api/v1/platform", get(public::platform))
        .route("/api/v1/catalog", get(public::catalog))
        .route("/api/v1/catalog/{id}/privacy", get(consents::privacy))
        .route(
            "/api/v1/consents",
            get(consents::list)
                .post(consents::give)
                .route_layer(signed_in()),
        )
        .route(
            "/api/v1/consents/{id}",
            axum::routing::delete(consents::revoke),
        )
        .route("/api/v1/me/data-access", get(consents::my_data_access))
        .route("/api/v1/inbox", get(inbox::list))
        .route("/api/v1/inbox/stream", get(inbox::stream))
        .route("/api/v1/inbox/{id}/read", post(inbox::mark_read))
        .route("/api/v1/orders", get(payments::my_orders))
        .route("/api/v1/orders/{id}", get(payments::my_order))
        .route(
            "/api/v1/payments/notify/{provider}",
            post(payments::notify).layer(DefaultBodyLimit::max(64 << 10)),
        )
        .route(
            "/pay/{id}",
            get(assets::cashier_page)
                .layer(assets::compression())
                .merge(post(payments::cashier_action).route_layer(signed_in())),
        )
        .route(
            "/api/v1/sessions",
            post(sessions::open)
                .delete(sessions::close_all)
                .route_layer(signed_in()),
        )
        .route_service("/p/{plugin}", redirect)
        .route_service("/p/{plugin}/", plugin_call.clone())
        .route_service("/p/{plugin}/{*path}", plugin_call)
        .nest("/admin/v1", admin)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// A mini-service route's middleware around its handler: CORS for the
/// sandboxed pages, their security headers, and error pages in the
/// citizen's language. Wrapped as one service rather than per route with
/// `Router::layer`, whose nested boxes every middleware would clone again
/// on every request.
fn sandboxed<S>(
    handler: S,
) -> impl Service<
    Request,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    ServiceBuilder::new()
        .layer(isolation::cors())
        .layer(isolation::sandbox_pages())
        // A citizen's browser gets a page in their language, not JSON.
        .layer(axum::middleware::from_fn(friendly::friendly_errors))
        .service(handler)
}

/// The router of the separate metrics address (`[metrics] listen`): only
/// `GET /metrics`, to anyone who can reach that address.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(public::metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

fn valid_request_id(value: &HeaderValue) -> Option<Arc<str>> {
    let s = value.to_str().ok()?;
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.into())
}

/// The request id's header (a constant: a name given as `&str` is copied
/// on every insert).
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: 16 hex digits, random.
fn new_request_id() -> Arc<str> {
    let mut hex = [0u8; 16];
    match hex::encode_to_slice(rand::random::<[u8; 8]>(), &mut hex) {
        Ok(()) => Arc::from(std::str::from_utf8(&hex).unwrap_or("0000000000000000")),
        Err(_) => Arc::from("0000000000000000"),
    }
}

/// Accept or generate the request id, return it in `X-Request-Id` and
/// inside host error bodies (the access log's span carries it).
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Handlers and plugins (their error bodies) see the id the answer carries.
    if let Ok(value) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(X_REQUEST_ID, value);
    }
    // Any error answer that is not JSON yet (an extractor's, a layer's)
    // becomes the JSON error body.
    let mut response = extract::json_error_net(next.run(req).await).await;
    if let Some(err) = response.extensions_mut().remove::<HostError>() {
        let status = response.status();
        let mut rebuilt = (
            status,
            axum::Json(error_body(err.code, &err.message, Some(&id))),
        )
            .into_response();
        // The body is new and plain: the old one's length, type and
        // encoding (a compressed route's gzip) do not describe it.
        for (name, value) in response.headers() {
            if !extract::describes_body(name) {
                rebuilt.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = rebuilt;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}
