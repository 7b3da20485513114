//! The money path for platform staff: merchant accounts and their grants,
//! orders and an order's journal and events, event deliveries, and the daily
//! reconciliation statement.

use super::error::ApiError;
use super::extract::{Path, Query};
use super::openapi_schemas as schema;
use super::{AppState, blocking, caller};
use crate::clock::now_ms;
use crate::payment::Payments;
use crate::payment::events::{DeliveryStatus, EventRecord};
use crate::payment::ledger::LedgerError;
use crate::payment::listing::valid_orders_cursor;
use crate::payment::merchants::MerchantError;
use crate::payment::order::{Order, OrderStatus};
use crate::usage::{parse_day, today};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

fn merchant_error(e: MerchantError) -> ApiError {
    match e {
        MerchantError::Invalid(m) => ApiError::bad_request("invalid_merchant", m),
        MerchantError::Exists(_) => {
            ApiError::new(StatusCode::CONFLICT, "merchant_exists", e.to_string())
        }
        MerchantError::NotFound(_) => ApiError::not_found("merchant_not_found", e.to_string()),
        MerchantError::Ledger(e) => ApiError::internal(e),
    }
}

fn ledger_error(e: LedgerError, what: &str) -> ApiError {
    match e {
        LedgerError::NotFound => ApiError::not_found("not_found", format!("no {what}")),
        e => ApiError::internal(e),
    }
}

/// `GET /admin/v1/merchants`.
#[utoipa::path(get, path = "/admin/v1/merchants", tag = "admin-money",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    responses((status = 200, description = "Merchant accounts the caller may see.", body = schema::MerchantList)))]
pub async fn list_merchants(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    blocking(move || {
        let merchants = state
            .payments
            .ledger()
            .merchants()
            .map_err(ApiError::internal)?;
        let visible: Vec<_> = merchants
            .into_iter()
            .filter(|m| who.can_read(&m.department))
            .collect();
        Ok(Json(json!({ "merchants": visible })))
    })
    .await
}

/// Body of `POST /admin/v1/merchants`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMerchant {
    id: String,
    department: String,
    name: String,
}

/// `POST /admin/v1/merchants`: open a merchant account (admins only).
#[utoipa::path(post, path = "/admin/v1/merchants", tag = "admin-money",
    security(("bearer" = ["admin"])),
    request_body(content = NewMerchant),
    responses(
        (status = 201, description = "Opened.", body = crate::payment::merchants::Merchant),
        (status = 409, description = "The id is taken (`merchant_exists`).", body = schema::Error),
    ))]
pub async fn create_merchant(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let admin = caller::admin(&state, &headers)?;
    let new: NewMerchant = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"id\", \"department\", \"name\"}}: {e}"),
        )
    })?;
    blocking(move || {
        let merchant = state
            .payments
            .ledger()
            .create_merchant(&new.id, &new.department, &new.name, now_ms() / 1000)
            .map_err(merchant_error)?;
        let after = json!(merchant);
        state
            .audit
            .record(
                &admin.subject,
                "merchant.create",
                &merchant.id,
                Value::Null,
                after.clone(),
            )
            .map_err(ApiError::internal)?;
        Ok((StatusCode::CREATED, Json(after)))
    })
    .await
}

/// `PUT` / `DELETE /admin/v1/merchants/{id}/plugins/{plugin}`: allow or
/// stop a plugin charging to the merchant (admins only).
#[utoipa::path(method(put, delete), path = "/admin/v1/merchants/{id}/plugins/{plugin}", tag = "admin-money",
    security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "The merchant."), ("plugin" = String, Path, description = "The plugin.", example = "water-bill")),
    responses((status = 200, description = "`PUT` allows the plugin to charge to the merchant, `DELETE` stops it.", body = crate::payment::merchants::Merchant)))]
