//! Service sessions: a short-lived bearer token that works on one
//! mini-service's routes only.
//!
//! A mini-service's web page runs sandboxed in an origin of its own, so it
//! can never read the citizen's app token. The app shell asks the platform
//! for a session of that one service and hands the page only that; the host
//! accepts it on `/p/{service}/...` and nowhere else, so a hostile page can
//! do nothing with it that its own back end could not already do. Sessions
//! are opaque (the page cannot decode personal data out of them) and end
//! after [`SESSION_TTL_SECS`] or when the citizen's own token expires,
//! whichever comes first.
//!
//! Sessions live in the store, so any host of a deployment accepts a
//! session another issued, sign-out on one host ends them on all (within
//! [`RECHECK`]), and a restart ends none. The store holds each session under
//! a hash of its token, encrypted (ChaCha20-Poly1305) with a key derived
//! from the token itself: the citizen's personal data claims are never on
//! disk in the clear, and nothing in the database opens a session without
//! the token only the page holds. Each host keeps the sessions it resolved
//! in memory and checks them against the store again after [`RECHECK`].

use super::Citizen;
use crate::clock::now_secs;
use crate::store::{Batch, KvStore};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a host trusts a session it read from the store before
/// reading it again (a sign-out elsewhere takes at most this long).
pub const RECHECK: Duration = Duration::from_secs(1);
/// The store namespace of sessions.
const NAMESPACE: &str = "sessions";

/// How long a service session lives at most, seconds.
pub const SESSION_TTL_SECS: u64 = 30 * 60;
/// The prefix that tells a service session from an app token (a JWT).
pub const SESSION_PREFIX: &str = "isl_s_";
/// Most sessions a host keeps in memory. With a store this is only a
/// cache (a session dropped from it is read again); what bounds the
/// sessions themselves is [`SessionLimits::per_citizen`].
const MAX_SESSIONS: usize = 100_000;

/// Caps on one citizen's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Live sessions one citizen may hold; opening one more ends that
    /// citizen's oldest (never another citizen's).
    pub per_citizen: usize,
    /// Sessions one citizen may open per minute (a burst of as many, then
    /// evenly spread).
    pub per_minute: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            per_citizen: 32,
            per_minute: 60,
        }
    }
}

/// Why a session was not opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The citizen opened too many sessions lately; retry after this long.
    #[error("too many service sessions opened; retry in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The store cannot be written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Why a session token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown (never issued, or ended by sign-out) or expired.
    #[error("the service session expired or is unknown; open the service again")]
    Expired,
    /// Issued for another service.
    #[error("this service session belongs to another service")]
    OtherService,
    /// The store cannot be read.
    #[error("the session store is unavailable: {0}")]
    Unavailable(String),
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

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Live {
    plugin: String,
    citizen: Arc<Citizen>,
    expires_at: u64,
    /// When it was opened, ns since the epoch (orders a citizen's
    /// sessions for eviction; 0 in sessions from before it was kept).
    #[serde(default)]
    opened_ns: u64,
    /// When this host last read it from the store (not stored).
    #[serde(skip, default = "Instant::now")]
    checked: Instant,
}

/// The live service sessions: in the store when there is one (shared by
/// every host), and those this host used lately in memory.
pub struct ServiceSessions {
    live: Mutex<HashMap<[u8; 32], Live>>,
    store: Option<Arc<dyn KvStore>>,
    limits: SessionLimits,
    opened: crate::protect::RateLimiter,
}

/// The store key of a session: `s/` and the hex hash of its token.
fn session_key(key: &[u8; 32]) -> String {
    format!("s/{}", hex::encode(key))
}

/// The prefix of a citizen's session index: `c/` and a hash of issuer and
/// subject (the store never holds the citizen's id in the clear).
fn citizen_prefix(citizen: &Citizen) -> String {
    let mut hash = Sha256::new();
    hash.update(citizen.issuer.as_bytes());
    hash.update([0]);
    hash.update(citizen.subject.as_bytes());
    format!("c/{}/", hex::encode(hash.finalize()))
}

