//! The listing life cycle over HTTP: upload a version, submit it, review
//! it (approve with grants, or reject with a reason), release it fully or
//! gray, adjust or end the gray release, roll back, take down, curate.

use super::AppState;
use super::admin::{plugin_json, registry_error};
use super::caller::{Staff, staff};
use super::error::ApiError;
use super::extract::Path;
use super::openapi_schemas as schema;
use crate::manifest::Capability;
use crate::registry::{Action, ActivePlugin, Curation, Grants, VersionState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, State};
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
        if e.is_data() {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the JSON body does not fit: {e}"),
            )
        } else {
            ApiError::bad_request("invalid_json", format!("the JSON body is invalid: {e}"))
        }
    })
}

/// Longest free text a reviewer writes (a rejection reason), characters.
pub const MAX_REASON_CHARS: usize = 2_000;
/// Most testers of one gray release.
pub const MAX_TESTERS: usize = 1_000;
/// Longest token subject, characters.
pub const MAX_SUBJECT_CHARS: usize = 255;
/// Longest catalog category or district, characters.
pub const MAX_CURATION_CHARS: usize = 40;
/// Lowest and highest catalog position.
pub const CURATION_ORDER: std::ops::RangeInclusive<i32> = -100_000..=100_000;

/// 422 `invalid_body` naming `field` and its limit.
fn out_of_bounds(field: &str, limit: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        format!("{field}: {limit}"),
    )
}

fn bounded_text(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(out_of_bounds(
            field,
            format!("at most {max} characters, no control characters"),
        ));
    }
    Ok(())
}

fn plugin(state: &AppState, who: &Staff, id: &str) -> Result<Arc<ActivePlugin>, ApiError> {
    super::caller::visible_plugin(state, who, id)
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
#[utoipa::path(post, path = "/admin/v1/plugins/{id}/versions", tag = "admin-plugins",
    security(("bearer" = ["admin", "developer:{department}"])),
    params(("id" = String, Path, description = "The plugin (as the manifest names it).", example = "water-bill")),
    request_body(content = schema::Upload, content_type = "multipart/form-data", description = "`manifest` (islet.toml) and `component` (.wasm) of a version for review."),
    responses(
        (status = 201, description = "Uploaded (`uploaded_version`).", body = schema::PluginView),
        (status = 409, description = "The version exists already or a concurrent change.", body = schema::Error),
    ))]
pub async fn upload_version(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let who = staff(&state, &headers)?;
    let (manifest_text, component) =
        super::admin::read_upload(multipart, state.max_component_bytes).await?;
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
    // Another department's plugin answers as an absent one would on
    // every other route (the id itself is taken, which an upload cannot
    // hide).
    let department = match state.registry.get(&id) {
        Some(p) if !who.can_read(&p.record.department) => {
            return Err(super::caller::plugin_not_found(&id));
        }
        Some(p) => p.record.department.clone(),
        None => manifest.department.clone(),
    };
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
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why.
    #[serde(default)]
    reason: String,
}

/// Body of `release` and `gray`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

impl ReleaseBody {
    fn checked(self) -> Result<Self, ApiError> {
        if self.percent > 100 {
            return Err(out_of_bounds("percent", "0 to 100"));
        }
        if self.testers.len() > MAX_TESTERS {
            return Err(out_of_bounds(
                "testers",
                format!("at most {MAX_TESTERS} subjects"),
            ));
        }
        for t in &self.testers {
            if t.is_empty() {
                return Err(out_of_bounds("testers", "subjects must not be empty"));
            }
            bounded_text("testers", t, MAX_SUBJECT_CHARS)?;
        }
        Ok(self)
    }
}

/// Body of `PUT /admin/v1/plugins/{id}/catalog`: the whole curation (a
/// field left out takes its default, an unknown one is refused).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurationBody {
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    featured: bool,
    #[serde(default)]
    order: i32,
    #[serde(default)]
    district: Option<String>,
    #[serde(default)]
    category: Option<String>,
}

