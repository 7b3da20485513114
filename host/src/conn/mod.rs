//! The connection edge: the accept loop in front of the router, with the
//! limits a public server needs against slow or greedy clients.
//!
//! - a cap on open connections in total and per client address
//!   ([`gate`]); a connection over a cap is answered `503` JSON at once and
//!   closed;
//! - a header read timeout (a request's head must be complete within it of
//!   its first byte, or of the connection's start), an idle keep-alive
//!   timeout, a request body minimum rate after a grace period, and a send
//!   timeout for a client that stops reading ([`activity`], [`body`]); a
//!   connection that breaks one is closed.
//!
//! HTTP/1.1 only (as before); graceful shutdown stops accepting, lets every
//! request in flight finish and closes idle connections at once.

mod activity;
mod body;
mod gate;
mod settings;

pub use gate::{Gate, Refusal, client_address};
pub use settings::{CitizenLimits, ServerFile};

use activity::Activity;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;

/// Limits of the connection edge (`[server]` of the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a request's head (request line and headers) may take to
    /// arrive, from its first byte or from the connection's start.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long the client may leave the host's writes blocked (taking
    /// none of a response) before the connection is cut.
    pub send_timeout: Duration,
    /// Time a request body may take before the minimum rate applies.
    pub body_grace: Duration,
    /// Bytes per second a request body must average once the grace is
    /// over; 0 turns the check off.
    pub body_min_rate: u64,
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 client
    /// counts by its /64); 0 turns the per-address cap off.
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            body_grace: Duration::from_secs(10),
            body_min_rate: 1024,
            max_connections: 10_000,
            max_connections_per_address: 256,
        }
    }
}

/// Serve `app` on `listener` under `limits` until `shutdown` completes,
/// then finish gracefully: stop accepting, close idle connections, and
/// return once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let gate = Arc::new(Gate::new(
        limits.max_connections,
        limits.max_connections_per_address,
    ));
    // Dropped to ask every connection to finish; each connection holds a
    // `closed` receiver, so `closed_tx.closed()` says when all are gone.
    let (stop_tx, stop_rx) = watch::channel(());
    let (closed_tx, closed_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ticket = match gate.admit(client_address(&peer)) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                refuse(stream, refusal);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, stop, closed) = (app.clone(), stop_rx.clone(), closed_rx.clone());
        tokio::spawn(async move {
            connection(stream, peer, app, limits, stop).await;
            drop(ticket);
            drop(closed);
        });
    }
    drop(listener);
    drop(stop_rx);
    drop(stop_tx);
    drop(closed_rx);
    closed_tx.closed().await;
    Ok(())
}

/// Errors of `accept` that concern one client only are skipped; others
/// (out of file descriptors) pause accepting for a moment, as axum does.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("cannot accept a connection: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Answer a connection over a cap with `503` JSON, without waiting for
/// the client, and close it.
fn refuse(stream: TcpStream, refusal: Refusal) {
    metrics::counter!("islet_connections_refused_total", "reason" => refusal.reason()).increment(1);
    let body = crate::http::error::error_body(
        "too_many_connections",
        refusal.message(),
        Some(&hex::encode(rand::random::<[u8; 8]>())),
    )
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    // The socket's send buffer is empty: one non-blocking write fits.
    let _ = stream.try_write(format!("{head}{body}").as_bytes());
}

/// Serve one connection until it ends, breaks a limit, or (after a stop)
/// has finished its request in flight.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(activity::Watched::new(stream, activity.clone()));
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = activity.request_started();
            let (mut parts, incoming) = request.into_parts();
            let body = body::MinRate::new(
                incoming,
                limits.body_grace,
                limits.body_min_rate,
                activity.clone(),
            );
            parts.extensions.insert(ConnectInfo(peer));
            let request = axum::extract::Request::from_parts(parts, axum::body::Body::new(body));
            let app = app.clone();
            async move {
                let response = app
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                Ok::<_, Infallible>(
                    response.map(|b| axum::body::Body::new(activity::Tracked::new(b, in_flight))),
                )
            }
        })
    };
    let mut conn = pin!(
        hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // The watchdog below times heads and idle waits itself.
            .header_read_timeout(None)
            .keep_alive(true)
            .serve_connection(io, service)
            .with_upgrades()
    );
    let mut watchdog = pin!(activity.watchdog(limits));
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!("connection from {peer} ended: {e}");
                }
                return;
            }
            why = &mut watchdog => {
                metrics::counter!("islet_connections_closed_total", "reason" => why).increment(1);
                tracing::debug!(%peer, reason = why, "connection closed by a limit");
                return;
            }
            _ = stop.changed(), if !stopping => {
                // Nothing in flight (idle, or a head still arriving): close
                // now; hyper would wait for a slow head. Otherwise finish
                // the request and close.
                if !activity.serving() {
                    return;
                }
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
