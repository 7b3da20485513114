//! The app-facing platform API: health, readiness, catalog.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the registry is loaded and the store answers.
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

/// One entry of the catalog.
#[derive(Serialize)]
pub struct CatalogEntry<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    department: &'a str,
    category: &'a str,
    district: Option<&'a str>,
    featured: bool,
    version: String,
    url: String,
}

/// `GET /api/v1/catalog`: plugins that serve and are not hidden, featured
/// first, then by curated order.
pub async fn catalog(State(state): State<Arc<AppState>>) -> Json<Value> {
    let plugins = state.registry.list();
    let mut listed: Vec<_> = plugins
        .iter()
        .filter(|p| p.record.serving() && !p.record.curation.hidden)
        .filter(|p| p.released().is_some_and(Result::is_ok))
        .collect();
    listed.sort_by_key(|p| {
        (
            !p.record.curation.featured,
            p.record.curation.order,
            p.record.id().to_string(),
        )
    });
    let entries: Vec<CatalogEntry<'_>> = listed
        .iter()
        .filter_map(|p| {
            let r = &p.record;
            let m = r.released_version().map(|v| &v.manifest)?;
            Some(CatalogEntry {
                id: &m.id,
                name: &m.name,
                description: &m.description,
                department: &r.department,
                category: r.curation.category.as_deref().unwrap_or(&m.category),
                district: r.curation.district.as_deref(),
                featured: r.curation.featured,
                version: m.version.to_string(),
                url: format!("/p/{}/", m.id),
            })
        })
        .collect();
    Json(json!({ "plugins": entries }))
}

/// `GET /metrics` on the main address: only with the metrics token.
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
