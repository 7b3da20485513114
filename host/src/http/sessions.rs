//! `POST /api/v1/sessions`: the app shell opens a service session for the
//! mini-service page it is about to show; `DELETE /api/v1/sessions` ends
//! them all (sign-out). See [`crate::auth::ServiceSessions`].

use super::error::ApiError;
use super::openapi_schemas as schema;
use super::{AppState, caller};
use crate::auth::{OpenError, SESSION_TTL_SECS};
use crate::clock::now_secs;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Body of `POST /api/v1/sessions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSession {
    plugin: String,
}

/// `POST /api/v1/sessions` `{"plugin": id}` with the citizen's app token:
/// a token that works on `/p/{id}/...` only, for at most 30 minutes.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "citizen",
    security(("bearer" = [])),
    request_body(content = NewSession),
    responses(
        (status = 201, description = "A token for `/p/{plugin}/...` only, for at most 30 minutes.", body = schema::Session),
        (status = 404, description = "No such serving service.", body = schema::Error),
        (status = 429, description = "Too many sessions opened (`too_many_sessions`).", body = schema::Error),
    ))]
pub async fn open(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "open a service")?;
    let new: NewSession = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_body", format!("expected {{\"plugin\": id}}: {e}"))
    })?;
    let serving = state
        .registry
        .get(&new.plugin)
        .is_some_and(|p| p.record.serving());
    if !serving {
        return Err(ApiError::not_found(
            "plugin_not_found",
            format!("no mini-service {:?} is serving", new.plugin),
        ));
    }
    let sessions = state.clone();
    let plugin = new.plugin.clone();
    let session = super::blocking(move || {
        (sessions.sessions.open(&plugin, citizen)).map_err(|e| match e {
            OpenError::RateLimited(wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sessions",
                e.to_string(),
            )
            .retry_after(u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX)),
            OpenError::Store(e) => ApiError::store_unavailable(e),
        })
    })
    .await?;
    let body = json!({
        "token": session.token,
        "plugin": session.plugin,
        "expires_at": session.expires_at,
        "expires_in": session.expires_at.saturating_sub(now_secs()),
        "max_lifetime_secs": SESSION_TTL_SECS,
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /api/v1/sessions`: end every service session of the caller.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "citizen",
    security(("bearer" = [])),
    responses((status = 200, description = "Every service session of the caller ended.", body = schema::SessionsClosed)))]
pub async fn close_all(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "sign out")?;
    let sessions = state.clone();
    let closed = super::blocking(move || {
        (sessions.sessions.close_all(&citizen)).map_err(ApiError::store_unavailable)
    })
    .await?;
    Ok(Json(json!({ "closed": closed })))
}
