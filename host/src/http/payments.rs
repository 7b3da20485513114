//! The money path at the HTTP edge for citizens and providers: the
//! citizen's orders, the sandbox cashier, and provider notifications.

use super::error::ApiError;
use super::openapi_schemas as schema;
use super::{AppState, blocking, caller};
use crate::auth::Citizen;
use crate::capabilities::payment::citizen_key;
use crate::payment::order::Order;
use crate::payment::provider::NoticeError;
use crate::payment::sandbox::PayOptions;
use crate::payment::{NoticeFailure, NoticeOutcome, PaymentError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest page of `GET /api/v1/orders`.
const MAX_PAGE: usize = 100;

/// An order as its citizen sees it (no host keys, no pairwise subject).
pub fn citizen_view(state: &AppState, order: &Order) -> Value {
    let ledger = state.payments.ledger();
    let merchant_name = ledger
        .merchant(&order.request.merchant)
        .ok()
        .flatten()
        .map(|m| m.name);
    let service_name = state
        .registry
        .get(&order.plugin)
        .and_then(|p| p.record.manifest().map(|m| m.name.clone()));
    json!({
        "id": order.id,
        "plugin": order.plugin,
        "service_name": service_name,
        "merchant": order.request.merchant,
        "merchant_name": merchant_name,
        "amount_fen": order.request.amount_fen,
        "refunded_fen": order.refunded_fen(),
        "description": order.request.description,
        "kind": order.request.kind,
        "status": order.status,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "checkout_url": state.payments.provider().checkout_url(order),
    })
}

pub(super) fn payment_error(e: PaymentError) -> ApiError {
    let (status, code) = match &e {
        PaymentError::NotFound => (StatusCode::NOT_FOUND, "order_not_found"),
        PaymentError::InvalidState(_) => (StatusCode::CONFLICT, "invalid_order_state"),
        PaymentError::ProviderUnavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable")
        }
        PaymentError::InvalidAmount(_) => (StatusCode::BAD_REQUEST, "invalid_amount"),
        PaymentError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
        PaymentError::KeyReused(_) => (StatusCode::CONFLICT, "key_reused"),
        PaymentError::MerchantNotGranted(_) => (StatusCode::FORBIDDEN, "merchant_not_granted"),
        PaymentError::QuotaExceeded => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
        PaymentError::NoCitizen => (StatusCode::UNAUTHORIZED, "unauthenticated"),
    };
    ApiError::new(status, code, e.to_string())
}

/// The citizen's own order `id`: someone else's is 404, as if absent.
fn own_order(state: &AppState, citizen: &Citizen, id: &str) -> Result<Order, ApiError> {
    match state.payments.ledger().get(id, None) {
        Ok(order) if order.citizen == citizen_key(citizen) => Ok(order),
        Ok(_) | Err(crate::payment::ledger::LedgerError::NotFound) => Err(ApiError::not_found(
            "order_not_found",
            format!("you have no order {id:?}"),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Query of `GET /api/v1/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// From `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// `GET /api/v1/orders`: the signed-in citizen's orders across plugins,
/// newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "citizen",
    security(("bearer" = [])),
    params(OrdersQuery),
    responses((status = 200, description = "The citizen's orders across services, newest first.", body = schema::CitizenOrders)))]
pub async fn my_orders(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<OrdersQuery>,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "see your orders")?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    blocking(move || {
        let (orders, next) = state
            .payments
            .ledger()
            .orders_of(&citizen_key(&citizen), query.cursor.as_deref(), limit)
            .map_err(ApiError::internal)?;
        let orders: Vec<Value> = orders.iter().map(|o| citizen_view(&state, o)).collect();
        Ok(Json(json!({ "orders": orders, "next_cursor": next })))
    })
    .await
}

/// `GET /api/v1/orders/{id}`: one of the citizen's own orders.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "citizen",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order.")),
    responses((status = 200, description = "One of the citizen's own orders (another's is 404).", body = schema::CitizenOrder)))]
pub async fn my_order(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "see your orders")?;
    blocking(move || {
        let order = own_order(&state, &citizen, &id)?;
        Ok(Json(citizen_view(&state, &order)))
    })
    .await
}

/// Body of `POST /pay/{id}`: what the citizen does in the sandbox cashier.
/// `fail`, `notify_times` and `delay_ms` let tests drive the provider, on
/// development hosts only.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashierAction {
    /// `pay` or `cancel`.
    action: String,
    /// Make the payment fail.
    #[serde(default)]
    fail: bool,
    /// Send this many separate notifications.
    notify_times: Option<u32>,
    /// Notify after this many milliseconds.
    #[serde(default)]
    delay_ms: u64,
}

