//! `islet config show`: the effective config, every layer applied, as the
//! TOML a config file would hold, with secret values redacted (secret
//! *files* are shown by path; their contents never are).

use super::{
    AuthFile, CacheFile, ClockFile, ConfigFile, GuestLogFile, LimitsFile, MetricsFile,
    NotificationFile, PaymentFile, RuntimeFile, ServerConfig, StoreFile,
};
use crate::limits::{LimitOverrides, Limits};

/// What a redacted secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// `config` as TOML, secrets redacted.
pub fn effective_toml(config: &ServerConfig) -> anyhow::Result<String> {
    Ok(toml::to_string(&effective(config))?)
}

/// `config` as a config file would hold it, secrets redacted.
pub fn effective(c: &ServerConfig) -> ConfigFile {
    let n = &c.notification;
    let p = &c.payment;
    ConfigFile {
        listen: Some(c.listen),
        data_dir: Some(c.data_dir.clone()),
        cache_dir: Some(c.cache_dir.clone()),
        secrets_dir: Some(c.secrets_dir.clone()),
        dev: Some(c.dev),
        max_component_mib: Some((c.max_component_bytes >> 20) as u64),
        shutdown_grace_s: Some(c.shutdown_grace.as_secs()),
        server: crate::conn::ServerFile::of(&c.connections, &c.citizen_limits),
        guest_headers: c.guest_headers,
        clock: ClockFile {
            time_zone: Some(c.business_zone.name().to_string()),
        },
        store: StoreFile {
            url: c.store_url.as_deref().map(redact_url),
            pool_size: Some(c.store_pool_size),
            min_free_mib: Some(c.store_min_free_bytes >> 20),
        },
        auth: AuthFile {
            issuer: Some(c.issuer.clone()),
            audience: Some(c.audience.clone()),
            hs256_secret_file: c.hs256_secret_file.clone(),
            rs256_public_key_files: c.rs256_public_key_files.clone(),
            es256_public_key_files: c.es256_public_key_files.clone(),
            jwks_url: c.idp.jwks_url.clone(),
            discovery: Some(c.idp.discovery_url.is_some()),
            oidc_discovery_url: c.idp.discovery_url.clone(),
            algorithms: Some(
                c.idp
                    .algorithms
                    .iter()
                    .map(|alg| format!("{alg:?}"))
                    .collect(),
            ),
            jwks_refresh_s: Some(c.idp.refresh.as_secs()),
            jwks_min_refresh_s: Some(c.idp.min_refresh.as_secs()),
            jwks_max_refresh_s: Some(c.idp.max_refresh.as_secs()),
            jwks_timeout_ms: Some(c.idp.timeout.as_millis() as u64),
            jwks_max_kib: Some((c.idp.max_bytes >> 10) as u64),
            idp_allow_http: Some(c.idp.allow_http),
            idp_ca_file: c.idp.ca_file.clone(),
            token_cache_entries: Some(c.token_cache_entries),
            pairwise_cache_entries: Some(c.pairwise_cache_entries),
            claims: c.claims.clone(),
        },
        runtime: RuntimeFile {
            max_instances: Some(c.max_instances),
            epoch_tick_ms: Some(c.epoch_tick.as_millis() as u64),
            memory_budget_mib: Some(c.pool.memory_budget_mib),
            plugin_share_percent: Some(c.pool.plugin_share_percent),
            reserve_percent: Some(c.pool.reserve_percent),
            long_call_share_percent: Some(c.long_call_share_percent),
        },
        limits: LimitsFile {
            default: all_of(&c.limits.default),
            max: all_of(&c.limits.max),
        },
        payment: PaymentFile {
            min_expiry_s: Some(p.min_expiry_s),
            retry_base_ms: Some(p.retry_base.as_millis() as u64),
            max_attempts: Some(p.max_attempts),
            orders_per_plugin_per_day: Some(p.orders_per_plugin_per_day),
            lease_ms: Some(p.lease.as_millis() as u64),
            query_after_ms: Some(p.query_after.as_millis() as u64),
            events_per_plugin: Some(p.events_per_plugin),
            event_workers: Some(p.event_workers),
            event_timeout_ms: Some(p.event_timeout.as_millis() as u64),
        },
        notification: NotificationFile {
            plugin_daily_quota: Some(n.plugin_daily_quota),
            citizen_daily_cap: Some(n.citizen_daily_cap),
            webhook_url: n.webhook_url.clone(),
            webhook_secret_file: n.webhook_secret_file.clone(),
            webhook_retry_base_ms: Some(n.webhook_retry_base.as_millis() as u64),
            max_attempts: Some(n.max_attempts),
            retention_days: Some(n.retention.as_secs() / 86_400),
            lease_ms: Some(n.lease.as_millis() as u64),
            webhook_previous_secret_file: n.webhook_previous_secret_file.clone(),
            webhook_previous_secret_until: n.webhook_previous_secret_until_s.and_then(|s| {
                time::OffsetDateTime::from_unix_timestamp(s)
                    .ok()?
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
            webhook_concurrency: Some(n.webhook_concurrency),
            deliveries_per_plugin: Some(n.deliveries_per_plugin),
            delivery_timeout_ms: Some(n.delivery_timeout.as_millis() as u64),
        },
        trusted_proxies: Some(c.trusted_proxies.clone()),
        metrics: MetricsFile {
            listen: c.metrics.listen,
            token: c.metrics.token.as_ref().map(|_| REDACTED.to_string()),
            token_file: c.metrics.token_file.clone(),
        },
        cache: CacheFile {
            max_mib: Some(c.cache.max_bytes >> 20),
            unused_hours: Some(c.cache.unused.as_secs() / 3600),
        },
        guest_log: GuestLogFile {
            max_line_bytes: Some(c.guest_log.max_line_bytes),
            max_lines_per_request: Some(c.guest_log.max_lines_per_request),
            lines_per_second: Some(c.guest_log.lines_per_second),
            burst: Some(c.guest_log.burst),
        },
    }
}

fn all_of(limits: &Limits) -> LimitOverrides {
    // Every limit, as an override naming it.
    let value = serde_json::to_value(limits).unwrap_or_default();
    serde_json::from_value(value).unwrap_or_default()
}

/// `url` without its password (in the authority or a `password=` query
/// parameter); an unparsable URL is redacted whole.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return REDACTED.to_string();
    };
    if parsed.password().is_some() && parsed.set_password(Some(REDACTED)).is_err() {
        return REDACTED.to_string();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = k.eq_ignore_ascii_case("password");
                (
                    k.into_owned(),
                    if secret {
                        REDACTED.into()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn secrets_are_redacted_and_the_output_reads_back_as_the_same_config() {
        let mut c = ServerConfig::new(PathBuf::from("/var/lib/islet"));
        c.store_url = Some("postgres://islet:hunter2-secret@db.city/islet?password=again".into());
        c.metrics.token = Some("metrics-token-very-secret".into());
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        c.payment.lease = std::time::Duration::from_millis(4321);
        c.issuer = "https://id.city.example".into();
        c.idp.discovery_url = Some(crate::auth::discovery_url(&c.issuer));
        c.idp.min_refresh = std::time::Duration::from_secs(20);
        c.claims.roles = vec!["realm_access.roles".into()];
        let text = effective_toml(&c).unwrap();
        assert!(text.contains("[auth.claims]"), "{text}");
        assert!(text.contains("jwks-min-refresh-s = 20"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("again"), "{text}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("lease-ms = 4321"), "{text}");
        assert!(text.contains("[limits.default]"), "{text}");
        assert!(text.contains("cpu-ms = 100"), "{text}");

        // Without the redacted values, it is a valid config file giving
        // the same settings.
        let mut file: ConfigFile = toml::from_str(&text).unwrap();
        file.store.url = None;
        file.metrics.token = None;
        let back = ServerConfig::from_file(&file, None).unwrap();
        assert_eq!(back.payment.lease, c.payment.lease);
        assert_eq!(back.limits.default, c.limits.default);
        assert_eq!(back.limits.max, c.limits.max);
        assert_eq!(back.trusted_proxies, c.trusted_proxies);
        assert_eq!(back.data_dir, c.data_dir);
        assert_eq!(back.cache, c.cache);
        assert_eq!(back.guest_log, c.guest_log);
        assert_eq!(back.idp, c.idp);
        assert_eq!(back.claims, c.claims);
        assert_eq!(
            back.notification.retention, c.notification.retention,
            "{text}"
        );
    }
}
