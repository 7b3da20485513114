//! Verification of the app's `Authorization: Bearer` tokens.
//!
//! Keys come from configured files (HS256 secrets, RS256/ES256 PEM) and
//! from the identity provider's key set ([`RemoteKeys`]). A token naming a
//! `kid` of the set is checked with that key alone, under the algorithm
//! the key is for; any other token with the configured keys of its `alg`.
//! An RSA public key is never tried as an HMAC secret (algorithm
//! confusion), `alg: none` never parses, and algorithms without keys are
//! refused. Who the token names is read with the configured
//! [`ClaimNames`]. Tokens verified once are remembered by hash until
//! their `exp` or the next change of the provider's keys ([`TokenCache`]).

use super::claims::ClaimNames;
use super::remote::RemoteKeys;
use super::token_cache::{DEFAULT_TOKEN_CACHE_ENTRIES, TokenCache};
use crate::manifest::DataItem;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Longest `kid` a token may name and still make the host look for it.
const MAX_KID_CHARS: usize = 256;
/// Seconds a token is still accepted after its `exp` (and before its
/// `nbf`), for clocks that differ a little.
const LEEWAY_SECS: u64 = 30;

/// The claims Islet reads from a citizen's token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    /// The citizen's id at the identity provider.
    pub sub: String,
    /// Issuer; must match the host's configured issuer.
    pub iss: String,
    /// Audience; must match the host's configured audience. Tokens may
    /// carry one audience or an array of them (RFC 7519 4.1.3); an array is
    /// kept here space-separated, and the host's audience must be one of it.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Not valid before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Roles: `admin`, `staff:<department>`, `plugin:<plugin-id>:<role>`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Real-name assurance level, 0 (unknown) to 5 (certificate or in person).
    #[serde(default)]
    pub assurance_level: u8,
    /// Real (legal) name, when the identity provider vouches for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// National ID number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<String>,
    /// Mobile phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Unified social credit code of the legal person acted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_person: Option<String>,
}

impl Claims {
    /// The personal data items the token carries.
    pub fn personal_data(&self) -> BTreeMap<DataItem, String> {
        [
            (DataItem::RealName, &self.name),
            (DataItem::NationalId, &self.national_id),
            (DataItem::Phone, &self.phone_number),
            (DataItem::Email, &self.email),
            (DataItem::LegalPerson, &self.legal_person),
        ]
        .into_iter()
        .filter_map(|(item, value)| {
            value
                .as_ref()
                .filter(|v| !v.trim().is_empty() && v.chars().count() <= 200)
                .map(|v| (item, v.clone()))
        })
        .collect()
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Citizen {
    /// The citizen's id at the identity provider (never shown to plugins).
    pub subject: String,
    /// The identity provider that vouched for it.
    pub issuer: String,
    /// All roles from the token.
    pub roles: Vec<String>,
    /// Real-name assurance level, 0 to 5.
    pub assurance_level: u8,
    /// Personal data items from the token; released to a plugin only with
    /// grant and consent.
    pub personal_data: BTreeMap<DataItem, String>,
    /// When the token ends, seconds since the epoch.
    pub expires_at: u64,
}

impl Citizen {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The roles that concern one plugin: `staff` for staff of its
    /// department, and `<role>` for every `plugin:<id>:<role>`.
    pub fn roles_for_plugin(&self, plugin_id: &str, department: &str) -> Vec<String> {
        let mut out = Vec::new();
        for role in &self.roles {
            if let Some(dept) = role.strip_prefix("staff:")
                && dept == department
            {
                out.push("staff".to_string());
            } else if let Some(rest) = role.strip_prefix("plugin:")
                && let Some((id, name)) = rest.split_once(':')
                && id == plugin_id
                && !name.is_empty()
            {
                out.push(name.to_string());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Why a token was refused. Every variant is a 401 at the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT, or a header/claims that do not parse (this includes `alg: none`).
    #[error("the token is malformed")]
    Malformed,
    /// An algorithm this host does not accept.
    #[error("tokens signed with {0} are not accepted")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify against any configured key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("the token's audience is not this host")]
    WrongAudience,
    /// A required claim is missing or has the wrong type.
    #[error("the token lacks a required claim: {0}")]
    MissingClaim(String),
    /// The token names a `kid` the identity provider does not publish
    /// (even after fetching its key set again).
    #[error("the token's signing key {0:?} is not one the identity provider publishes")]
    UnknownKey(String),
}

/// The keys a verifier accepts, per algorithm.
#[derive(Default)]
pub struct VerifierKeys {
    /// HS256 shared secrets (development, or a trusted gateway).
    pub hs256: Vec<Vec<u8>>,
    /// RS256 public keys, PEM.
    pub rs256_pem: Vec<Vec<u8>>,
    /// ES256 public keys, PEM.
    pub es256_pem: Vec<Vec<u8>>,
}

/// `aud` as a string or an array of strings (kept space-separated).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Audience::deserialize(d)? {
        Audience::One(one) => one,
        Audience::Many(many) => many.join(" "),
    })
}

/// Verifies tokens against configured keys, issuer and audience.
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: Vec<(Algorithm, DecodingKey)>,
    remote: Option<Arc<RemoteKeys>>,
    claims: ClaimNames,
    cache: TokenCache,
    leeway: u64,
}

impl TokenVerifier {
    /// A verifier for tokens from `issuer` meant for `audience`, signed
    /// with one of `keys`, claims read by the default names.
    pub fn new(issuer: &str, audience: &str, keys: &VerifierKeys) -> anyhow::Result<Self> {
        Self::with_sources(issuer, audience, keys, None, ClaimNames::default())
    }

