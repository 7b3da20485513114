//! Admin operations beyond installing: usage reports, the audit log, and
//! resuming a version its circuit breaker suspended.

use super::error::ApiError;
use super::extract::{Path, Query};
use super::openapi_schemas as schema;
use super::{AppState, caller};
use crate::audit::AuditFilter;
use crate::usage::{UsageRow, parse_day, today};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Query of `GET /admin/v1/usage`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// First day, `YYYY-MM-DD` (default: today, in the business time zone).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last day, inclusive (default: `from`).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// Only this department.
    department: Option<String>,
}

/// Longest range one report may span.
const MAX_REPORT_DAYS: i64 = 366;

#[derive(Default, Serialize)]
struct DepartmentTotal {
    calls: u64,
    errors: u64,
    rejected: u64,
    cpu_us: u64,
    wall_us: u64,
}

/// `GET /admin/v1/usage?from=&to=&department=`.
#[utoipa::path(get, path = "/admin/v1/usage", tag = "admin-operations",
    security(("bearer" = ["admin", "reviewer", "operator"])),
    params(UsageQuery),
    responses((status = 200, description = "Calls, errors, refusals and time per day, plugin and version, with department totals.", body = schema::Usage)))]
pub async fn usage(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_read_all(), "reading usage of every department")?;
    let from_text = query.from.unwrap_or_else(|| today().to_string());
    let from = parse_day(&from_text)
        .map_err(|e| ApiError::bad_request("invalid_query", format!("from: {e}")))?;
    let to = match &query.to {
        Some(t) => {
            parse_day(t).map_err(|e| ApiError::bad_request("invalid_query", format!("to: {e}")))?
        }
        None => from,
    };
    if to < from {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`to` is before `from`",
        ));
    }
    if (to - from).whole_days() >= MAX_REPORT_DAYS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("a report spans at most {MAX_REPORT_DAYS} days"),
        ));
    }
    let usage = state.usage.clone();
    let department = query.department.clone();
    let rows: Vec<UsageRow> =
        tokio::task::spawn_blocking(move || usage.report(from, to, department.as_deref()))
            .await
            .map_err(|e| ApiError::internal(format!("usage task failed: {e}")))??;
    let mut totals: BTreeMap<&str, DepartmentTotal> = BTreeMap::new();
    for row in &rows {
        let t = totals.entry(row.department.as_str()).or_default();
        t.calls += row.counters.calls;
        t.errors += row.counters.errors;
        t.rejected += row.counters.rejected;
        t.cpu_us += row.counters.cpu_us;
        t.wall_us += row.counters.wall_us;
    }
    Ok(Json(json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "department": query.department,
        "time_zone": crate::clock::business_zone(),
        "rows": rows,
        "totals_by_department": totals,
    })))
}

/// `GET /admin/v1/audit?action=&target=&actor=&limit=&cursor=`: newest
/// first, a page at a time (`next_cursor`); an empty filter is no filter.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin-operations",
    security(("bearer" = ["admin", "reviewer", "operator"])),
    params(AuditFilter),
    responses((status = 200, description = "Audit entries, newest first.", body = crate::audit::AuditPage)))]
pub async fn audit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(mut filter): Query<AuditFilter>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_read_all(), "reading the audit log")?;
    for field in [&mut filter.action, &mut filter.target, &mut filter.actor] {
        if field.as_deref() == Some("") {
            *field = None;
        }
    }
    if filter.limit == Some(0) || filter.limit.is_some_and(|n| n > 1000) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1 to 1000",
        ));
    }
    if filter
        .cursor
        .as_deref()
        .is_some_and(|c| !crate::audit::valid_cursor(c))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "cursor must be a next_cursor this API returned",
        ));
    }
    let log = state.audit.clone();
    let page = tokio::task::spawn_blocking(move || log.page(&filter))
        .await
        .map_err(|e| ApiError::internal(format!("audit task failed: {e}")))??;
    Ok(Json(json!(page)))
}

/// `POST /admin/v1/plugins/{id}/resume`: close the current version's breaker.
#[utoipa::path(post, path = "/admin/v1/plugins/{id}/resume", tag = "admin-operations",
    security(("bearer" = ["admin", "reviewer"])),
    params(("id" = String, Path, description = "The plugin.", example = "water-bill")),
    responses(
        (status = 200, description = "The released version's breaker, closed.", body = schema::Resumed),
        (status = 409, description = "No full release to resume (`invalid_transition`).", body = schema::Error),
    ))]
pub async fn resume_plugin(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_review(), "resuming a suspended version")?;
    let plugin = caller::visible_plugin(&state, &who, &id)?;
    let version = plugin
        .record
        .released
        .as_ref()
        .map(ToString::to_string)
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "invalid_transition",
                "the plugin has no full release to resume",
            )
        })?;
    let before = state.protection.resume(&id, &version, who.actor());
    Ok(Json(json!({
        "id": id,
        "version": version,
        "breaker_before": before.name(),
        "breaker": state.protection.breaker_state(&id, &version).name(),
    })))
}
