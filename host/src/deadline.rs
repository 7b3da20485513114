//! The wall-clock deadline of the guest call running on this thread, for
//! the blocking layers under it (the store) to honour: a host call made by
//! a guest waits at most until the guest's own deadline, and a wait cut
//! short by it ends the call as a wall-clock timeout.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static CUT: Cell<bool> = const { Cell::new(false) };
}

/// The deadline of one guest call on this thread, until dropped.
#[must_use = "the deadline holds only while the scope lives"]
pub struct Scope {
    previous: Option<Instant>,
    previous_cut: bool,
}

/// Bound every blocking host call on this thread by `deadline` until the
/// returned scope is dropped.
pub fn enter(deadline: Instant) -> Scope {
    Scope {
        previous: DEADLINE.replace(Some(deadline)),
        previous_cut: CUT.replace(false),
    }
}

impl Scope {
    /// Whether a host call on this thread was cut at the deadline.
    pub fn cut(&self) -> bool {
        CUT.get()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEADLINE.set(self.previous);
        CUT.set(self.previous_cut);
    }
}

/// `limit`, shortened to the time left before this thread's deadline.
pub fn bound(limit: Duration) -> Duration {
    match DEADLINE.get() {
        Some(deadline) => limit.min(deadline.saturating_duration_since(Instant::now())),
        None => limit,
    }
}

/// Whether this thread's deadline has passed (false without one).
pub fn passed() -> bool {
    DEADLINE.get().is_some_and(|d| Instant::now() >= d)
}

/// Record that a host call was cut at this thread's deadline: the guest
/// call then ends as a wall-clock timeout.
pub fn mark_cut() {
    if DEADLINE.get().is_some() {
        CUT.set(true);
    }
}

/// Whether a host call on this thread was cut at its deadline.
pub fn was_cut() -> bool {
    CUT.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_by_the_time_left_and_restores_on_drop() {
        assert_eq!(bound(Duration::from_secs(10)), Duration::from_secs(10));
        let scope = enter(Instant::now() + Duration::from_millis(200));
        let left = bound(Duration::from_secs(10));
        assert!(left <= Duration::from_millis(200) && left > Duration::from_millis(100));
        assert!(!passed() && !scope.cut());
        {
            let inner = enter(Instant::now());
            assert!(passed());
            mark_cut();
            assert!(inner.cut());
        }
        assert!(!scope.cut() && !passed());
        drop(scope);
        mark_cut();
        assert!(!was_cut(), "no deadline, nothing to cut");
    }
}
