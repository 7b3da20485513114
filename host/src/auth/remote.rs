//! The identity provider's keys, kept fresh: fetched from its JWKS URL
//! (found by OIDC discovery when configured so) at start, again when the
//! provider's caching hint or `jwks-refresh-s` says, and at once when a
//! token names a `kid` the set lacks (a rotation). Fetches are at most one
//! per `jwks-min-refresh-s`, whatever the trigger, so tokens with made-up
//! `kid`s cannot make the host hammer the provider. A failed fetch (down,
//! slow, huge, garbage, no usable key) keeps the last good set, is counted
//! (`islet_jwks_refreshes_total{outcome="failed"}`) and logged at warn at
//! most once per [`WARN_EVERY`].

use super::discovery::{DiscoveryError, discover};
use super::fetch::{FetchError, Fetcher, check_url};
use super::jwks::{DEFAULT_ALGORITHMS, JwksError, KeySet};
use anyhow::Context as _;
use jsonwebtoken::Algorithm;
use reqwest::Url;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Mutex, oneshot};
use tokio::time::Instant;

/// While fetches keep failing, a warning at most this often.
pub const WARN_EVERY: Duration = Duration::from_secs(300);

/// Where the provider's keys come from and how they are refreshed
/// (`[auth]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpSettings {
    /// The key set's address (`jwks-url`).
    pub jwks_url: Option<String>,
    /// The OIDC discovery document's address (`oidc-discovery-url`, or
    /// the issuer's well-known address with `discovery = true`).
    pub discovery_url: Option<String>,
    /// The algorithms keys from the set may verify.
    pub algorithms: Vec<Algorithm>,
    /// Refresh period when the provider gives no `Cache-Control: max-age`.
    pub refresh: Duration,
    /// Shortest time between two fetches (any trigger); also the shortest
    /// `max-age` honoured and the first retry delay after a failure.
    pub min_refresh: Duration,
    /// Longest `max-age` honoured (and longest retry delay).
    pub max_refresh: Duration,
    /// Deadline of one fetch, connection to last byte.
    pub timeout: Duration,
    /// Largest document accepted, bytes.
    pub max_bytes: usize,
    /// Allow plain `http` to a provider that is not on loopback.
    pub allow_http: bool,
    /// PEM CA certificates trusted for the provider besides the built-in ones.
    pub ca_file: Option<PathBuf>,
}

impl Default for IdpSettings {
    fn default() -> Self {
        IdpSettings {
            jwks_url: None,
            discovery_url: None,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            refresh: Duration::from_secs(300),
            min_refresh: Duration::from_secs(10),
            max_refresh: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
            max_bytes: 256 << 10,
            allow_http: false,
            ca_file: None,
        }
    }
}

impl IdpSettings {
    /// Whether keys come from a provider at all.
    pub fn enabled(&self) -> bool {
        self.jwks_url.is_some() || self.discovery_url.is_some()
    }

    /// Delay before the next scheduled fetch after a good one whose
    /// answer said `max_age`: the hint within `[min_refresh, max_refresh]`,
    /// else `refresh`.
    pub fn after_success(&self, max_age: Option<Duration>) -> Duration {
        let floor = self.min_refresh;
        let ceiling = self.max_refresh.max(floor);
        max_age.unwrap_or(self.refresh).clamp(floor, ceiling)
    }

    /// Delay before the next try after `failures` failed fetches in a row:
    /// `min_refresh`, doubling, at most `refresh` (and `max_refresh`).
    pub fn after_failure(&self, failures: u32) -> Duration {
        let ceiling = self.refresh.min(self.max_refresh).max(self.min_refresh);
        let doubled = self
            .min_refresh
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        doubled.clamp(self.min_refresh, ceiling)
    }
}

/// At most one fetch per `min_interval`.
#[derive(Debug, Clone)]
pub struct RefreshGate {
    min_interval: Duration,
    last: Option<Instant>,
}

impl RefreshGate {
    /// A gate that has not let anything through yet.
    pub fn new(min_interval: Duration) -> Self {
        RefreshGate {
            min_interval,
            last: None,
        }
    }

    /// Whether a fetch may start at `now` (it is then counted).
    pub fn try_begin(&mut self, now: Instant) -> bool {
        let open = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.min_interval);
        if open {
            self.last = Some(now);
        }
        open
    }

    /// When the gate opens again.
    pub fn opens_at(&self) -> Option<Instant> {
        self.last.map(|last| last + self.min_interval)
    }
}

/// What made the host fetch the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The host started.
    Start,
    /// The schedule.
    Periodic,
    /// A token named a `kid` the set lacks.
    UnknownKid,
}

impl Trigger {
    fn name(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Periodic => "periodic",
            Trigger::UnknownKid => "unknown_kid",
        }
    }
}

/// Why a refresh failed (the last good keys stay).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RefreshError {
    /// Discovery failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The key set could not be fetched.
    #[error("JWKS: {0}")]
    Fetch(#[from] FetchError),
    /// The key set is not usable.
    #[error("JWKS {url}: {error}")]
    KeySet {
        /// Where it came from.
        url: String,
        /// What is wrong with it.
        error: JwksError,
    },
}