fn cipher_for(token: &str) -> ChaCha20Poly1305 {
    let mut hash = Sha256::new();
    hash.update(b"islet service session key\0");
    hash.update(token.as_bytes());
    ChaCha20Poly1305::new(Key::from_slice(&hash.finalize()))
}

fn seal(token: &str, live: &Live) -> Option<Vec<u8>> {
    let plain = serde_json::to_vec(live).ok()?;
    let nonce: [u8; 12] = rand::random();
    let mut out = nonce.to_vec();
    out.extend(
        cipher_for(token)
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .ok()?,
    );
    Some(out)
}

fn open_sealed(token: &str, sealed: &[u8]) -> Option<Live> {
    let (nonce, body) = sealed.split_at_checked(12)?;
    let plain = cipher_for(token)
        .decrypt(Nonce::from_slice(nonce), body)
        .ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Nanoseconds since the epoch.
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Default for ServiceSessions {
    /// Sessions in memory only, under the default limits.
    fn default() -> Self {
        ServiceSessions {
            live: Mutex::default(),
            store: None,
            limits: SessionLimits::default(),
            opened: crate::protect::RateLimiter::default(),
        }
    }
}

impl ServiceSessions {
    /// Sessions kept in `store`, shared by every host that uses it.
    pub fn shared(store: Arc<dyn KvStore>) -> Self {
        ServiceSessions {
            store: Some(store),
            ..ServiceSessions::default()
        }
    }

    /// The same sessions under `limits`.
    pub fn with_limits(mut self, limits: SessionLimits) -> Self {
        self.limits = SessionLimits {
            per_citizen: limits.per_citizen.max(1),
            per_minute: limits.per_minute.max(1),
        };
        self
    }

    /// Whether `token` has the shape of a service session (not a JWT).
    pub fn is_session_token(token: &str) -> bool {
        token.starts_with(SESSION_PREFIX)
    }

    /// Open a session of `plugin` for `citizen`; it ends with the
    /// citizen's token at the latest. At [`SessionLimits::per_citizen`]
    /// the citizen's oldest session ends; past
    /// [`SessionLimits::per_minute`] the citizen must wait.
    pub fn open(&self, plugin: &str, citizen: Arc<Citizen>) -> Result<ServiceSession, OpenError> {
        let index_prefix = citizen_prefix(&citizen);
        self.opened
            .take("service-sessions", &index_prefix, self.limits.per_minute)
            .map_err(OpenError::RateLimited)?;
        let now = now_secs();
        let expires_at = (now + SESSION_TTL_SECS).min(citizen.expires_at);
        let secret: [u8; 32] = rand::random();
        let token = format!(
            "{SESSION_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let key = key_of(&token);
        let session = Live {
            plugin: plugin.to_string(),
            citizen,
            expires_at,
            opened_ns: now_ns(),
            checked: Instant::now(),
        };
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let ended = match &self.store {
            Some(store) => {
                let ended = self.end_oldest_stored(store.as_ref(), &index_prefix, now)?;
                let sealed = seal(&token, &session)
                    .ok_or_else(|| crate::store::StoreError("cannot seal a session".into()))?;
                let mut batch = Batch::new();
                for old in &ended {
                    batch = batch
                        .delete(format!("{index_prefix}{}", hex::encode(old)))
                        .delete(session_key(old));
                }
                let mut entry = expires_at.to_be_bytes().to_vec();
                entry.extend(session.opened_ns.to_be_bytes());
                batch = batch
                    .put(session_key(&key), sealed)
                    .put(format!("{index_prefix}{}", hex::encode(key)), entry);
                store
                    .commit(NAMESPACE, &batch)
                    .map_err(|e| crate::store::StoreError(e.to_string()))?;
                store.flush()?;
                ended
            }
            None => self.oldest_in_memory(&live, &session.citizen, now),
        };
        for old in &ended {
            live.remove(old);
        }
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| s.expires_at > now);
        }
        if live.len() >= MAX_SESSIONS
            && let Some(first) = live
                .iter()
                .min_by_key(|(_, s)| (s.checked, s.opened_ns))
                .map(|(k, _)| *k)
        {
            // With a store, only this host's cached copy goes.
            live.remove(&first);
        }
        live.insert(key, session);
        Ok(ServiceSession {
            token,
            plugin: plugin.to_string(),
            expires_at,
        })
    }

    /// The stored sessions of the citizen under `prefix` to end before one
    /// more opens: the expired ones, and the oldest beyond the cap.
    fn end_oldest_stored(
        &self,
        store: &dyn KvStore,
        prefix: &str,
        now: u64,
    ) -> Result<Vec<[u8; 32]>, crate::store::StoreError> {
        let scan_at_most = self.limits.per_citizen.saturating_mul(2).saturating_add(64);
        let rows = store.scan(NAMESPACE, prefix.as_bytes(), None, scan_at_most)?;
        let mut held: Vec<(u64, u64, [u8; 32])> = rows
            .iter()
            .filter_map(|(index, value)| {
                let hexed = index.get(prefix.len()..)?;
                let mut key = [0u8; 32];
                hex::decode_to_slice(hexed, &mut key).ok()?;
                let expires = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
                let opened = value
                    .get(8..16)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_be_bytes);
                Some((expires, opened, key))
            })
            .collect();
        let (expired, mut alive): (Vec<_>, Vec<_>) =
            held.drain(..).partition(|(expires, _, _)| *expires <= now);
        alive.sort_by_key(|(expires, opened, _)| (*opened, *expires));
        let over = (alive.len() + 1).saturating_sub(self.limits.per_citizen);
        Ok(expired
            .iter()
            .chain(alive.iter().take(over))
            .map(|(_, _, key)| *key)
            .collect())
    }

    /// Without a store: the citizen's expired sessions and the oldest
    /// beyond the cap.
    fn oldest_in_memory(
        &self,
        live: &HashMap<[u8; 32], Live>,
        citizen: &Citizen,
        now: u64,
    ) -> Vec<[u8; 32]> {
        let mut own: Vec<(u64, u64, [u8; 32])> = live
            .iter()
            .filter(|(_, s)| {
                s.citizen.issuer == citizen.issuer && s.citizen.subject == citizen.subject
            })
            .map(|(k, s)| (s.expires_at, s.opened_ns, *k))
            .collect();
        own.sort_by_key(|(expires, opened, _)| (*expires > now, *opened));
        let expired = own.iter().filter(|(expires, _, _)| *expires <= now).count();
        let over = (own.len() - expired + 1).saturating_sub(self.limits.per_citizen);
        own.iter()
            .take(expired + over)
            .map(|(_, _, k)| *k)
            .collect()
    }

    /// The citizen behind `token`, if it is a live session of `plugin`.
    pub fn resolve(&self, token: &str, plugin: &str) -> Result<Arc<Citizen>, SessionError> {
        let key = key_of(token);
        let cached = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .filter(|s| self.store.is_none() || s.checked.elapsed() < RECHECK)
            .cloned();
        let session = match cached {
            Some(session) => session,
            None => self.load(token, &key)?,
        };
        if session.expires_at <= now_secs() {
            self.live
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
            return Err(SessionError::Expired);
        }
        if session.plugin != plugin {
            return Err(SessionError::OtherService);
        }
        Ok(session.citizen.clone())
    }

    /// Read session `key` from the store (a miss is [`SessionError::Expired`])
    /// and keep it in memory.
    fn load(&self, token: &str, key: &[u8; 32]) -> Result<Live, SessionError> {
        let Some(store) = &self.store else {
            return Err(SessionError::Expired);
        };
        let sealed = match store.get(NAMESPACE, session_key(key).as_bytes()) {
            Ok(Some(sealed)) => sealed,
            Ok(None) => {
                self.live
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(key);
                return Err(SessionError::Expired);
            }
            Err(e) => return Err(SessionError::Unavailable(e.0)),
        };
        let session = open_sealed(token, &sealed).ok_or(SessionError::Expired)?;
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.len() >= MAX_SESSIONS {
            let now = now_secs();
            live.retain(|_, s| s.expires_at > now && s.checked.elapsed() < RECHECK);
        }
        live.insert(*key, session.clone());
        Ok(session)
    }

    /// End every session of the citizen `subject` from `issuer` (sign-out),
    /// on every host.
    pub fn close_all(&self, citizen: &Citizen) -> Result<usize, crate::store::StoreError> {
        let mut closed = {
            let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            let before = live.len();
            live.retain(|_, s| {
                !(s.citizen.subject == citizen.subject && s.citizen.issuer == citizen.issuer)
            });
            before - live.len()
        };
        let Some(store) = &self.store else {
            return Ok(closed);
        };
        let prefix = citizen_prefix(citizen);
        closed = 0;
        loop {
            let rows = store.scan(NAMESPACE, prefix.as_bytes(), None, 256)?;
            if rows.is_empty() {
                break;
            }
            let mut batch = Batch::new();
            for (index, _) in &rows {
                let session = String::from_utf8_lossy(&index[prefix.len()..]).into_owned();
                batch = batch.delete(index.clone()).delete(format!("s/{session}"));
            }
            store
                .commit(NAMESPACE, &batch)
                .map_err(|e| crate::store::StoreError(e.to_string()))?;
            closed += rows.len();
        }
        store.flush()?;
        Ok(closed)
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
        let s = sessions.open("water-bill", citizen("a", u64::MAX)).unwrap();
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
        let s = sessions.open("hello", citizen("a", now + 60)).unwrap();
        assert_eq!(s.expires_at, now + 60);
        let ended = sessions.open("hello", citizen("b", now)).unwrap();
        assert_eq!(
            sessions.resolve(&ended.token, "hello").err(),
            Some(SessionError::Expired)
        );
        let long = sessions.open("hello", citizen("c", u64::MAX)).unwrap();
        assert!(long.expires_at <= now_secs() + SESSION_TTL_SECS);
    }

    #[test]
    fn sign_out_ends_the_citizens_sessions() {
        let sessions = ServiceSessions::default();
        let a = sessions.open("hello", citizen("a", u64::MAX)).unwrap();
        let b = sessions.open("hello", citizen("b", u64::MAX)).unwrap();
        assert_eq!(sessions.close_all(&citizen("a", 0)).unwrap(), 1);
        assert!(sessions.resolve(&a.token, "hello").is_err());
        assert!(sessions.resolve(&b.token, "hello").is_ok());
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn a_citizen_over_the_cap_loses_their_own_oldest_and_is_rate_limited() {
        let sessions = ServiceSessions::default().with_limits(SessionLimits {
            per_citizen: 3,
            per_minute: 12,
        });
        let bob = sessions.open("hello", citizen("bob", u64::MAX)).unwrap();
        let alice: Vec<_> = (0..10)
            .map(|_| sessions.open("hello", citizen("alice", u64::MAX)).unwrap())
            .collect();
        assert!(sessions.resolve(&bob.token, "hello").is_ok());
        let alive: Vec<bool> = alice
            .iter()
            .map(|s| sessions.resolve(&s.token, "hello").is_ok())
            .collect();
        assert_eq!(alive, [vec![false; 7], vec![true; 3]].concat());
        assert_eq!(sessions.len(), 4);
        // Alice spent 10 of her 12; bob 1 of his.
        sessions.open("hello", citizen("alice", u64::MAX)).unwrap();
        sessions.open("hello", citizen("alice", u64::MAX)).unwrap();
        assert!(matches!(
            sessions.open("hello", citizen("alice", u64::MAX)),
            Err(OpenError::RateLimited(wait)) if wait > Duration::ZERO
        ));
        assert!(sessions.open("hello", citizen("bob", u64::MAX)).is_ok());
    }
}
