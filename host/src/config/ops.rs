//! Config sections of the host's operations: metrics, trusted proxies and
//! the compiled-artifact cache.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[metrics]`: who may read `GET /metrics`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MetricsFile {
    /// A separate address serving only `/metrics`, to anyone who reaches it
    /// (an address inside the cluster); the main address then answers 404.
    pub listen: Option<SocketAddr>,
    /// A bearer token that may read `/metrics` on the main address.
    pub token: Option<String>,
    /// A file holding that token (instead of `token`).
    pub token_file: Option<PathBuf>,
}

/// `[cache]`: the compiled-artifact cache's eviction.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CacheFile {
    /// Size budget of the cache folder, MiB (default 2048): the least
    /// recently used entries go first when it is exceeded.
    pub max_mib: Option<u64>,
    /// Entries not used for this many hours are removed (default 720, 30
    /// days).
    pub unused_hours: Option<u64>,
}

/// Metrics access, resolved.
#[derive(Debug, Default, Clone)]
pub struct MetricsConfig {
    /// The separate metrics address, if any.
    pub listen: Option<SocketAddr>,
    /// The bearer token for `/metrics` on the main address.
    pub token: Option<String>,
    /// The file the token is read from at start (instead of `token`).
    pub token_file: Option<PathBuf>,
}

impl MetricsConfig {
    /// The token, read from `token_file` when one is set. At least 16
    /// characters, so it cannot be guessed.
    pub fn resolved_token(&self) -> anyhow::Result<Option<String>> {
        let token = match &self.token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        anyhow::anyhow!("cannot read metrics token-file {}: {e}", path.display())
                    })?
                    .trim()
                    .to_string(),
            ),
            None => self.token.clone(),
        };
        if let Some(t) = &token
            && t.len() < 16
        {
            anyhow::bail!("config [metrics]: the token must be at least 16 characters");
        }
        Ok(token)
    }
}

/// Eviction of the compiled-artifact cache, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Size budget of the folder, bytes.
    pub max_bytes: u64,
    /// Entries unused this long are removed.
    pub unused: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_bytes: 2048 << 20,
            unused: Duration::from_secs(720 * 3600),
        }
    }
}

impl CachePolicy {
    /// Apply `[cache]`.
    pub fn with(mut self, file: &CacheFile) -> Self {
        if let Some(mib) = file.max_mib {
            self.max_bytes = mib.max(1).saturating_mul(1 << 20);
        }
        if let Some(hours) = file.unused_hours {
            self.unused = Duration::from_secs(hours.clamp(1, 24 * 3650) * 3600);
        }
        self
    }
}

/// `[guest-log]`: caps on plugins' log lines (see
/// [`crate::capabilities::log`]).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GuestLogFile {
    /// Longest line, bytes as logged; the rest is cut (default 2048).
    pub max_line_bytes: Option<usize>,
    /// Lines one request may write (default 100).
    pub max_lines_per_request: Option<u32>,
    /// Lines per second one plugin may write (default 20).
    pub lines_per_second: Option<u32>,
    /// Lines one plugin may write at once above its rate (default 100).
    pub burst: Option<u32>,
}

impl GuestLogFile {
    /// `limits` with this section over them.
    pub fn apply(
        &self,
        mut limits: crate::capabilities::log::LogLimits,
    ) -> crate::capabilities::log::LogLimits {
        if let Some(n) = self.max_line_bytes {
            limits.max_line_bytes = n.clamp(64, 1 << 20);
        }
        if let Some(n) = self.max_lines_per_request {
            limits.max_lines_per_request = n;
        }
        if let Some(n) = self.lines_per_second {
            limits.lines_per_second = n.max(1);
        }
        if let Some(n) = self.burst {
            limits.burst = n.max(1);
        }
        limits
    }
}
