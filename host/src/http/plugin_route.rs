//! `ANY /p/{plugin}/{*path}`: hand a request to a plugin and its answer back.

use super::error::ApiError;
use super::extract::Path;
use super::guest_headers::{AnswerContext, guest_response, record_dropped};
use super::{AppState, RequestId, caller, guest_request};
use crate::capabilities::GuestRequest;
use crate::metrics::CallMetrics;
use crate::pool::PoolRefusal;
use crate::protect::{Rejection, Target};
use crate::runtime::{CallInput, GuestFault};
use crate::usage::{UsageOf, today};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

/// Marks a response as the plugin's own answer (not a host error), so the
/// host's error-body net leaves its 4xx and 5xx alone.
#[derive(Debug, Clone, Copy)]
pub struct GuestAnswer;

/// How long a request may wait for a free instance slot.
const SLOT_WAIT: Duration = Duration::from_millis(500);

/// `/p/{plugin}` → `/p/{plugin}/`, so relative links in its pages work.
/// Anything that is not a plugin id (`/p/%0d%0a`) is a 400.
#[utoipa::path(method(get, post, put, delete, patch), path = "/p/{plugin}", tag = "mini-services",
    params(("plugin" = String, Path, description = "The mini-service's id.", example = "water-bill")),
    responses(
        (status = 308, description = "To `/p/{plugin}/`, so relative links of its pages work."),
        (status = 400, description = "Not a mini-service id (`invalid_path`).", body = super::openapi_schemas::Error),
    ))]
pub async fn redirect_to_root(Path(plugin): Path<String>) -> Result<Response, ApiError> {
    if !crate::manifest::is_valid_id(&plugin) {
        return Err(ApiError::bad_request(
            "invalid_path",
            "a mini-service id is 2-40 lower-case letters, digits and dashes",
        ));
    }
    Ok(Redirect::permanent(&format!("/p/{plugin}/")).into_response())
}

fn split_plugin_path(path: &str) -> (&str, String) {
    let rest = path.strip_prefix("/p/").unwrap_or(path);
    match rest.split_once('/') {
        Some((id, below)) => (id, format!("/{below}")),
        None => (rest, "/".to_string()),
    }
}

/// Call the plugin named in the path.
#[utoipa::path(method(get, post, put, delete, patch), path = "/p/{plugin}/", tag = "mini-services",
    params(("plugin" = String, Path, description = "The mini-service's id.", example = "water-bill")),
    security((), ("bearer" = []), ("service_session" = [])),
    responses(
        (status = "default", description = "The plugin's own answer at its root path (`/`): any status, any body. The host's own refusals (`x-host-errors`) are error bodies; a browser asking for `text/html` gets them as a page in its language.", content_type = "*/*"),
    ))]
