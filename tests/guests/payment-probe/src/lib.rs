//! `payment-probe`: the `payment` interface over plain HTTP, verbatim, and a
//! recorder of the payment events the host delivers, for the host's
//! end-to-end payment tests.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `POST /orders` `{merchant, amount_fen, description, kind, order_key, expires_in_s}` | the order |
//! | `GET /orders/{id}` | the order |
//! | `GET /orders/by-key/{key}` | the order created with that key |
//! | `POST /orders/{id}/close` | the order |
//! | `POST /orders/{id}/refund` `{amount_fen, reason, refund_key}` | the order |
//! | `POST /fail-events` (body `trap`, `error`, `slow` or empty) | `{"fail_events": body}` |
//! | `GET /delivering` | `{"delivering": [event ids a handler has started]}` |
//! | `GET /events` | `{"events": [..], "deliveries": n, "attempts": {id: n}}` |
//!
//! `kind` is `"service-fee"` or `{"non-tax": "<code>"}`. A payment error is
//! `422 {"error":{"code":"<kebab-case variant>","message":..}}`; a body that
//! is not that JSON (including an amount that is not a `u64`) is
//! `400 {"error":{"code":"bad-json",..}}`.
//!
//! Each delivered event is recorded under `events/<id>` as
//! `{id, kind, order_id, status, amount_fen, attempt}` (overwritten by a
//! redelivery), counted in `deliveries` and `attempts/<id>` — unless
//! `fail-events` says `trap` (the handler panics) or `error` (it answers
//! `Err("told to fail")`), so the host delivers it again later, or `slow`
//! (the handler marks `delivering/<id>`, then takes 3 s before it records
//! the event: long enough to kill the host in the middle of a delivery).

use islet_sdk::payment::{self, NewOrder, Order, PaymentError, PaymentEvent};
use islet_sdk::storage::{self, StorageError};
use islet_sdk::{Request, Response, Router};
use serde_json::{Map, Value, json};

const FAIL_KEY: &str = "fail-events";
const EVENTS: &str = "events/";
const ATTEMPTS: &str = "attempts/";
const DELIVERING: &str = "delivering/";

fn router() -> Router {
    Router::new()
        .post("/orders", create)
        .get("/orders/by-key/{key}", by_key)
        .get("/orders/{id}", get)
        .post("/orders/{id}/close", close)
        .post("/orders/{id}/refund", refund)
        .post("/fail-events", fail_events)
        .get("/events", events)
        .get("/delivering", delivering)
}

fn bad_json(message: &str) -> Response {
    Response::error(400, "bad-json", message)
}

fn answer(result: Result<Order, PaymentError>) -> Response {
    match result {
        Ok(order) => Response::json(&order),
        Err(e) => Response::error(422, e.code(), &e.to_string()),
    }
}

fn param<'a>(req: &'a Request, name: &str) -> &'a str {
    req.param(name).unwrap_or_default()
}

fn create(req: &Request) -> Response {
    match serde_json::from_slice::<NewOrder>(req.body()) {
        Ok(new) => answer(payment::create_order(&new)),
        Err(e) => bad_json(&e.to_string()),
    }
}

fn get(req: &Request) -> Response {
    answer(payment::get_order(param(req, "id")))
}

fn by_key(req: &Request) -> Response {
    answer(payment::find_order(param(req, "key")))
}

fn close(req: &Request) -> Response {
    answer(payment::close_order(param(req, "id")))
}

fn refund(req: &Request) -> Response {
    let body: Value = match serde_json::from_slice(req.body()) {
        Ok(body) => body,
        Err(e) => return bad_json(&e.to_string()),
    };
    let (Some(amount_fen), Some(reason), Some(refund_key)) = (
        body["amount_fen"].as_u64(),
        body["reason"].as_str(),
        body["refund_key"].as_str(),
    ) else {
        return bad_json(
            "expected {\"amount_fen\": u64, \"reason\": string, \"refund_key\": string}",
        );
    };
    answer(payment::refund(
        param(req, "id"),
        amount_fen,
        reason,
        refund_key,
    ))
}

fn fail_events(req: &Request) -> Result<Response, Response> {
    let mode = req.body_text().unwrap_or("?").trim();
    match mode {
        "" => {
            storage::delete(FAIL_KEY)?;
        }
        "trap" | "error" | "slow" => storage::set(FAIL_KEY, mode.as_bytes())?,
        _ => return Err(Response::bad_request("send trap, error, slow or nothing")),
    }
    Ok(Response::json(&json!({ "fail_events": mode })))
}

/// Every key under `prefix`, all pages.
fn all_keys(prefix: &str) -> Result<Vec<String>, StorageError> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = storage::list_keys(prefix, cursor.as_deref(), storage::MAX_PAGE)?;
        keys.extend(page.keys);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
}

fn events(_req: &Request) -> Result<Response, Response> {
    let mut events = Vec::new();
    for key in all_keys(EVENTS)? {
        if let Some(event) = storage::get_json::<Value>(&key)? {
            events.push(event);
        }
    }
    let mut attempts = Map::new();
    for key in all_keys(ATTEMPTS)? {
        let n = storage::get_json::<u64>(&key)?.unwrap_or(0);
        attempts.insert(key[ATTEMPTS.len()..].to_owned(), n.into());
    }
    let deliveries = storage::get_json::<u64>("deliveries")?.unwrap_or(0);
    Ok(Response::json(&json!({
        "events": events,
        "deliveries": deliveries,
        "attempts": attempts,
    })))
}

fn on_payment(event: &PaymentEvent) -> Result<(), String> {
    match storage::get(FAIL_KEY)
        .map_err(|e| e.to_string())?
        .as_deref()
    {
        Some(b"trap") => panic!("payment-probe told to trap on event {}", event.id),
        Some(b"error") => return Err("told to fail".into()),
        Some(b"slow") => {
            storage::set(&format!("{DELIVERING}{}", event.id), b"1").map_err(|e| e.to_string())?;
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        _ => {}
    }
    record(event).map_err(|e| e.to_string())
}

fn delivering(_req: &Request) -> Result<Response, Response> {
    let ids: Vec<String> = all_keys(DELIVERING)?
        .iter()
        .map(|k| k.trim_start_matches(DELIVERING).to_string())
        .collect();
    Ok(Response::json(&json!({ "delivering": ids })))
}

fn record(event: &PaymentEvent) -> Result<(), StorageError> {
    storage::set_json(
        &format!("{EVENTS}{}", event.id),
        &json!({
            "id": event.id,
            "kind": event.kind,
            "order_id": event.order.id,
            "status": event.order.status,
            "amount_fen": event.amount_fen,
            "attempt": event.attempt,
        }),
    )?;
    storage::increment("deliveries", 1)?;
    storage::increment(&format!("{ATTEMPTS}{}", event.id), 1)?;
    Ok(())
}

islet_sdk::export_service!(router, on_payment = on_payment);

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
