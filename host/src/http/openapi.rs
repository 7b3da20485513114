//! The API reference: an OpenAPI 3.1 description of every route, built
//! from the handlers' `#[utoipa::path]` annotations and the request and
//! answer types, served at `GET /openapi.json` and rendered by the host's
//! own page at `GET /docs/api` (no CDN: the page's script is one of the
//! console's assets).
//!
//! The description cannot drift from the router unnoticed: a test walks
//! the router's actual routes and methods and compares them with the
//! description's, both ways.

use super::openapi_schemas as schema;
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The description of the platform API (`GET /openapi.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Islet platform API",
        description = "The HTTP API of an Islet host: the city app's catalog and citizen \
            routes (`/api/v1`), the platform staff's admin API (`/admin/v1`), the payment \
            provider's notification callback, operations (`/healthz`, `/readyz`, `/metrics`), \
            the platform's pages, and the conventions of mini-service routes \
            (`/p/{plugin}/...`, answered by the plugin itself).\n\n\
            Authentication: `Authorization: Bearer <JWT>` from the city's identity provider. \
            The admin API needs a platform role in the token's roles: `admin`, `reviewer`, \
            `operator` (read-only) or `developer:<department>`; each operation's security \
            lists the roles it accepts. A citizen is any valid token. Mini-service pages use \
            a service session token (`POST /api/v1/sessions`) on their own routes only.\n\n\
            Every error the host answers is `{\"error\": {\"code\", \"message\", \"request_id\"}}` \
            with the request id also in the `X-Request-Id` header.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::public::healthz,
        super::public::readyz,
        super::public::metrics,
        super::public::platform,
        super::public::catalog,
        super::consents::privacy,
        super::consents::list,
        super::consents::give,
        super::consents::revoke,
        super::consents::my_data_access,
        super::inbox::list,
        super::inbox::stream,
        super::inbox::mark_read,
        super::payments::my_orders,
        super::payments::my_order,
        super::payments::notify,
        super::payments::cashier_action,
        super::sessions::open,
        super::sessions::close_all,
        super::plugin_route::redirect_to_root,
        super::plugin_route::call_plugin,
        plugin_subpath,
        super::admin::list_plugins,
        super::admin::install_plugin,
        super::admin::get_plugin,
        super::lifecycle::upload_version,
        super::dev::status,
        super::dev::install,
        super::lifecycle::version_action,
        super::lifecycle::curate,
        super::lifecycle::plugin_action,
        super::lifecycle::review_queue,
        super::operations::resume_plugin,
        super::operations::usage,
        super::operations::audit,
        super::payment_admin::list_merchants,
        super::payment_admin::create_merchant,
        super::payment_admin::grant_merchant,
        super::payment_admin::list_orders,
        super::payment_admin::order_detail,
        super::payment_admin::list_events,
        super::payment_admin::redeliver,
        super::payment_admin::reconciliation,
        super::consents::plugin_data_access,
        super::inbox::deliveries,
        super::inbox::redeliver,
        super::assets::shell_page,
        super::assets::admin_page,
        admin_page_slash,
        super::assets::cashier_page,
        super::assets::asset,
        super::assets::catalogue,
        openapi_json,
        docs_page,
    ),
    components(schemas(
        schema::DevStatus, schema::Error,
        schema::ErrorDetail,
        schema::VersionAction,
        schema::PluginAction,
        crate::notify::DeliveryStatus,
    )),
    modifiers(&Conventions),
    tags(
        (name = "app", description = "The city app: platform settings, the catalog, a service's privacy terms."),
        (name = "citizen", description = "A signed-in citizen's consents, data-access trail, inbox, orders and service sessions."),
        (name = "payments", description = "The sandbox cashier and the payment provider's signed notifications."),
        (name = "mini-services", description = "Routes answered by the mini-services themselves."),
        (name = "admin-plugins", description = "Platform staff: install, upload, review, release and curate mini-services."),
        (name = "admin-money", description = "Platform staff: merchants, orders, payment events, reconciliation."),
        (name = "admin-operations", description = "Platform staff: usage, the audit log, notification deliveries, breakers, data access."),
        (name = "ops", description = "Health, readiness and metrics."),
        (name = "pages", description = "The platform's own pages and their assets, and this reference."),
    ),
)]
pub struct ApiDoc;

