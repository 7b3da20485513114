//! Host configuration, layered (see [`layers`]): built-in defaults, a TOML
//! file, `ISLET_*` environment variables, command-line flags (see `cli`).
//! `islet config show` prints the result ([`show`]).

mod idp;
pub mod layers;
mod ops;
pub mod show;

pub use ops::{CacheFile, CachePolicy, GuestLogFile, MetricsConfig, MetricsFile};

use crate::limits::{LimitOverrides, LimitPolicy, Limits};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data folder.
pub const DEFAULT_DATA_DIR: &str = "./islet-data";
/// Issuer of development tokens.
pub const DEV_ISSUER: &str = "islet-dev";
/// Audience of tokens meant for this host, by default.
pub const DEFAULT_AUDIENCE: &str = "islet-app";
/// File in the data folder holding the development signing key.
pub const DEV_KEY_FILE: &str = "dev-signing-key";
/// File in the data folder holding the pairwise-subject secret.
pub const PAIRWISE_SECRET_FILE: &str = "pairwise-secret";

/// The config file, as written. Every field is optional.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Data folder (store, components, secrets).
    pub data_dir: Option<PathBuf>,
    /// Compiled-artifact cache folder (default: `<data-dir>/cache`).
    pub cache_dir: Option<PathBuf>,
    /// Folder of the secret files every host of a deployment shares
    /// (`pairwise-secret`, `sandbox-pay-secret`, `dev-signing-key`,
    /// `webhook-secret`; default: the data folder).
    pub secrets_dir: Option<PathBuf>,
    /// Development mode: create and trust a local HS256 signing key.
    pub dev: Option<bool>,
    /// Largest component upload, in MiB.
    pub max_component_mib: Option<u64>,
    /// Seconds a stopping host (SIGTERM) waits for in-flight requests and
    /// background work before it exits (default 30).
    pub shutdown_grace_s: Option<u64>,
    /// `[store]`: where the data lives.
    #[serde(default)]
    pub store: StoreFile,
    /// `[server]`: connection timeouts and caps, per-citizen caps.
    #[serde(default)]
    pub server: crate::conn::ServerFile,
    /// Token verification.
    #[serde(default)]
    pub auth: AuthFile,
    /// Engine sizing.
    #[serde(default)]
    pub runtime: RuntimeFile,
    /// Plugin limits.
    #[serde(default)]
    pub limits: LimitsFile,
    /// `[payment]`: the money path's tunables.
    #[serde(default)]
    pub payment: PaymentFile,
    /// `[notification]`: quotas and the outbound webhook.
    #[serde(default)]
    pub notification: NotificationFile,
    /// Proxies (CIDR ranges) whose `X-Forwarded-For` is believed when
    /// keying anonymous callers by address (default: none).
    pub trusted_proxies: Option<Vec<ipnet::IpNet>>,
    /// `[metrics]`: who may read `/metrics`.
    #[serde(default)]
    pub metrics: MetricsFile,
    /// `[cache]`: eviction of compiled artifacts.
    #[serde(default)]
    pub cache: CacheFile,
    /// `[guest-headers]`: bounds on a plugin answer's headers.
    #[serde(default)]
    pub guest_headers: crate::http::guest_headers::HeaderLimits,
    /// `[guest-log]`: caps on plugins' log lines.
    #[serde(default)]
    pub guest_log: GuestLogFile,
    /// `[clock]`: the city's business time zone.
    #[serde(default)]
    pub clock: ClockFile,
}

/// `[clock]` of the config file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClockFile {
    /// The time zone whose days count for daily quotas, usage, notification
    /// caps, order statistics, reconciliation and retention: an IANA name
    /// or a fixed offset such as `+08:00` (default `Asia/Shanghai`).
    pub time_zone: Option<String>,
}

