//! `[auth]`'s identity provider keys: where the key set is (a JWKS URL or
//! OIDC discovery), which algorithms its keys may verify, and the bounds
//! of its refreshing, checked into [`IdpSettings`].

use super::AuthFile;
use crate::auth::IdpSettings;
use std::time::Duration;

/// The identity provider settings of `[auth]`, checked.
pub(super) fn settings(auth: &AuthFile, issuer: &str) -> anyhow::Result<IdpSettings> {
    let mut s = IdpSettings {
        jwks_url: auth.jwks_url.clone(),
        discovery_url: auth.oidc_discovery_url.clone(),
        allow_http: auth.idp_allow_http.unwrap_or(false),
        ca_file: auth.idp_ca_file.clone(),
        ..Default::default()
    };
    if auth.discovery == Some(true) && s.discovery_url.is_none() {
        s.discovery_url = Some(crate::auth::discovery_url(issuer));
    }
    if auth.discovery == Some(false) && auth.oidc_discovery_url.is_some() {
        anyhow::bail!("config [auth]: oidc-discovery-url is set but discovery = false");
    }
    if s.jwks_url.is_some() && s.discovery_url.is_some() {
        anyhow::bail!(
            "config [auth]: set jwks-url or OIDC discovery (discovery / oidc-discovery-url), \
             not both: discovery finds the JWKS URL itself"
        );
    }
    for (key, url) in [
        ("jwks-url", &s.jwks_url),
        (
            "oidc-discovery-url (or issuer, with discovery)",
            &s.discovery_url,
        ),
    ] {
        if let Some(url) = url {
            crate::auth::check_idp_url(url, s.allow_http)
                .map_err(|e| anyhow::anyhow!("config [auth] {key}: {e}"))?;
        }
    }
    if let Some(names) = &auth.algorithms {
        s.algorithms = names
            .iter()
            .map(|name| {
                name.parse::<jsonwebtoken::Algorithm>()
                    .ok()
                    .filter(|alg| crate::auth::DEFAULT_ALGORITHMS.contains(alg))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "config [auth] algorithms: {name:?} is not one of RS256, RS384, \
                             RS512, PS256, PS384, PS512, ES256, ES384, EdDSA (HMAC keys come \
                             from hs256-secret-file only)"
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        if s.algorithms.is_empty() {
            anyhow::bail!("config [auth] algorithms is empty");
        }
    }
    if let Some(n) = auth.jwks_min_refresh_s {
        s.min_refresh = Duration::from_secs(n.clamp(1, 3600));
    }
    if let Some(n) = auth.jwks_refresh_s {
        s.refresh = Duration::from_secs(n.clamp(1, 86_400));
    }
    if let Some(n) = auth.jwks_max_refresh_s {
        s.max_refresh = Duration::from_secs(n.clamp(1, 7 * 86_400));
    }
    s.refresh = s.refresh.max(s.min_refresh);
    s.max_refresh = s.max_refresh.max(s.min_refresh);
    if let Some(ms) = auth.jwks_timeout_ms {
        s.timeout = Duration::from_millis(ms.clamp(100, 60_000));
    }
    if let Some(kib) = auth.jwks_max_kib {
        s.max_bytes = usize::try_from(kib.clamp(1, 16 << 10) << 10)?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigFile, ServerConfig};
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn the_identity_provider_settings_are_read_and_checked() {
        let file: ConfigFile = toml::from_str(
            r#"
[auth]
issuer = "https://id.city.example/realms/city/"
discovery = true
algorithms = ["RS256", "ES256"]
jwks-min-refresh-s = 0
jwks-refresh-s = 120
jwks-max-refresh-s = 600
jwks-timeout-ms = 2000
jwks-max-kib = 64
[auth.claims]
roles = ["realm_access.roles", "resource_access.islet-app.roles"]
assurance-level = "loa"
"#,
        )
        .unwrap();
        let c = ServerConfig::from_file(&file, None).unwrap();
        assert_eq!(
            c.idp.discovery_url.as_deref(),
            Some("https://id.city.example/realms/city/.well-known/openid-configuration")
        );
        assert_eq!(c.idp.jwks_url, None);
        assert_eq!(
            c.idp.algorithms,
            [
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::Algorithm::ES256
            ]
        );
        assert_eq!(c.idp.min_refresh, Duration::from_secs(1), "at least 1 s");
        assert_eq!(c.idp.refresh, Duration::from_secs(120));
        assert_eq!(c.idp.max_refresh, Duration::from_secs(600));
        assert_eq!(c.idp.timeout, Duration::from_secs(2));
        assert_eq!(c.idp.max_bytes, 64 << 10);
        assert_eq!(c.claims.roles.len(), 2);
        assert_eq!(c.claims.assurance_level, "loa");
        assert_eq!(c.claims.subject, "sub");

        let defaults = ServerConfig::new(PathBuf::from("x"));
        assert!(!defaults.idp.enabled(), "no provider unless configured");
        assert_eq!(defaults.idp.min_refresh, Duration::from_secs(10));

        let refused = |text: &str, needle: &str| {
            let file: ConfigFile = toml::from_str(text).unwrap();
            let err = ServerConfig::from_file(&file, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
        };
        refused(
            "[auth]\njwks-url = \"https://a.example/certs\"\ndiscovery = true\nissuer = \"https://a.example\"",
            "not both",
        );
        refused(
            "[auth]\njwks-url = \"http://keycloak:8080/certs\"",
            "plain http",
        );
        refused("[auth]\nalgorithms = [\"HS256\"]", "hs256-secret-file");
        refused("[auth]\nalgorithms = [\"none\"]", "algorithms");
        refused("[auth.claims]\nsubject = \"\"", "subject");
        let inside: ConfigFile = toml::from_str(
            "[auth]\njwks-url = \"http://keycloak:8080/certs\"\nidp-allow-http = true",
        )
        .unwrap();
        assert!(ServerConfig::from_file(&inside, None).is_ok());
    }
}
