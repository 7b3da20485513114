//! The circuit breaker of one plugin version: it opens when too many recent
//! calls failed, from enough distinct callers, lets one probe through after
//! a cooldown (half-open), and closes again on a successful probe or when an
//! admin resumes it.
//!
//! Failures are counted per caller: one caller (a citizen, or an anonymous
//! client address) that makes a plugin fail on purpose adds at most
//! `window / min_callers` failures to the window, and the breaker opens
//! only when at least `min_callers` distinct callers saw failures. A plugin
//! failing for everyone still opens it as soon as a few callers are hit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Suspended until the cooldown ends.
    Open,
    /// One probe call is in flight; others wait for its verdict.
    HalfOpen,
}

impl BreakerState {
    /// The value exported as the `islet_breaker_state` gauge.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failure share, percent, above which it opens.
    pub failure_percent: u64,
    /// Outcomes remembered (and needed before judging).
    pub window: usize,
    /// How long it stays open before a probe.
    pub cooldown: Duration,
    /// Distinct failing callers needed to open.
    pub min_callers: usize,
}

/// What the breaker says about a new call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Go ahead as the half-open probe.
    Probe,
    /// Refused; retry after this long.
    Reject(Duration),
}

/// A state change worth recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
}

/// One version's breaker.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
    /// Recent outcomes: ok, and a hash of the caller.
    recent: VecDeque<(bool, u64)>,
    opened_at: Option<Instant>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        Breaker {
            policy,
            state: BreakerState::Closed,
            recent: VecDeque::new(),
            opened_at: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Decide on a new call at `now`.
    pub fn admit(&mut self, now: Instant) -> (Verdict, Option<Transition>) {
        match self.state {
            BreakerState::Closed => (Verdict::Allow, None),
            BreakerState::HalfOpen => (Verdict::Reject(Duration::from_secs(1)), None),
            BreakerState::Open => {
                let since = self
                    .opened_at
                    .map_or(Duration::MAX, |t| now.duration_since(t));
                if since >= self.policy.cooldown {
                    let t = self.set(BreakerState::HalfOpen);
                    (Verdict::Probe, t)
                } else {
                    (Verdict::Reject(self.policy.cooldown - since), None)
                }
            }
        }
    }

    /// Record the outcome of a call by `caller` (a hash of who called;
    /// `ok` = not failed).
    pub fn record(
        &mut self,
        ok: bool,
        probe: bool,
        caller: u64,
        now: Instant,
    ) -> Option<Transition> {
        if probe {
            return if ok {
                self.recent.clear();
                self.set(BreakerState::Closed)
            } else {
                self.opened_at = Some(now);
                self.set(BreakerState::Open)
            };
        }
        if self.state != BreakerState::Closed {
            return None;
        }
        self.recent.push_back((ok, caller));
        while self.recent.len() > self.policy.window {
            self.recent.pop_front();
        }
        let full = self.recent.len() >= self.policy.window;
        let (failures, callers) = self.failures_per_caller();
        if full
            && callers >= self.policy.min_callers.max(1)
            && failures * 100 > self.policy.failure_percent * self.recent.len() as u64
        {
            self.opened_at = Some(now);
            self.recent.clear();
            return self.set(BreakerState::Open);
        }
        None
    }

    /// The failures in the window, each caller's capped at its share
    /// (`window / min_callers`, rounded up), and how many distinct callers
    /// failed.
    fn failures_per_caller(&self) -> (u64, usize) {
        let mut per_caller: std::collections::HashMap<u64, u64> = Default::default();
        for (ok, caller) in &self.recent {
            if !ok {
                *per_caller.entry(*caller).or_default() += 1;
            }
        }
        let share = self.policy.window.div_ceil(self.policy.min_callers.max(1)) as u64;
        let counted = per_caller.values().map(|n| (*n).min(share)).sum();
        (counted, per_caller.len())
    }

    /// Close the breaker (an admin resumed the version).
    pub fn reset(&mut self) -> Option<Transition> {
        self.recent.clear();
        self.opened_at = None;
        self.set(BreakerState::Closed)
    }

    fn set(&mut self, to: BreakerState) -> Option<Transition> {
        let from = self.state;
        self.state = to;
        (from != to).then_some(Transition { from, to })
    }
}

impl Breaker {
    /// A half-open breaker whose probe never ran goes back to open with its
    /// cooldown already over, so the next call probes.
    pub fn reopen_for_probe(&mut self) {
        if self.state == BreakerState::HalfOpen {
            self.state = BreakerState::Open;
            self.opened_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerPolicy {
            failure_percent: 50,
            window: 4,
            cooldown: Duration::from_secs(10),
            min_callers: 1,
        })
    }

    #[test]
    fn opens_on_failures_probes_after_cooldown_and_closes() {
        let mut b = breaker();
        let t0 = Instant::now();
        assert_eq!(b.record(false, false, 0, t0), None);
        assert_eq!(b.record(true, false, 0, t0), None);
        assert_eq!(b.record(false, false, 0, t0), None);
        // 3 of 4 failed: above 50 %.
        let t = b.record(false, false, 0, t0).unwrap();
        assert_eq!((t.from, t.to), (BreakerState::Closed, BreakerState::Open));
        assert!(matches!(
            b.admit(t0 + Duration::from_secs(1)).0,
            Verdict::Reject(_)
        ));
        let (v, t) = b.admit(t0 + Duration::from_secs(11));
        assert_eq!(v, Verdict::Probe);
        assert_eq!(t.unwrap().to, BreakerState::HalfOpen);
        assert!(matches!(
            b.admit(t0 + Duration::from_secs(11)).0,
            Verdict::Reject(_)
        ));
        // A failed probe reopens; a good one closes.
        assert_eq!(
            b.record(false, true, 0, t0 + Duration::from_secs(11))
                .unwrap()
                .to,
            BreakerState::Open
        );
        assert_eq!(b.admit(t0 + Duration::from_secs(22)).0, Verdict::Probe);
        assert_eq!(
            b.record(true, true, 0, t0 + Duration::from_secs(22))
                .unwrap()
                .to,
            BreakerState::Closed
        );
        assert_eq!(b.admit(t0 + Duration::from_secs(22)).0, Verdict::Allow);
    }

    #[test]
    fn exactly_at_the_threshold_stays_closed() {
        let mut b = breaker();
        let t0 = Instant::now();
        for ok in [false, true, false, true] {
            assert_eq!(b.record(ok, false, 0, t0), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.reset(), None);
    }

    fn fair_breaker() -> Breaker {
        Breaker::new(BreakerPolicy {
            failure_percent: 50,
            window: 20,
            cooldown: Duration::from_secs(10),
            min_callers: 3,
        })
    }

    #[test]
    fn one_caller_failing_on_purpose_cannot_open_it() {
        let mut b = fair_breaker();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(b.record(false, false, 666, t0), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // With two unlucky others the attacker still counts for 7 of 20.
        assert_eq!(b.record(false, false, 1, t0), None);
        assert_eq!(b.record(false, false, 2, t0), None);
        for _ in 0..10 {
            b.record(false, false, 666, t0);
        }
        for caller in 10..18 {
            assert_eq!(b.record(true, false, caller, t0), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failures_from_several_callers_open_it() {
        let mut b = fair_breaker();
        let t0 = Instant::now();
        let mut opened = None;
        for i in 0..20u64 {
            opened = opened.or(b.record(false, false, i % 4, t0));
        }
        assert_eq!(opened.map(|t| t.to), Some(BreakerState::Open));
    }
}
