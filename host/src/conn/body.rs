//! A request body that must keep a minimum rate once a grace period is
//! over: a client trickling its body (or sending none after its headers)
//! cannot hold a request and its connection open for long.

use super::activity::Activity;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The error a too-slow body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct TooSlow;

/// `inner`, cut when it falls behind `rate` bytes per second after `grace`.
pub(super) struct MinRate<B> {
    inner: B,
    started: Instant,
    grace: Duration,
    rate: u64,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
    activity: Arc<Activity>,
}

impl<B> MinRate<B> {
    /// Time `inner` from now; a `rate` of 0 never cuts.
    pub(super) fn new(inner: B, grace: Duration, rate: u64, activity: Arc<Activity>) -> Self {
        MinRate {
            inner,
            started: Instant::now(),
            grace,
            rate,
            received: 0,
            timer: None,
            activity,
        }
    }

    /// When the next byte must have arrived to keep the rate.
    fn deadline(&self) -> Instant {
        let earned = Duration::from_secs_f64(self.received as f64 / self.rate.max(1) as f64);
        self.started + self.grace + earned
    }
}

impl<B> Body for MinRate<B>
where
    B: Body<Data = bytes::Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending if self.rate == 0 => Poll::Pending,
            Poll::Pending => {
                let deadline = self.deadline();
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                timer.as_mut().reset(deadline);
                if timer.as_mut().poll(cx).is_ready() {
                    self.activity.cut("body_too_slow");
                    return Poll::Ready(Some(Err(TooSlow.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
