//! OpenID Connect discovery: the provider's
//! `/.well-known/openid-configuration` names its key set (`jwks_uri`); its
//! `issuer` must be exactly the one the host trusts (OpenID Connect
//! Discovery 1.0, section 4.3), or a document from elsewhere could
//! substitute its own keys.

use super::fetch::{FetchError, Fetcher, check_url};
use reqwest::Url;
use serde::Deserialize;

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The document could not be fetched.
    #[error("OIDC discovery: {0}")]
    Fetch(#[from] FetchError),
    /// Not JSON, or without `issuer` / `jwks_uri`.
    #[error("OIDC discovery: {url} is not an OpenID configuration: {reason}")]
    NotADocument {
        /// The discovery address.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The document is another issuer's.
    #[error(
        "OIDC discovery: {url} is the configuration of issuer {published:?}, \
         but [auth] issuer is {configured:?}; they must be equal"
    )]
    IssuerMismatch {
        /// The discovery address.
        url: String,
        /// What the host trusts.
        configured: String,
        /// What the document says.
        published: String,
    },
    /// `jwks_uri` is not an address the host fetches keys from.
    #[error("OIDC discovery: jwks_uri {0}")]
    BadJwksUri(String),
}

impl DiscoveryError {
    /// Whether the configuration itself is wrong (not a passing outage):
    /// a host refuses to start with it.
    pub fn is_misconfiguration(&self) -> bool {
        matches!(
            self,
            DiscoveryError::IssuerMismatch { .. } | DiscoveryError::BadJwksUri(_)
        )
    }
}

/// The discovery address of `issuer`.
pub fn well_known(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    jwks_uri: String,
}

/// Fetch the configuration at `url`, check it is `issuer`'s, and return
/// its key set address.
pub async fn discover(
    fetcher: &Fetcher,
    url: &Url,
    issuer: &str,
    allow_http: bool,
) -> Result<Url, DiscoveryError> {
    let fetched = fetcher.get(url).await?;
    let document: Document =
        serde_json::from_slice(&fetched.body).map_err(|e| DiscoveryError::NotADocument {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    if document.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            url: url.to_string(),
            configured: issuer.to_string(),
            published: document.issuer,
        });
    }
    check_url(&document.jwks_uri, allow_http).map_err(DiscoveryError::BadJwksUri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_address_follows_the_issuer() {
        assert_eq!(
            well_known("https://id.city.example/realms/city"),
            "https://id.city.example/realms/city/.well-known/openid-configuration"
        );
        assert_eq!(
            well_known("https://id.city.example/"),
            "https://id.city.example/.well-known/openid-configuration"
        );
    }
}
