//! JSON Web Key Sets (RFC 7517): an identity provider's published public
//! keys, parsed into verification keys with jsonwebtoken's `jwk` module.
//!
//! Each key gets its algorithm here, from the key itself: its `alg` when
//! it names one, else the one its type implies (RSA: RS256, P-256: ES256,
//! P-384: ES384, Ed25519: EdDSA). A token is then checked with a key only
//! under that algorithm, so a token cannot pick how a key is used.
//! Symmetric (`oct`) keys, encryption keys, unknown key types, RSA
//! moduli outside 2048..=8192 bits, malformed points and algorithms not
//! accepted by the host are skipped (and named in the log).

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use sha2::Digest as _;

/// The most keys a set may hold; more is not a key set Islet takes.
pub const MAX_KEYS: usize = 64;

/// The algorithms accepted from a key set unless `[auth] algorithms` says
/// otherwise: every asymmetric one jsonwebtoken verifies.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One verification key from the set.
#[derive(Clone)]
pub struct SetKey {
    /// Its `kid`, if it has one.
    pub kid: Option<String>,
    /// The one algorithm it verifies.
    pub alg: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

/// The usable keys of one key set.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<SetKey>,
    /// SHA-256 of the usable keys' JWKs, in order: two sets with the same
    /// fingerprint verify exactly the same tokens.
    fingerprint: [u8; 32],
}

