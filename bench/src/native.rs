//! The native baselines: a plain axum server answering the same greeting as
//! the `hello` plugin, and direct calls of the plugins' own Rust code.

use anyhow::Context as _;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde::Serialize;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// The JSON every hello answers for an anonymous caller.
pub const GREETING: &str = r#"{"message":"Hello, guest!"}"#;

/// The path both servers answer the greeting on.
pub const HELLO_PATH: &str = "/p/hello/";

/// The native server's path that formats the greeting on a Tokio blocking
/// thread, as Islet runs its guests: the cost of that hop alone.
pub const BLOCKING_PATH: &str = "/blocking/p/hello/";

/// Header naming the caller of the native greeting (the benchmark never
/// sends it, so both servers greet a guest).
const CALLER_HEADER: &str = "x-caller";

#[derive(Serialize)]
struct Greeting {
    message: String,
}

/// The same work as the plugin: look up who is calling (the plugin asks
/// the host; here a header stands in), format the name, serialise to JSON.
async fn greet(headers: HeaderMap) -> Json<Greeting> {
    Json(greeting(&headers))
}

/// [`greet`], with the greeting made on a blocking thread.
async fn greet_blocking(headers: HeaderMap) -> Result<Json<Greeting>, StatusCode> {
    tokio::task::spawn_blocking(move || Json(greeting(&headers)))
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn greeting(headers: &HeaderMap) -> Greeting {
    let name = headers.get(CALLER_HEADER).and_then(|v| v.to_str().ok());
    Greeting {
        message: format!("Hello, {}!", name.unwrap_or("guest")),
    }
}

/// A native axum server on a random local port, serving the greeting at
/// [`HELLO_PATH`] and [`BLOCKING_PATH`] until dropped.
pub struct NativeServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl NativeServer {
    /// Start serving on `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime) -> anyhow::Result<NativeServer> {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("cannot bind the native server")?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .route(HELLO_PATH, get(greet))
            .route(BLOCKING_PATH, get(greet_blocking));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(NativeServer {
            addr,
            shutdown: Some(tx),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for NativeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One call of the `hello` plugin's own router, natively, the way the SDK
/// serves a request inside the component (router built per request).
/// Returns the body length so the work cannot be optimised away.
pub fn hello_call(env: &islet_sdk::testing::TestEnv) -> usize {
    let router = hello::router();
    env.call(&router, islet_sdk::Request::get("/")).body().len()
}