    /// A verifier taking keys from files (`keys`) and from the identity
    /// provider (`remote`), reading claims by `claims`.
    pub fn with_sources(
        issuer: &str,
        audience: &str,
        keys: &VerifierKeys,
        remote: Option<Arc<RemoteKeys>>,
        claims: ClaimNames,
    ) -> anyhow::Result<Self> {
        claims.check().map_err(anyhow::Error::msg)?;
        let mut out = Vec::new();
        for secret in &keys.hs256 {
            let key = DecodingKey::from_secret(secret)
                .map_err(|e| anyhow::anyhow!("HS256 secret is unusable: {e}"))?;
            out.push((Algorithm::HS256, key));
        }
        for pem in &keys.rs256_pem {
            let key = DecodingKey::from_rsa_pem(pem)
                .map_err(|e| anyhow::anyhow!("RS256 public key is not a valid RSA PEM: {e}"))?;
            out.push((Algorithm::RS256, key));
        }
        for pem in &keys.es256_pem {
            let key = DecodingKey::from_ec_pem(pem)
                .map_err(|e| anyhow::anyhow!("ES256 public key is not a valid EC PEM: {e}"))?;
            out.push((Algorithm::ES256, key));
        }
        if out.is_empty() && remote.is_none() {
            anyhow::bail!(
                "no token verification keys are configured: set [auth] jwks-url, discovery, \
                 hs256-secret-file, rs256-public-key-files or es256-public-key-files, \
                 or run with --dev"
            );
        }
        Ok(TokenVerifier {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            keys: out,
            remote,
            claims,
            cache: TokenCache::new(DEFAULT_TOKEN_CACHE_ENTRIES),
            leeway: LEEWAY_SECS,
        })
    }

    /// Remember at most `entries` verified tokens (0: verify every token
    /// in full, every time).
    pub fn with_cache(mut self, entries: usize) -> Self {
        self.cache = TokenCache::new(entries);
        self
    }

    /// Verified tokens remembered now.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// The identity provider's keys, when configured.
    pub fn remote(&self) -> Option<&Arc<RemoteKeys>> {
        self.remote.as_ref()
    }

    /// Before [`TokenVerifier::verify`]: when `token` names a `kid` the
    /// provider's set lacks, fetch the set again (rate-bounded), so a key
    /// rotation takes effect on the first token signed with the new key.
    pub async fn prepare(&self, token: &str) {
        let Some(remote) = &self.remote else {
            return;
        };
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return;
        };
        if let Some(kid) = header.kid
            && kid.chars().count() <= MAX_KID_CHARS
            && remote.accepts(header.alg)
        {
            remote.ensure_kid(&kid).await;
        }
    }

