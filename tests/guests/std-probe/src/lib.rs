//! `std-probe`: tries one part of Rust's standard library per route, as a
//! plugin author would, so a test records what works inside a guest (the
//! SDK README's table). Each route answers `{"ok": ..}` or `{"err": ..}`
//! (an `io::Error`); a call that panics ends the request: `500
//! plugin_panicked`. (`std::net` is left out: a component that imports
//! `wasi:sockets` is refused at install, see the `sockets` guest.)
//!
//! | Route | Tries |
//! | --- | --- |
//! | `GET /system-time` | `SystemTime::now()` since the epoch, seconds |
//! | `GET /instant` | `Instant::now()` twice, elapsed ns |
//! | `GET /sleep` | `thread::sleep(5 ms)`, elapsed ms |
//! | `GET /env` | `env::vars()` count and `env::args()` count |
//! | `GET /current-dir` | `env::current_dir()` |
//! | `GET /temp-dir` | `env::temp_dir()` |
//! | `GET /file-write` | `fs::write("probe.txt")` |
//! | `GET /file-read` | `fs::read_to_string("/etc/passwd")` |
//! | `GET /thread` | `thread::spawn(..).join()` |
//! | `GET /hashmap` | `HashMap::new()` (random keys) with one entry |
//! | `GET /random` | two `RandomState` hashes of one value differ |
//! | `GET /stdout` | `println!` and `eprintln!` |
//! | `GET /exit` | `process::exit(3)` |
//! | `GET /panic` | `panic!` |

use islet_sdk::{Request, Response, Router};
use serde_json::{Value, json};
use std::hash::BuildHasher as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn ok(value: Value) -> Response {
    Response::json(&json!({ "ok": value }))
}

fn io<T: Into<Value>>(result: std::io::Result<T>) -> Response {
    match result {
        Ok(v) => ok(v.into()),
        Err(e) => Response::json(&json!({ "err": e.to_string() })),
    }
}

fn router() -> Router {
    Router::new()
        .get("/system-time", |_: &Request| {
            let since = SystemTime::now().duration_since(UNIX_EPOCH);
            ok(since.map(|d| d.as_secs()).unwrap_or(0).into())
        })
        .get("/instant", |_: &Request| {
            let start = Instant::now();
            ok((start.elapsed().as_nanos() as u64).into())
        })
        .get("/sleep", |_: &Request| {
            let start = Instant::now();
            std::thread::sleep(Duration::from_millis(5));
            ok((start.elapsed().as_millis() as u64).into())
        })
        .get("/env", |_: &Request| {
            ok(json!({
                "vars": std::env::vars().count(),
                "args": std::env::args().count(),
            }))
        })
        .get("/current-dir", |_: &Request| {
            io(std::env::current_dir().map(|d| d.display().to_string()))
        })
        .get("/temp-dir", |_: &Request| {
            ok(std::env::temp_dir().display().to_string().into())
        })
        .get("/file-write", |_: &Request| {
            io(std::fs::write("probe.txt", b"x").map(|()| true))
        })
        .get("/file-read", |_: &Request| {
            io(std::fs::read_to_string("/etc/passwd"))
        })
        .get("/thread", |_: &Request| {
            match std::thread::Builder::new().spawn(|| 1 + 1) {
                Ok(handle) => ok(handle.join().unwrap_or(0).into()),
                Err(e) => Response::json(&json!({ "err": e.to_string() })),
            }
        })
        .get("/hashmap", |_: &Request| {
            let mut map = std::collections::HashMap::new();
            map.insert("a", 1);
            ok(map.len().into())
        })
        .get("/random", |_: &Request| {
            let a = std::hash::RandomState::new().hash_one(7u8);
            let b = std::hash::RandomState::new().hash_one(7u8);
            ok((a != b).into())
        })
        .get("/stdout", |_: &Request| {
            println!("std-probe: stdout line");
            eprintln!("std-probe: stderr line");
            ok(true.into())
        })
        .get("/exit", |_: &Request| -> Response { std::process::exit(3) })
        .get("/panic", |_: &Request| -> Response {
            panic!("std-probe panics")
        })
}

islet_sdk::export_service!(router);
