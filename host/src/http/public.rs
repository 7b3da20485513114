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
        .filter(|p| p.prepared.is_err())
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
    version: String,
    url: String,
}

/// `GET /api/v1/catalog`: enabled, serving plugins.
pub async fn catalog(State(state): State<Arc<AppState>>) -> Json<Value> {
    let plugins = state.registry.list();
    let entries: Vec<CatalogEntry<'_>> = plugins
        .iter()
        .filter(|p| p.record.enabled && p.prepared.is_ok())
        .map(|p| {
            let m = &p.record.manifest;
            CatalogEntry {
                id: &m.id,
                name: &m.name,
                description: &m.description,
                department: &m.department,
                category: &m.category,
                version: m.version.to_string(),
                url: format!("/p/{}/", m.id),
            }
        })
        .collect();
    Json(json!({ "plugins": entries }))
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<Arc<AppState>>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    crate::metrics::set_installed_plugins(state.registry.list().len());
    match crate::metrics::handle() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
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
