//! A guest call as a future that keeps its own books: each poll's thread CPU
//! time is added to the call's [`CallClock`], and while it is polled the
//! call's deadline bounds the blocking host calls under it
//! ([`crate::deadline`]), wherever the poll happens to run. A long call that
//! waits inside a host call (a sleep, a poll) gives its lane turn back while
//! it waits and takes one again before it runs on.

use super::lane::LaneTurn;
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
    turn: LaneTurn,
    /// A turn to take again before `inner` runs on.
    retake: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<F: Future> Metered<F> {
    /// Meter `inner` with `clock`; its host calls wait no longer than
    /// `deadline`; `turn` is its place in the lane of long calls.
    pub fn new(inner: F, clock: Arc<CallClock>, deadline: Instant, turn: LaneTurn) -> Self {
        Metered {
            inner: Box::pin(inner),
            clock,
            deadline,
            turn,
            retake: None,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Some(retake) = this.retake.as_mut() {
            if retake.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.retake = None;
        }
        let scope = crate::deadline::enter(this.deadline);
        this.clock.poll_started();
        let answer = this.inner.as_mut().poll(cx);
        this.clock.poll_ended();
        if scope.cut() {
            this.clock.mark_cut();
        }
        if answer.is_pending() && this.turn.holds() {
            // Waiting in a host call, not at a tick: the turn is not needed
            // for waiting.
            this.turn.give_back();
            this.retake = Some(Box::pin(this.turn.take()));
        }
        answer
    }
}
