//! `wasi-http-hello`: `hello`'s greeting to an anonymous caller as a plain
//! `wasi:http/proxy` component, without Islet's SDK, so `wasmtime serve`
//! can run the same work as Islet's `hello` (the benchmark's peer row).
//! Every request is answered `200 {"message":"Hello, guest!"}`.
//!
//! Only a wasm32 build has content: the export's symbol names (`wasi:http/...`)
//! cannot be linked into a native library by `cargo test --workspace`.
#![cfg(target_arch = "wasm32")]

use serde::Serialize;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// The greeting's JSON body, as `hello` makes it.
#[derive(Serialize)]
struct Greeting {
    message: String,
}

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let body = serde_json::to_vec(&Greeting {
            message: format!("Hello, {}!", "guest"),
        })
        .unwrap_or_default();
        let headers = Fields::new();
        // A fresh field list accepts a valid header; nothing to do if not.
        let _ = headers.set("content-type", &[b"application/json".to_vec()]);
        let response = OutgoingResponse::new(headers);
        let Ok(outgoing) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = outgoing.write() {
            let _ = stream.blocking_write_and_flush(&body);
        }
        let _ = OutgoingBody::finish(outgoing, None);
    }
}

wasip2::http::proxy::export!(Hello);
