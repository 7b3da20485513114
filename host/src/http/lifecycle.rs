//! The listing life cycle over HTTP: upload a version, submit it, review
//! it (approve with grants, or reject with a reason), release it fully or
//! gray, adjust or end the gray release, roll back, take down, curate.

use super::AppState;
use super::admin::{plugin_json, registry_error};
use super::caller::{Staff, staff};
use super::error::ApiError;
use crate::manifest::Capability;
use crate::registry::{Action, ActivePlugin, Curation, Grants, VersionState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("invalid_body", format!("the JSON body is invalid: {e}"))
    })
}

fn plugin(state: &AppState, id: &str) -> Result<Arc<ActivePlugin>, ApiError> {
    state.registry.get(id).ok_or_else(|| {
        ApiError::not_found(
            "plugin_not_found",
            format!("no plugin with id {id:?} is installed"),
        )
    })
}

fn version(text: &str) -> Result<semver::Version, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_version",
            format!("{text:?} is not a semantic version"),
        )
    })
}

/// Run `action` on plugin `id` for `who`, audit it, answer the plugin.
async fn run(
    state: Arc<AppState>,
    who: &Staff,
    id: String,
    action: Action,
) -> Result<Json<Value>, ApiError> {
    let before = state
        .registry
        .get(&id)
        .map(|p| plugin_json(&state, &p))
        .unwrap_or(Value::Null);
    let registry = state.registry.clone();
    let (plugin_id, step, actor) = (id.clone(), action.clone(), who.actor().to_string());
    let plugin =
        tokio::task::spawn_blocking(move || registry.transition(&plugin_id, &step, &actor))
            .await
            .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
            .map_err(registry_error)?;
    let after = plugin_json(&state, &plugin);
    let name = format!("plugin.{}", action.name());
    if let Err(e) = state
        .audit
        .record(who.actor(), &name, &id, before, after.clone())
    {
        tracing::error!("cannot write audit entry: {e}");
    }
    tracing::info!(plugin = %id, action = action.name(), by = who.actor(), "listing changed");
    Ok(Json(after))
}

/// `POST /admin/v1/plugins/{id}/versions` (multipart `manifest`, `component`):
/// upload a version for review. Developers only for their own department.
pub async fn upload_version(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let who = staff(&state, &headers)?;
    let (manifest_text, component) = super::admin::read_upload(multipart).await?;
    let manifest: crate::manifest::Manifest =
        manifest_text
            .parse()
            .map_err(|e: crate::manifest::ManifestError| {
                ApiError::bad_request("invalid_manifest", e.to_string())
            })?;
    if manifest.id != id {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!(
                "islet.toml names plugin {:?}, but the upload is for {id:?}",
                manifest.id
            ),
        ));
    }
    let department = state
        .registry
        .get(&id)
        .map(|p| p.record.department.clone())
        .unwrap_or_else(|| manifest.department.clone());
    who.require(
        who.can_upload(&department) && who.can_upload(&manifest.department),
        &format!("uploading versions for department {department:?}"),
    )?;
    let before = state
        .registry
        .get(&id)
        .map(|p| plugin_json(&state, &p))
        .unwrap_or(Value::Null);
    let registry = state.registry.clone();
    let actor = who.actor().to_string();
    let (plugin, version) =
        tokio::task::spawn_blocking(move || registry.upload(&manifest_text, &component, &actor))
            .await
            .map_err(|e| ApiError::internal(format!("upload task failed: {e}")))?
            .map_err(registry_error)?;
    let mut body = plugin_json(&state, &plugin);
    if let Err(e) = state
        .audit
        .record(who.actor(), "plugin.upload", &id, before, body.clone())
    {
        tracing::error!("cannot write audit entry: {e}");
    }
    body["uploaded_version"] = json!(version.to_string());
    Ok((StatusCode::CREATED, Json(body)))
}

/// Body of `approve`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Capabilities granted (default: none).
    #[serde(default)]
    capabilities: BTreeSet<Capability>,
    /// Personal data items granted (default: none).
    #[serde(default)]
    personal_data: BTreeSet<crate::manifest::DataItem>,
    /// Templates approved (default: none).
    #[serde(default)]
    templates: BTreeSet<String>,
    /// Allow long-term message consent (default: no).
    #[serde(default)]
    long_term_messages: bool,
    /// Grant everything the version requested (the other fields must then
    /// be absent).
    #[serde(default)]
    all_requested: bool,
}

/// Body of `reject`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why.
    #[serde(default)]
    reason: String,
}

/// Body of `release` and `gray`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// Share of citizens, percent (default 100: full release).
    #[serde(default = "hundred")]
    percent: u8,
    /// Citizens (token subjects) who always get it.
    #[serde(default)]
    testers: Vec<String>,
}

