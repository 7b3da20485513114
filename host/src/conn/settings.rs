//! `[server]` of the config file: the connection edge's limits and the
//! per-citizen caps on service sessions and live inbox streams. Every key
//! can also come from the environment as `ISLET_SERVER_<KEY>` (upper case,
//! `-` as `_`), which wins over the file.

use super::ConnectionLimits;
use serde::Deserialize;
use std::time::Duration;

/// The environment prefix of `[server]` keys.
const ENV_PREFIX: &str = "ISLET_SERVER_";

/// `[server]` as written; every key optional.
#[derive(Debug, Default, Clone, Deserialize)]
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
    /// The `[server]` keys set in the environment (`vars`), as a table.
    pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut table = toml::Table::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase().replace('_', "-");
            let parsed: toml::Value = format!("v = {}", value.trim())
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .ok_or_else(|| anyhow::anyhow!("{name}: expected a number, got {value:?}"))?;
            table.insert(key, parsed);
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| anyhow::anyhow!("environment {ENV_PREFIX}*: {e}"))
    }

    /// `over` where it sets a key, `self` elsewhere.
    pub fn overridden_by(self, over: ServerFile) -> ServerFile {
        ServerFile {
            header_timeout_s: over.header_timeout_s.or(self.header_timeout_s),
            idle_timeout_s: over.idle_timeout_s.or(self.idle_timeout_s),
            send_timeout_s: over.send_timeout_s.or(self.send_timeout_s),
            body_grace_s: over.body_grace_s.or(self.body_grace_s),
            body_min_rate: over.body_min_rate.or(self.body_min_rate),
            max_connections: over.max_connections.or(self.max_connections),
            max_connections_per_address: over
                .max_connections_per_address
                .or(self.max_connections_per_address),
            sessions_per_citizen: over.sessions_per_citizen.or(self.sessions_per_citizen),
            sessions_per_minute: over.sessions_per_minute.or(self.sessions_per_minute),
            inbox_streams_per_citizen: over
                .inbox_streams_per_citizen
                .or(self.inbox_streams_per_citizen),
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
    fn file_then_environment_then_defaults() {
        let file: ServerFile = toml::from_str(
            "header-timeout-s = 2.5\nmax-connections-per-address = 8\nsessions-per-citizen = 4\n",
        )
        .unwrap();
        let env = ServerFile::from_env(
            [
                ("ISLET_SERVER_MAX_CONNECTIONS_PER_ADDRESS", "16"),
                ("ISLET_SERVER", "http://not-ours"),
                ("PATH", "/bin"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        let (c, p) = file.overridden_by(env).resolve().unwrap();
        assert_eq!(c.header_timeout, Duration::from_millis(2500));
        assert_eq!(c.max_connections_per_address, 16);
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(p.sessions_per_citizen, 4);
        assert_eq!(p.inbox_streams_per_citizen, 5);

        let typo = ServerFile::from_env(std::iter::once((
            "ISLET_SERVER_HEADER_TIMEOUT".to_string(),
            "3".to_string(),
        )));
        assert!(typo.is_err(), "an unknown key is refused");
        let bad = ServerFile::from_env(std::iter::once((
            "ISLET_SERVER_MAX_CONNECTIONS".to_string(),
            "lots".to_string(),
        )));
        assert!(bad.is_err());
        let zero: ServerFile = toml::from_str("idle-timeout-s = 0").unwrap();
        assert!(zero.resolve().is_err());
    }
}
