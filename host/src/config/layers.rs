//! The layers a host's settings come from, lowest first: the built-in
//! defaults, the TOML config file, `ISLET_*` environment variables, then
//! command-line flags (applied by `cli`). Every key of the config file is
//! reachable from the environment: `ISLET_` + the key in upper case, `-`
//! written `_` and tables separated by `__`
//! (`[payment] lease-ms` is `ISLET_PAYMENT__LEASE_MS`).

use super::ConfigFile;
use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use std::path::Path;

/// Prefix of the environment variables read as settings.
pub const ENV_PREFIX: &str = "ISLET_";

/// `ISLET_*` variables that are not config-file keys: command-line flags
/// read by `clap` (which then win like flags), the admin client's, the
/// plugin tools' (`ISLET_BUILD_DIR`) and the test harness's own variables.
const NOT_SETTINGS: &[&str] = &[
    "build_dir",
    "config",
    "log_json",
    "log_file",
    "log_file_mib",
    "log_files",
    "server",
    "token",
    "listen",
    "data_dir",
    "dev",
    "store_url",
    "secrets_dir",
];

/// The environment layer: `ISLET_A_B__C_D` is the key `a-b.c-d`.
pub fn environment() -> Env {
    Env::prefixed(ENV_PREFIX)
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            !NOT_SETTINGS.contains(&key.as_str()) && !key.starts_with("test_")
        })
        .map(|key| {
            key.as_str()
                .to_ascii_lowercase()
                .replace("__", ".")
                .replace('_', "-")
                .into()
        })
}

/// The config file (when given) with the environment over it, checked:
/// an unknown key or a value of the wrong type in either is an error
/// naming the key and where it came from.
pub fn load(path: Option<&Path>) -> anyhow::Result<ConfigFile> {
    let mut figment = Figment::new();
    if let Some(path) = path {
        // A config file that was asked for must exist (figment would
        // silently skip it).
        std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(environment())
        .extract::<ConfigFile>()
        .map_err(|e| anyhow::anyhow!("config: {}", describe(e)))
}

/// figment's message, every error of it; one from the environment names
/// the variable (`ISLET_PAYMENT__LEASE_MS`), as the operator wrote it.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let from_env = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains(ENV_PREFIX));
            if !from_env {
                return e.to_string();
            }
            let mut path = e.path.clone();
            if let figment::error::Kind::UnknownField(field, _) = &e.kind {
                path.push(field.clone());
            }
            let var = format!(
                "{ENV_PREFIX}{}",
                path.join("__").to_ascii_uppercase().replace('-', "_")
            );
            format!("{} (environment variable {var})", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error, its size is not ours"
)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use figment::Jail;
    use std::time::Duration;

    #[test]
    fn the_environment_reaches_nested_settings_and_wins_over_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "islet.toml",
                "[payment]\nlease-ms = 1000\nmax-attempts = 4\n[notification]\ncitizen-daily-cap = 3\n",
            )?;
            jail.set_env("ISLET_PAYMENT__LEASE_MS", "5000");
            jail.set_env("ISLET_LIMITS__DEFAULT__CPU_MS", "50");
            jail.set_env("ISLET_SHUTDOWN_GRACE_S", "7");
            jail.set_env("ISLET_TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"::1/128\"]");
            jail.set_env("ISLET_METRICS__TOKEN", "a-metrics-token-of-32-characters!");
            jail.set_env("ISLET_METRICS__LISTEN", "127.0.0.1:9100");
            jail.set_env(
                "ISLET_NOTIFICATION__WEBHOOK_URL",
                "https://push.example:8443/islet?x=1",
            );
            jail.set_env("ISLET_STORE__POOL_SIZE", "4");
            jail.set_env("ISLET_AUTH__JWKS_URL", "https://id.city.example/certs");
            jail.set_env("ISLET_AUTH__CLAIMS__ROLES", "realm_access.roles");
            jail.set_env("ISLET_AUTH__JWKS_MIN_REFRESH_S", "30");
            jail.set_env("ISLET_AUTH__TOKEN_CACHE_ENTRIES", "0");
            jail.set_env("ISLET_AUTH__PAIRWISE_CACHE_ENTRIES", "500");
            // Flags' variables and the harness's are not settings.
            jail.set_env("ISLET_LISTEN", "127.0.0.1:1");
            jail.set_env("ISLET_TEST_PG_URL", "postgres://x");
            let file = load(Some(Path::new("islet.toml"))).map_err(|e| e.to_string())?;
            let c = ServerConfig::from_file(&file, None).map_err(|e| e.to_string())?;
            assert_eq!(c.payment.lease, Duration::from_millis(5000), "env wins");
            assert_eq!(
                c.token_cache_entries, 0,
                "the token cache can be turned off"
            );
            assert_eq!(c.pairwise_cache_entries, 500);
            assert_eq!(c.payment.max_attempts, 4, "the file's value stays");
            assert_eq!(c.notification.citizen_daily_cap, 3);
            assert_eq!(c.limits.default.cpu_ms, 50);
            assert_eq!(c.shutdown_grace, Duration::from_secs(7));
            assert_eq!(c.trusted_proxies.len(), 2);
            assert_eq!(
                c.metrics.token.as_deref(),
                Some("a-metrics-token-of-32-characters!")
            );
            assert_eq!(c.listen.port(), 8080, "ISLET_LISTEN is clap's, a flag");
            assert_eq!(c.metrics.listen, Some("127.0.0.1:9100".parse().unwrap()));
            assert_eq!(
                c.notification.webhook_url.as_deref(),
                Some("https://push.example:8443/islet?x=1")
            );
            assert_eq!(c.store_pool_size, 4);
            assert_eq!(
                c.idp.jwks_url.as_deref(),
                Some("https://id.city.example/certs")
            );
            assert_eq!(c.claims.roles, ["realm_access.roles"]);
            assert_eq!(c.idp.min_refresh, Duration::from_secs(30));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("ISLET_PAYMENT__LEASE_MSS", "5");
            let err = load(None).unwrap_err().to_string();
            assert!(err.contains("ISLET_PAYMENT__LEASE_MSS"), "{err}");
            assert!(err.contains("unknown field"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.create_file("islet.toml", "[payment]\nleas-ms = 1\n")?;
            let err = load(Some(Path::new("islet.toml"))).unwrap_err().to_string();
            assert!(
                err.contains("leas-ms") && err.contains("islet.toml"),
                "{err}"
            );
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("ISLET_PAYMENT__LEASE_MS", "soon");
            let err = load(None).unwrap_err().to_string();
            assert!(err.contains("ISLET_PAYMENT__LEASE_MS"), "{err}");
            assert!(err.contains("expected u64"), "{err}");
            Ok(())
        });
        let err = load(Some(Path::new("/nonexistent/islet.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read config file"), "{err}");
    }
}