/// `POST /pay/{id}`: the citizen pays or cancels their order in the
/// sandbox cashier. Paying only starts the provider's asynchronous
/// notification; the order becomes paid when the host has verified it.
#[utoipa::path(post, path = "/pay/{id}", tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order.")),
    request_body(content = CashierAction),
    responses(
        (status = 200, description = "Paying started (the order becomes paid when the provider's notification is verified), or the order closed.", body = schema::CashierAnswer),
        (status = 403, description = "Test options on a production host (`test_options_not_allowed`).", body = schema::Error),
        (status = 409, description = "The order cannot be paid or closed in its state (`invalid_order_state`).", body = schema::Error),
    ))]
pub async fn cashier_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "see your orders")?;
    let action: CashierAction = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"action\": \"pay\" | \"cancel\"}}: {e}"),
        )
    })?;
    let options = PayOptions {
        fail: action.fail,
        notify_times: action.notify_times,
        delay_ms: action.delay_ms,
    };
    if options.any() && !state.payments.config().test_options {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "test_options_not_allowed",
            "fail, notify_times and delay_ms drive the sandbox in tests and are taken only by \
             development hosts (islet serve --dev)",
        ));
    }
    blocking(move || {
        let order = own_order(&state, &citizen, &id)?;
        match action.action.as_str() {
            "pay" => {
                let payment = state
                    .payments
                    .cashier_pay(&order, &options)
                    .map_err(payment_error)?;
                Ok(Json(json!({
                    "order": citizen_view(&state, &order),
                    "payment": { "txn_id": payment.txn_id, "status": "processing" },
                })))
            }
            "cancel" => {
                let closed = state
                    .payments
                    .close_order(None, &id, "citizen")
                    .map_err(payment_error)?;
                Ok(Json(json!({ "order": citizen_view(&state, &closed) })))
            }
            other => Err(ApiError::bad_request(
                "invalid_body",
                format!("action must be \"pay\" or \"cancel\", not {other:?}"),
            )),
        }
    })
    .await
}

/// `POST /api/v1/payments/notify/{provider}`: a provider's signed
/// notification. Answers 200 for an applied or repeated one (so the
/// provider stops retrying) and an error otherwise, changing nothing.
#[utoipa::path(post, path = "/api/v1/payments/notify/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "The payment provider (`sandbox`).", example = "sandbox")),
    request_body(content = Object, description = "The provider's signed notification (its own format; the signature travels in the provider's headers)."),
    responses(
        (status = 200, description = "Applied, or applied before: the provider stops retrying.", body = schema::NoticeAccepted),
        (status = 401, description = "A bad signature or a stale timestamp.", body = schema::Error),
        (status = 404, description = "Unknown provider or order.", body = schema::Error),
        (status = 409, description = "A replayed nonce.", body = schema::Error),
    ))]
pub async fn notify(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let outcome = tokio::task::spawn_blocking(move || {
        let lookup = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        state.payments.handle_notice(&provider, &lookup, &body)
    })
    .await
    .map_err(|e| ApiError::internal(format!("notification task failed: {e}")))?;
    let failure = match outcome {
        Ok(NoticeOutcome::Applied(id)) => {
            metrics::counter!("islet_payment_notifications_total", "outcome" => "applied")
                .increment(1);
            return Ok(Json(
                json!({ "code": "SUCCESS", "order_id": id, "outcome": "applied" }),
            ));
        }
        Ok(NoticeOutcome::Duplicate(id)) => {
            metrics::counter!("islet_payment_notifications_total", "outcome" => "duplicate")
                .increment(1);
            return Ok(Json(
                json!({ "code": "SUCCESS", "order_id": id, "outcome": "duplicate" }),
            ));
        }
        Ok(NoticeOutcome::LateRefunded(id)) => {
            metrics::counter!("islet_payment_notifications_total", "outcome" => "late-refunded")
                .increment(1);
            return Ok(Json(
                json!({ "code": "SUCCESS", "order_id": id, "outcome": "late-refunded" }),
            ));
        }
        Err(failure) => failure,
    };
    let (status, code) = match &failure {
        NoticeFailure::UnknownProvider(_) => (StatusCode::NOT_FOUND, "unknown_provider"),
        NoticeFailure::Notice(NoticeError::BadSignature) => {
            (StatusCode::UNAUTHORIZED, "invalid_signature")
        }
        NoticeFailure::Notice(NoticeError::Stale(_)) => {
            (StatusCode::UNAUTHORIZED, "stale_timestamp")
        }
        NoticeFailure::Notice(NoticeError::Malformed(_)) => {
            (StatusCode::BAD_REQUEST, "malformed_notification")
        }
        NoticeFailure::Replayed => (StatusCode::CONFLICT, "replayed_nonce"),
        NoticeFailure::UnknownOrder(_) => (StatusCode::NOT_FOUND, "unknown_order"),
        NoticeFailure::Mismatch(_) => (StatusCode::BAD_REQUEST, "notification_mismatch"),
        NoticeFailure::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable"),
    };
    metrics::counter!("islet_payment_notifications_total", "outcome" => code).increment(1);
    tracing::warn!(code, error = %failure, "payment notification refused");
    Err(ApiError::new(status, code, failure.to_string()))
}