/// `[store]` of the config file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StoreFile {
    /// `postgres://user:password@host:port/database` for a store several
    /// hosts share (default: the embedded sled store in the data folder).
    pub url: Option<String>,
    /// PostgreSQL connections each host keeps (default 16).
    pub pool_size: Option<usize>,
    /// The embedded store refuses writes while the disk holding it has
    /// less than this many MiB free (default 256), rather than hang when
    /// the disk fills.
    pub min_free_mib: Option<u64>,
}

/// `[notification]` of the config file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NotificationFile {
    /// Messages one plugin may send per day, all citizens together
    /// (default 10000).
    pub plugin_daily_quota: Option<u64>,
    /// Messages one plugin may send one citizen per day (default 20).
    pub citizen_daily_cap: Option<u64>,
    /// Where every message is also POSTed, signed (default: no webhook).
    pub webhook_url: Option<String>,
    /// File holding the webhook signing secret (default: `webhook-secret`
    /// in the data folder, generated on first start).
    pub webhook_secret_file: Option<PathBuf>,
    /// First retry delay of a webhook delivery, ms; doubles per attempt
    /// (default 1000).
    pub webhook_retry_base_ms: Option<u64>,
    /// Delivery attempts before a webhook delivery is marked failed
    /// (default 10).
    pub max_attempts: Option<u32>,
    /// Days inbox messages and finished deliveries are kept (default 180).
    pub retention_days: Option<u64>,
    /// How long a host holds a delivery it sends before another host may
    /// take it over, ms (default 30000).
    pub lease_ms: Option<u64>,
    /// The secret being rotated out: while set (and until
    /// `webhook-previous-secret-until`), deliveries carry a signature with
    /// it too, so receivers can switch at their pace.
    pub webhook_previous_secret_file: Option<PathBuf>,
    /// End of the rotation overlap, RFC 3339 (default: while the file is
    /// configured).
    pub webhook_previous_secret_until: Option<String>,
    /// Webhook deliveries sent at once by one host (default 8).
    pub webhook_concurrency: Option<usize>,
    /// Deliveries of one plugin's messages sent at once (default 2).
    pub deliveries_per_plugin: Option<usize>,
    /// Longest one outbound delivery attempt may take, ms (default 10000).
    pub delivery_timeout_ms: Option<u64>,
}

/// `[payment]` of the config file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PaymentFile {
    /// Shortest order expiry a plugin may ask for, seconds (default 60).
    pub min_expiry_s: Option<u32>,
    /// First retry delay of a payment event delivery, ms (default 1000).
    pub retry_base_ms: Option<u64>,
    /// Delivery attempts before an event is marked failed (default 15).
    pub max_attempts: Option<u32>,
    /// Orders one plugin may create per day (default 100000).
    pub orders_per_plugin_per_day: Option<u64>,
    /// How long a host holds an event it delivers before another host may
    /// take it over, ms (default 30000).
    pub lease_ms: Option<u64>,
    /// How long after creation (and after a Pay in the cashier) an unpaid
    /// order is first queried at the provider, ms (default 30000).
    pub query_after_ms: Option<u64>,
    /// Event deliveries to one plugin running at once (default 2).
    pub events_per_plugin: Option<usize>,
    /// Event deliveries running at once, all plugins (default 16).
    pub event_workers: Option<usize>,
    /// Longest one event delivery attempt may take, ms (default 10000).
    pub event_timeout_ms: Option<u64>,
}