/// Where the key set address comes from.
enum Source {
    /// `jwks-url`.
    Jwks(Url),
    /// OIDC discovery at this address.
    Discovery(Url),
}

struct State {
    gate: RefreshGate,
    /// The key set address discovery found.
    jwks_url: Option<Url>,
    failures: u32,
    warned_at: Option<Instant>,
    due: Instant,
}

/// The provider's current keys and the machinery that refreshes them.
pub struct RemoteKeys {
    issuer: String,
    settings: IdpSettings,
    source: Source,
    fetcher: Fetcher,
    keys: RwLock<Arc<KeySet>>,
    /// Bumped after every installed set whose keys differ from the last
    /// (verified tokens remembered under an older one are dropped).
    generation: AtomicU64,
    state: Mutex<State>,
}

impl RemoteKeys {
    /// Keys for tokens of `issuer` from the provider `settings` name
    /// (nothing is fetched yet: see [`RemoteKeys::start`]).
    pub fn new(issuer: &str, settings: IdpSettings) -> anyhow::Result<Self> {
        let allow_http = settings.allow_http;
        let source = match (&settings.jwks_url, &settings.discovery_url) {
            (Some(_), Some(_)) => anyhow::bail!(
                "[auth] jwks-url and OIDC discovery (discovery / oidc-discovery-url) are \
                 exclusive: discovery finds the JWKS URL itself"
            ),
            (Some(url), None) => Source::Jwks(
                check_url(url, allow_http).map_err(|e| anyhow::anyhow!("[auth] jwks-url: {e}"))?,
            ),
            (None, Some(url)) => Source::Discovery(check_url(url, allow_http).map_err(|e| {
                anyhow::anyhow!("[auth] OIDC discovery (from issuer {issuer:?}): {e}")
            })?),
            (None, None) => anyhow::bail!("no identity provider is configured"),
        };
        if settings.algorithms.is_empty() {
            anyhow::bail!("[auth] algorithms is empty: no key of the provider could be used");
        }
        let roots = match &settings.ca_file {
            Some(path) => std::fs::read(path)
                .with_context(|| format!("cannot read [auth] idp-ca-file {}", path.display()))?,
            None => Vec::new(),
        };
        let fetcher = Fetcher::new(settings.timeout, settings.max_bytes, &roots)?;
        Ok(RemoteKeys {
            issuer: issuer.to_string(),
            source,
            fetcher,
            keys: RwLock::new(Arc::new(KeySet::default())),
            generation: AtomicU64::new(0),
            state: Mutex::new(State {
                gate: RefreshGate::new(settings.min_refresh),
                jwks_url: None,
                failures: 0,
                warned_at: None,
                due: Instant::now(),
            }),
            settings,
        })
    }

