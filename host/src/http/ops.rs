//! Operations at the HTTP edge: the access log (one line per request),
//! who may read `/metrics`, and which proxies are believed about the
//! client's address.

use super::RequestId;
use super::error::ApiError;
use axum::http::{HeaderMap, Request, Response, header};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

/// Operations settings the edge needs.
#[derive(Debug, Clone, Default)]
pub struct OpsSettings {
    /// The bearer token that may read `/metrics` on the main address.
    pub metrics_token: Option<String>,
    /// A separate address serving `/metrics` (the main one then needs the
    /// token).
    pub metrics_listen: Option<SocketAddr>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}

impl OpsSettings {
    /// May this request read `/metrics` on the main address? 404 when the
    /// main address serves no metrics, 401 without the right token.
    pub fn check_metrics_access(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.metrics_token else {
            return Err(ApiError::not_found("not_found", "no such route"));
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compare digests: equal lengths, no early exit on the secret.
        if Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                "/metrics needs the metrics token (Authorization: Bearer ...)",
            ))
        }
    }
}

/// The span each request runs in: its id, method and path. The query
/// string is left out: tokens travel there (`EventSource` cannot send
/// headers).
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| Arc::from(""));
        tracing::info_span!(
            target: "islet::access",
            "request",
            request_id = %id,
            method = %request.method(),
            path = %request.uri().path(),
        )
    }
}

/// The access log line, at info with target `islet::access` (as its span):
/// status and latency, inside the request's span (id, method, path).
#[derive(Debug, Clone, Copy)]
pub struct AccessLine;

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        tracing::info!(
            target: "islet::access",
            status = response.status().as_u16(),
            latency_ms = (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            "answered"
        );
    }
}

/// The access-log layer (tower-http's `TraceLayer`): nothing at the start
/// of a request, one line when its answer starts.
pub type AccessLog =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), AccessLine, (), (), ()>;

/// The access-log layer.
pub fn access_log() -> AccessLog {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(AccessLine)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_need_the_token_or_are_not_there() {
        let mut headers = HeaderMap::new();
        let closed = OpsSettings::default();
        assert_eq!(
            closed.check_metrics_access(&headers).unwrap_err().status,
            404
        );
        let guarded = OpsSettings {
            metrics_token: Some("the-metrics-token-1234".into()),
            ..OpsSettings::default()
        };
        assert_eq!(
            guarded.check_metrics_access(&headers).unwrap_err().status,
            401
        );
        headers.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert!(guarded.check_metrics_access(&headers).is_err());
        headers.insert(
            header::AUTHORIZATION,
            "Bearer the-metrics-token-1234".parse().unwrap(),
        );
        assert!(guarded.check_metrics_access(&headers).is_ok());
    }
}
