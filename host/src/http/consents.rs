//! The citizen's side of consent: list, give and withdraw consents, and see
//! which service read which personal data, when and why. Admins see the
//! trail per plugin.

use super::error::ApiError;
use super::extract::{Path, Query};
use super::openapi_schemas as schema;
use super::{AppState, blocking, caller};
use crate::auth::citizen_key;
use crate::consent::{AccessRecord, Consent, ConsentError, ConsentFor};
use crate::manifest::{DataItem, Grants, Manifest, TemplateKind};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

fn consent_error(e: ConsentError) -> ApiError {
    match e {
        ConsentError::NotFound => {
            ApiError::not_found("consent_not_found", "you have no such consent")
        }
        ConsentError::TooMany => {
            ApiError::new(StatusCode::CONFLICT, "too_many_consents", e.to_string())
        }
        ConsentError::Store(m) => ApiError::store_unavailable(m),
    }
}

fn service_name(state: &AppState, plugin: &str) -> Option<String> {
    state
        .registry
        .get(plugin)
        .and_then(|p| p.record.manifest().map(|m| m.name.clone()))
}

fn consent_view(state: &AppState, consent: &Consent) -> Value {
    let mut view = json!(consent);
    view["service_name"] = json!(service_name(state, &consent.plugin));
    if let ConsentFor::DataItem { item, .. } = &consent.what {
        view["label"] = json!(item.label());
    }
    view
}

fn access_view(state: &AppState, record: &AccessRecord, citizen_view: bool) -> Value {
    let mut view = json!(record);
    view["service_name"] = json!(service_name(state, &record.plugin));
    view["label"] = json!(record.item.label());
    if citizen_view {
        // The citizen knows who they are; the pseudonym is for admins.
        if let Some(map) = view.as_object_mut() {
            map.remove("subject");
        }
    }
    view
}

/// `GET /api/v1/consents`: the citizen's consents, newest first.
#[utoipa::path(get, path = "/api/v1/consents", tag = "citizen", operation_id = "list_consents",
    security(("bearer" = [])),
    responses((status = 200, description = "The citizen's consents, newest first.", body = schema::ConsentList)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "manage your consents")?;
    blocking(move || {
        let consents = state
            .consents
            .list(&citizen_key(&citizen))
            .map_err(consent_error)?;
        let views: Vec<Value> = consents.iter().map(|c| consent_view(&state, c)).collect();
        Ok(Json(json!({ "consents": views })))
    })
    .await
}

/// Body of `POST /api/v1/consents`: a data item or a template of a plugin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    plugin: String,
    item: Option<DataItem>,
    template: Option<String>,
}

/// The released manifest and grants of `plugin`.
fn serving(state: &AppState, plugin: &str) -> Result<(Manifest, Grants), ApiError> {
    let active = state
        .registry
        .get(plugin)
        .filter(|p| p.record.serving())
        .ok_or_else(|| ApiError::not_found("plugin_not_found", format!("no service {plugin:?}")))?;
    let version = active
        .record
        .released_version()
        .or_else(|| {
            active
                .record
                .gray
                .as_ref()
                .and_then(|g| active.record.version(&g.version))
        })
        .ok_or_else(|| {
            ApiError::not_found(
                "plugin_not_found",
                format!("no version of {plugin:?} serves"),
            )
        })?;
    Ok((
        version.manifest.clone(),
        version.grants.clone().unwrap_or_default(),
    ))
}

/// `GET /api/v1/catalog/{id}/privacy`: what the serving version of a
/// service may ask the citizen for, in the platform's words: the personal
/// data items an admin granted (with the purpose the manifest states) and
/// the approved message templates. The app shell builds its consent prompts
/// from this, never from text a service page sends.
#[utoipa::path(get, path = "/api/v1/catalog/{id}/privacy", tag = "app",
    params(("id" = String, Path, description = "The mini-service.", example = "water-bill")),
    responses((status = 200, description = "What the serving version may ask the citizen for.", body = schema::Privacy)))]
pub async fn privacy(
    State(state): State<Arc<AppState>>,
    Path(plugin): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (manifest, grants) = serving(&state, &plugin)?;
    let (language, name, _) = manifest.localized(&super::lang::wanted(&headers, None));
    let personal_data: Vec<Value> = manifest
        .personal_data
        .iter()
        .filter(|(item, _)| grants.personal_data.contains(item))
        .map(|(item, purpose)| json!({ "item": item, "label": item.label(), "purpose": purpose }))
        .collect();
    let templates: Vec<Value> = manifest
        .templates
        .iter()
        .filter(|t| grants.templates.contains(&t.id))
        .filter(|t| t.kind == TemplateKind::OneTime || grants.long_term_messages)
        .map(|t| json!({ "id": t.id, "title": t.title, "kind": t.kind }))
        .collect();
    Ok(Json(json!({
        "plugin": manifest.id,
        "name": name,
        "language": language,
        "personal_data": personal_data,
        "templates": templates,
    })))
}