impl CurationBody {
    fn checked(self) -> Result<Curation, ApiError> {
        if !CURATION_ORDER.contains(&self.order) {
            return Err(out_of_bounds(
                "order",
                format!("{} to {}", CURATION_ORDER.start(), CURATION_ORDER.end()),
            ));
        }
        for (field, value) in [("district", &self.district), ("category", &self.category)] {
            if let Some(v) = value {
                if v.trim().is_empty() {
                    return Err(out_of_bounds(field, "omit it or give 1 character or more"));
                }
                bounded_text(field, v, MAX_CURATION_CHARS)?;
            }
        }
        Ok(Curation {
            hidden: self.hidden,
            featured: self.featured,
            order: self.order,
            district: self.district,
            category: self.category,
        })
    }
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
#[utoipa::path(post, path = "/admin/v1/plugins/{id}/versions/{version}/{action}", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer", "developer:{department}"])),
    params(
        ("id" = String, Path, description = "The plugin.", example = "water-bill"),
        ("version" = String, Path, description = "The version (semver).", example = "1.0.0"),
        ("action" = schema::VersionAction, Path, description = "`submit` (its developers), `approve`, `reject`, `release` (reviewers)."),
    ),
    request_body(content = Option<schema::VersionActionBody>, description = "`approve`: the grants; `reject`: the reason; `release`: share and testers; `submit`: none."),
    responses(
        (status = 200, description = "The plugin after the change.", body = schema::PluginView),
        (status = 409, description = "The version's state does not allow it (`invalid_transition`).", body = schema::Error),
    ))]
pub async fn version_action(
    State(state): State<Arc<AppState>>,
    Path((id, version_text, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    let department = plugin(&state, &who, &id)?.record.department.clone();
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
            if body.templates.len() > crate::manifest::MAX_TEMPLATES {
                return Err(out_of_bounds(
                    "templates",
                    format!("at most {} templates", crate::manifest::MAX_TEMPLATES),
                ));
            }
            if let Some(t) = body
                .templates
                .iter()
                .find(|t| !crate::manifest::is_valid_id(t))
            {
                return Err(out_of_bounds(
                    "templates",
                    format!("{:.40?} is not a template id", t),
                ));
            }
            let grants = if body.all_requested {
                let plugin = plugin(&state, &who, &id)?;
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
            bounded_text("reason", &body.reason, MAX_REASON_CHARS)?;
            Action::Reject(version, body.reason)
        }
        "release" => {
            who.require(who.can_review(), "releasing")?;
            let body = parse_body::<ReleaseBody>(&body)?.checked()?;
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
#[utoipa::path(post, path = "/admin/v1/plugins/{id}/{action}", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer"])),
    params(
        ("id" = String, Path, description = "The plugin.", example = "water-bill"),
        ("action" = schema::PluginAction, Path, description = "What to do with the listing."),
    ),
    request_body(content = Option<ReleaseBody>, description = "`gray`: share and testers; the others take none."),
    responses(
        (status = 200, description = "The plugin after the change.", body = schema::PluginView),
        (status = 409, description = "The listing's state does not allow it (`invalid_transition`).", body = schema::Error),
    ))]
pub async fn plugin_action(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    plugin(&state, &who, &id)?;
    who.require(who.can_review(), "changing a listing")?;
    let action = match action.as_str() {
        "gray" => {
            let body = parse_body::<ReleaseBody>(&body)?.checked()?;
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
#[utoipa::path(put, path = "/admin/v1/plugins/{id}/catalog", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer"])),
    params(("id" = String, Path, description = "The plugin.", example = "water-bill")),
    request_body(content = CurationBody, description = "The whole curation: a field left out takes its default."),
    responses((status = 200, description = "The plugin, curated.", body = schema::PluginView)))]
pub async fn curate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    super::extract::Json(body): super::extract::Json<CurationBody>,
) -> Result<Json<Value>, ApiError> {
    let who = staff(&state, &headers)?;
    who.require(who.can_review(), "curating the catalog")?;
    let curation = body.checked()?;
    let before = plugin_json(&state, &*plugin(&state, &who, &id)?);
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
#[utoipa::path(get, path = "/admin/v1/review-queue", tag = "admin-plugins",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    responses((status = 200, description = "Versions in review that the caller may see, with their checks.", body = schema::ReviewQueue)))]
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
                        "names": v.manifest.all_languages(),
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
