//! `sockets`: a guest that imports `wasi:sockets` (through `std::net`)
//! although its manifest declares only `log`. The host must refuse to
//! activate it, or at least never let it reach the network.

use islet_sdk::{Request, Response, Router};
use std::net::TcpStream;

fn router() -> Router {
    Router::new().any("/{*path}", connect)
}

fn connect(_req: &Request) -> Response {
    match TcpStream::connect("127.0.0.1:1") {
        Ok(_) => Response::text("connected"),
        Err(e) => Response::text(format!("connect failed: {e}")).with_status(502),
    }
}

islet_sdk::export_service!(router);