/// What every operation shares: the security schemes and the error
/// answers the host may give on any route of its kind.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT of the city's identity provider. The security requirement of \
                         each operation lists the roles (the token's roles claim) it accepts; \
                         an empty list means any signed-in citizen.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "service_session",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A service session token from `POST /api/v1/sessions`: valid on its \
                         own mini-service's `/p/{plugin}/...` routes only, for 30 minutes.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The metrics token of the host's configuration (`[metrics] token`).",
                    ))
                    .build(),
            ),
        );
        unique_operation_ids(doc);
        for (path, item) in doc.paths.paths.iter_mut() {
            let host_json = path.starts_with("/api/") || path.starts_with("/admin/v1/");
            // A plugin answers its routes with any status and body; the
            // host's refusals there are listed apart, so a plugin's own 404
            // is not taken for the host's.
            let plugin_answers = path.starts_with("/p/{plugin}/");
            for operation in operations(item) {
                if plugin_answers {
                    operation.extensions = Some(host_refusals());
                } else {
                    add_error_answers(operation, host_json);
                }
            }
        }
    }
}

/// One handler serving several methods (`method(put, delete)`) gives each
/// the handler's name; OpenAPI wants each operation's id unique, so a
/// shared one gets its method appended (`grant_merchant_put`).
fn unique_operation_ids(doc: &mut Document) {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            if let Some(id) = &operation.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for (method, operation) in [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("patch", item.patch.as_mut()),
        ] {
            let Some(operation) = operation else { continue };
            if let Some(id) = &operation.operation_id
                && seen.get(id).is_some_and(|n| *n > 1)
            {
                operation.operation_id = Some(format!("{id}_{method}"));
            }
        }
    }
}

/// The operations of one path.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The host's error answers `operation` may give, each with the error
/// body: bad input where it takes input, 401/403 where it needs a token,
/// 404 where its path names something, and 500/503 everywhere on the JSON
/// API (a host bug, a store that does not answer). An answer the handler
/// already documents is kept.
fn add_error_answers(operation: &mut Operation, host_json: bool) {
    let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_path_params = operation.parameters.as_ref().is_some_and(|p| {
        p.iter()
            .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path))
    });
    let has_body = operation.request_body.is_some();
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && !is_optional(s));
    let mut statuses: Vec<(&str, &str)> = Vec::new();
    if has_params || has_body {
        statuses.push((
            "400",
            "The input is malformed (`invalid_query`, `invalid_path`, `invalid_body`, ...).",
        ));
    }
    if has_body {
        statuses.push(("413", "The body is too large."));
        statuses.push(("415", "The body is not of the expected media type."));
        statuses.push((
            "422",
            "The body is well-formed but does not fit (a field out of bounds).",
        ));
    }
    if secured {
        statuses.push((
            "401",
            "No valid token (`unauthenticated`, `invalid_token`, `token_expired`).",
        ));
        statuses.push(("403", "The token's roles do not allow this (`forbidden`)."));
    }
    if has_path_params {
        statuses.push(("404", "Nothing of that id (or nothing the caller may see)."));
    }
    if host_json {
        statuses.push(("500", "A host bug (`internal_error`); it has been logged."));
        statuses.push((
            "503",
            "The store does not answer (`store_unavailable`); try again.",
        ));
    }
    for (status, description) in statuses {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        operation
            .responses
            .responses
            .insert(status.to_string(), RefOr::T(error_answer(description)));
    }
}

/// What the host itself answers on a plugin's routes, each with the error
/// body (`x-host-errors`, as the reference page shows it).
const HOST_REFUSALS: [(&str, &str); 7] = [
    ("400", "Not a mini-service path (`invalid_path`)."),
    (
        "401",
        "A token that does not verify, or a session of another service (`invalid_token`, `token_expired`, `session_expired`).",
    ),
    (
        "404",
        "No such service, or it is taken down or not released (`plugin_not_found`, `plugin_disabled`, `plugin_not_released`).",
    ),
    (
        "413",
        "The request body exceeds the plugin's limit (`body_too_large`).",
    ),
    (
        "429",
        "A rate limit or quota (`rate_limited`, `quota_exceeded`, `daily_quota_exceeded`); `Retry-After` says when.",
    ),
    (
        "502",
        "The plugin failed: trap, panic, CPU or memory limit, an invalid answer (`plugin_failed`, `plugin_timeout`, ...).",
    ),
    (
        "503",
        "No instance slot, a load failure or an open circuit breaker (`busy`, `plugin_unavailable`, `plugin_suspended`); `Retry-After` says when.",
    ),
];

/// The `x-host-errors` extension of a plugin route.
fn host_refusals() -> utoipa::openapi::extensions::Extensions {
    let refusals: serde_json::Map<String, serde_json::Value> = HOST_REFUSALS
        .iter()
        .map(|(status, description)| {
            (
                status.to_string(),
                serde_json::json!({
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }),
            )
        })
        .collect();
    utoipa::openapi::extensions::ExtensionsBuilder::new()
        .add("x-host-errors", serde_json::Value::Object(refusals))
        .build()
}

