//! Tokens already verified, remembered so the next request bearing the
//! same token skips the signature check (an RS256 verification costs tens
//! of microseconds, as much as the guest call it admits).
//!
//! An entry is keyed by the SHA-256 of the token, never the token itself;
//! a token differing in any byte hashes elsewhere and is verified in full.
//! The cache is bounded ([`quick_cache`]'s S3-FIFO: a flood of one-off
//! tokens cannot push out the tokens in steady use), and an entry
//!
//! - is used only before the token's `exp` (at `exp` the token is verified
//!   in full again, which applies the leeway and refuses it after);
//! - is made only for a token whose `nbf` (if any) has passed;
//! - belongs to one generation of the verifier's keys: when the identity
//!   provider's key set changes (a key added, replaced or retired), every
//!   entry made before is dropped and its token verified again.
//!
//! Configured keys (files) are read once when the host starts, so a change
//! of them means a new verifier and an empty cache. Service sessions are
//! not JWTs and never come here: they are resolved against the session
//! store on every call, so a sign-out still ends them as before.

use super::Citizen;
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Tokens remembered unless `[auth] token-cache-entries` says otherwise.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 10_000;

/// The cache key of a token: its SHA-256.
pub type TokenKey = [u8; 32];

#[derive(Clone)]
struct Entry {
    citizen: Arc<Citizen>,
    generation: u64,
}

/// Verified tokens by hash, bounded, each valid for one key generation.
pub struct TokenCache {
    entries: Option<Cache<TokenKey, Entry>>,
    /// The key generation the entries were made under.
    generation: AtomicU64,
}

impl TokenCache {
    /// A cache of at most `entries` tokens (0: nothing is remembered).
    pub fn new(entries: usize) -> Self {
        TokenCache {
            entries: (entries > 0).then(|| Cache::new(entries)),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether tokens are remembered at all.
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The key of `token`.
    pub fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The caller `key`'s token was verified as, if it was under key
    /// `generation` and the token has not expired at `now` (seconds).
    pub fn get(&self, key: &TokenKey, generation: u64, now: u64) -> Option<Arc<Citizen>> {
        let entries = self.entries.as_ref()?;
        self.observe(entries, generation);
        let entry = entries.get(key)?;
        if entry.generation != generation || now >= entry.citizen.expires_at {
            entries.remove(key);
            return None;
        }
        Some(entry.citizen)
    }

    /// Remember that `key`'s token, valid from `not_before`, names
    /// `citizen` under key `generation`. Tokens already expired (accepted
    /// within the leeway) or not yet valid at `now` are not remembered.
    pub fn insert(
        &self,
        key: TokenKey,
        generation: u64,
        citizen: &Arc<Citizen>,
        not_before: Option<u64>,
        now: u64,
    ) {
        let Some(entries) = &self.entries else {
            return;
        };
        if now >= citizen.expires_at || not_before.is_some_and(|nbf| nbf > now) {
            return;
        }
        self.observe(entries, generation);
        entries.insert(
            key,
            Entry {
                citizen: citizen.clone(),
                generation,
            },
        );
    }

    /// Tokens remembered now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every entry when the keys moved to another generation.
    fn observe(&self, entries: &Cache<TokenKey, Entry>, generation: u64) {
        let seen = self.generation.load(Ordering::Acquire);
        if seen != generation
            && self
                .generation
                .compare_exchange(seen, generation, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citizen(subject: &str, expires_at: u64) -> Arc<Citizen> {
        Arc::new(Citizen {
            subject: subject.into(),
            issuer: "city".into(),
            roles: Vec::new(),
            assurance_level: 3,
            personal_data: Default::default(),
            expires_at,
        })
    }

    #[test]
    fn entries_end_at_exp_and_never_start_before_nbf() {
        let cache = TokenCache::new(16);
        let key = TokenCache::key("a.b.c");
        cache.insert(key, 0, &citizen("alice", 1_000), None, 900);
        assert!(cache.get(&key, 0, 999).is_some());
        assert!(cache.get(&key, 0, 1_000).is_none(), "not at exp");
        assert!(cache.get(&key, 0, 999).is_none(), "and gone after");
        // Accepted within the leeway: verified each time, never remembered.
        cache.insert(key, 0, &citizen("alice", 1_000), None, 1_010);
        assert!(cache.is_empty());
        // Not valid yet (accepted within the leeway): not remembered.
        cache.insert(key, 0, &citizen("alice", 2_000), Some(1_020), 1_010);
        assert!(cache.is_empty());
        cache.insert(key, 0, &citizen("alice", 2_000), Some(1_010), 1_010);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_new_key_generation_drops_every_entry() {
        let cache = TokenCache::new(16);
        let (a, b) = (TokenCache::key("a"), TokenCache::key("b"));
        cache.insert(a, 1, &citizen("alice", u64::MAX), None, 0);
        cache.insert(b, 1, &citizen("bob", u64::MAX), None, 0);
        assert!(cache.get(&a, 1, 0).is_some());
        assert!(cache.get(&a, 2, 0).is_none());
        assert!(cache.is_empty(), "all of generation 1 dropped");
        // An entry of an older generation is never served.
        cache.insert(a, 1, &citizen("alice", u64::MAX), None, 0);
        assert!(cache.get(&a, 2, 0).is_none());
    }

    #[test]
    fn the_cache_is_bounded_and_can_be_off() {
        let cache = TokenCache::new(100);
        for i in 0..10_000u32 {
            let key = TokenCache::key(&format!("token-{i}"));
            cache.insert(key, 0, &citizen("alice", u64::MAX), None, 0);
        }
        assert!(cache.len() <= 110, "{} entries", cache.len());
        let off = TokenCache::new(0);
        let key = TokenCache::key("t");
        off.insert(key, 0, &citizen("alice", u64::MAX), None, 0);
        assert!(!off.enabled() && off.get(&key, 0, 0).is_none());
    }
}