/// `POST /api/v1/consents`: the citizen agrees to a data item (for the
/// purpose the manifest states) or a message template. One-time template
/// consents accumulate; each allows one message.
#[utoipa::path(post, path = "/api/v1/consents", tag = "citizen",
    security(("bearer" = [])),
    request_body(content = NewConsent, description = "A data item or a template of a service."),
    responses(
        (status = 201, description = "The consent.", body = schema::ConsentView),
        (status = 403, description = "The service may not ask for long-term consent (`long_term_not_allowed`).", body = schema::Error),
        (status = 404, description = "No such serving service (`plugin_not_found`).", body = schema::Error),
        (status = 409, description = "The template is not approved, or too many one-time consents are banked.", body = schema::Error),
    ))]
pub async fn give(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let citizen = caller::signed_in(&state, &headers, "manage your consents")?;
    let new: NewConsent = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"plugin\", \"item\"}} or {{\"plugin\", \"template\"}}: {e}"),
        )
    })?;
    let (manifest, grants) = serving(&state, &new.plugin)?;
    let what = match (new.item, new.template) {
        (Some(item), None) => {
            let purpose = manifest.personal_data.get(&item).ok_or_else(|| {
                ApiError::bad_request(
                    "not_declared",
                    format!("{} does not ask for the {}", manifest.name, item.label()),
                )
            })?;
            ConsentFor::DataItem {
                item,
                purpose: purpose.clone(),
            }
        }
        (None, Some(template_id)) => {
            let template = manifest.template(&template_id).ok_or_else(|| {
                ApiError::bad_request(
                    "not_declared",
                    format!("{} has no message template {template_id:?}", manifest.name),
                )
            })?;
            if !grants.templates.contains(&template_id) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "template_not_approved",
                    format!(
                        "the template {template_id:?} is not approved for {}",
                        manifest.name
                    ),
                ));
            }
            if template.kind == TemplateKind::LongTerm && !grants.long_term_messages {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "long_term_not_allowed",
                    format!(
                        "{} may not ask for long-term message consent",
                        manifest.name
                    ),
                ));
            }
            ConsentFor::Template {
                template: template.id.clone(),
                title: template.title.clone(),
                mode: template.kind,
                remaining: 0,
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give exactly one of \"item\" and \"template\"",
            ));
        }
    };
    blocking(move || {
        let consent = state
            .consents
            .grant(&citizen_key(&citizen), &new.plugin, what)
            .map_err(consent_error)?;
        Ok((StatusCode::CREATED, Json(consent_view(&state, &consent))))
    })
    .await
}

/// `DELETE /api/v1/consents/{id}`: withdraw a consent, effective for the
/// very next call.
#[utoipa::path(delete, path = "/api/v1/consents/{id}", tag = "citizen",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The consent (`cns_...`).")),
    responses((status = 200, description = "Withdrawn, effective for the very next call.", body = schema::Revoked)))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "manage your consents")?;
    blocking(move || {
        let consent = state
            .consents
            .revoke(&citizen_key(&citizen), &id)
            .map_err(consent_error)?;
        Ok(Json(json!({ "revoked": consent_view(&state, &consent) })))
    })
    .await
}

/// Paging of a trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrailQuery {
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1 to 200",
        ))
    }
}

/// `GET /api/v1/me/data-access`: which service read which of the
/// citizen's data, when and for which purpose; newest first.
#[utoipa::path(get, path = "/api/v1/me/data-access", tag = "citizen",
    security(("bearer" = [])),
    params(TrailQuery),
    responses((status = 200, description = "Which service read which of the citizen's data, newest first.", body = schema::AccessPage)))]
pub async fn my_data_access(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<TrailQuery>,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "manage your consents")?;
    let limit = page_limit(query.limit)?;
    blocking(move || {
        let (records, next) = state
            .consents
            .trail_of_citizen(&citizen_key(&citizen), query.cursor.as_deref(), limit)
            .map_err(consent_error)?;
        let entries: Vec<Value> = records
            .iter()
            .map(|r| access_view(&state, r, true))
            .collect();
        Ok(Json(json!({ "entries": entries, "next_cursor": next })))
    })
    .await
}

/// `GET /admin/v1/plugins/{id}/data-access`: the plugin's releases of
/// personal data (citizens shown as the plugin's pairwise subjects).
#[utoipa::path(get, path = "/admin/v1/plugins/{id}/data-access", tag = "admin-operations",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    params(("id" = String, Path, description = "The plugin.", example = "water-bill"), TrailQuery),
    responses((status = 200, description = "The plugin's releases of personal data, newest first (citizens as pairwise subjects).", body = schema::AccessPage)))]
pub async fn plugin_data_access(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<TrailQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    caller::visible_plugin(&state, &who, &id)?;
    let limit = page_limit(query.limit)?;
    blocking(move || {
        let (records, next) = state
            .consents
            .trail_of_plugin(&id, query.cursor.as_deref(), limit)
            .map_err(consent_error)?;
        let entries: Vec<Value> = records
            .iter()
            .map(|r| access_view(&state, r, false))
            .collect();
        Ok(Json(json!({ "entries": entries, "next_cursor": next })))
    })
    .await
}