/// Whether a security requirement list allows calling without a token
/// (it holds an empty requirement `{}`).
fn is_optional(security: &[utoipa::openapi::security::SecurityRequirement]) -> bool {
    security
        .iter()
        .any(|r| r == &utoipa::openapi::security::SecurityRequirement::default())
}

/// A response with the host's error body.
fn error_answer(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
}

/// The description as JSON, built once.
pub fn document() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// `GET /openapi.json`: the OpenAPI 3.1 description of this host's API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "pages",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description (cacheable; `ETag`).", content_type = "application/json", body = Object),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
    ),
)]
pub async fn openapi_json(headers: HeaderMap) -> Response {
    super::assets::serve_reference(&headers, document())
}

/// `GET /docs/api`: the API reference page, rendered from `/openapi.json`.
#[utoipa::path(
    get,
    path = "/docs/api",
    tag = "pages",
    responses(
        (status = 200, description = "The reference page.", content_type = "text/html"),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
    ),
)]
pub async fn docs_page(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    super::assets::docs_page(headers, uri).await
}

/// `GET /admin/`: the admin console (as `/admin`); described here because
/// the console's handler serves both.
#[utoipa::path(
    get,
    path = "/admin/",
    tag = "pages",
    responses(
        (status = 200, description = "The admin console.", content_type = "text/html"),
        (status = 304, description = "The copy named in `If-None-Match` is current."),
    ),
)]
#[allow(dead_code, reason = "describes a route the console's handler serves")]
fn admin_page_slash() {}

/// `ANY /p/{plugin}/{path}`: a mini-service's own route (see
/// `call_plugin`); described here because one handler serves both forms.
#[utoipa::path(
    method(get, post, put, delete, patch),
    path = "/p/{plugin}/{path}",
    tag = "mini-services",
    params(
        ("plugin" = String, Path, description = "The mini-service's id.", example = "water-bill", pattern = "^[a-z][a-z0-9-]{1,39}$"),
        ("path" = String, Path, description = "The rest of the path, slashes included, handed to the plugin."),
    ),
    security((), ("bearer" = []), ("service_session" = [])),
    responses(
        (status = "default", description = "The plugin's own answer: any status, headers within the host's bounds, any body. The host's own refusals (`x-host-errors`) are error bodies; a browser asking for `text/html` gets them as a page in its language.", content_type = "*/*"),
    ),
)]
#[allow(dead_code, reason = "describes a route `call_plugin` serves")]
fn plugin_subpath() {}

/// The request methods a route takes, as the description writes them.
#[cfg(test)]
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// The (path, method) pairs the router actually serves, read from its
/// debug form (the only view axum gives of its table): path templates as
/// OpenAPI writes them (`{*rest}` as `{rest}`), `any` as every method.
#[cfg(test)]
pub fn router_routes(router: &axum::Router) -> std::collections::BTreeSet<(String, String)> {
    let text = format!("{router:?}");
    let main = text.split("fallback_router:").next().unwrap_or_default();
    let (routes, node) = main.split_once("node: Node").unwrap_or((main, ""));
    let mut paths = std::collections::BTreeMap::new();
    for part in node.split("RouteId(").skip(1) {
        let Some((id, rest)) = part.split_once(')') else {
            continue;
        };
        let Some(path) = rest.split('"').nth(1) else {
            continue;
        };
        paths.insert(id.trim().to_string(), path.to_string());
    }
    let mut found = std::collections::BTreeSet::new();
    for part in routes.split("RouteId(").skip(1) {
        let Some((id, rest)) = part.split_once(')') else {
            continue;
        };
        let Some(path) = paths.get(id.trim()) else {
            continue;
        };
        let path = path.replace("{*", "{");
        // `any(handler)`, or a service mounted with `route_service`.
        let any = rest.contains("allow_header: Skip") || rest.starts_with(": Route(");
        for method in METHODS {
            let field = format!("{method}: ");
            let served = rest
                .split_once(&field)
                .is_some_and(|(_, after)| !after.starts_with("None"));
            if any || served {
                found.insert((path.clone(), method.to_string()));
            }
        }
    }
    found
}

