//! Who is calling: the bearer token, verified, or nobody.

use super::AppState;
use super::error::ApiError;
use crate::auth::{ADMIN_ROLE, AuthError, Citizen};
use axum::http::{HeaderMap, StatusCode, header};
use std::sync::Arc;

/// The verified caller of a request, or `None` when no token was sent.
/// A token that is present but invalid is a 401.
pub fn caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Arc<Citizen>>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    state
        .verifier
        .verify(token)
        .map(|c| Some(Arc::new(c)))
        .map_err(|e| {
            let code = match e {
                AuthError::Expired => "token_expired",
                _ => "invalid_token",
            };
            ApiError::unauthorized(code, e.to_string())
        })
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
