//! `ANY /p/{plugin}/{*path}`: hand a request to a plugin and its answer back.

use super::error::ApiError;
use super::{AppState, RequestId, caller};
use crate::capabilities::{GuestHeader, GuestRequest, GuestResponse};
use crate::runtime::{CallInput, GuestFault};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;
use std::time::Duration;

/// Request headers the plugin never sees.
const STRIPPED_REQUEST_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];
/// Response headers a plugin may not set: cookies would be shared by every
/// plugin on the platform origin; the rest are the host's business.
const STRIPPED_RESPONSE_HEADERS: &[&str] = &[
    "set-cookie",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "trailer",
    "te",
    "x-request-id",
    "x-islet-plugin-version",
];
/// Tells the app (and canary checks) which plugin version answered.
const VERSION_HEADER: &str = "x-islet-plugin-version";
/// How long a request may wait for a free instance slot.
const SLOT_WAIT: Duration = Duration::from_millis(500);

/// `/p/{plugin}` → `/p/{plugin}/`, so relative links in its pages work.
pub async fn redirect_to_root(Path(plugin): Path<String>) -> Response {
    Redirect::permanent(&format!("/p/{plugin}/")).into_response()
}

fn split_plugin_path(path: &str) -> (&str, String) {
    let rest = path.strip_prefix("/p/").unwrap_or(path);
    match rest.split_once('/') {
        Some((id, below)) => (id, format!("/{below}")),
        None => (rest, "/".to_string()),
    }
}

/// Call the plugin named in the path.
pub async fn call_plugin(
    State(state): State<Arc<AppState>>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let (plugin_id, path) = split_plugin_path(parts.uri.path());
    let plugin = state.registry.get(plugin_id).ok_or_else(|| {
        ApiError::not_found("plugin_not_found", format!("no mini-service {plugin_id:?}"))
    })?;
    if !plugin.record.enabled {
        return Err(ApiError::not_found(
            "plugin_disabled",
            format!("the mini-service {plugin_id:?} is currently disabled"),
        ));
    }
    let prepared = plugin.prepared.clone().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "plugin_unavailable",
            format!("the mini-service {plugin_id:?} failed to load; an admin has been notified"),
        )
    })?;
    let citizen = caller::caller(&state, &parts.headers)?;
    let limits = prepared.limits;
    let body = read_body(body, limits.request_body_bytes()).await?;

    let request = GuestRequest {
        method: parts.method.as_str().to_string(),
        path,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: guest_headers(&parts.headers),
        body: body.to_vec(),
    };
    let permit = tokio::time::timeout(SLOT_WAIT, state.slots.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| busy("the host is at capacity"))?;
    let runtime = state.runtime.clone();
    let input = CallInput {
        request,
        citizen,
        request_id: request_id.clone(),
    };
    let call = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        runtime.call(&prepared, input)
    });
    // The runtime stops the guest at its own wall-clock limit; this outer
    // bound also covers time spent waiting for a blocking thread.
    let outer = limits.timeout() + Duration::from_secs(1);
    let result = match tokio::time::timeout(outer, call).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => {
            return Err(ApiError::internal(format!(
                "guest call task failed: {join}"
            )));
        }
        Err(_) => Err(GuestFault::Timeout(limits.timeout_ms)),
    };
    match result {
        Ok(output) => guest_response(output.response, &plugin.record.manifest.version.to_string()),
        Err(fault) => {
            tracing::warn!(
                plugin = %plugin_id,
                version = %plugin.record.manifest.version,
                fault = %fault,
                detail = fault.detail().unwrap_or(""),
                "guest fault"
            );
            Err(fault_to_error(&fault))
        }
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body exceeds this mini-service's limit of {limit} bytes"),
        )
    })
}

fn guest_headers(headers: &HeaderMap) -> Vec<GuestHeader> {
    headers
        .iter()
        .filter(|(name, _)| !STRIPPED_REQUEST_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            Some(GuestHeader {
                name: name.as_str().to_string(),
                value: value.to_str().ok()?.to_string(),
            })
        })
        .collect()
}

fn guest_response(response: GuestResponse, version: &str) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(response.status)
        .ok()
        .filter(|s| !s.is_informational())
        .ok_or_else(|| {
            fault_to_error(&GuestFault::InvalidResponse(format!(
                "status {} is not a valid final status",
                response.status
            )))
        })?;
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for h in response.headers {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
            fault_to_error(&GuestFault::InvalidResponse(format!(
                "invalid header name {:?}",
                h.name
            )))
        })?;
        if STRIPPED_RESPONSE_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(&h.value).map_err(|_| {
            fault_to_error(&GuestFault::InvalidResponse(format!(
                "invalid value for header {name}"
            )))
        })?;
        headers.append(name, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(version) {
        headers.insert(VERSION_HEADER, v);
    }
    Ok(out)
}

fn busy(message: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message).retry_after(1)
}

/// The HTTP answer for a guest fault.
fn fault_to_error(fault: &GuestFault) -> ApiError {
    let (status, code) = match fault {
        GuestFault::CpuLimit(_) => (StatusCode::GATEWAY_TIMEOUT, "plugin_cpu_limit"),
        GuestFault::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "plugin_timeout"),
        GuestFault::MemoryLimit(_) => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_memory_limit"),
        GuestFault::Panic(_) => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_panicked"),
        GuestFault::Trap(_) => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_trapped"),
        GuestFault::ResponseTooLarge { .. } => {
            (StatusCode::BAD_GATEWAY, "plugin_response_too_large")
        }
        GuestFault::InvalidResponse(_) => (StatusCode::BAD_GATEWAY, "plugin_invalid_response"),
        GuestFault::Instantiate(_) => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_start_failed"),
        GuestFault::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        GuestFault::Busy => return busy(&fault.to_string()),
    };
    ApiError::new(status, code, fault.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_plugin_and_path() {
        assert_eq!(split_plugin_path("/p/hello/"), ("hello", "/".to_string()));
        assert_eq!(
            split_plugin_path("/p/hello/a/b"),
            ("hello", "/a/b".to_string())
        );
        assert_eq!(split_plugin_path("/p/hello"), ("hello", "/".to_string()));
    }
}