/// Why a document is not a key set Islet takes (the last good one stays).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Not JSON, or no `keys` array.
    #[error("not a JSON Web Key Set: {0}")]
    NotAKeySet(String),
    /// More than [`MAX_KEYS`] keys.
    #[error("the key set holds {0} keys, more than the {MAX_KEYS} accepted")]
    TooManyKeys(usize),
    /// No key is usable.
    #[error("the key set has no usable signing key ({0})")]
    NoUsableKey(String),
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parse `body`, keeping the keys usable under `accepted`; the reasons
    /// the others were skipped come back with it.
    pub fn parse(body: &[u8], accepted: &[Algorithm]) -> Result<(KeySet, Vec<String>), JwksError> {
        let raw: RawSet =
            serde_json::from_slice(body).map_err(|e| JwksError::NotAKeySet(e.to_string()))?;
        if raw.keys.len() > MAX_KEYS {
            return Err(JwksError::TooManyKeys(raw.keys.len()));
        }
        let mut keys: Vec<SetKey> = Vec::new();
        let mut skipped = Vec::new();
        let mut fingerprint = sha2::Sha256::new();
        for (at, value) in raw.keys.into_iter().enumerate() {
            let text = value.to_string();
            let kid = value
                .get("kid")
                .and_then(|k| k.as_str())
                .map(str::to_string);
            let name = kid.clone().unwrap_or_else(|| format!("#{at}"));
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|e| format!("not a JWK: {e}"))
                .and_then(|jwk| usable(&jwk, accepted));
            match parsed {
                Ok(_) if kid.is_some() && keys.iter().any(|k| k.kid == kid) => {
                    skipped.push(format!("{name}: a second key with this kid"));
                }
                Ok((alg, key)) => {
                    fingerprint.update((text.len() as u64).to_be_bytes());
                    fingerprint.update(text.as_bytes());
                    keys.push(SetKey { kid, alg, key })
                }
                Err(why) => skipped.push(format!("{name}: {why}")),
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey(if skipped.is_empty() {
                "it is empty".into()
            } else {
                skipped.join("; ")
            }));
        }
        let fingerprint = fingerprint.finalize().into();
        Ok((KeySet { keys, fingerprint }, skipped))
    }

    /// The key named `kid`.
    pub fn by_kid(&self, kid: &str) -> Option<&SetKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys without a `kid` that verify `alg`.
    pub fn unnamed(&self, alg: Algorithm) -> impl Iterator<Item = &SetKey> {
        self.keys
            .iter()
            .filter(move |k| k.kid.is_none() && k.alg == alg)
    }

    /// Whether `other` holds exactly the same keys (same JWKs, same order).
    pub fn same_keys(&self, other: &KeySet) -> bool {
        self.fingerprint == other.fingerprint && self.keys.len() == other.keys.len()
    }

    /// The `kid`s of the set, in order.
    pub fn kids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.kid.clone().unwrap_or_else(|| "(no kid)".into()))
            .collect()
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The algorithm and key of `jwk`, or why it is not used.
fn usable(jwk: &Jwk, accepted: &[Algorithm]) -> Result<(Algorithm, DecodingKey), String> {
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("not a signature key (use)".into()),
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err("not a verification key (key_ops)".into());
    }
    let named = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => return Err("an unknown alg".into()),
        Some(alg) => Some(
            Algorithm::try_from(alg)
                .map_err(|_| format!("alg {alg} is not a signature algorithm"))?,
        ),
    };
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = base64_len(&rsa.n).saturating_mul(8);
            if !(2048..=8192).contains(&bits) {
                return Err(format!("an RSA modulus of {bits} bits"));
            }
            let alg = named.unwrap_or(Algorithm::RS256);
            if !matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) {
                return Err(format!("an RSA key for {alg:?}"));
            }
            alg
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (implied, size) = match ec.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return Err(format!("the curve {:?} is not supported", ec.curve)),
            };
            if base64_len(&ec.x) != size || base64_len(&ec.y) != size {
                return Err("a malformed EC point".into());
            }
            if named.is_some_and(|a| a != implied) {
                return Err(format!("a {:?} key for {named:?}", ec.curve));
            }
            implied
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 || base64_len(&okp.x) != 32 {
                return Err("an OKP key that is not Ed25519".into());
            }
            if named.is_some_and(|a| a != Algorithm::EdDSA) {
                return Err(format!("an Ed25519 key for {named:?}"));
            }
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric key (never taken from a key set)".into());
        }
        _ => return Err("an unsupported key type".into()),
    };
    if !accepted.contains(&alg) {
        return Err(format!("{alg:?} is not accepted ([auth] algorithms)"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable: {e}"))?;
    Ok((alg, key))
}

/// The length of the bytes `b64` (base64url, unpadded) encodes; 0 when it
/// is not base64url.
fn base64_len(b64: &str) -> usize {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_or(0, |bytes| {
            // Leading zero bytes do not count towards an RSA modulus.
            let zeros = bytes.iter().take_while(|b| **b == 0).count();
            bytes.len() - zeros
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn b64(n: usize, fill: u8) -> String {
        URL_SAFE_NO_PAD.encode(vec![fill; n])
    }

    fn rsa(kid: &str, alg: Option<&str>) -> serde_json::Value {
        let mut key = json!({"kty": "RSA", "kid": kid, "n": b64(256, 0xc3), "e": "AQAB"});
        if let Some(alg) = alg {
            key["alg"] = json!(alg);
        }
        key
    }

    fn parse(keys: serde_json::Value) -> Result<(KeySet, Vec<String>), JwksError> {
        KeySet::parse(
            &serde_json::to_vec(&json!({ "keys": keys })).unwrap(),
            &DEFAULT_ALGORITHMS,
        )
    }

    #[test]
    fn keys_get_their_algorithm_from_the_key_never_a_token() {
        let (set, skipped) = parse(json!([
            rsa("r1", None),
            rsa("r2", Some("PS256")),
            {"kty": "EC", "crv": "P-256", "kid": "e1", "x": b64(32, 1), "y": b64(32, 2)},
            {"kty": "EC", "crv": "P-384", "kid": "e2", "x": b64(48, 1), "y": b64(48, 2), "alg": "ES384"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "d1", "x": b64(32, 3)},
        ]))
        .unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let alg = |kid| set.by_kid(kid).unwrap().alg;
        assert_eq!(alg("r1"), Algorithm::RS256);
        assert_eq!(alg("r2"), Algorithm::PS256);
        assert_eq!(alg("e1"), Algorithm::ES256);
        assert_eq!(alg("e2"), Algorithm::ES384);
        assert_eq!(alg("d1"), Algorithm::EdDSA);
        assert!(set.by_kid("nope").is_none());
    }

    #[test]
    fn hostile_and_foreign_keys_are_skipped() {
        let (set, skipped) = parse(json!([
            rsa("good", Some("RS256")),
            {"kty": "oct", "kid": "hmac", "k": b64(32, 7), "alg": "HS256"},
            rsa("rsa-as-hmac", Some("HS256")),
            rsa("rsa-as-ec", Some("ES256")),
            rsa("none", Some("none")),
            {"kty": "RSA", "kid": "small", "n": b64(128, 0xc3), "e": "AQAB"},
            {"kty": "RSA", "kid": "zeros", "n": format!("AAAA{}", b64(200, 0xc3)), "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-as-384", "x": b64(32, 1), "y": b64(32, 2), "alg": "ES384"},
            {"kty": "EC", "crv": "P-256", "kid": "short", "x": b64(31, 1), "y": b64(32, 2)},
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": b64(66, 1), "y": b64(66, 2)},
            {"kty": "RSA", "use": "enc", "kid": "enc", "n": b64(256, 0xc3), "e": "AQAB"},
            {"kty": "RSA", "key_ops": ["encrypt"], "kid": "ops", "n": b64(256, 0xc3), "e": "AQAB"},
            {"kty": "XYZ", "kid": "alien"},
            "not an object",
            rsa("good", Some("RS256")),
        ]))
        .unwrap();
        assert_eq!(set.kids(), ["good"]);
        assert_eq!(skipped.len(), 14, "{skipped:#?}");
        for kid in [
            "hmac",
            "rsa-as-hmac",
            "rsa-as-ec",
            "small",
            "zeros",
            "enc",
            "p521",
        ] {
            assert!(
                skipped.iter().any(|s| s.starts_with(kid)),
                "{kid}: {skipped:?}"
            );
        }
    }

    #[test]
    fn garbage_empty_and_oversized_sets_are_refused() {
        let accepted = DEFAULT_ALGORITHMS;
        for body in [&b"<html>down</html>"[..], b"{}", b"{\"keys\": {}}", b"null"] {
            assert!(matches!(
                KeySet::parse(body, &accepted),
                Err(JwksError::NotAKeySet(_))
            ));
        }
        assert!(matches!(parse(json!([])), Err(JwksError::NoUsableKey(_))));
        assert!(matches!(
            parse(json!([{"kty": "oct", "k": "c2VjcmV0"}])),
            Err(JwksError::NoUsableKey(_))
        ));
        let many: Vec<_> = (0..=MAX_KEYS).map(|i| rsa(&i.to_string(), None)).collect();
        assert!(matches!(
            parse(json!(many)),
            Err(JwksError::TooManyKeys(65))
        ));
    }

    #[test]
    fn the_accepted_list_restricts_the_keys() {
        let body = serde_json::to_vec(&json!({"keys": [
            rsa("r1", None),
            {"kty": "EC", "crv": "P-256", "kid": "e1", "x": b64(32, 1), "y": b64(32, 2)},
        ]}))
        .unwrap();
        let (set, skipped) = KeySet::parse(&body, &[Algorithm::ES256]).unwrap();
        assert_eq!(set.kids(), ["e1"]);
        assert!(skipped[0].contains("not accepted"), "{skipped:?}");
    }
}
