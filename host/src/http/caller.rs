//! Who is calling: the bearer token, verified, or nobody.

use super::AppState;
use super::error::ApiError;
use crate::auth::{ADMIN_ROLE, AuthError, Citizen, ServiceSessions, SessionError};
use axum::http::{HeaderMap, StatusCode, header};
use std::sync::Arc;

/// The verified caller of a request, or `None` when no token was sent.
/// A token that is present but invalid is a 401.
pub fn caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Arc<Citizen>>, ApiError> {
    bearer(headers)?.map(|t| verify(state, t)).transpose()
}

/// The caller of a route of `plugin`: an app token, or a service session
/// opened for exactly this plugin.
pub fn plugin_caller(
    state: &AppState,
    headers: &HeaderMap,
    plugin: &str,
) -> Result<Option<Arc<Citizen>>, ApiError> {
    let Some(token) = bearer(headers)? else {
        return Ok(None);
    };
    if !ServiceSessions::is_session_token(token) {
        return verify(state, token).map(Some);
    }
    state
        .sessions
        .resolve(token, plugin)
        .map(Some)
        .map_err(|e| {
            let code = match e {
                SessionError::Expired => "session_expired",
                SessionError::OtherService => "invalid_token",
                SessionError::Unavailable(_) => return ApiError::store_unavailable(e),
            };
            ApiError::unauthorized(code, e.to_string())
        })
}

/// The bearer token of the request, if any.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .map(Some)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`",
            )
        })
}

/// The citizen `token` (a bare JWT, e.g. from a query string) stands for,
/// verified exactly like the `Authorization` header.
pub fn verify(state: &AppState, token: &str) -> Result<Arc<Citizen>, ApiError> {
    if ServiceSessions::is_session_token(token) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "a service session works only on its own service's routes (/p/{service}/...)",
        ));
    }
    state.verifier.verify(token).map_err(|e| {
        let code = match e {
            AuthError::Expired => "token_expired",
            AuthError::UnknownKey(_) => "unknown_signing_key",
            _ => "invalid_token",
        };
        ApiError::unauthorized(code, e.to_string())
    })
}

/// The caller, who must be signed in to `what` (e.g. "see your orders").
pub fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    what: &str,
) -> Result<Arc<Citizen>, ApiError> {
    caller(state, headers)?
        .ok_or_else(|| ApiError::unauthorized("unauthenticated", format!("sign in to {what}")))
}

/// The caller, who must be a signed-in admin.
pub fn admin(state: &AppState, headers: &HeaderMap) -> Result<Arc<Citizen>, ApiError> {
    match caller(state, headers)? {
        None => Err(ApiError::unauthorized(
            "unauthenticated",
            "the admin API needs a bearer token with the admin role",
        )),
        Some(c) if c.has_role(ADMIN_ROLE) => Ok(c),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token lacks the admin role",
        )),
    }
}

/// A platform staff member, from the token's roles: `admin`, `reviewer`,
/// `operator` (read-only) and `developer:<department>`.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The verified caller.
    pub citizen: Arc<Citizen>,
    admin: bool,
    reviewer: bool,
    operator: bool,
    developer_of: Vec<String>,
}

impl Staff {
    /// Who the audit log names.
    pub fn actor(&self) -> &str {
        &self.citizen.subject
    }

    /// May see plugins of `department`.
    pub fn can_read(&self, department: &str) -> bool {
        self.admin
            || self.reviewer
            || self.operator
            || self.developer_of.iter().any(|d| d == department)
    }

    /// May see every department's plugins, usage and the audit log.
    pub fn can_read_all(&self) -> bool {
        self.admin || self.reviewer || self.operator
    }

    /// May upload and submit versions of `department`'s plugins.
    pub fn can_upload(&self, department: &str) -> bool {
        self.admin || self.developer_of.iter().any(|d| d == department)
    }

    /// May approve, reject, release, roll back, take down and curate.
    pub fn can_review(&self) -> bool {
        self.admin || self.reviewer
    }

    /// Refuse with 403 unless `allowed`.
    pub fn require(&self, allowed: bool, what: &str) -> Result<(), ApiError> {
        if allowed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token's roles do not allow {what}"),
            ))
        }
    }
}

/// The caller, who must hold a platform role.
pub fn staff(state: &AppState, headers: &HeaderMap) -> Result<Staff, ApiError> {
    let Some(citizen) = caller(state, headers)? else {
        return Err(ApiError::unauthorized(
            "unauthenticated",
            "the admin API needs a bearer token with a platform role",
        ));
    };
    let staff = Staff {
        admin: citizen.has_role(ADMIN_ROLE),
        reviewer: citizen.has_role("reviewer"),
        operator: citizen.has_role("operator"),
        developer_of: citizen
            .roles
            .iter()
            .filter_map(|r| r.strip_prefix("developer:").map(str::to_string))
            .collect(),
        citizen,
    };
    if !(staff.admin || staff.reviewer || staff.operator || !staff.developer_of.is_empty()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token has no platform role (admin, reviewer, operator or developer:<department>)",
        ));
    }
    Ok(staff)
}

/// Middleware of the admin API: refuse a caller without a platform role
/// before the handler reads (or parses) any body. Handlers still check the
/// finer rights.
pub async fn require_staff(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match staff(&state, request.headers()) {
        Ok(_) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The 404 for plugin `id`: the same for an absent plugin and for one the
/// caller may not see, so another department's ids cannot be probed.
pub fn plugin_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "plugin_not_found",
        format!("no plugin with id {id:?} is installed"),
    )
}

/// Plugin `id` if `who` may see it (its department's developers and the
/// platform roles), else [`plugin_not_found`].
pub fn visible_plugin(
    state: &AppState,
    who: &Staff,
    id: &str,
) -> Result<Arc<crate::registry::ActivePlugin>, ApiError> {
    state
        .registry
        .get(id)
        .filter(|p| who.can_read(&p.record.department))
        .ok_or_else(|| plugin_not_found(id))
}

/// Middleware of citizen routes that take a body: refuse a caller without
/// a valid token before the body is read.
pub async fn require_signed_in(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match signed_in(&state, request.headers(), "use this API") {
        Ok(_) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Middleware of every route: when the request's token (the
/// `Authorization` header, or `?token=` of the inbox stream) names a
/// signing key the identity provider's set lacks, fetch the set again
/// (rate-bounded) before the handler verifies it, so a key rotation at the
/// provider takes effect on the first token signed with the new key.
pub async fn fetch_new_signing_keys(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if state.verifier.remote().is_some() {
        // Owned, so nothing borrows the request (not `Sync`) across the await.
        let token = match bearer(request.headers()).ok().flatten() {
            Some(token) => Some(token.to_string()),
            None => form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                .find(|(key, _)| key == "token")
                .map(|(_, value)| value.trim().to_string()),
        };
        if let Some(token) = token.filter(|t| !ServiceSessions::is_session_token(t)) {
            state.verifier.prepare(&token).await;
        }
    }
    next.run(request).await
}