    /// Verify `token` and return the caller it names: from the cache when
    /// the same token was verified under the current keys and has not
    /// expired, else in full (and then remembered).
    pub fn verify(&self, token: &str) -> Result<Arc<Citizen>, AuthError> {
        if !self.cache.enabled() {
            return self.check(token).map(|(citizen, _)| Arc::new(citizen));
        }
        let now = crate::clock::now_secs();
        // The generation is read before the keys `check` uses: a rotation
        // in between files the entry under the old generation, never a
        // token verified with retired keys under the new one.
        let generation = self.remote.as_ref().map_or(0, |r| r.generation());
        let key = TokenCache::key(token);
        if let Some(citizen) = self.cache.get(&key, generation, now) {
            return Ok(citizen);
        }
        let (citizen, not_before) = self.check(token)?;
        let citizen = Arc::new(citizen);
        self.cache
            .insert(key, generation, &citizen, not_before, now);
        Ok(citizen)
    }

    /// Verify `token` in full: the caller and the token's `nbf`.
    fn check(&self, token: &str) -> Result<(Citizen, Option<u64>), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName => {
                AuthError::UnsupportedAlgorithm("this algorithm".into())
            }
            _ => AuthError::Malformed,
        })?;
        let set = self.remote.as_ref().map(|r| r.current());
        let named = header
            .kid
            .as_deref()
            .and_then(|kid| Some((kid, set.as_ref()?.by_kid(kid)?)));
        let candidates: Vec<&DecodingKey> = match named {
            // The provider's key decides the algorithm, not the token.
            Some((kid, key)) if key.alg != header.alg => {
                return Err(AuthError::UnsupportedAlgorithm(format!(
                    "{:?} (key {:?} is for {:?})",
                    header.alg,
                    short(kid),
                    key.alg
                )));
            }
            Some((_, key)) => vec![&key.key],
            None => self
                .keys
                .iter()
                .filter(|(alg, _)| *alg == header.alg)
                .map(|(_, key)| key)
                .chain(
                    set.iter()
                        .flat_map(|s| s.unnamed(header.alg))
                        .map(|k| &k.key),
                )
                .collect(),
        };
        // A `kid` the provider does not publish: say so rather than "bad
        // signature" (unless a configured key verifies the token).
        let unknown = match (&header.kid, &set, named) {
            (Some(kid), Some(_), None) => Some(AuthError::UnknownKey(short(kid))),
            _ => None,
        };
        if candidates.is_empty() {
            return Err(unknown
                .unwrap_or_else(|| AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg))));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;

        let mut last = AuthError::BadSignature;
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => return self.citizen(&data.claims),
                Err(e) => {
                    last = match e.kind() {
                        ErrorKind::InvalidSignature => AuthError::BadSignature,
                        ErrorKind::ExpiredSignature => AuthError::Expired,
                        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                        ErrorKind::InvalidAudience => AuthError::WrongAudience,
                        ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
                        ErrorKind::Json(_) => {
                            AuthError::MissingClaim("a claim of the wrong type".into())
                        }
                        ErrorKind::InvalidAlgorithm => {
                            AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg))
                        }
                        _ => AuthError::Malformed,
                    };
                    // Only a bad signature can succeed with another key.
                    if last != AuthError::BadSignature {
                        return Err(last);
                    }
                }
            }
        }
        Err(unknown.unwrap_or(last))
    }

    /// The caller verified `claims` describe, and the token's `nbf`.
    fn citizen(&self, claims: &Map<String, Value>) -> Result<(Citizen, Option<u64>), AuthError> {
        let who = self.claims.read(claims)?;
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::MissingClaim("iss".into()))?;
        let expires_at = claims
            .get("exp")
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
            .ok_or_else(|| AuthError::MissingClaim("exp".into()))?;
        let not_before = claims.get("nbf").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().map(|f| f.max(0.0).ceil() as u64))
        });
        let citizen = Citizen {
            subject: who.subject,
            issuer: issuer.to_string(),
            roles: who.roles,
            assurance_level: who.assurance_level,
            personal_data: who.personal_data,
            expires_at,
        };
        Ok((citizen, not_before))
    }
}