/// `[auth]`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AuthFile {
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Expected `aud`.
    pub audience: Option<String>,
    /// File holding an HS256 shared secret (at least 32 characters).
    pub hs256_secret_file: Option<PathBuf>,
    /// PEM files of RS256 public keys.
    #[serde(default)]
    pub rs256_public_key_files: Vec<PathBuf>,
    /// PEM files of ES256 public keys.
    #[serde(default)]
    pub es256_public_key_files: Vec<PathBuf>,
    /// The identity provider's JSON Web Key Set URL.
    pub jwks_url: Option<String>,
    /// Find the key set by OIDC discovery at
    /// `{issuer}/.well-known/openid-configuration` (default false).
    pub discovery: Option<bool>,
    /// The discovery document's address, when not the issuer's well-known
    /// one (implies discovery).
    pub oidc_discovery_url: Option<String>,
    /// Algorithms keys from the key set may verify (default: RS256, RS384,
    /// RS512, PS256, PS384, PS512, ES256, ES384, EdDSA).
    pub algorithms: Option<Vec<String>>,
    /// Key set refresh period when the provider sends no
    /// `Cache-Control: max-age`, seconds (default 300).
    pub jwks_refresh_s: Option<u64>,
    /// Shortest time between two key set fetches, whatever asks for them
    /// (a token with an unknown `kid`, max-age, a retry), seconds (default 10).
    pub jwks_min_refresh_s: Option<u64>,
    /// Longest `max-age` honoured, seconds (default 3600).
    pub jwks_max_refresh_s: Option<u64>,
    /// Deadline of one fetch from the provider, ms (default 5000).
    pub jwks_timeout_ms: Option<u64>,
    /// Largest key set or discovery document, KiB (default 256).
    pub jwks_max_kib: Option<u64>,
    /// Fetch from a provider over plain http outside loopback (default
    /// false: keys fetched without TLS can be replaced on the way).
    pub idp_allow_http: Option<bool>,
    /// PEM CA certificates trusted for the provider's TLS besides the
    /// built-in roots (a city's private CA).
    pub idp_ca_file: Option<PathBuf>,
    /// Verified tokens remembered (by hash, until their `exp` or the next
    /// change of the provider's keys) so a token is not verified again on
    /// every request; 0 turns the cache off (default 10000).
    pub token_cache_entries: Option<usize>,
    /// Pairwise subjects (one per plugin and citizen) kept once derived; 0
    /// derives every time (default 65536).
    pub pairwise_cache_entries: Option<usize>,
    /// `[auth.claims]`: the claims (names or dotted paths) the caller's
    /// attributes are read from.
    #[serde(default)]
    pub claims: crate::auth::ClaimNames,
}

/// `[runtime]`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RuntimeFile {
    /// Instances that may run at once.
    pub max_instances: Option<u32>,
    /// Epoch tick in milliseconds.
    pub epoch_tick_ms: Option<u64>,
    /// Sum of the memory limits of the calls running at once, in MiB.
    pub memory_budget_mib: Option<u64>,
    /// Largest share (percent) of slots and memory budget one plugin holds.
    pub plugin_share_percent: Option<u8>,
    /// Share (percent) a plugin already running calls leaves to others.
    pub reserve_percent: Option<u8>,
    /// Share (percent) of the workers' CPU long calls together may use
    /// while short calls are in flight.
    pub long_call_share_percent: Option<u8>,
}

/// `[limits.default]` and `[limits.max]`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LimitsFile {
    /// Platform defaults.
    #[serde(default)]
    pub default: LimitOverrides,
    /// Platform maxima.
    #[serde(default)]
    pub max: LimitOverrides,
}

impl ConfigFile {
    /// Read and parse `path` alone.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
    }

    /// The config file (if any) with the `ISLET_*` environment over it.
    pub fn layered(path: Option<&Path>) -> anyhow::Result<Self> {
        layers::load(path)
    }
}

impl ServerConfig {
    /// Where this host's store is.
    pub fn store_location(&self) -> anyhow::Result<crate::store::StoreLocation> {
        crate::store::StoreLocation::from_url(
            self.store_url.as_deref(),
            &self.data_dir,
            self.store_pool_size,
        )
        .map(|mut location| {
            if let crate::store::StoreLocation::Sled { min_free_bytes, .. } = &mut location {
                *min_free_bytes = self.store_min_free_bytes;
            }
            location
        })
        .map_err(|e| anyhow::anyhow!("store: {}", e.0))
    }
}

/// Most entries `[auth] token-cache-entries` and `pairwise-cache-entries`
/// may ask for.
const MAX_CACHE_ENTRIES: usize = 10_000_000;

