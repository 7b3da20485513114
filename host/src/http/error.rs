//! The one error type at the HTTP edge: a status, a stable code and a
//! message, always sent as `{"error": {"code", "message", "request_id"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Longest error message sent, characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// An error answered by the host itself (never by a plugin).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, snake_case.
    pub code: &'static str,
    /// Human-readable explanation naming the problem.
    pub message: String,
    retry_after: Option<u32>,
    bearer_challenge: bool,
}

/// Marks a response as a host error so the request-id middleware can add
/// the id to its body.
#[derive(Debug, Clone)]
pub struct HostError {
    /// The error's code.
    pub code: &'static str,
    /// The error's message.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message` (cut at
    /// [`MAX_MESSAGE_CHARS`]: a message may quote the caller's input).
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        ApiError {
            status,
            code,
            message,
            retry_after: None,
            bearer_challenge: false,
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401 with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, code, message);
        e.bearer_challenge = true;
        e
    }

    /// 500 for a host-side failure; `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the host failed to handle the request; it has been logged",
        )
    }

    /// 503 `store_unavailable`: the request needs the store, which does not
    /// answer (PostgreSQL down, a full disk); `detail` is logged, not sent.
    pub fn store_unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!("store unavailable: {detail}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store is unavailable; try again shortly",
        )
        .retry_after(1)
    }

    /// Ask the client to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

/// The JSON body of a host error.
pub fn error_body(code: &str, message: &str, request_id: Option<&str>) -> serde_json::Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(id) = request_id {
        error["request_id"] = json!(id);
    }
    json!({ "error": error })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(error_body(self.code, &self.message, None)),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.bearer_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"islet\""),
            );
        }
        response.extensions_mut().insert(HostError {
            code: self.code,
            message: self.message,
        });
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::store_unavailable(e)
    }
}
