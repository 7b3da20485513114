//! The circuit breaker of one plugin version: it opens when too many recent
//! calls failed, lets one probe through after a cooldown (half-open), and
//! closes again on a successful probe or when an admin resumes it.

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
    recent: VecDeque<bool>,
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

    /// Record a call's outcome (`ok` = not failed).
    pub fn record(&mut self, ok: bool, probe: bool, now: Instant) -> Option<Transition> {
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
        self.recent.push_back(ok);
        while self.recent.len() > self.policy.window {
            self.recent.pop_front();
        }
        let failures = self.recent.iter().filter(|ok| !**ok).count() as u64;
        let full = self.recent.len() >= self.policy.window;
        if full && failures * 100 > self.policy.failure_percent * self.recent.len() as u64 {
            self.opened_at = Some(now);
            self.recent.clear();
            return self.set(BreakerState::Open);
        }
        None
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
        })
    }

    #[test]
    fn opens_on_failures_probes_after_cooldown_and_closes() {
        let mut b = breaker();
        let t0 = Instant::now();
        assert_eq!(b.record(false, false, t0), None);
        assert_eq!(b.record(true, false, t0), None);
        assert_eq!(b.record(false, false, t0), None);
        // 3 of 4 failed: above 50 %.
        let t = b.record(false, false, t0).unwrap();
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
            b.record(false, true, t0 + Duration::from_secs(11))
                .unwrap()
                .to,
            BreakerState::Open
        );
        assert_eq!(b.admit(t0 + Duration::from_secs(22)).0, Verdict::Probe);
        assert_eq!(
            b.record(true, true, t0 + Duration::from_secs(22))
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
            assert_eq!(b.record(ok, false, t0), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.reset(), None);
    }
}
