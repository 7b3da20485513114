//! What one connection is doing, for its timeouts: waiting for a request
//! head (header timeout), serving requests (no timeout here; the body has
//! its own minimum rate), or idle between requests (idle timeout); and
//! whether the client stopped taking what the host sends (send timeout).

use super::ConnectionLimits;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

struct State {
    /// Requests handed to the router whose response has not ended.
    in_flight: usize,
    /// When the head being awaited began (first byte, or the connection's
    /// start); `None` while idle or serving.
    head_started: Option<Instant>,
    /// When the last response ended.
    idle_since: Instant,
    /// Since when the client has not taken what the host sends (the
    /// socket's send buffer is full); `None` while writes go through.
    write_stalled: Option<Instant>,
    /// A limit was broken elsewhere (a body too slow): close now.
    cut: Option<&'static str>,
}

/// The shared activity record of one connection.
pub(super) struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

impl Activity {
    /// A new connection: its first head is awaited from now.
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Activity {
            state: Mutex::new(State {
                in_flight: 0,
                head_started: Some(now),
                idle_since: now,
                write_stalled: None,
                cut: None,
            }),
            changed: Notify::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Bytes arrived: when nothing is being served they begin a head.
    fn bytes_read(&self) {
        let began = self.with(|s| {
            let begins = s.in_flight == 0 && s.head_started.is_none();
            if begins {
                s.head_started = Some(Instant::now());
            }
            begins
        });
        if began {
            self.changed.notify_one();
        }
    }

    /// A request's head is complete and goes to the router; the returned
    /// guard ends it when the response ends.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.with(|s| {
            s.in_flight += 1;
            s.head_started = None;
        });
        self.changed.notify_one();
        InFlight {
            activity: self.clone(),
        }
    }

    /// Writes stopped going through (`true`) or went through again.
    fn write_stalled(&self, stalled: bool) {
        self.with(|s| s.write_stalled = stalled.then(Instant::now));
        self.changed.notify_one();
    }

    /// Whether a request is being served (its response has not ended).
    pub(super) fn serving(&self) -> bool {
        self.with(|s| s.in_flight > 0)
    }

    /// Close the connection at once for `why`.
    pub(super) fn cut(&self, why: &'static str) {
        self.with(|s| s.cut = Some(why));
        self.changed.notify_one();
    }

    /// When the connection breaks a limit, if nothing changes: `Err` with
    /// the reason when it already has.
    fn deadline(&self, limits: &ConnectionLimits) -> Result<Option<Instant>, &'static str> {
        self.with(|s| {
            if let Some(why) = s.cut {
                return Err(why);
            }
            let reading = match (s.head_started, s.in_flight) {
                (Some(started), _) => Some((started + limits.header_timeout, "header_timeout")),
                (None, 0) => Some((s.idle_since + limits.idle_timeout, "idle_timeout")),
                (None, _) => None,
            };
            let writing = s
                .write_stalled
                .map(|since| (since + limits.send_timeout, "send_timeout"));
            match [reading, writing].into_iter().flatten().min() {
                Some((deadline, why)) if deadline <= Instant::now() => Err(why),
                Some((deadline, _)) => Ok(Some(deadline)),
                None => Ok(None),
            }
        })
    }

    /// Resolves with the reason when the connection breaks a limit.
    pub(super) async fn watchdog(&self, limits: ConnectionLimits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            match self.deadline(&limits) {
                Err(why) => return why,
                Ok(Some(deadline)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                Ok(None) => changed.await,
            }
        }
    }
}

/// A request being served; dropped when its response ends.
pub(super) struct InFlight {
    activity: Arc<Activity>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.with(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.idle_since = Instant::now();
        });
        self.activity.changed.notify_one();
    }
}

/// The connection's socket, telling [`Activity`] when bytes arrive and
/// when writes stall.
pub(super) struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
    stalled: bool,
}

impl<T> Watched<T> {
    pub(super) fn new(io: T, activity: Arc<Activity>) -> Self {
        Watched {
            io,
            activity,
            stalled: false,
        }
    }

    /// Note a write's outcome (only changes reach [`Activity`]).
    fn wrote<R>(&mut self, polled: &Poll<std::io::Result<R>>) {
        let stalled = polled.is_pending();
        if stalled != self.stalled {
            self.stalled = stalled;
            self.activity.write_stalled(stalled);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A response body that ends its request's [`InFlight`] when dropped.
pub(super) struct Tracked {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl Tracked {
    pub(super) fn new(body: axum::body::Body, in_flight: InFlight) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
        }
    }
}

impl Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
