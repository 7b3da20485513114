//! The app-facing platform API: health, readiness, the platform's
//! settings for the pages, the catalog.

use super::AppState;
use super::extract::Query;
use super::lang;
use super::openapi_schemas as schema;
use crate::manifest::Localized;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "The process is up.", body = schema::Health)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the registry is loaded and the store answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "The registry is loaded and the store answers.", body = schema::Ready),
        (status = 503, description = "The store does not answer (`status`: `store_unavailable`).", body = schema::Ready),
    ))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let plugins = state.registry.list();
    let failed: Vec<&str> = plugins
        .iter()
        .filter(|p| p.serving.values().any(Result::is_err))
        .map(|p| p.record.id())
        .collect();
    let store_ok = state.registry.store_ok();
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if store_ok { "ready" } else { "store_unavailable" },
            "plugins": plugins.len(),
            "failed_plugins": failed,
        })),
    )
}

/// `GET /api/v1/platform`: what the pages need to speak the city's
/// language and show its clock: the business time zone, the page
/// languages (the default first) and the one this caller would get.
#[utoipa::path(get, path = "/api/v1/platform", tag = "app",
    responses((status = 200, description = "Time zone and page languages.", body = schema::Platform)))]
pub async fn platform(headers: HeaderMap) -> Response {
    let wanted = lang::wanted(&headers, None);
    let mut response = Json(json!({
        "time_zone": crate::clock::business_zone(),
        "languages": lang::UI_LANGUAGES,
        "default_language": lang::UI_LANGUAGES[0],
        "language": lang::ui_language(&wanted),
    }))
    .into_response();
    vary_on_language(&mut response);
    response
}

/// The answer depends on the caller's languages.
fn vary_on_language(response: &mut Response) {
    response.headers_mut().append(
        header::VARY,
        HeaderValue::from_static("accept-language, cookie"),
    );
}

/// `?lang=` and `?all_languages=` of the catalog.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// The language wanted first (before the cookie and `Accept-Language`).
    lang: Option<String>,
    /// Also list every language's texts, in `names`.
    #[serde(default)]
    all_languages: bool,
}

/// One entry of the catalog.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CatalogEntry<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    /// The language of `name` and `description`.
    language: &'a str,
    /// Every language's texts, when asked for (`?all_languages=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<BTreeMap<&'a str, Localized>>,
    department: &'a str,
    category: &'a str,
    district: Option<&'a str>,
    featured: bool,
    version: String,
    url: String,
}

/// `GET /api/v1/catalog`: plugins that serve and are not hidden, featured
/// first, then by curated order; names and descriptions in the caller's
/// language (`?lang=`, the app's language cookie, `Accept-Language`), every
/// language's with `?all_languages=true`.
#[utoipa::path(get, path = "/api/v1/catalog", tag = "app",
    params(CatalogQuery),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The catalog; a signed-in citizen sees the versions they are served (gray releases included).", body = schema::Catalog)))]
pub async fn catalog(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<CatalogQuery>,
) -> Response {
    let wanted = lang::wanted(&headers, query.lang.as_deref());
    // A signed-in citizen sees the version they would be served: a gray
    // release's testers and share see a service not yet released to all.
    // A token that does not verify lists what everyone sees.
    let caller = super::caller::caller(&state, &headers).ok().flatten();
    let subject = caller.as_ref().map(|c| c.subject.as_str());
    let plugins = state.registry.list();
    let mut listed: Vec<_> = plugins
        .iter()
        .filter(|p| p.record.serving() && !p.record.curation.hidden)
        .filter_map(|p| match p.route(subject) {
            Some((version, Ok(_))) => Some((p, version.clone())),
            _ => None,
        })
        .collect();
    listed.sort_by_key(|(p, _)| {
        (
            !p.record.curation.featured,
            p.record.curation.order,
            p.record.id().to_string(),
        )
    });
    let entries: Vec<CatalogEntry<'_>> = listed
        .iter()
        .filter_map(|(p, version)| {
            let r = &p.record;
            let m = r.version(version).map(|v| &v.manifest)?;
            let (language, name, description) = m.localized(&wanted);
            Some(CatalogEntry {
                id: &m.id,
                name,
                description,
                language,
                names: query.all_languages.then(|| m.all_languages()),
                department: &r.department,
                category: r.curation.category.as_deref().unwrap_or(&m.category),
                district: r.curation.district.as_deref(),
                featured: r.curation.featured,
                version: m.version.to_string(),
                url: format!("/p/{}/", m.id),
            })
        })
        .collect();
    let mut response = Json(json!({ "plugins": entries })).into_response();
    vary_on_language(&mut response);
    response
}

/// `GET /metrics` on the main address: only with the metrics token.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition.", content_type = "text/plain", body = String),
        (status = 401, description = "The metrics token is missing or wrong.", body = schema::Error),
        (status = 404, description = "This address serves no metrics (no metrics token configured).", body = schema::Error),
        (status = 503, description = "The metrics recorder is unavailable.", body = schema::Error),
    ))]
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if let Err(e) = state.ops.check_metrics_access(&headers) {
        return e.into_response();
    }
    metrics_text(State(state)).await
}

/// `GET /metrics` on the metrics address: Prometheus text exposition,
/// process metrics included.
pub async fn metrics_text(State(state): State<Arc<AppState>>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    crate::metrics::set_installed_plugins(state.registry.list().len());
    match crate::metrics::render() {
        Some(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => super::error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics_unavailable",
            "the metrics recorder could not be installed",
        )
        .into_response(),
    }
}
