//! Service sessions (`isl_s_...` bearer tokens): never a panic; a token
//! resolves only if it is exactly one the host issued, and only for the
//! service it was issued for (another service: `OtherService`); any other
//! string (an issued token changed in one byte, cut or extended included)
//! is `Expired`; a session record in the store that is not a sealing of
//! that very token (garbage, truncated, another token's) never opens.

use crate::{Mode, change_ascii, mode, store};
use arbitrary::{Arbitrary, Unstructured};
use islet_host::auth::{Citizen, ServiceSession, ServiceSessions, SessionError};
use islet_host::store::{Batch, KvStore};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

/// The service the fuzz host's sessions are opened for.
pub const SERVICE: &str = "water-bill";

struct Fixture {
    /// Sessions kept in a sled store (as on a real host).
    stored: ServiceSessions,
    /// Sessions kept in memory only.
    memory: ServiceSessions,
    /// An issued session of [`SERVICE`], in each.
    issued: [ServiceSession; 2],
    store: Arc<dyn KvStore>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let citizen = Arc::new(Citizen {
            subject: "fuzz-citizen".into(),
            issuer: crate::token::ISSUER.into(),
            roles: vec![],
            assurance_level: 3,
            personal_data: Default::default(),
            expires_at: u64::MAX,
        });
        let store = store();
        let stored = ServiceSessions::shared(store.clone());
        let memory = ServiceSessions::default();
        let issued = [
            stored
                .open(SERVICE, citizen.clone())
                .expect("a stored session"),
            memory.open(SERVICE, citizen).expect("a session in memory"),
        ];
        Fixture {
            stored,
            memory,
            issued,
            store,
        }
    })
}

#[derive(Debug, Arbitrary)]
enum Recipe {
    /// An issued token changed in one byte, asked for `service`.
    Changed { at: usize, to: u8 },
    /// An issued token cut to `keep` bytes.
    Cut { keep: usize },
    /// An issued token with more after it.
    Extended(String),
    /// The issued token, asked for another service.
    OtherService(String),
    /// A record of `token` in the store holding `sealed`.
    Planted { token: String, sealed: Vec<u8> },
    /// The stored record of the issued token, under another token.
    Moved { token: String },
}

/// The property; see the module documentation.
pub fn check(data: &[u8]) {
    let f = fixture();
    match mode(data) {
        None => {}
        Some(Mode::Raw(raw)) => {
            let token = String::from_utf8_lossy(raw);
            for (sessions, issued) in [(&f.stored, &f.issued[0]), (&f.memory, &f.issued[1])] {
                only_issued(sessions, issued, &token, SERVICE);
            }
        }
        Some(Mode::Structured(bytes)) => {
            let Ok(recipe) = Recipe::arbitrary_take_rest(Unstructured::new(bytes)) else {
                return;
            };
            structured(f, recipe);
        }
    }
}

/// `token` resolves for `service` only if it is `issued` (for that service).
fn only_issued(sessions: &ServiceSessions, issued: &ServiceSession, token: &str, service: &str) {
    let result = sessions.resolve(token, service);
    if token == issued.token {
        if service == issued.plugin {
            assert!(result.is_ok(), "the issued session refused: {result:?}");
        } else {
            assert_eq!(result.err(), Some(SessionError::OtherService));
        }
    } else {
        assert_eq!(
            result.as_ref().err(),
            Some(&SessionError::Expired),
            "token {token:?} for {service:?}: {:?}",
            result.as_ref().map(|c| c.subject.clone())
        );
    }
}

/// The store key of a session (`host/src/auth/session.rs`: `s/` and the
/// hex SHA-256 of the token, namespace `sessions`).
fn record_key(token: &str) -> String {
    format!("s/{}", hex::encode(Sha256::digest(token.as_bytes())))
}

fn structured(f: &Fixture, recipe: Recipe) {
    for (sessions, issued) in [(&f.stored, &f.issued[0]), (&f.memory, &f.issued[1])] {
        let token = &issued.token;
        match &recipe {
            Recipe::Changed { at, to } => {
                if let Some(changed) = change_ascii(token, *at, *to) {
                    only_issued(sessions, issued, &changed, SERVICE);
                }
            }
            Recipe::Cut { keep } => {
                only_issued(sessions, issued, &token[..keep % token.len()], SERVICE)
            }
            Recipe::Extended(tail) => {
                only_issued(sessions, issued, &format!("{token}{tail}"), SERVICE)
            }
            Recipe::OtherService(service) => only_issued(sessions, issued, token, service),
            Recipe::Planted { .. } | Recipe::Moved { .. } => {}
        }
    }
    let planted = match recipe {
        Recipe::Planted { token, sealed } => Some((token, sealed)),
        Recipe::Moved { token } => f
            .store
            .get("sessions", record_key(&f.issued[0].token).as_bytes())
            .ok()
            .flatten()
            .map(|sealed| (token, sealed)),
        _ => None,
    };
    if let Some((token, sealed)) = planted {
        if token == f.issued[0].token {
            return;
        }
        let key = record_key(&token);
        if f.store
            .commit("sessions", &Batch::new().put(key.clone(), sealed))
            .is_err()
        {
            return;
        }
        let result = f.stored.resolve(&token, SERVICE);
        let _ = f.store.commit("sessions", &Batch::new().delete(key));
        assert_eq!(
            result.as_ref().err(),
            Some(&SessionError::Expired),
            "a planted record opened for {token:?}: {:?}",
            result.as_ref().map(|c| c.subject.clone())
        );
    }
}