/// Everything a server needs, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks one).
    pub listen: SocketAddr,
    /// Data folder.
    pub data_dir: PathBuf,
    /// The store URL (`postgres://...`); `None` is sled in the data folder.
    pub store_url: Option<String>,
    /// PostgreSQL connections to keep.
    pub store_pool_size: usize,
    /// The embedded store's floor of free disk space.
    pub store_min_free_bytes: u64,
    /// Compiled-artifact cache folder.
    pub cache_dir: PathBuf,
    /// Folder of the shared secret files.
    pub secrets_dir: PathBuf,
    /// Development mode.
    pub dev: bool,
    /// Expected token issuer.
    pub issuer: String,
    /// Expected token audience.
    pub audience: String,
    /// HS256 secret file, if any (dev mode adds the data folder's dev key).
    pub hs256_secret_file: Option<PathBuf>,
    /// RS256 public key files.
    pub rs256_public_key_files: Vec<PathBuf>,
    /// ES256 public key files.
    pub es256_public_key_files: Vec<PathBuf>,
    /// The identity provider's key set and its refreshing.
    pub idp: crate::auth::IdpSettings,
    /// Where the caller's attributes are in a token.
    pub claims: crate::auth::ClaimNames,
    /// Verified tokens remembered (0: none).
    pub token_cache_entries: usize,
    /// Pairwise subjects kept once derived (0: none).
    pub pairwise_cache_entries: usize,
    /// Plugin limit defaults and maxima.
    pub limits: LimitPolicy,
    /// Largest component upload, bytes.
    pub max_component_bytes: usize,
    /// How long a stopping host waits for in-flight work.
    pub shutdown_grace: Duration,
    /// Instances that may run at once.
    pub max_instances: u32,
    /// Epoch tick.
    pub epoch_tick: Duration,
    /// How instance slots and the memory budget are shared.
    pub pool: crate::pool::PoolSettings,
    /// Share (percent, 1-100) of the workers' CPU that long calls (past a
    /// few ms of CPU) together may use while short calls are in flight.
    pub long_call_share_percent: u8,
    /// How runaway guests are stopped.
    pub interruption: crate::runtime::Interruption,
    /// The money path's tunables.
    pub payment: crate::payment::PaymentConfig,
    /// Notification quotas and the outbound webhook.
    pub notification: crate::notify::NotificationConfig,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// Eviction of compiled artifacts.
    pub cache: CachePolicy,
    /// Connection timeouts and caps.
    pub connections: crate::conn::ConnectionLimits,
    /// Caps on each citizen's service sessions and inbox streams.
    pub citizen_limits: crate::conn::CitizenLimits,
    /// Bounds on a plugin answer's headers.
    pub guest_headers: crate::http::guest_headers::HeaderLimits,
    /// Caps on plugins' log lines.
    pub guest_log: crate::capabilities::log::LogLimits,
    /// The business time zone (the city's day).
    pub business_zone: crate::clock::BusinessZone,
}

