//! `hostile`: a guest that misbehaves on request, so host tests can check
//! that limits hold and a bad guest cannot hurt the host or other requests.
//!
//! | Route | Behaviour |
//! | --- | --- |
//! | `/ok` | `200 ok` |
//! | `/spin` | loops forever (CPU limit / timeout) |
//! | `/hog` | allocates and touches 1 MiB chunks forever (memory limit) |
//! | `/trap` | executes `unreachable` |
//! | `/panic` | panics |
//! | `/big?bytes=N` | `200` with N bytes (default 4 MiB; response-size limit) |
//! | `/echo` | method, path, query, header names and body, as JSON |
//! | `/hold?mib=N&ms=M` | touches N MiB, then sleeps M ms holding it, then `200` |
//! | `/log-flood?lines=N&bytes=B` | writes N log lines of B bytes (default 100000 of 4096), `200 {"lines":N}` |
//! | `/churn?keys=N&chunk=C&from=I` | deletes then rewrites keys `churn/I`..`churn/I+N-1` with C bytes each, `200 {"written":n,"error":e\|null}` |
//! | `/sleep?ms=N` | sleeps N ms (default 10000) in `wasi:io/poll`, then `200 slept` |

use islet_sdk::{Request, Response, Router};
use std::hint::black_box;

fn router() -> Router {
    Router::new()
        .get("/ok", |_: &Request| "ok")
        .any("/spin", spin)
        .any("/hog", hog)
        .any("/trap", trap)
        .any("/panic", |_: &Request| -> Response {
            panic!("hostile guest panicked on purpose")
        })
        .any("/big", big)
        .any("/echo", echo)
        .any("/hold", hold)
        .any("/log-flood", log_flood)
        .any("/churn", churn)
        .any("/sleep", sleep)
}

fn number(req: &Request, name: &str, default: usize) -> usize {
    req.query(name)
        .and_then(|b| b.parse::<usize>().ok())
        .unwrap_or(default)
}

fn log_flood(req: &Request) -> Response {
    let lines = number(req, "lines", 100_000);
    let line = "x".repeat(number(req, "bytes", 4096));
    for _ in 0..lines {
        islet_sdk::log::write(islet_sdk::log::Level::Info, black_box(&line));
    }
    Response::json(&serde_json::json!({ "lines": lines }))
}

fn churn(req: &Request) -> Response {
    use islet_sdk::storage;
    let (keys, from) = (number(req, "keys", 8), number(req, "from", 0));
    let value = vec![b'c'; number(req, "chunk", 256 << 10)];
    let mut written = 0;
    for i in from..from + keys {
        let key = format!("churn/{i}");
        let result = storage::delete(&key).and_then(|_| storage::set(&key, &value));
        if let Err(e) = result {
            return Response::json(&serde_json::json!({ "written": written, "error": e.code() }));
        }
        written += value.len();
    }
    Response::json(&serde_json::json!({ "written": written, "error": null }))
}

fn spin(_req: &Request) -> Response {
    let mut n: u64 = 0;
    loop {
        // black_box keeps the optimiser from proving the loop pointless.
        n = black_box(n.wrapping_add(1));
    }
}

fn hog(_req: &Request) -> Response {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        // Touch every page so the memory is really committed.
        for i in (0..chunk.len()).step_by(4096) {
            chunk[i] = black_box(1);
        }
        kept.push(black_box(chunk));
        black_box(&kept);
    }
}

fn hold(req: &Request) -> Response {
    let number = |name: &str| req.query(name).and_then(|v| v.parse::<usize>().ok());
    let mib = number("mib").unwrap_or(0);
    let ms = number("ms").unwrap_or(1000);
    let mut held = vec![0u8; mib << 20];
    for i in (0..held.len()).step_by(4096) {
        held[i] = black_box(1);
    }
    std::thread::sleep(std::time::Duration::from_millis(ms as u64));
    black_box(&held);
    Response::text(format!("held {mib} MiB for {ms} ms"))
}

fn trap(_req: &Request) -> Response {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

fn big(req: &Request) -> Response {
    let bytes = req
        .query("bytes")
        .and_then(|b| b.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    Response::bytes("application/octet-stream", vec![b'x'; bytes])
}

fn sleep(req: &Request) -> Response {
    let ms = req
        .query("ms")
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(10_000);
    // A host call (a monotonic-clock pollable, then poll), not Wasm code:
    // no epoch check runs while it waits.
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Response::text("slept")
}

fn echo(req: &Request) -> Response {
    let header_names: Vec<&str> = req.headers().iter().map(|(n, _)| n.as_str()).collect();
    Response::json(&serde_json::json!({
        "method": req.method(),
        "path": req.path(),
        "query": req.query_string(),
        "header_names": header_names,
        "body": String::from_utf8_lossy(req.body()),
        "body_len": req.body().len(),
    }))
}

islet_sdk::export_service!(router);