pub async fn call_plugin(
    State(state): State<Arc<AppState>>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let (plugin_id, path) = split_plugin_path(parts.uri.path());
    let plugin = state.registry.get(plugin_id).ok_or_else(|| {
        ApiError::not_found("plugin_not_found", format!("no mini-service {plugin_id:?}"))
    })?;
    if plugin.record.taken_down {
        return Err(ApiError::not_found(
            "plugin_disabled",
            format!("the mini-service {plugin_id:?} is currently taken down"),
        ));
    }
    let citizen = caller::plugin_caller(&state, &parts.headers, plugin_id)?;
    let (_, prepared) = plugin
        .route(citizen.as_ref().map(|c| c.subject.as_str()))
        .ok_or_else(|| {
            ApiError::not_found(
                "plugin_not_released",
                format!("the mini-service {plugin_id:?} has no released version"),
            )
        })?;
    let prepared = prepared.clone().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "plugin_unavailable",
            format!("the mini-service {plugin_id:?} failed to load; an admin has been notified"),
        )
    })?;
    let version = prepared.version.clone();
    let limits = prepared.limits;
    let body = read_body(body, limits.request_body_bytes()).await?;
    let day = today();
    let usage_key = UsageOf {
        day: &day,
        department: &plugin.record.department,
        plugin: plugin_id,
        version: &version,
    };

    // Citizens are limited per identity, anonymous callers per address
    // (behind a trusted proxy: the address it forwarded for).
    let caller_key = match (&citizen, parts.extensions.get::<ConnectInfo<SocketAddr>>()) {
        (Some(c), _) => format!("citizen:{}:{}", c.issuer, c.subject),
        (None, Some(ConnectInfo(addr))) => {
            // The client behind trusted proxies, then its network (an IPv6
            // client counts by its /64).
            let ip = super::client_addr::client_ip(
                addr.ip(),
                &parts.headers,
                &state.ops.trusted_proxies,
            );
            let client = crate::conn::client_address(&SocketAddr::new(ip, addr.port()));
            format!("address:{client}")
        }
        (None, None) => "anonymous".to_string(),
    };
    let target = Target {
        plugin: plugin_id,
        version: &version,
        limits: &limits,
    };
    let admission = state
        .protection
        .admit(&target, &caller_key)
        .map_err(|rejection| {
            crate::metrics::record_rejection(plugin_id, rejection.reason());
            state.usage.record(usage_key, |c| c.rejected += 1);
            rejection_to_error(plugin_id, &rejection)
        })?;

    let request = GuestRequest {
        method: parts.method.as_str().to_string(),
        path,
        query: guest_request::query(parts.uri.query().unwrap_or("")),
        headers: guest_request::headers(&parts.headers),
        body: body.to_vec(),
    };
    let permit = state
        .pool
        .admit(plugin_id, limits.memory_bytes(), SLOT_WAIT)
        .await
        .map_err(|refusal| {
            crate::metrics::record_rejection(plugin_id, refusal.reason());
            state.usage.record(usage_key, |c| c.rejected += 1);
            pool_refusal_to_error(plugin_id, &refusal)
        })?;
    let runtime = state.runtime.clone();
    let input = CallInput {
        request,
        citizen,
        request_id: request_id.clone(),
    };
    // Guest log lines carry the plugin and version of the call.
    let span = tracing::info_span!("plugin", plugin = %plugin_id, version = %version);
    let result = run_guest(runtime, prepared, input, span, permit).await;
    match result {
        Ok(output) => {
            let context = AnswerContext {
                plugin: plugin_id,
                request_path: parts.uri.path(),
            };
            let converted =
                guest_response(output.response, context, &version, &state.guest_headers);
            if let Ok((_, dropped)) = &converted {
                record_dropped(plugin_id, dropped);
            }
            let sent = converted
                .as_ref()
                .map_or(StatusCode::BAD_GATEWAY.as_u16(), |(r, _)| {
                    r.status().as_u16()
                });
            state.usage.record(usage_key, |c| {
                c.calls += 1;
                c.errors += u64::from(sent >= 500);
                c.cpu_us += output.cpu.as_micros() as u64;
                c.wall_us += output.wall.as_micros() as u64;
                c.peak_memory_bytes = c.peak_memory_bytes.max(output.peak_memory as u64);
                c.identity_calls += u64::from(output.capability_calls[0]);
                c.storage_calls += u64::from(output.capability_calls[1]);
                c.log_lines += u64::from(output.capability_calls[2]);
                c.payment_calls += u64::from(output.capability_calls[3]);
                c.notification_calls += u64::from(output.capability_calls[4]);
            });
            admission.finish(sent < 500);
            crate::metrics::record_call(&CallMetrics {
                plugin: plugin_id,
                version: &version,
                status: sent,
                duration: started.elapsed(),
                cpu: Some(output.cpu),
                peak_memory: Some(output.peak_memory),
                capability_calls: output.capability_calls,
            });
            match converted {
                Ok((mut response, _)) => {
                    response.extensions_mut().insert(GuestAnswer);
                    Ok(response)
                }
                Err(fault) => {
                    state.fault_log.warn(plugin_id, &version, &fault);
                    let error = fault_to_error(&fault);
                    crate::metrics::record_fault(plugin_id, &version, error.code);
                    Err(error)
                }
            }
        }
        Err(fault) => {
            state.fault_log.warn(plugin_id, &version, &fault);
            let error = fault_to_error(&fault);
            state.usage.record(usage_key, |c| {
                c.calls += 1;
                c.errors += 1;
            });
            admission.finish(false);
            crate::metrics::record_fault(plugin_id, &version, error.code);
            crate::metrics::record_call(&CallMetrics {
                plugin: plugin_id,
                version: &version,
                status: error.status.as_u16(),
                duration: started.elapsed(),
                cpu: None,
                peak_memory: None,
                capability_calls: [0; 5],
            });
            Err(error)
        }
    }
}

/// Run the guest call on this task: it yields to the executor at every
/// epoch tick, so the request never changes threads and a long guest never
/// holds a worker. The instance slot is held until the call ends.
async fn run_guest(
    runtime: Arc<crate::runtime::Runtime>,
    prepared: Arc<crate::runtime::PreparedPlugin>,
    input: CallInput,
    span: tracing::Span,
    permit: crate::pool::PoolPermit,
) -> Result<crate::runtime::CallOutput, GuestFault> {
    use tracing::Instrument;
    let answer = runtime.call(&prepared, input).instrument(span).await;
    drop(permit);
    answer
}

fn rejection_to_error(plugin_id: &str, rejection: &Rejection) -> ApiError {
    let seconds = |d: &Duration| u32::try_from(d.as_secs().max(1)).unwrap_or(u32::MAX);
    match rejection {
        Rejection::Suspended(wait) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "plugin_suspended",
            format!("the mini-service {plugin_id:?} is suspended after repeated failures; it will be retried shortly"),
        )
        .retry_after(seconds(wait)),
        Rejection::RateLimited(wait) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests to {plugin_id:?}; slow down"),
        )
        .retry_after(seconds(wait)),
        Rejection::DailyQuota(wait) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "daily_quota_exceeded",
            format!("the mini-service {plugin_id:?} has used its calls for today"),
        )
        .retry_after(seconds(wait)),
        Rejection::Busy => busy(
            "plugin_busy",
            &format!("the mini-service {plugin_id:?} is at its concurrency limit; retry shortly"),
        ),
    }
}

fn pool_refusal_to_error(plugin_id: &str, refusal: &PoolRefusal) -> ApiError {
    match refusal {
        PoolRefusal::PluginShare { slots, memory_mib } => busy(
            "plugin_busy",
            &format!(
                "the mini-service {plugin_id:?} holds its share of the host \
                 ({slots} calls, {memory_mib} MiB of memory); retry shortly"
            ),
        ),
        PoolRefusal::Slots => busy("busy", "the host is at capacity"),
        PoolRefusal::Memory => busy(
            "memory_busy",
            "the host's memory budget is taken by running calls; retry shortly",
        ),
        PoolRefusal::TooLarge {
            need_mib,
            share_mib,
        } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "plugin_memory_too_large",
            format!(
                "the mini-service {plugin_id:?} may use {need_mib} MiB of memory, more than \
                 its share of this host's memory budget ({share_mib} MiB)"
            ),
        ),
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

fn busy(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).retry_after(1)
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
        GuestFault::Busy => return busy("busy", &fault.to_string()),
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