/// The (path, method) pairs the description lists.
#[cfg(test)]
pub fn described_routes(doc: &Document) -> std::collections::BTreeSet<(String, String)> {
    let mut found = std::collections::BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("delete", &item.delete),
            ("patch", &item.patch),
        ] {
            if op.is_some() {
                found.insert((path.clone(), method.to_string()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt as _;

    fn router() -> (tempfile::TempDir, axum::Router) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = crate::config::ServerConfig::new(dir.path().to_path_buf());
        config.dev = true;
        let state = crate::server::build_state(&config).expect("state");
        (dir, super::super::routes(state))
    }

    #[test]
    fn every_route_is_described_and_every_description_is_a_route() {
        let (_dir, router) = router();
        let served = router_routes(&router);
        assert!(
            served.len() > 40,
            "the router's table could not be read ({} routes): has axum's debug form changed?",
            served.len()
        );
        let described = described_routes(&ApiDoc::openapi());
        let undescribed: Vec<_> = served.difference(&described).collect();
        let missing: Vec<_> = described.difference(&served).collect();
        assert!(
            undescribed.is_empty(),
            "routes the router serves that /openapi.json lacks (add #[utoipa::path] and list the handler in ApiDoc): {undescribed:?}"
        );
        assert!(
            missing.is_empty(),
            "routes /openapi.json describes that the router does not serve: {missing:?}"
        );
    }

    #[test]
    fn the_route_reader_sees_methods_and_wildcards() {
        let (_dir, router) = router();
        let served = router_routes(&router);
        let has = |p: &str, m: &str| served.contains(&(p.to_string(), m.to_string()));
        assert!(has("/api/v1/consents", "get") && has("/api/v1/consents", "post"));
        assert!(!has("/api/v1/consents", "put"));
        assert!(has("/admin/v1/merchants/{id}/plugins/{plugin}", "delete"));
        assert!(has("/p/{plugin}/{path}", "patch"), "any() is every method");
        assert!(
            has("/admin/v1/plugins", "post"),
            "nested routes carry the prefix"
        );
    }

    #[test]
    fn the_description_is_openapi_3_1_and_every_operation_answers_errors_in_the_error_body() {
        let doc: serde_json::Value =
            serde_json::from_str(document()).expect("the description is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                let tag = op["tags"][0].as_str().unwrap_or_default();
                assert!(!tag.is_empty(), "{method} {path} has no tag");
                assert!(
                    ids.insert(id.clone()),
                    "{method} {path}: operationId {id} is not unique"
                );
                let responses = op["responses"].as_object().expect("responses");
                let errors: Vec<_> = responses
                    .iter()
                    .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
                    .collect();
                if path.starts_with("/api/") || path.starts_with("/admin/v1/") {
                    assert!(!errors.is_empty(), "{method} {path} lists no error answer");
                }
                // Readiness answers its own body, with 503 too.
                for (status, answer) in errors.into_iter().filter(|_| path != "/readyz") {
                    let schema = &answer["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/Error",
                        "{method} {path} {status} does not answer the error body"
                    );
                }
                if path.starts_with("/admin/v1/") {
                    let roles = &op["security"][0]["bearer"];
                    assert!(
                        roles.as_array().is_some_and(|r| !r.is_empty()),
                        "{method} {path} names no role"
                    );
                }
            }
        }
        let error = &doc["components"]["schemas"]["ErrorDetail"]["required"];
        assert_eq!(error, &serde_json::json!(["code", "message", "request_id"]));
    }

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner.as_str()) {
                        ("$ref", Some(target)) => found.push(target),
                        _ => refs(inner, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_of_the_description_resolves() {
        let doc: serde_json::Value =
            serde_json::from_str(document()).expect("the description is JSON");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "{} references", found.len());
        for target in found {
            let pointer = target.trim_start_matches('#');
            assert!(
                doc.pointer(pointer).is_some(),
                "{target} does not resolve: list its type in ApiDoc's components"
            );
        }
    }

    #[tokio::test]
    async fn the_description_is_served_cacheable_and_the_page_renders_it() {
        let (_dir, router) = router();
        let answer = router
            .clone()
            .oneshot(
                Request::get("/openapi.json")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(answer.status(), StatusCode::OK);
        let tag = answer.headers()[header::ETAG].clone();
        assert!(
            answer.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or_default()
                .starts_with("application/json")
        );
        let again = router
            .clone()
            .oneshot(
                Request::get("/openapi.json")
                    .header(header::IF_NONE_MATCH, tag)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let page = router
            .oneshot(
                Request::get("/docs/api")
                    .header(header::HOST, "city.example")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(page.status(), StatusCode::OK);
        let body = axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .expect("body");
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("/assets/api.js"), "{html}");
        assert!(
            !html.contains("https://"),
            "the page loads nothing from elsewhere"
        );
    }
}