fn hundred() -> u8 {
    100
}

impl Default for ReleaseBody {
    fn default() -> Self {
        ReleaseBody {
            percent: 100,
            testers: Vec::new(),
        }
    }
}

/// `POST /admin/v1/plugins/{id}/versions/{version}/{action}`:
/// `submit`, `approve`, `reject`, `release`.
pub async fn version_action(
    State(state): State<Arc<AppState>>,
    Path((id, version_text, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    let department = plugin(&state, &id)?.record.department.clone();
    let version = version(&version_text)?;
    let action = match action.as_str() {
        "submit" => {
            who.require(
                who.can_upload(&department),
                "submitting this department's versions",
            )?;
            Action::Submit(version)
        }
        "approve" => {
            who.require(who.can_review(), "reviewing")?;
            let body: ApproveBody = parse_body(&body)?;
            let grants = if body.all_requested {
                let plugin = plugin(&state, &id)?;
                let manifest = plugin
                    .record
                    .version(&version)
                    .map(|v| v.manifest.clone())
                    .ok_or_else(|| {
                        ApiError::not_found(
                            "version_not_found",
                            format!("{id} has no version {version}"),
                        )
                    })?;
                Grants::everything_requested(&manifest)
            } else {
                Grants {
                    capabilities: body.capabilities,
                    personal_data: body.personal_data,
                    templates: body.templates,
                    long_term_messages: body.long_term_messages,
                }
            };
            Action::Approve(version, grants)
        }
        "reject" => {
            who.require(who.can_review(), "reviewing")?;
            let body: RejectBody = parse_body(&body)?;
            Action::Reject(version, body.reason)
        }
        "release" => {
            who.require(who.can_review(), "releasing")?;
            let body: ReleaseBody = parse_body(&body)?;
            Action::Release {
                version,
                percent: body.percent,
                testers: body.testers,
            }
        }
        other => {
            return Err(ApiError::not_found(
                "not_found",
                format!("no version action {other:?}; use submit, approve, reject or release"),
            ));
        }
    };
    run(state, &who, id, action).await
}

/// `POST /admin/v1/plugins/{id}/{action}`: `gray`, `promote`, `revert`,
/// `rollback`, `take-down`, `put-back`.
pub async fn plugin_action(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    plugin(&state, &id)?;
    who.require(who.can_review(), "changing a listing")?;
    let action = match action.as_str() {
        "gray" => {
            let body: ReleaseBody = parse_body(&body)?;
            Action::SetGray {
                percent: body.percent,
                testers: body.testers,
            }
        }
        "promote" => Action::Promote,
        "revert" => Action::Revert,
        "rollback" => Action::Rollback,
        "take-down" | "disable" => Action::TakeDown,
        "put-back" | "enable" => Action::PutBack,
        other => {
            return Err(ApiError::not_found(
                "not_found",
                format!(
                    "no plugin action {other:?}; use gray, promote, revert, rollback, take-down or put-back"
                ),
            ));
        }
    };
    run(state, &who, id, action).await
}

/// `PUT /admin/v1/plugins/{id}/catalog`: category, district, featured,
/// order, hidden.
pub async fn curate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(curation): Json<Curation>,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    who.require(who.can_review(), "curating the catalog")?;
    let before = plugin_json(&state, &*plugin(&state, &id)?);
    let registry = state.registry.clone();
    let plugin_id = id.clone();
    let plugin = tokio::task::spawn_blocking(move || registry.curate(&plugin_id, curation))
        .await
        .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
        .map_err(registry_error)?;
    let after = plugin_json(&state, &plugin);
    if let Err(e) = state
        .audit
        .record(who.actor(), "plugin.curate", &id, before, after.clone())
    {
        tracing::error!("cannot write audit entry: {e}");
    }
    Ok(Json(after))
}

/// `GET /admin/v1/review-queue`: versions in review, with their checks.
pub async fn review_queue(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    let queue: Vec<Value> = state
        .registry
        .list()
        .iter()
        .filter(|p| who.can_read(&p.record.department))
        .flat_map(|p| {
            p.record
                .versions
                .iter()
                .filter(|v| v.state == VersionState::InReview)
                .map(|v| {
                    json!({
                        "plugin": p.record.id(),
                        "department": p.record.department,
                        "name": v.manifest.name,
                        "version": v.manifest.version.to_string(),
                        "requested": v.manifest.capabilities,
                        "personal_data": v.manifest.personal_data,
                        "templates": v.manifest.templates,
                        "limits": v.manifest.limits,
                        "checks": v.checks,
                        "uploaded_by": v.uploaded_by,
                        "uploaded_at": v.uploaded_at,
                        "released": p.record.released.as_ref().map(ToString::to_string),
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(Json(json!({ "queue": queue })))
}