impl ServerConfig {
    /// A config with every default, data in `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            cache_dir: data_dir.join("cache"),
            secrets_dir: data_dir.clone(),
            data_dir,
            store_url: None,
            store_pool_size: crate::store::DEFAULT_POOL_SIZE,
            store_min_free_bytes: crate::store::DEFAULT_MIN_FREE_BYTES,
            dev: false,
            issuer: DEV_ISSUER.to_string(),
            audience: DEFAULT_AUDIENCE.to_string(),
            hs256_secret_file: None,
            rs256_public_key_files: Vec::new(),
            es256_public_key_files: Vec::new(),
            idp: crate::auth::IdpSettings::default(),
            claims: crate::auth::ClaimNames::default(),
            token_cache_entries: crate::auth::DEFAULT_TOKEN_CACHE_ENTRIES,
            pairwise_cache_entries: crate::auth::DEFAULT_PAIRWISE_CACHE_ENTRIES,
            limits: LimitPolicy::default(),
            // A JavaScript component (SpiderMonkey inside) is about 12 MiB.
            max_component_bytes: 32 << 20,
            shutdown_grace: Duration::from_secs(30),
            max_instances: 256,
            epoch_tick: Duration::from_millis(2),
            pool: crate::pool::PoolSettings::default(),
            long_call_share_percent: crate::runtime::DEFAULT_LONG_CALL_SHARE_PERCENT,
            interruption: crate::runtime::Interruption::Epoch,
            payment: crate::payment::PaymentConfig::default(),
            notification: crate::notify::NotificationConfig::default(),
            trusted_proxies: Vec::new(),
            metrics: MetricsConfig::default(),
            cache: CachePolicy::default(),
            connections: crate::conn::ConnectionLimits::default(),
            citizen_limits: crate::conn::CitizenLimits::default(),
            guest_headers: Default::default(),
            guest_log: crate::capabilities::log::LogLimits::default(),
            business_zone: crate::clock::BusinessZone::default(),
        }
    }

    /// Apply a config file; `data_dir` from flags/env, when given, wins.
    pub fn from_file(file: &ConfigFile, data_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let data_dir = data_dir
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut c = ServerConfig::new(data_dir);
        if let Some(listen) = file.listen {
            c.listen = listen;
        }
        if let Some(dir) = &file.cache_dir {
            c.cache_dir = dir.clone();
        }
        if let Some(dir) = &file.secrets_dir {
            c.secrets_dir = dir.clone();
        }
        c.dev = file.dev.unwrap_or(false);
        c.store_url = file.store.url.clone();
        if let Some(n) = file.store.pool_size {
            c.store_pool_size = n.clamp(1, 1000);
        }
        if let Some(mib) = file.store.min_free_mib {
            c.store_min_free_bytes = mib.saturating_mul(1 << 20);
        }
        if let Some(s) = file.shutdown_grace_s {
            c.shutdown_grace = Duration::from_secs(s.clamp(1, 3600));
        }
        if let Some(mib) = file.max_component_mib {
            c.max_component_bytes = usize::try_from(mib.saturating_mul(1 << 20))?;
        }
        if let Some(issuer) = &file.auth.issuer {
            c.issuer = issuer.clone();
        }
        if let Some(audience) = &file.auth.audience {
            c.audience = audience.clone();
        }
        c.hs256_secret_file = file.auth.hs256_secret_file.clone();
        c.rs256_public_key_files = file.auth.rs256_public_key_files.clone();
        c.es256_public_key_files = file.auth.es256_public_key_files.clone();
        c.idp = idp::settings(&file.auth, &c.issuer)?;
        file.auth
            .claims
            .check()
            .map_err(|e| anyhow::anyhow!("config {e}"))?;
        c.claims = file.auth.claims.clone();
        if let Some(n) = file.auth.token_cache_entries {
            c.token_cache_entries = n.min(MAX_CACHE_ENTRIES);
        }
        if let Some(n) = file.auth.pairwise_cache_entries {
            c.pairwise_cache_entries = n.min(MAX_CACHE_ENTRIES);
        }
        if let Some(n) = file.runtime.max_instances {
            c.max_instances = n;
        }
        if let Some(ms) = file.runtime.epoch_tick_ms {
            c.epoch_tick = Duration::from_millis(ms);
        }
        if let Some(mib) = file.runtime.memory_budget_mib {
            c.pool.memory_budget_mib = mib.max(1);
        }
        if let Some(p) = file.runtime.plugin_share_percent {
            c.pool.plugin_share_percent = p.clamp(1, 100);
        }
        if let Some(p) = file.runtime.reserve_percent {
            c.pool.reserve_percent = p.min(50);
        }
        if let Some(p) = file.runtime.long_call_share_percent {
            c.long_call_share_percent = p.clamp(1, 100);
        }
        let p = &file.payment;
        if let Some(s) = p.min_expiry_s {
            c.payment.min_expiry_s = s.max(1);
        }
        if let Some(ms) = p.retry_base_ms {
            c.payment.retry_base = Duration::from_millis(ms.max(10));
        }
        if let Some(n) = p.max_attempts {
            c.payment.max_attempts = n.max(1);
        }
        if let Some(n) = p.orders_per_plugin_per_day {
            c.payment.orders_per_plugin_per_day = n;
        }
        if let Some(ms) = p.lease_ms {
            c.payment.lease = Duration::from_millis(ms.max(100));
        }
        if let Some(ms) = p.query_after_ms {
            c.payment.query_after = Duration::from_millis(ms.max(100));
        }
        if let Some(n) = p.events_per_plugin {
            c.payment.events_per_plugin = n.clamp(1, 64);
        }
        if let Some(n) = p.event_workers {
            c.payment.event_workers = n.clamp(1, 256);
        }
        if let Some(ms) = p.event_timeout_ms {
            c.payment.event_timeout = Duration::from_millis(ms.max(10));
        }
        apply_notification(&mut c.notification, &file.notification)?;
        c.trusted_proxies = file.trusted_proxies.clone().unwrap_or_default();
        c.metrics = MetricsConfig {
            listen: file.metrics.listen,
            token: file.metrics.token.clone(),
            token_file: file.metrics.token_file.clone(),
        };
        c.metrics.resolved_token()?;
        c.cache = CachePolicy::default().with(&file.cache);
        c.guest_log = file.guest_log.apply(c.guest_log);
        if let Some(zone) = &file.clock.time_zone {
            c.business_zone = crate::clock::BusinessZone::parse(zone)
                .map_err(|e| anyhow::anyhow!("config [clock] time-zone: {e}"))?;
        }
        (c.connections, c.citizen_limits) = file.server.resolve()?;
        c.guest_headers = file
            .guest_headers
            .checked()
            .map_err(|e| anyhow::anyhow!("config [guest-headers]: {e}"))?;
        let max = Limits::MAX.with(&file.limits.max);
        let default = Limits::DEFAULT.with(&file.limits.default);
        default
            .check_within(&max)
            .map_err(|e| anyhow::anyhow!("config [limits.default]: {e}"))?;
        c.limits = LimitPolicy { default, max };
        Ok(c)
    }
}

