//! Extractors whose every rejection is the host's JSON error, the net that
//! turns any other error answer (axum's own, a layer's) into one, and the
//! upload drain that lets a refused client read its answer.

use super::error::{ApiError, HostError};
use super::plugin_route::GuestAnswer;
use axum::body::{Body, HttpBody};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// Most of a request body the host reads and discards after answering
/// without it (an upload over its limit, a refused caller), so the client
/// can read the answer instead of a reset connection.
const DRAIN_BYTES: u64 = 64 << 20;
/// Longest the host spends draining one request body.
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// Most of a non-JSON error answer kept as the JSON error's message.
const NET_MESSAGE_CHARS: usize = 300;

/// `axum::Json`, rejecting with the JSON error: 415 `unsupported_media_type`,
/// 400 `invalid_json`, 422 `invalid_body` (naming the field), 413
/// `body_too_large`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Json(v))
            .map_err(json_rejection)
    }
}

/// The JSON error for a JSON body axum could not read.
pub fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", text)
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("invalid_json", text),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        ),
        other => by_status(other.status(), text),
    }
}

/// `axum::extract::Query`, rejecting with 400 `invalid_query`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(query_rejection)
    }
}

/// The JSON error for a query string axum could not read.
pub fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", r.body_text())
}

/// `axum::extract::Path`, rejecting with 400 `invalid_path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|r: PathRejection| match r {
                PathRejection::FailedToDeserializePathParams(_) => {
                    ApiError::bad_request("invalid_path", r.body_text())
                }
                other => ApiError::internal(other.body_text()),
            })
    }
}

/// The host's error for `status`, with a code naming the status.
pub fn by_status(status: StatusCode, message: impl Into<String>) -> ApiError {
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    ApiError::new(status, code, message)
}

/// Turn an error answer that is neither JSON already (the host's error,
/// `/readyz`) nor a plugin's own answer (an axum rejection, a layer's
/// refusal, both plain text) into the JSON error, keeping its status and
/// headers and its text as message.
pub async fn json_error_net(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || response.extensions().get::<HostError>().is_some()
        || response.extensions().get::<GuestAnswer>().is_some()
        || response
            .extensions()
            .get::<super::friendly::HostPage>()
            .is_some()
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .chars()
            .filter(|c| !c.is_control())
            .take(NET_MESSAGE_CHARS)
            .collect::<String>(),
        Err(_) => String::new(),
    };
    let message = if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_string()
    } else {
        text
    };
    let mut rebuilt = by_status(status, message).into_response();
    for (name, value) in &parts.headers {
        if !describes_body(name) {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

/// Whether header `name` describes a response body (its length, type or
/// encoding), so must not be carried over to a rebuilt body.
pub fn describes_body(name: &header::HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::CONTENT_TYPE
        || name == header::CONTENT_ENCODING
}

/// A request body the handler may drop while the middleware keeps a way
/// back to it.
struct Shared(Arc<Mutex<Option<Body>>>);

impl HttpBody for Shared {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let Ok(mut guard) = self.0.lock() else {
            return Poll::Ready(None);
        };
        match guard.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map(|g| g.as_ref().is_none_or(HttpBody::is_end_stream))
            .unwrap_or(true)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(HttpBody::size_hint))
            .unwrap_or_default()
    }
}

/// After the answer, read and discard what the handler left of the request
/// body (within [`DRAIN_BYTES`] and [`DRAIN_TIME`]): an upload refused for
/// its size or its caller then gets its JSON answer instead of a connection
/// reset. A body larger than that is cut off with `Connection: close`.
pub async fn drain_unread_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = body.size_hint().exact();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let inner = Arc::new(Mutex::new(Some(body)));
    let shared = Body::new(Shared(inner.clone()));
    let mut response = next.run(Request::from_parts(parts, shared)).await;
    let left = inner.lock().ok().and_then(|mut g| g.take());
    let Some(left) = left else {
        return response;
    };
    if left.is_end_stream() {
        return response;
    }
    if declared.is_some_and(|n| n > DRAIN_BYTES) {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    }
    let drained = tokio::time::timeout(DRAIN_TIME, async {
        use futures_util::StreamExt as _;
        let mut read: u64 = 0;
        let mut chunks = left.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let Ok(chunk) = chunk else { return false };
            read = read.saturating_add(chunk.len() as u64);
            if read > DRAIN_BYTES {
                return false;
            }
        }
        true
    })
    .await;
    if !matches!(drained, Ok(true)) {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}