    /// The keys as last fetched successfully.
    pub fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Which set of keys is current: changes whenever a fetched set holds
    /// other keys than the one before (read it before [`RemoteKeys::current`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether keys of the set may verify `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.settings.algorithms.contains(&alg)
    }

    /// The first fetch. A provider that is down only delays sign-ins (the
    /// host keeps trying); a discovery document of another issuer, or one
    /// naming an unusable key set address, is a configuration error.
    pub async fn start(&self) -> anyhow::Result<()> {
        let mut state = self.state.lock().await;
        state.gate.try_begin(Instant::now());
        match self.refresh(&mut state, Trigger::Start).await {
            Err(RefreshError::Discovery(e)) if e.is_misconfiguration() => {
                Err(anyhow::anyhow!("[auth] {e}"))
            }
            _ => Ok(()),
        }
    }

    /// Make sure the set is fresh enough for a token naming `kid`: when it
    /// lacks that key, fetch it again unless a fetch happened within
    /// `min_refresh` (then the token is refused as naming an unknown key).
    pub async fn ensure_kid(&self, kid: &str) {
        if self.current().by_kid(kid).is_some() {
            return;
        }
        let mut state = self.state.lock().await;
        // Another request may have fetched it while this one waited.
        if self.current().by_kid(kid).is_some() || !state.gate.try_begin(Instant::now()) {
            return;
        }
        tracing::debug!(kid = %kid.escape_debug(), "a token names a key the set lacks; fetching the set");
        let _ = self.refresh(&mut state, Trigger::UnknownKid).await;
    }

    /// Refresh on schedule until `stop`.
    pub async fn run(self: Arc<Self>, mut stop: oneshot::Receiver<()>) {
        loop {
            let due = self.state.lock().await.due;
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep_until(due) => {}
            }
            let mut state = self.state.lock().await;
            let now = Instant::now();
            if now < state.due {
                continue; // fetched meanwhile (an unknown kid)
            }
            if !state.gate.try_begin(now) {
                state.due = state
                    .gate
                    .opens_at()
                    .unwrap_or(now + self.settings.min_refresh);
                continue;
            }
            let _ = self.refresh(&mut state, Trigger::Periodic).await;
        }
    }

    async fn refresh(&self, state: &mut State, trigger: Trigger) -> Result<(), RefreshError> {
        let outcome = self.fetch(state).await;
        let now = Instant::now();
        let result = match outcome {
            Ok((set, skipped, max_age)) => {
                self.install(set, &skipped, state.failures);
                state.failures = 0;
                state.warned_at = None;
                state.due = now + self.settings.after_success(max_age);
                Ok(())
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                state.due = now + self.settings.after_failure(state.failures);
                if matches!(self.source, Source::Discovery(_)) {
                    // Find the key set again next time (it may have moved).
                    state.jwks_url = None;
                }
                let warn = state
                    .warned_at
                    .is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY);
                let kept = self.current().len();
                if warn {
                    state.warned_at = Some(now);
                    tracing::warn!(
                        trigger = trigger.name(),
                        failures = state.failures,
                        kept_keys = kept,
                        "cannot refresh the identity provider's keys, keeping the last good ones: {e}"
                    );
                } else {
                    tracing::debug!(trigger = trigger.name(), failures = state.failures, "{e}");
                }
                Err(e)
            }
        };
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        metrics::counter!("islet_jwks_refreshes_total", "trigger" => trigger.name(), "outcome" => outcome)
            .increment(1);
        result
    }

    async fn fetch(
        &self,
        state: &mut State,
    ) -> Result<(KeySet, Vec<String>, Option<Duration>), RefreshError> {
        let url = match (&self.source, &state.jwks_url) {
            (Source::Jwks(url), _) | (Source::Discovery(_), Some(url)) => url.clone(),
            (Source::Discovery(discovery), None) => {
                let url = discover(
                    &self.fetcher,
                    discovery,
                    &self.issuer,
                    self.settings.allow_http,
                )
                .await?;
                state.jwks_url = Some(url.clone());
                url
            }
        };
        let fetched = self.fetcher.get(&url).await?;
        let (set, skipped) =
            KeySet::parse(&fetched.body, &self.settings.algorithms).map_err(|error| {
                RefreshError::KeySet {
                    url: url.to_string(),
                    error,
                }
            })?;
        Ok((set, skipped, fetched.max_age))
    }

    fn install(&self, set: KeySet, skipped: &[String], failures: u32) {
        let kids = set.kids();
        let count = set.len();
        let old = {
            let mut keys = self
                .keys
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *keys, Arc::new(set))
        };
        // After the swap: a verifier that read the new generation then
        // reads the new keys.
        if !old.same_keys(&self.current()) {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        if old.kids() != kids {
            tracing::info!(kids = ?kids, skipped = ?skipped, "identity provider keys loaded");
        }
        if failures > 0 {
            tracing::info!(failures, "identity provider keys fetched again");
        }
        metrics::gauge!("islet_jwks_keys").set(count as f64);
        metrics::gauge!("islet_jwks_last_success_timestamp_seconds")
            .set(crate::clock::now_ms() as f64 / 1000.0);
    }
}

#[cfg(test)]
impl RemoteKeys {
    /// Install `set` as if fetched (unit tests of the verifier).
    pub(crate) fn install_for_test(&self, set: KeySet) {
        self.install(set, &[], 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IdpSettings {
        IdpSettings {
            min_refresh: Duration::from_secs(10),
            refresh: Duration::from_secs(300),
            max_refresh: Duration::from_secs(3600),
            ..IdpSettings::default()
        }
    }

    #[test]
    fn the_gate_lets_one_fetch_through_per_interval() {
        let start = Instant::now();
        let mut gate = RefreshGate::new(Duration::from_secs(10));
        assert!(gate.try_begin(start), "the first fetch goes");
        let through = (1..=100)
            .filter(|i| gate.try_begin(start + Duration::from_millis(i * 95)))
            .count();
        assert_eq!(through, 0, "nothing within 10 s of it");
        assert_eq!(gate.opens_at(), Some(start + Duration::from_secs(10)));
        assert!(gate.try_begin(start + Duration::from_secs(10)));
        assert!(!gate.try_begin(start + Duration::from_secs(19)));
        // A flood over a minute: at most one per 10 s.
        let mut gate = RefreshGate::new(Duration::from_secs(10));
        let through = (0..6000)
            .filter(|i| gate.try_begin(start + Duration::from_millis(i * 10)))
            .count();
        assert_eq!(through, 6);
    }

    #[test]
    fn the_schedule_honours_max_age_within_bounds() {
        let s = settings();
        assert_eq!(s.after_success(None), Duration::from_secs(300));
        assert_eq!(
            s.after_success(Some(Duration::from_secs(600))),
            Duration::from_secs(600)
        );
        assert_eq!(
            s.after_success(Some(Duration::ZERO)),
            Duration::from_secs(10),
            "max-age=0 is not a fetch per request"
        );
        assert_eq!(
            s.after_success(Some(Duration::from_secs(86_400 * 365))),
            Duration::from_secs(3600),
            "a removed key stops verifying within the ceiling"
        );
    }

    #[test]
    fn failures_back_off_up_to_the_refresh_period() {
        let s = settings();
        let delays: Vec<u64> = (1..=8).map(|n| s.after_failure(n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(s.after_failure(u32::MAX), Duration::from_secs(300));
    }
}