pub async fn grant_merchant(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    method: axum::http::Method,
    Path((id, plugin)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let admin = caller::admin(&state, &headers)?;
    let allow = method == axum::http::Method::PUT;
    blocking(move || {
        if allow && state.registry.get(&plugin).is_none() {
            return Err(ApiError::not_found(
                "plugin_not_found",
                format!("no plugin {plugin:?} is installed"),
            ));
        }
        let (before, after) = state
            .payments
            .ledger()
            .grant_merchant(&id, &plugin, allow)
            .map_err(merchant_error)?;
        let action = if allow {
            "merchant.grant"
        } else {
            "merchant.revoke"
        };
        state
            .audit
            .record(
                &admin.subject,
                action,
                &format!("{id}/{plugin}"),
                json!(before.plugins),
                json!(after.plugins),
            )
            .map_err(ApiError::internal)?;
        Ok(Json(json!(after)))
    })
    .await
}

/// `GET /admin/v1/orders/{id}`: an order with its journal and events.
#[utoipa::path(get, path = "/admin/v1/orders/{id}", tag = "admin-money",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    params(("id" = String, Path, description = "The order.")),
    responses((status = 200, description = "The order with its journal and events.", body = schema::OrderDetail)))]
pub async fn order_detail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    blocking(move || {
        let payments = &state.payments;
        let order = payments
            .ledger()
            .get(&id, None)
            .map_err(|e| ledger_error(e, "such order"))?;
        let visible = who.can_read_all()
            || state
                .registry
                .get(&order.plugin)
                .is_some_and(|p| who.can_read(&p.record.department));
        if !visible {
            // The same answer as for an absent order.
            return Err(ledger_error(LedgerError::NotFound, "such order"));
        }
        let journal = payments.ledger().journal(&id).map_err(ApiError::internal)?;
        let events = payments.events_of(&id).map_err(ApiError::internal)?;
        let mut order = json!(order);
        if !who.can_read_all() {
            // The platform-wide citizen key links a citizen across every
            // department; a department sees its own pairwise payer id only.
            if let Some(o) = order.as_object_mut() {
                o.remove("citizen");
            }
        }
        Ok(Json(
            json!({ "order": order, "journal": journal, "events": events }),
        ))
    })
    .await
}

