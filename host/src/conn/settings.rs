//! `[server]` of the config file: the connection edge's limits and the
//! per-citizen caps on service sessions and live inbox streams. Like every
//! key, each can also come from the environment, which wins over the file:
//! `ISLET_SERVER__<KEY>` (upper case, `-` as `_`), e.g.
//! `ISLET_SERVER__IDLE_TIMEOUT_S`.

use super::ConnectionLimits;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[server]` as written; every key optional.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServerFile {
    /// Seconds a request head may take (default 10).
    pub header_timeout_s: Option<f64>,
    /// Seconds a kept-alive connection may wait for its next request
    /// (default 60).
    pub idle_timeout_s: Option<f64>,
    /// Seconds the client may leave the host's writes blocked before the
    /// connection is cut (default 30).
    pub send_timeout_s: Option<f64>,
    /// Seconds a request body may take before the minimum rate applies
    /// (default 10).
    pub body_grace_s: Option<f64>,
    /// Bytes per second a request body must average after the grace
    /// (default 1024; 0 turns the check off).
    pub body_min_rate: Option<u64>,
    /// Connections open at once (default 10000).
    pub max_connections: Option<usize>,
    /// Connections open at once from one address (default 256; 0: no
    /// cap, e.g. behind a reverse proxy that has its own).
    pub max_connections_per_address: Option<usize>,
    /// Live service sessions one citizen may hold; a new one ends the
    /// citizen's oldest (default 32).
    pub sessions_per_citizen: Option<usize>,
    /// Service sessions one citizen may open per minute (default 60).
    pub sessions_per_minute: Option<u64>,
    /// Live inbox streams one citizen may hold; more are refused with 429
    /// (default 5).
    pub inbox_streams_per_citizen: Option<usize>,
}

/// Caps per citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CitizenLimits {
    /// Live service sessions per citizen.
    pub sessions_per_citizen: usize,
    /// Service sessions opened per citizen per minute.
    pub sessions_per_minute: u64,
    /// Live inbox streams per citizen.
    pub inbox_streams_per_citizen: usize,
}

impl Default for CitizenLimits {
    fn default() -> Self {
        CitizenLimits {
            sessions_per_citizen: 32,
            sessions_per_minute: 60,
            inbox_streams_per_citizen: 5,
        }
    }
}

fn seconds(key: &str, value: f64) -> anyhow::Result<Duration> {
    if !(0.001..=86_400.0).contains(&value) {
        anyhow::bail!("config [server] {key} must be between 0.001 and 86400 seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

impl ServerFile {
    /// The keys that give `c` and `p` (for `islet config show`).
    pub fn of(c: &ConnectionLimits, p: &CitizenLimits) -> ServerFile {
        ServerFile {
            header_timeout_s: Some(c.header_timeout.as_secs_f64()),
            idle_timeout_s: Some(c.idle_timeout.as_secs_f64()),
            send_timeout_s: Some(c.send_timeout.as_secs_f64()),
            body_grace_s: Some(c.body_grace.as_secs_f64()),
            body_min_rate: Some(c.body_min_rate),
            max_connections: Some(c.max_connections),
            max_connections_per_address: Some(c.max_connections_per_address),
            sessions_per_citizen: Some(p.sessions_per_citizen),
            sessions_per_minute: Some(p.sessions_per_minute),
            inbox_streams_per_citizen: Some(p.inbox_streams_per_citizen),
        }
    }

    /// The limits these keys give, defaults elsewhere; out-of-range values
    /// are refused.
    pub fn resolve(&self) -> anyhow::Result<(ConnectionLimits, CitizenLimits)> {
        let mut c = ConnectionLimits::default();
        if let Some(s) = self.header_timeout_s {
            c.header_timeout = seconds("header-timeout-s", s)?;
        }
        if let Some(s) = self.idle_timeout_s {
            c.idle_timeout = seconds("idle-timeout-s", s)?;
        }
        if let Some(s) = self.send_timeout_s {
            c.send_timeout = seconds("send-timeout-s", s)?;
        }
        if let Some(s) = self.body_grace_s {
            c.body_grace = seconds("body-grace-s", s)?;
        }
        if let Some(rate) = self.body_min_rate {
            c.body_min_rate = rate;
        }
        if let Some(n) = self.max_connections {
            c.max_connections = n.max(1);
        }
        if let Some(n) = self.max_connections_per_address {
            c.max_connections_per_address = n;
        }
        let mut p = CitizenLimits::default();
        if let Some(n) = self.sessions_per_citizen {
            p.sessions_per_citizen = n.max(1);
        }
        if let Some(n) = self.sessions_per_minute {
            p.sessions_per_minute = n.max(1);
        }
        if let Some(n) = self.inbox_streams_per_citizen {
            p.inbox_streams_per_citizen = n.max(1);
        }
        Ok((c, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_defaults_and_out_of_range_refused() {
        let file: ServerFile = toml::from_str(
            "header-timeout-s = 2.5\nmax-connections-per-address = 8\nsessions-per-citizen = 4\n",
        )
        .unwrap();
        let (c, p) = file.resolve().unwrap();
        assert_eq!(c.header_timeout, Duration::from_millis(2500));
        assert_eq!(c.max_connections_per_address, 8);
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(p.sessions_per_citizen, 4);
        assert_eq!(p.inbox_streams_per_citizen, 5);
        let typo: Result<ServerFile, _> = toml::from_str("header-timeout = 3");
        assert!(typo.is_err(), "an unknown key is refused");
        let zero: ServerFile = toml::from_str("idle-timeout-s = 0").unwrap();
        assert!(zero.resolve().is_err());
    }
}
