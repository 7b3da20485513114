//! The development host's own routes, behind `islet dev --server URL`:
//! whether this host is a development host, and the one-step install of a
//! plugin version with its manifest's capabilities granted and released
//! (a developer approving their own version). A production host answers
//! the first with `dev: false` and refuses the second, whoever asks: its
//! versions go through review.

use super::AppState;
use super::admin::{plugin_json, registry_error};
use super::caller::{plugin_not_found, staff};
use super::error::ApiError;
use super::openapi_schemas as schema;
use crate::devhost::DevInstallError;
use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// What a production host says to a development-only request: what it is
/// and the two ways forward.
pub const NOT_A_DEV_HOST: &str = "this is a production host: it does not grant a version's \
     capabilities without review. Use a development host (`islet dev` starts one, or \
     `islet serve --dev`), or go through review on this one: `islet plugin publish`, \
     `islet plugin submit`, then a reviewer runs `islet plugin approve` and `islet plugin release`";

/// `GET /admin/v1/dev`: whether this is a development host.
#[utoipa::path(get, path = "/admin/v1/dev", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    responses(
        (status = 200, description = "Whether this host takes `islet dev --server` (`dev`), and on a production host what to do instead.", body = schema::DevStatus),
    ))]
pub async fn status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers)?;
    let mut body = json!({ "dev": state.dev });
    if !state.dev {
        body["message"] = json!(NOT_A_DEV_HOST);
    }
    Ok(Json(body))
}

/// `POST /admin/v1/dev/plugins` (multipart `manifest`, `component`), on a
/// development host only: install the version with everything its
/// manifest requests granted, release it to everyone and open the
/// department's development merchant account when it takes payments. A
/// developer of the plugin's department (or an admin) may; a production
/// host answers 403 `not_a_development_host`.
#[utoipa::path(post, path = "/admin/v1/dev/plugins", tag = "admin-plugins",
    security(("bearer" = ["admin", "developer:{department}"])),
    request_body(content = schema::Upload, content_type = "multipart/form-data", description = "`manifest` (islet.toml) and `component` (.wasm) of the version to install and release on this development host."),
    responses(
        (status = 201, description = "Installed, granted and released (`replaced_version`, `unchanged`, `merchant`).", body = schema::PluginView),
        (status = 403, description = "Not a development host (`not_a_development_host`), or not the caller's department.", body = schema::Error),
    ))]
pub async fn install(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let who = staff(&state, &headers)?;
    if !state.dev {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_development_host",
            NOT_A_DEV_HOST,
        ));
    }
    let (manifest_text, component) =
        super::admin::read_upload(multipart, state.max_component_bytes).await?;
    let manifest: crate::manifest::Manifest =
        manifest_text
            .parse()
            .map_err(|e: crate::manifest::ManifestError| {
                ApiError::bad_request("invalid_manifest", e.to_string())
            })?;
    let department = match state.registry.get(&manifest.id) {
        Some(p) if !who.can_read(&p.record.department) => {
            return Err(plugin_not_found(&manifest.id));
        }
        Some(p) => p.record.department.clone(),
        None => manifest.department.clone(),
    };
    who.require(
        who.can_upload(&department) && who.can_upload(&manifest.department),
        &format!("installing versions for department {department:?}"),
    )?;
    let before = state
        .registry
        .get(&manifest.id)
        .map(|p| plugin_json(&state, &p))
        .unwrap_or(Value::Null);
    let (registry, payments) = (state.registry.clone(), state.payments.clone());
    let actor = who.actor().to_string();
    let done = tokio::task::spawn_blocking(move || {
        crate::devhost::install(&registry, &payments, &manifest_text, &component, &actor)
    })
    .await
    .map_err(|e| ApiError::internal(format!("install task failed: {e}")))?
    .map_err(|e| match e {
        DevInstallError::Registry(e) => registry_error(e),
        DevInstallError::Merchant(m) => ApiError::internal(m),
    })?;
    let plugin = &done.installed.plugin;
    let mut body = plugin_json(&state, plugin);
    body["replaced_version"] = json!(done.installed.replaced);
    body["unchanged"] = json!(done.installed.unchanged);
    body["merchant"] = json!(done.merchant);
    if !done.installed.unchanged
        && let Err(e) = state.audit.record(
            who.actor(),
            "plugin.dev-install",
            plugin.record.id(),
            before,
            body.clone(),
        )
    {
        tracing::error!("cannot write audit entry: {e}");
    }
    tracing::info!(
        plugin = %plugin.record.id(),
        version = plugin.record.released.as_ref().map(ToString::to_string).unwrap_or_default(),
        by = who.actor(),
        "development version installed"
    );
    Ok((StatusCode::OK, Json(body)))
}