/// Query of `GET /admin/v1/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only this plugin's orders.
    plugin: Option<String>,
    /// Only orders in this status (`created`, `paid`, ...).
    #[param(value_type = Option<crate::payment::order::OrderStatus>)]
    status: Option<String>,
    /// Only orders with a journal entry on this business day, `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date)]
    date: Option<String>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /admin/v1/orders?plugin=&status=&date=&limit=&cursor=`: orders,
/// oldest first, a page at a time (`next_cursor`); staff of a department
/// see their department's plugins' orders, without the platform-wide
/// citizen key.
#[utoipa::path(get, path = "/admin/v1/orders", tag = "admin-money",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    params(OrdersQuery),
    responses((status = 200, description = "Orders, oldest first, a page at a time.", body = schema::AdminOrders)))]
pub async fn list_orders(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<OrdersQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            serde_json::from_value::<OrderStatus>(json!(s)).map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    "status must be created, paid, partially-refunded, refunded, closed or expired",
                )
            })?,
        ),
    };
    let date = query.date.filter(|d| !d.is_empty());
    if let Some(date) = &date {
        parse_day(date)
            .map_err(|e| ApiError::bad_request("invalid_query", format!("date: {e}")))?;
    }
    let limit = match query.limit {
        None => 50,
        Some(n @ 1..=500) => n,
        Some(n) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be 1 to 500, not {n}"),
            ));
        }
    };
    if query
        .cursor
        .as_deref()
        .is_some_and(|c| !valid_orders_cursor(c))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "cursor must be a next_cursor this API returned",
        ));
    }
    let plugin = query.plugin.filter(|p| !p.is_empty());
    blocking(move || {
        let keep = |o: &Order| {
            plugin.as_deref().is_none_or(|p| p == o.plugin)
                && status.is_none_or(|s| s == o.status)
                && (who.can_read_all()
                    || state
                        .registry
                        .get(&o.plugin)
                        .is_some_and(|p| who.can_read(&p.record.department)))
        };
        let page = state
            .payments
            .ledger()
            .orders(date.as_deref(), keep, limit, query.cursor.as_deref())
            .map_err(ApiError::internal)?;
        let mut answer = json!(page);
        if !who.can_read_all()
            && let Some(orders) = answer["orders"].as_array_mut()
        {
            for order in orders.iter_mut().filter_map(Value::as_object_mut) {
                order.remove("citizen");
            }
        }
        answer["date"] = json!(date);
        answer["time_zone"] = json!(crate::clock::business_zone());
        Ok(Json(answer))
    })
    .await
}

/// Query of `GET /admin/v1/payment-events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    plugin: Option<String>,
    #[param(value_type = Option<crate::payment::events::DeliveryStatus>)]
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /admin/v1/payment-events?plugin=&status=&limit=&cursor=`:
/// deliveries, newest first, a page at a time (`next_cursor`).
#[utoipa::path(get, path = "/admin/v1/payment-events", tag = "admin-money",
    security(("bearer" = ["admin", "reviewer", "operator", "developer:{department}"])),
    params(EventsQuery),
    responses((status = 200, description = "Payment events and their delivery, newest first.", body = crate::payment::EventsPage)))]
pub async fn list_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<DeliveryStatus>(json!(s)).map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    "status must be pending, delivered, failed or no-handler",
                )
            })?,
        ),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    if query
        .cursor
        .as_deref()
        .is_some_and(|c| !Payments::valid_events_cursor(c))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "cursor must be a next_cursor this API returned",
        ));
    }
    blocking(move || {
        let keep = |e: &EventRecord| {
            query.plugin.as_deref().is_none_or(|p| p == e.plugin)
                && status.is_none_or(|s| s == e.status)
                && (who.can_read_all()
                    || state
                        .registry
                        .get(&e.plugin)
                        .is_some_and(|p| who.can_read(&p.record.department)))
        };
        let page = state
            .payments
            .events(keep, limit, query.cursor.as_deref())
            .map_err(ApiError::internal)?;
        Ok(Json(json!(page)))
    })
    .await
}

/// `POST /admin/v1/payment-events/{id}/redeliver`: queue an event again.
#[utoipa::path(post, path = "/admin/v1/payment-events/{id}/redeliver", tag = "admin-money", operation_id = "redeliver_payment_event",
    security(("bearer" = ["admin", "reviewer"])),
    params(("id" = String, Path, description = "The event (`evt-...`).")),
    responses((status = 200, description = "The event, queued again.", body = crate::payment::events::EventRecord)))]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_review(), "redelivering payment events")?;
    blocking(move || {
        let event = state
            .payments
            .redeliver(&id)
            .map_err(|e| ledger_error(e, "such event"))?;
        state
            .audit
            .record(
                who.actor(),
                "payment-event.redeliver",
                &id,
                Value::Null,
                json!(event),
            )
            .map_err(ApiError::internal)?;
        Ok(Json(json!(event)))
    })
    .await
}

/// Query of `GET /admin/v1/reconciliation`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationQuery {
    /// `YYYY-MM-DD` (default today, in the business time zone).
    #[param(value_type = Option<String>, format = Date)]
    date: Option<String>,
}

/// `GET /admin/v1/reconciliation?date=YYYY-MM-DD`: the day's statement per
/// merchant and every mismatch with the provider.
#[utoipa::path(get, path = "/admin/v1/reconciliation", tag = "admin-money",
    security(("bearer" = ["admin", "reviewer", "operator"])),
    params(ReconciliationQuery),
    responses((status = 200, description = "The day's statement per merchant and every mismatch with the provider.", body = schema::ReconciliationAnswer)))]
pub async fn reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ReconciliationQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_read_all(), "reading the reconciliation statement")?;
    let date = query.date.unwrap_or_else(|| today().to_string());
    parse_day(&date).map_err(|e| ApiError::bad_request("invalid_query", format!("date: {e}")))?;
    blocking(move || {
        let statement = state
            .payments
            .reconcile(&date)
            .map_err(ApiError::internal)?;
        let mut answer = json!(statement);
        answer["time_zone"] = json!(crate::clock::business_zone());
        Ok(Json(answer))
    })
    .await
}
