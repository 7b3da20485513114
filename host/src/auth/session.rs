//! Service sessions: a short-lived bearer token that works on one
//! mini-service's routes only.
//!
//! A mini-service's web page runs sandboxed in an origin of its own, so it
//! can never read the citizen's app token. The app shell asks the platform
//! for a session of that one service and hands the page only that; the host
//! accepts it on `/p/{service}/...` and nowhere else, so a hostile page can
//! do nothing with it that its own back end could not already do. Sessions
//! are opaque (the page cannot decode personal data out of them), live in
//! the host's memory and end after [`SESSION_TTL_SECS`] or when the
//! citizen's own token expires, whichever comes first.

use super::Citizen;
use crate::clock::now_secs;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How long a service session lives at most, seconds.
pub const SESSION_TTL_SECS: u64 = 30 * 60;
/// The prefix that tells a service session from an app token (a JWT).
pub const SESSION_PREFIX: &str = "isl_s_";
/// Most live sessions kept; the ones closest to expiry give way first.
const MAX_SESSIONS: usize = 100_000;

/// Why a session token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown (never issued, or forgotten by a restart) or expired.
    #[error("the service session expired or is unknown; open the service again")]
    Expired,
    /// Issued for another service.
    #[error("this service session belongs to another service")]
    OtherService,
}

/// A session handed to a service page.
#[derive(Debug, Clone)]
pub struct ServiceSession {
    /// The bearer token (`isl_s_` and 43 characters).
    pub token: String,
    /// The service it works for.
    pub plugin: String,
    /// When it ends, seconds since the epoch.
    pub expires_at: u64,
}

struct Live {
    plugin: String,
    citizen: Arc<Citizen>,
    expires_at: u64,
}

/// The live service sessions of this host.
#[derive(Default)]
pub struct ServiceSessions {
    live: Mutex<HashMap<[u8; 32], Live>>,
}

fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl ServiceSessions {
    /// Whether `token` has the shape of a service session (not a JWT).
    pub fn is_session_token(token: &str) -> bool {
        token.starts_with(SESSION_PREFIX)
    }

    /// Open a session of `plugin` for `citizen`; it ends with the
    /// citizen's token at the latest.
    pub fn open(&self, plugin: &str, citizen: Arc<Citizen>) -> ServiceSession {
        let now = now_secs();
        let expires_at = (now + SESSION_TTL_SECS).min(citizen.expires_at);
        let secret: [u8; 32] = rand::random();
        let token = format!(
            "{SESSION_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| s.expires_at > now);
        }
        if live.len() >= MAX_SESSIONS
            && let Some(first) = live
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| *k)
        {
            live.remove(&first);
        }
        live.insert(
            key_of(&token),
            Live {
                plugin: plugin.to_string(),
                citizen,
                expires_at,
            },
        );
        ServiceSession {
            token,
            plugin: plugin.to_string(),
            expires_at,
        }
    }

    /// The citizen behind `token`, if it is a live session of `plugin`.
    pub fn resolve(&self, token: &str, plugin: &str) -> Result<Arc<Citizen>, SessionError> {
        let key = key_of(token);
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let session = live.get(&key).ok_or(SessionError::Expired)?;
        if session.expires_at <= now_secs() {
            live.remove(&key);
            return Err(SessionError::Expired);
        }
        if session.plugin != plugin {
            return Err(SessionError::OtherService);
        }
        Ok(session.citizen.clone())
    }

    /// End every session of the citizen `subject` from `issuer` (sign-out).
    pub fn close_all(&self, citizen: &Citizen) -> usize {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let before = live.len();
        live.retain(|_, s| {
            !(s.citizen.subject == citizen.subject && s.citizen.issuer == citizen.issuer)
        });
        before - live.len()
    }

    /// How many sessions are live (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citizen(sub: &str, expires_at: u64) -> Arc<Citizen> {
        Arc::new(Citizen {
            subject: sub.into(),
            issuer: "i".into(),
            roles: vec![],
            assurance_level: 0,
            personal_data: Default::default(),
            expires_at,
        })
    }

    #[test]
    fn a_session_works_for_its_service_only() {
        let sessions = ServiceSessions::default();
        let s = sessions.open("water-bill", citizen("a", u64::MAX));
        assert!(ServiceSessions::is_session_token(&s.token));
        assert_eq!(s.token.len(), SESSION_PREFIX.len() + 43);
        assert_eq!(
            sessions
                .resolve(&s.token, "water-bill")
                .map(|c| c.subject.clone()),
            Ok("a".to_string())
        );
        assert_eq!(
            sessions.resolve(&s.token, "hello").err(),
            Some(SessionError::OtherService)
        );
        assert_eq!(
            sessions.resolve("isl_s_forged", "water-bill").err(),
            Some(SessionError::Expired)
        );
    }

    #[test]
    fn a_session_ends_with_the_citizen_token() {
        let sessions = ServiceSessions::default();
        let now = now_secs();
        let s = sessions.open("hello", citizen("a", now + 60));
        assert_eq!(s.expires_at, now + 60);
        let ended = sessions.open("hello", citizen("b", now));
        assert_eq!(
            sessions.resolve(&ended.token, "hello").err(),
            Some(SessionError::Expired)
        );
        let long = sessions.open("hello", citizen("c", u64::MAX));
        assert!(long.expires_at <= now_secs() + SESSION_TTL_SECS);
    }

    #[test]
    fn sign_out_ends_the_citizens_sessions() {
        let sessions = ServiceSessions::default();
        let a = sessions.open("hello", citizen("a", u64::MAX));
        let b = sessions.open("hello", citizen("b", u64::MAX));
        assert_eq!(sessions.close_all(&citizen("a", 0)), 1);
        assert!(sessions.resolve(&a.token, "hello").is_err());
        assert!(sessions.resolve(&b.token, "hello").is_ok());
        assert_eq!(sessions.len(), 1);
    }
}
