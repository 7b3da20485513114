//! A bounded GET of one small document from the identity provider (its
//! key set, its discovery document): a deadline for the whole exchange, a
//! size cap on the body, no redirects, and the answer's caching hint.

use reqwest::Url;
use std::time::Duration;

/// Why a document could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Connection refused, reset, TLS, DNS...
    #[error("cannot reach {url}: {reason}")]
    Network {
        /// What was fetched.
        url: String,
        /// reqwest's description.
        reason: String,
    },
    /// The whole exchange took longer than allowed.
    #[error("{url} did not answer within {ms} ms")]
    Timeout {
        /// What was fetched.
        url: String,
        /// The deadline.
        ms: u128,
    },
    /// Not a 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// What was fetched.
        url: String,
        /// Its status.
        status: u16,
    },
    /// The body is larger than the cap.
    #[error("{url} answered more than {max} bytes")]
    TooLarge {
        /// What was fetched.
        url: String,
        /// The cap.
        max: usize,
    },
}

/// A document and how long the provider says it may be cached.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body, at most the cap.
    pub body: Vec<u8>,
    /// `Cache-Control: max-age`, when given (and not `no-store`/`no-cache`).
    pub max_age: Option<Duration>,
}

/// Fetches identity provider documents under one deadline and size cap.
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
}

impl Fetcher {
    /// A fetcher whose exchanges last at most `timeout` and read at most
    /// `max_bytes`; `extra_roots` are PEM CA certificates trusted besides
    /// the built-in ones (a city's private CA).
    pub fn new(timeout: Duration, max_bytes: usize, extra_roots: &[u8]) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("islet/", env!("CARGO_PKG_VERSION")));
        if !extra_roots.is_empty() {
            let roots = reqwest::Certificate::from_pem_bundle(extra_roots)
                .map_err(|e| anyhow::anyhow!("the identity provider CA file: {e}"))?;
            if roots.is_empty() {
                anyhow::bail!("the identity provider CA file holds no PEM certificate");
            }
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        Ok(Fetcher {
            client: builder.build()?,
            timeout,
            max_bytes,
        })
    }

    /// GET `url`: its body when it answers 200 within the deadline and
    /// the cap.
    pub async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let name = url.to_string();
        match tokio::time::timeout(self.timeout, self.exchange(url, &name)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                url: name,
                ms: self.timeout.as_millis(),
            }),
        }
    }

    async fn exchange(&self, url: &Url, name: &str) -> Result<Fetched, FetchError> {
        let network = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout {
                    url: name.to_string(),
                    ms: self.timeout.as_millis(),
                }
            } else {
                FetchError::Network {
                    url: name.to_string(),
                    reason: with_sources(&e.without_url()),
                }
            }
        };
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(network)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: name.to_string(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: name.to_string(),
            max: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
    }
}

/// `e` and its causes ("error sending request: ...: Connection refused").
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = c.source();
    }
    text
}

/// `max-age` of a `Cache-Control` value; none when absent or when the
/// value forbids caching (`no-store`, `no-cache`).
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return None;
        }
        if let Some(value) = lower.strip_prefix("max-age=") {
            age = value.trim_matches('"').parse::<u64>().ok();
        }
    }
    age.map(Duration::from_secs)
}

/// `url` parsed, if it is an identity provider address Islet fetches from:
/// `https`, or `http` to a loopback host, or `http` anywhere when
/// `allow_http` (a provider inside the deployment's own network).
pub fn check_url(url: &str, allow_http: bool) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let Some(host) = parsed.host_str() else {
        return Err(format!("{url:?} has no host"));
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback || allow_http => Ok(parsed),
        "http" => Err(format!(
            "{url:?} is plain http: keys fetched without TLS can be replaced on the way \
             (use https, or set [auth] idp-allow-http = true for a provider inside your network)"
        )),
        other => Err(format!("{url:?}: the scheme {other:?} is not http(s)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_gives_max_age_unless_caching_is_refused() {
        assert_eq!(max_age("max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(
            max_age("public, Max-Age=60, must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("no-cache, max-age=60"), None);
        assert_eq!(max_age("max-age=60, no-store"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age("private"), None);
    }

    #[test]
    fn provider_urls_need_tls_outside_loopback() {
        assert!(check_url("https://id.city.example/certs", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/certs", false).is_ok());
        assert!(check_url("http://[::1]:8080/certs", false).is_ok());
        assert!(check_url("http://localhost/certs", false).is_ok());
        let err = check_url("http://keycloak:8080/certs", false).unwrap_err();
        assert!(err.contains("idp-allow-http"), "{err}");
        assert!(check_url("http://keycloak:8080/certs", true).is_ok());
        assert!(check_url("file:///etc/keys.json", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }
}
