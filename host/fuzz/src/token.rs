//! Citizens' tokens (HS256 JWTs): never a panic; a token is accepted only
//! when its signature really is the HMAC of its header and claims under
//! the host's secret, and then the citizen is exactly what the claims say;
//! a valid token changed in any one byte (or cut, or extended) is refused;
//! every refusal is one of the [`AuthError`] variants, and the variant
//! matches the claims (expired, wrong issuer, wrong audience, ...).

use crate::{Mode, change_ascii, mode};
use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use islet_host::auth::{AuthError, Claims, TokenVerifier, VerifierKeys, sign_hs256};
use sha2::Sha256;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The fuzz host's HS256 secret (the corpus token is signed with it).
pub const SECRET: &[u8] = b"islet fuzz secret, not a real one";
/// The issuer the verifier accepts.
pub const ISSUER: &str = "https://idp.fuzz.test";
/// The audience the verifier accepts.
pub const AUDIENCE: &str = "islet";

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        TokenVerifier::new(
            ISSUER,
            AUDIENCE,
            &VerifierKeys {
                hs256: vec![SECRET.to_vec()],
                ..VerifierKeys::default()
            },
        )
        .expect("a verifier")
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Debug, Arbitrary)]
struct Recipe {
    sub: String,
    right_issuer: bool,
    issuer: String,
    right_audience: bool,
    audience: String,
    /// Expiry relative to now, in minutes.
    exp_minutes: i16,
    /// Not-before relative to now, in minutes.
    nbf_minutes: Option<i16>,
    roles: Vec<String>,
    assurance_level: u8,
    name: Option<String>,
    phone_number: Option<String>,
    change: Change,
}

#[derive(Debug, Arbitrary)]
enum Change {
    Byte { at: usize, to: u8 },
    Cut { keep: usize },
    Append(String),
}

/// The property; see the module documentation.
pub fn check(data: &[u8]) {
    match mode(data) {
        None => {}
        Some(Mode::Raw(raw)) => {
            if let Ok(token) = std::str::from_utf8(raw) {
                raw_token(token);
            }
        }
        Some(Mode::Structured(bytes)) => {
            if let Ok(recipe) = Recipe::arbitrary_take_rest(Unstructured::new(bytes)) {
                signed(recipe);
            }
        }
    }
}

/// Whether `token`'s signature is the HMAC of the rest under [`SECRET`].
fn really_signed(token: &str) -> bool {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

fn raw_token(token: &str) {
    if let Ok(citizen) = verifier().verify(token) {
        assert!(really_signed(token), "accepted a token not signed: {token}");
        assert!(!citizen.subject.is_empty());
        assert_eq!(citizen.issuer, ISSUER);
        assert!(citizen.assurance_level <= 5);
    }
}

fn signed(r: Recipe) {
    let now = now() as i64;
    let at = |minutes: i16| u64::try_from(now + i64::from(minutes) * 60).unwrap_or(0);
    let claims = Claims {
        sub: r.sub,
        iss: if r.right_issuer {
            ISSUER.to_string()
        } else {
            r.issuer
        },
        aud: if r.right_audience {
            AUDIENCE.to_string()
        } else {
            r.audience
        },
        exp: at(r.exp_minutes),
        nbf: r.nbf_minutes.map(at),
        iat: Some(now as u64),
        roles: r.roles,
        assurance_level: r.assurance_level,
        name: r.name,
        phone_number: r.phone_number,
        ..Claims::default()
    };
    let Ok(token) = sign_hs256(&claims, SECRET) else {
        return;
    };
    let result = verifier().verify(&token);
    // Expiry and not-before are a minute or more from now (30 s leeway).
    let expired = r.exp_minutes < 0;
    let early = r.nbf_minutes.is_some_and(|m| m > 0);
    match &result {
        Ok(citizen) => {
            assert!(!expired && !early, "accepted out of its time: {claims:?}");
            assert_eq!(claims.iss, ISSUER);
            assert_eq!(claims.aud, AUDIENCE);
            assert_eq!(citizen.subject, claims.sub);
            assert!(!citizen.subject.is_empty());
            assert_eq!(citizen.roles, claims.roles);
            assert_eq!(citizen.assurance_level, claims.assurance_level.min(5));
            assert_eq!(citizen.expires_at, claims.exp);
            assert_eq!(citizen.personal_data, claims.personal_data());
        }
        Err(AuthError::Expired) => assert!(expired, "{claims:?}"),
        Err(AuthError::NotYetValid) => assert!(early, "{claims:?}"),
        Err(AuthError::WrongIssuer) => assert_ne!(claims.iss, ISSUER),
        Err(AuthError::WrongAudience) => assert_ne!(claims.aud, AUDIENCE),
        Err(AuthError::MissingClaim(_)) => assert!(claims.sub.is_empty(), "{claims:?}"),
        Err(other) => panic!("a well-formed signed token refused with {other:?}: {claims:?}"),
    }
    if claims.iss == ISSUER
        && claims.aud == AUDIENCE
        && !claims.sub.is_empty()
        && !expired
        && !early
    {
        assert!(result.is_ok(), "a valid token refused: {result:?}");
    }

    let changed = match r.change {
        Change::Byte { at, to } => change_ascii(&token, at, to),
        Change::Cut { keep } => Some(token[..keep % token.len()].to_string()),
        Change::Append(tail) => (!tail.is_empty()).then(|| format!("{token}{tail}")),
    };
    if let Some(changed) = changed {
        assert_ne!(changed, token);
        let verdict = verifier().verify(&changed);
        assert!(
            verdict.is_err(),
            "a changed token verified:\n{token}\n{changed}\n{verdict:?}"
        );
    }
}
