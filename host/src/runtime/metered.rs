//! A guest call as a future that keeps its own books: each poll's thread CPU
//! time is added to the call's [`CallClock`], and while it is polled the
//! call's deadline bounds the blocking host calls under it
//! ([`crate::deadline`]), wherever the poll happens to run.

use super::meter::CallClock;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// `inner`, metered by `clock` and bounded by `deadline` poll by poll.
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    clock: Arc<CallClock>,
    deadline: Instant,
}

impl<F: Future> Metered<F> {
    /// Meter `inner` with `clock`; its host calls wait no longer than `deadline`.
    pub fn new(inner: F, clock: Arc<CallClock>, deadline: Instant) -> Self {
        Metered {
            inner: Box::pin(inner),
            clock,
            deadline,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let scope = crate::deadline::enter(this.deadline);
        this.clock.poll_started();
        let answer = this.inner.as_mut().poll(cx);
        this.clock.poll_ended();
        if scope.cut() {
            this.clock.mark_cut();
        }
        answer
    }
}
