//! `people-probe`: identity claims, the department subject and
//! notifications over plain HTTP, verbatim, for the host's consent and
//! notification tests.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /me` | `{"subject": s or null, "department_subject": s or null}` |
//! | `GET /claim/{item}` (`real-name`, `national-id`, `phone`, `email`, `legal-person`) | `{"value": ".."}` |
//! | `POST /send` `{recipient, template, params: {name: value}, link: "/path" or null}` | `{"id": "<message id>"}` |
//!
//! A claim or send error is `422 {"error":{"code":"<kebab-case variant>",
//! "message":..}}`, and a `no-consent` claim error also carries
//! `"consent": {"item", "purpose"}`. An unknown item is
//! `400 {"error":{"code":"bad-item",..}}`; a send body that is not that
//! JSON is `400 {"error":{"code":"bad-json",..}}`.

use islet_sdk::identity::{self, ClaimError, DataItem};
use islet_sdk::notification::{self, NotifyError};
use islet_sdk::{Request, Response, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn router() -> Router {
    Router::new()
        .get("/me", me)
        .get("/claim/{item}", claim)
        .post("/send", send)
}

fn me(_req: &Request) -> Response {
    Response::json(&json!({
        "subject": identity::current_caller().map(|c| c.subject),
        "department_subject": identity::department_subject(),
    }))
}

/// `422` with the error's kebab-case code and message, plus `extra` fields.
fn refused(code: &str, message: &str, extra: Map<String, Value>) -> Response {
    let mut error = Map::new();
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    error.extend(extra);
    Response::json(&json!({ "error": error })).with_status(422)
}

fn claim_error(e: &ClaimError) -> Response {
    let mut extra = Map::new();
    if let Some(consent) = e.consent_request() {
        extra.insert("consent".into(), json!(consent));
    }
    refused(e.code(), &e.to_string(), extra)
}

fn claim(req: &Request) -> Response {
    let name = req.param("item").unwrap_or_default();
    let item: DataItem = match name.parse() {
        Ok(item) => item,
        Err(e) => return Response::error(400, "bad-item", &e.to_string()),
    };
    match identity::claim(item) {
        Ok(value) => Response::json(&json!({ "value": value })),
        Err(e) => claim_error(&e),
    }
}

/// The body of `POST /send`.
#[derive(Debug, Deserialize)]
struct Send {
    recipient: String,
    template: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    link: Option<String>,
}

fn send_error(e: &NotifyError) -> Response {
    refused(e.code(), &e.to_string(), Map::new())
}

fn send(req: &Request) -> Response {
    let body: Send = match serde_json::from_slice(req.body()) {
        Ok(body) => body,
        Err(e) => return Response::error(400, "bad-json", &e.to_string()),
    };
    let params: Vec<(&str, &str)> = body
        .params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    match notification::send(
        &body.recipient,
        &body.template,
        &params,
        body.link.as_deref(),
    ) {
        Ok(id) => Response::json(&json!({ "id": id })),
        Err(e) => send_error(&e),
    }
}

islet_sdk::export_service!(router);

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
