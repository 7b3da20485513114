//! The admin API: install, list, enable and disable plugins.

use super::error::ApiError;
use super::extract::Path;
use super::openapi_schemas as schema;
use super::{AppState, caller};
use crate::registry::{ActivePlugin, RegistryError, allowed_for_version};
use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// The admin view of a plugin: the full release's figures at the top
/// level, every version with its state, checks, grants and allowed actions.
pub fn plugin_json(state: &AppState, plugin: &ActivePlugin) -> Value {
    let r = &plugin.record;
    let manifest = r.manifest();
    let released = r.released_version();
    let shown = released.or(r.versions.first());
    let breaker = r.released.as_ref().map(|v| {
        state
            .protection
            .breaker_state(r.id(), &v.to_string())
            .name()
    });
    let (status, load_error, limits, activation) = match plugin.released() {
        Some(Ok(p)) => (
            "active",
            None,
            serde_json::to_value(p.limits).ok(),
            json!({ "ms": p.activation.as_secs_f64() * 1000.0, "from_cache": p.from_cache }),
        ),
        Some(Err(e)) => ("failed", Some(e.clone()), None, Value::Null),
        None => ("not-released", None, None, Value::Null),
    };
    let versions: Vec<Value> = r
        .versions
        .iter()
        .map(|v| {
            json!({
                "version": v.manifest.version.to_string(),
                "state": v.state.name(),
                "sha256": v.sha256,
                "size": v.size,
                "uploaded_at": v.uploaded_at,
                "uploaded_by": v.uploaded_by,
                "capabilities": v.manifest.capabilities,
                "personal_data": v.manifest.personal_data,
                "templates": v.manifest.templates,
                "checks": v.checks,
                "grants": v.grants,
                "review": v.review,
                "allowed_actions": allowed_for_version(v.state),
            })
        })
        .collect();
    json!({
        "id": r.id(),
        "name": manifest.map(|m| m.name.as_str()),
        "version": released.map(|v| v.manifest.version.to_string()),
        "department": r.department,
        "description": manifest.map(|m| m.description.as_str()),
        // Every language's name and description (`[i18n.*]` and the base).
        "names": manifest.map(|m| m.all_languages()),
        "category": manifest.map(|m| m.category.as_str()),
        "capabilities": released.map(|v| &v.manifest.capabilities),
        "granted": released.and_then(|v| v.grants.as_ref()).map(|g| &g.capabilities),
        "limits": limits,
        "enabled": !r.taken_down,
        "taken_down": r.taken_down,
        "gray": r.gray,
        "previous_releases": r.previous.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "curation": r.curation,
        "breaker": breaker,
        "status": status,
        "load_error": load_error,
        "activation": activation,
        "sha256": shown.map(|v| v.sha256.as_str()),
        "size": shown.map(|v| v.size),
        "storage_bytes": state.runtime.storage_usage(r.id()),
        "history": versions,
    })
}

/// The HTTP answer for a registry error.
pub fn registry_error(e: RegistryError) -> ApiError {
    use crate::runtime::{ImportError, PrepareError};
    let message = e.to_string();
    match e {
        RegistryError::Manifest(_) | RegistryError::Limits(_) => {
            ApiError::bad_request("invalid_manifest", message)
        }
        RegistryError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "component_too_large",
            message,
        ),
        RegistryError::Component(PrepareError::NotWasm | PrepareError::Invalid(_)) => {
            ApiError::bad_request("invalid_component", message)
        }
        RegistryError::Component(PrepareError::CoreModule) => {
            ApiError::bad_request("not_a_component", message)
        }
        RegistryError::Component(PrepareError::Imports(ImportError::Forbidden(_))) => {
            ApiError::bad_request("forbidden_import", message)
        }
        RegistryError::Component(PrepareError::Imports(ImportError::Unknown(_))) => {
            ApiError::bad_request("unknown_import", message)
        }
        RegistryError::Component(PrepareError::Imports(ImportError::Undeclared { .. })) => {
            ApiError::bad_request("undeclared_capability", message)
        }
        RegistryError::Component(PrepareError::Link(_)) => {
            ApiError::bad_request("incompatible_component", message)
        }
        RegistryError::NotFound(id) => caller::plugin_not_found(&id),
        RegistryError::NoVersion(..) => ApiError::not_found("version_not_found", message),
        RegistryError::Transition(t) => transition_error(t),
        RegistryError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        RegistryError::Store(_) => ApiError::internal(message),
        RegistryError::Unavailable(e) => ApiError::store_unavailable(e),
    }
}

/// `GET /admin/v1/plugins`.
#[utoipa::path(get, path = "/admin/v1/plugins", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    responses((status = 200, description = "The plugins the caller may see.", body = schema::PluginList)))]
pub async fn list_plugins(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    let plugins: Vec<Value> = state
        .registry
        .list()
        .iter()
        .filter(|p| who.can_read(&p.record.department))
        .map(|p| plugin_json(&state, p))
        .collect();
    Ok(Json(json!({ "plugins": plugins })))
}