fn apply_notification(
    c: &mut crate::notify::NotificationConfig,
    file: &NotificationFile,
) -> anyhow::Result<()> {
    if let Some(n) = file.plugin_daily_quota {
        c.plugin_daily_quota = n;
    }
    if let Some(n) = file.citizen_daily_cap {
        c.citizen_daily_cap = n;
    }
    if let Some(url) = &file.webhook_url {
        crate::notify::check_webhook_url(url)
            .map_err(|e| anyhow::anyhow!("config [notification] webhook-url: {e}"))?;
        c.webhook_url = Some(url.clone());
    }
    c.webhook_secret_file = file.webhook_secret_file.clone();
    if let Some(ms) = file.webhook_retry_base_ms {
        c.webhook_retry_base = Duration::from_millis(ms.max(10));
    }
    if let Some(n) = file.max_attempts {
        c.max_attempts = n.max(1);
    }
    if let Some(ms) = file.lease_ms {
        c.lease = Duration::from_millis(ms.max(100));
    }
    if let Some(days) = file.retention_days {
        c.retention = Duration::from_secs(days.clamp(1, 36_500) * 24 * 3600);
    }
    c.webhook_previous_secret_file = file.webhook_previous_secret_file.clone();
    if let Some(until) = &file.webhook_previous_secret_until {
        let at = time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                anyhow::anyhow!(
                    "config [notification] webhook-previous-secret-until: {until:?} is not an RFC 3339 time: {e}"
                )
            })?;
        c.webhook_previous_secret_until_s = Some(at.unix_timestamp());
    }
    if let Some(n) = file.deliveries_per_plugin {
        c.deliveries_per_plugin = n.clamp(1, 64);
    }
    if let Some(ms) = file.delivery_timeout_ms {
        c.delivery_timeout = Duration::from_millis(ms.max(10));
    }
    if let Some(n) = file.webhook_concurrency {
        c.webhook_concurrency = n.clamp(1, 256);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_settings_are_read_and_bounded() {
        let file: ConfigFile = toml::from_str(
            "[runtime]\nmemory-budget-mib = 2048\nplugin-share-percent = 250\nreserve-percent = 20\nlong-call-share-percent = 0\n",
        )
        .unwrap();
        let c = ServerConfig::from_file(&file, None).unwrap();
        assert_eq!(c.pool.memory_budget_mib, 2048);
        assert_eq!(c.pool.plugin_share_percent, 100, "a share is at most 100 %");
        assert_eq!(c.pool.reserve_percent, 20);
        assert_eq!(
            c.long_call_share_percent, 1,
            "long calls always get some CPU"
        );
        let defaults = ServerConfig::from_file(&ConfigFile::default(), None).unwrap();
        assert_eq!(defaults.pool, crate::pool::PoolSettings::default());
        assert_eq!(defaults.long_call_share_percent, 25);
    }

    #[test]
    fn the_cache_sizes_are_read_and_bounded() {
        let defaults = ServerConfig::from_file(&ConfigFile::default(), None).unwrap();
        assert_eq!(
            defaults.token_cache_entries,
            crate::auth::DEFAULT_TOKEN_CACHE_ENTRIES
        );
        assert_eq!(
            defaults.pairwise_cache_entries,
            crate::auth::DEFAULT_PAIRWISE_CACHE_ENTRIES
        );
        let file: ConfigFile = toml::from_str(
            "[auth]\ntoken-cache-entries = 99999999999\npairwise-cache-entries = 0\n",
        )
        .unwrap();
        let c = ServerConfig::from_file(&file, None).unwrap();
        assert_eq!(c.token_cache_entries, MAX_CACHE_ENTRIES, "bounded");
        assert_eq!(c.pairwise_cache_entries, 0, "off");
    }

    #[test]
    fn the_notification_section_is_read_and_checked() {
        let file: ConfigFile = toml::from_str(
            r#"
[notification]
plugin-daily-quota = 5
citizen-daily-cap = 2
webhook-url = "https://push.example/islet"
webhook-retry-base-ms = 50
"#,
        )
        .unwrap();
        let c = ServerConfig::from_file(&file, Some(PathBuf::from("/tmp/x"))).unwrap();
        let n = &c.notification;
        assert_eq!((n.plugin_daily_quota, n.citizen_daily_cap), (5, 2));
        assert_eq!(n.webhook_url.as_deref(), Some("https://push.example/islet"));
        assert_eq!(n.webhook_retry_base, Duration::from_millis(50));
        assert_eq!(
            ServerConfig::new(PathBuf::from("x"))
                .notification
                .citizen_daily_cap,
            20
        );

        let bad: ConfigFile = toml::from_str("[notification]\nwebhook-url = \"ftp://x\"").unwrap();
        let err = ServerConfig::from_file(&bad, None).unwrap_err().to_string();
        assert!(err.contains("webhook-url"), "{err}");
        assert!(toml::from_str::<ConfigFile>("[notification]\nquota = 1").is_err());
    }

    #[test]
    fn delivery_lanes_are_configurable_and_kept_in_range() {
        let defaults = ServerConfig::new(PathBuf::from("x"));
        assert_eq!(
            (
                defaults.payment.events_per_plugin,
                defaults.payment.event_workers,
                defaults.notification.deliveries_per_plugin,
            ),
            (2, 16, 2)
        );
        let file: ConfigFile = toml::from_str(
            r#"
[payment]
events-per-plugin = 3
event-workers = 0
event-timeout-ms = 1500
[notification]
deliveries-per-plugin = 1000
delivery-timeout-ms = 2500
"#,
        )
        .unwrap();
        let c = ServerConfig::from_file(&file, None).unwrap();
        assert_eq!(
            (c.payment.events_per_plugin, c.payment.event_workers),
            (3, 1)
        );
        assert_eq!(c.payment.event_timeout, Duration::from_millis(1500));
        assert_eq!(c.notification.deliveries_per_plugin, 64);
        assert_eq!(c.notification.delivery_timeout, Duration::from_millis(2500));
    }
}