/// `kid` cut to a length fit for a message.
fn short(kid: &str) -> String {
    kid.chars().take(64).collect()
}

/// Sign a token with an HS256 secret (development tokens, tests).
pub fn sign_hs256(claims: &Claims, secret: &[u8]) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret)?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citizen(roles: &[&str]) -> Citizen {
        Citizen {
            personal_data: Default::default(),
            subject: "s".into(),
            issuer: "i".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            assurance_level: 3,
            expires_at: u64::MAX,
        }
    }

    #[test]
    fn plugin_roles_are_scoped() {
        let c = citizen(&[
            "admin",
            "staff:community",
            "staff:water",
            "plugin:hello:tester",
        ]);
        assert_eq!(
            c.roles_for_plugin("community-report", "community"),
            vec!["staff"]
        );
        assert_eq!(c.roles_for_plugin("hello", "platform"), vec!["tester"]);
        assert!(c.roles_for_plugin("bus-card", "transport").is_empty());
    }

    #[test]
    fn the_audience_may_be_a_string_or_an_array_holding_ours() {
        let secret = b"0123456789abcdef0123456789abcdef".to_vec();
        let verifier = TokenVerifier::new(
            "city-idp",
            "islet-app",
            &VerifierKeys {
                hs256: vec![secret.clone()],
                ..Default::default()
            },
        )
        .unwrap();
        let sign = |aud: serde_json::Value| {
            let claims = serde_json::json!({
                "sub": "resident-1", "iss": "city-idp", "aud": aud,
                "exp": crate::clock::now_secs() + 600,
            });
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
            )
            .unwrap()
        };
        let one = verifier.verify(&sign(serde_json::json!("islet-app")));
        assert_eq!(one.unwrap().subject, "resident-1");
        let many = verifier.verify(&sign(serde_json::json!(["city-portal", "islet-app"])));
        assert_eq!(many.unwrap().subject, "resident-1");
        for wrong in [
            serde_json::json!(["city-portal", "bus-app"]),
            serde_json::json!([]),
            serde_json::json!("bus-app"),
        ] {
            let refused = verifier.verify(&sign(wrong.clone()));
            assert!(
                matches!(refused, Err(AuthError::WrongAudience)),
                "{wrong}: {refused:?}"
            );
        }
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::auth::jwks::KeySet;
    use crate::auth::remote::IdpSettings;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn claims(sub: &str, exp: u64) -> serde_json::Value {
        serde_json::json!({"sub": sub, "iss": "city-idp", "aud": "islet-app", "exp": exp})
    }

    fn hs256_verifier(entries: usize) -> TokenVerifier {
        let keys = VerifierKeys {
            hs256: vec![SECRET.to_vec()],
            ..Default::default()
        };
        TokenVerifier::new("city-idp", "islet-app", &keys)
            .unwrap()
            .with_cache(entries)
    }

    fn hs256(claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap()
    }

    /// `token` with the character at `at` replaced by another base64url one.
    fn one_byte_off(token: &str, at: usize) -> String {
        let mut bytes = token.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'Q' { b'R' } else { b'Q' };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_cached_token_is_refused_once_past_its_exp() {
        let mut verifier = hs256_verifier(16);
        verifier.leeway = 0;
        let exp = crate::clock::now_secs() + 2;
        let token = hs256(&claims("alice", exp));
        assert_eq!(verifier.verify(&token).unwrap().subject, "alice");
        assert_eq!(verifier.cached_tokens(), 1, "remembered");
        assert!(verifier.verify(&token).is_ok(), "from the cache");
        while crate::clock::now_secs() <= exp {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(verifier.verify(&token), Err(AuthError::Expired));
        assert_eq!(verifier.cached_tokens(), 0, "the entry is gone");
        // Within the leeway a token is accepted, but never remembered.
        let mut lenient = hs256_verifier(16);
        lenient.leeway = 30;
        let late = hs256(&claims("bob", crate::clock::now_secs() - 5));
        assert!(lenient.verify(&late).is_ok());
        assert_eq!(lenient.cached_tokens(), 0);
    }

    #[test]
    fn a_token_one_byte_off_a_cached_one_is_verified_and_refused() {
        let verifier = hs256_verifier(16);
        let token = hs256(&claims("alice", crate::clock::now_secs() + 600));
        assert!(verifier.verify(&token).is_ok());
        assert!(verifier.verify(&token).is_ok());
        let dots: Vec<usize> = token.match_indices('.').map(|(i, _)| i).collect();
        // A byte of the header, of the claims and of the signature.
        for at in [
            dots[0] / 2,
            (dots[0] + dots[1]) / 2,
            (dots[1] + token.len()) / 2,
        ] {
            let forged = one_byte_off(&token, at);
            assert_ne!(forged, token);
            let refused = verifier.verify(&forged);
            assert!(refused.is_err(), "byte {at}: {refused:?}");
        }
        assert_eq!(
            verifier.cached_tokens(),
            1,
            "refused tokens are not remembered"
        );
        // The same claims signed again are another token: verified too.
        let again = hs256(&claims("alice", crate::clock::now_secs() + 601));
        assert!(verifier.verify(&again).is_ok());
        assert_eq!(verifier.cached_tokens(), 2);
    }

    #[test]
    fn a_cached_token_is_refused_after_a_rotation_removes_its_key() {
        let remote = Arc::new(
            RemoteKeys::new(
                "city-idp",
                IdpSettings {
                    jwks_url: Some("http://127.0.0.1:9/jwks".into()),
                    ..IdpSettings::default()
                },
            )
            .unwrap(),
        );
        let verifier = TokenVerifier::with_sources(
            "city-idp",
            "islet-app",
            &VerifierKeys::default(),
            Some(remote.clone()),
            ClaimNames::default(),
        )
        .unwrap();
        let key = |kid: &str, pem: &str| {
            let encoding = EncodingKey::from_rsa_pem(&fixture(pem)).unwrap();
            let mut jwk =
                serde_json::to_value(Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap())
                    .unwrap();
            jwk["kid"] = serde_json::json!(kid);
            (encoding, jwk)
        };
        let (k1, jwk1) = key("k1", "rs256-private.pem");
        let (k2, jwk2) = key("k2", "rs256-next-private.pem");
        let set = |jwks: &[&serde_json::Value]| {
            let body = serde_json::json!({ "keys": jwks }).to_string();
            KeySet::parse(body.as_bytes(), &[Algorithm::RS256])
                .unwrap()
                .0
        };
        let sign = |kid: &str, key: &EncodingKey, sub: &str| {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(kid.into());
            jsonwebtoken::encode(&header, &claims(sub, crate::clock::now_secs() + 600), key)
                .unwrap()
        };
        remote.install_for_test(set(&[&jwk1, &jwk2]));
        let old = sign("k1", &k1, "alice");
        let new = sign("k2", &k2, "bob");
        assert!(verifier.verify(&old).is_ok());
        assert!(verifier.verify(&new).is_ok());
        assert_eq!(verifier.cached_tokens(), 2);
        // The same keys fetched again change nothing.
        remote.install_for_test(set(&[&jwk1, &jwk2]));
        assert!(verifier.verify(&old).is_ok());
        assert_eq!(verifier.cached_tokens(), 2, "still both");
        // k1 retired: its token is refused at once, cached or not.
        remote.install_for_test(set(&[&jwk2]));
        assert_eq!(
            verifier.verify(&old),
            Err(AuthError::UnknownKey("k1".into()))
        );
        assert_eq!(verifier.verify(&new).unwrap().subject, "bob");
        assert_eq!(verifier.cached_tokens(), 1, "only the new key's token");
    }

    #[test]
    fn the_verifier_remembers_a_bounded_number_of_tokens() {
        let verifier = hs256_verifier(50);
        let exp = crate::clock::now_secs() + 600;
        for i in 0..2_000 {
            let token = hs256(&claims(&format!("citizen-{i}"), exp));
            assert!(verifier.verify(&token).is_ok());
        }
        assert!(
            verifier.cached_tokens() <= 60,
            "{}",
            verifier.cached_tokens()
        );
        let off = hs256_verifier(0);
        assert!(off.verify(&hs256(&claims("alice", exp))).is_ok());
        assert_eq!(off.cached_tokens(), 0);
    }
}