/// `GET /admin/v1/plugins/{id}`.
#[utoipa::path(get, path = "/admin/v1/plugins/{id}", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    params(("id" = String, Path, description = "The plugin.", example = "water-bill")),
    responses((status = 200, description = "The plugin with every version.", body = schema::PluginView)))]
pub async fn get_plugin(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    let plugin = caller::visible_plugin(&state, &who, &id)?;
    Ok(Json(plugin_json(&state, &plugin)))
}

/// `POST /admin/v1/plugins` (multipart: `manifest`, `component`).
#[utoipa::path(post, path = "/admin/v1/plugins", tag = "admin-plugins",
    security(("bearer" = ["admin"])),
    request_body(content = schema::Upload, content_type = "multipart/form-data", description = "`manifest` (islet.toml) and `component` (.wasm): installed, granted and released at once."),
    responses(
        (status = 200, description = "Replaced an installed version, or the same component again (`unchanged`).", body = schema::PluginView),
        (status = 201, description = "Installed.", body = schema::PluginView),
        (status = 409, description = "A concurrent change (`conflict`).", body = schema::Error),
    ))]
pub async fn install_plugin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let admin = caller::admin(&state, &headers)?;
    let (manifest, component) = read_upload(multipart, state.max_component_bytes).await?;
    let registry = state.registry.clone();
    let actor = admin.subject.clone();
    let before = manifest
        .parse::<crate::manifest::Manifest>()
        .ok()
        .and_then(|m| state.registry.get(&m.id))
        .map(|p| plugin_json(&state, &p))
        .unwrap_or(Value::Null);
    let installed =
        tokio::task::spawn_blocking(move || registry.install(&manifest, &component, &actor))
            .await
            .map_err(|e| ApiError::internal(format!("install task failed: {e}")))?
            .map_err(registry_error)?;
    let plugin = &installed.plugin;
    tracing::info!(
        plugin = %plugin.record.id(),
        version = plugin.record.released.as_ref().map(ToString::to_string).unwrap_or_default(),
        replaced = installed.replaced.as_deref().unwrap_or("-"),
        by = %admin.subject,
        "plugin installed"
    );
    let mut body = plugin_json(&state, plugin);
    body["replaced_version"] = json!(installed.replaced);
    body["unchanged"] = json!(installed.unchanged);
    if !installed.unchanged {
        audit(
            &state,
            &admin.subject,
            "plugin.install",
            plugin.record.id(),
            before,
            body.clone(),
        );
    }
    let status = if installed.replaced.is_some() || installed.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(body)))
}

/// Record an admin action; a failure to record is logged, not fatal (the
/// action itself is already durable).
fn audit(state: &AppState, actor: &str, action: &str, target: &str, before: Value, after: Value) {
    if let Err(e) = state.audit.record(actor, action, target, before, after) {
        tracing::error!(action, target, "cannot write audit entry: {e}");
    }
}

/// A refused transition: 409 naming the allowed actions.
fn transition_error(t: crate::registry::TransitionError) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "invalid_transition", t.to_string())
}

/// Largest `islet.toml`, bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 << 10;

/// Read an upload's `manifest` (islet.toml text) and `component` fields;
/// a body over the upload limit (the component's `limit` and 1 MiB for
/// the rest) is a 413 naming it.
pub async fn read_upload(
    mut multipart: Multipart,
    limit: usize,
) -> Result<(String, axum::body::Bytes), ApiError> {
    let unreadable = |what: String, e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload_too_large",
                format!(
                    "the upload exceeds the limit of {limit} bytes for a component (and 1 MiB for the manifest)"
                ),
            )
        } else {
            ApiError::bad_request("invalid_upload", format!("cannot read {what}: {e}"))
        }
    };
    let mut manifest = None;
    let mut component = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| unreadable("the multipart body".into(), e))?
    {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| unreadable(format!("field {name:?}"), e))?;
        match name.as_str() {
            "manifest" => {
                if bytes.len() > MAX_MANIFEST_BYTES {
                    return Err(ApiError::bad_request(
                        "invalid_manifest",
                        format!("the manifest exceeds the limit of {MAX_MANIFEST_BYTES} bytes"),
                    ));
                }
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::bad_request("invalid_manifest", "the manifest is not UTF-8 text")
                })?;
                manifest = Some(text);
            }
            "component" => component = Some(bytes),
            other => {
                return Err(ApiError::bad_request(
                    "invalid_upload",
                    format!("unexpected field {other:?}; send `manifest` and `component`"),
                ));
            }
        }
    }
    let manifest = manifest.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_upload",
            "the `manifest` field (islet.toml) is missing",
        )
    })?;
    let component = component.ok_or_else(|| {
        ApiError::bad_request("invalid_upload", "the `component` field (.wasm) is missing")
    })?;
    Ok((manifest, component))
}
