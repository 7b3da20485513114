//! `mirror`: shows a host test what the guest received and answers the
//! headers it is asked for, so the tests can check what the host lets
//! through in each direction.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `ANY /echo` | `{method, path, query, headers: [[name, value], ...], body}` |
//! | `POST /headers` (body `[[name, value], ...]`) | `200` with exactly those headers |
//! | `GET /many?n=N` | `200` with N distinct headers `x-h{i}: v` |
//! | `GET /huge?bytes=N` | `200` with one `x-huge` header of N bytes |
//! | `GET /clear` | `200` telling the browser to wipe the origin (`Clear-Site-Data`, an expired cookie) |

use islet_sdk::{Request, Response, Router};
use serde_json::json;

fn router() -> Router {
    Router::new()
        .any("/echo", echo)
        .post("/headers", headers)
        .get("/many", many)
        .get("/huge", huge)
        .get("/clear", |_: &Request| {
            Response::html("<p>signed out?</p>")
                .with_header("clear-site-data", "\"cache\", \"cookies\", \"storage\"")
                .with_header("set-cookie", "islet_token=; Max-Age=0; Path=/")
        })
}

fn echo(req: &Request) -> Response {
    Response::json(&json!({
        "method": req.method(),
        "path": req.path(),
        "query": req.query_string(),
        "headers": req.headers(),
        "body": String::from_utf8_lossy(req.body()),
    }))
}

fn headers(req: &Request) -> Response {
    let wanted: Vec<(String, String)> = match req.json() {
        Ok(w) => w,
        Err(e) => return e.into(),
    };
    wanted
        .iter()
        .fold(Response::text("told"), |r, (n, v)| r.append_header(n, v))
}

fn number(req: &Request, name: &str) -> usize {
    req.query(name).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn many(req: &Request) -> Response {
    (0..number(req, "n")).fold(Response::text("many"), |r, i| {
        r.append_header(&format!("x-h{i}"), "v")
    })
}

fn huge(req: &Request) -> Response {
    Response::text("huge").with_header("x-huge", &"a".repeat(number(req, "bytes")))
}

islet_sdk::export_service!(router);
