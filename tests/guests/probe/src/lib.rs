//! `probe`: exposes every capability over plain HTTP so host tests can check
//! the host's identity and storage semantics from the outside.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /whoami` | `{subject, assurance_level, roles}` or `{"anonymous":true}` |
//! | `PUT /kv/{key}` (body = value) | `{"ok":true}` |
//! | `GET /kv/{key}` | the raw value, or `404` |
//! | `DELETE /kv/{key}` | `{"existed":bool}` |
//! | `GET /kv?prefix=&cursor=&limit=` | `{"keys":[..],"next_cursor":..}` (limit defaults to 100) |
//! | `POST /cas/{key}` `{"expected":s\|null,"new":s\|null}` | `{"ok":true}` |
//! | `POST /incr/{key}?by=N` | `{"value":N}` (by defaults to 1) |
//! | `POST /fill?bytes=N&chunk=C` | `{"written":n,"error":e\|null}`, values under `fill/<i>` |
//! | `POST /log?level=L` (body = line) | `{"ok":true}` |
//!
//! Keys may contain `/`. Storage failures answer `200 {"error":"<kebab-case variant>"}`, so tests
//! tell a refused operation from a broken request.

use islet_sdk::log::Level;
use islet_sdk::storage::{self, StorageError};
use islet_sdk::{Request, Response, Router, identity};
use serde_json::{Value, json};

fn router() -> Router {
    Router::new()
        .get("/whoami", whoami)
        .get("/kv", list)
        .put("/kv/{*key}", put)
        .get("/kv/{*key}", get)
        .delete("/kv/{*key}", delete)
        .post("/cas/{*key}", cas)
        .post("/incr/{*key}", incr)
        .post("/fill", fill)
        .post("/log", log)
}

fn failed(e: &StorageError) -> Response {
    Response::json(&json!({ "error": e.code() }))
}

fn key(req: &Request) -> &str {
    req.param("key").unwrap_or_default()
}

fn whoami(_req: &Request) -> Response {
    match identity::current_caller() {
        Some(c) => Response::json(&json!({
            "subject": c.subject,
            "assurance_level": c.assurance_level,
            "roles": c.roles,
        })),
        None => Response::json(&json!({ "anonymous": true })),
    }
}

fn put(req: &Request) -> Response {
    match storage::set(key(req), req.body()) {
        Ok(()) => Response::json(&json!({ "ok": true })),
        Err(e) => failed(&e),
    }
}

fn get(req: &Request) -> Response {
    match storage::get(key(req)) {
        Ok(Some(value)) => Response::bytes("application/octet-stream", value),
        Ok(None) => Response::not_found(),
        Err(e) => failed(&e),
    }
}

fn delete(req: &Request) -> Response {
    match storage::delete(key(req)) {
        Ok(existed) => Response::json(&json!({ "existed": existed })),
        Err(e) => failed(&e),
    }
}

fn list(req: &Request) -> Response {
    let prefix = req.query("prefix").unwrap_or_default();
    let cursor = req.query("cursor").filter(|c| !c.is_empty());
    let limit = req
        .query("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    match storage::list_keys(prefix, cursor, limit) {
        Ok(page) => Response::json(&json!({ "keys": page.keys, "next_cursor": page.next_cursor })),
        Err(e) => failed(&e),
    }
}

fn cas(req: &Request) -> Response {
    let body: Value = match req.json() {
        Ok(v) => v,
        Err(e) => return e.into(),
    };
    let bytes = |name: &str| body.get(name).and_then(Value::as_str).map(str::as_bytes);
    match storage::compare_and_swap(key(req), bytes("expected"), bytes("new")) {
        Ok(()) => Response::json(&json!({ "ok": true })),
        Err(e) => failed(&e),
    }
}

fn incr(req: &Request) -> Response {
    let by = req.query("by").and_then(|b| b.parse().ok()).unwrap_or(1);
    match storage::increment(key(req), by) {
        Ok(value) => Response::json(&json!({ "value": value })),
        Err(e) => failed(&e),
    }
}

fn fill(req: &Request) -> Response {
    let number = |name: &str, default: usize| {
        req.query(name)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let total = number("bytes", 1 << 20);
    let chunk = number("chunk", 64 << 10).max(1);
    let mut written = 0;
    let mut error = None;
    let mut i = 0;
    while written < total {
        let len = chunk.min(total - written);
        match storage::set(&format!("fill/{i}"), &vec![b'f'; len]) {
            Ok(()) => written += len,
            Err(e) => {
                error = Some(e.code());
                break;
            }
        }
        i += 1;
    }
    Response::json(&json!({ "written": written, "error": error }))
}

fn log(req: &Request) -> Response {
    let level = match req.query("level").unwrap_or("info") {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" => Level::Warn,
        "error" => Level::Error,
        _ => Level::Info,
    };
    islet_sdk::log::write(level, &String::from_utf8_lossy(req.body()));
    Response::json(&json!({ "ok": true }))
}

islet_sdk::export_service!(router);
