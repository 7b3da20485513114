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
        .any("/sleep", sleep)
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
