//! Pairwise pseudonymous subjects, like WeChat's `openid`: one citizen gets a
//! different, stable id in every plugin, and ids cannot be linked across
//! plugins without the host's secret.
//!
//! Deriving one is an HMAC-SHA256; the subjects of the (plugin, citizen)
//! pairs in steady use are kept in a bounded cache of the deriver, so a
//! deriver keyed with another secret (a host started with a replaced
//! secret file) never serves a subject of the old one.

use hmac::{Hmac, Mac};
use quick_cache::Equivalent;
use quick_cache::sync::Cache;
use sha2::Sha256;
use std::sync::Arc;

/// Subjects kept unless `[auth] pairwise-cache-entries` says otherwise.
pub const DEFAULT_PAIRWISE_CACHE_ENTRIES: usize = 65_536;

/// Plugin (or `department:<id>`), issuer, subject at the issuer.
type Pair = (String, String, String);

/// A [`Pair`] looked up without copying its strings. Hashes like the
/// tuple of `String`s (a `String` hashes as its `str`).
#[derive(Hash, PartialEq, Eq)]
struct PairRef<'a>(&'a str, &'a str, &'a str);

impl Equivalent<Pair> for PairRef<'_> {
    fn equivalent(&self, key: &Pair) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

/// Derives pairwise subjects from the host's secret.
#[derive(Clone)]
pub struct PairwiseSubjects {
    secret: Vec<u8>,
    cache: Option<Arc<Cache<Pair, Arc<str>>>>,
}

impl PairwiseSubjects {
    /// A deriver keyed with `secret` (kept in the data folder), keeping the
    /// default number of subjects.
    pub fn new(secret: Vec<u8>) -> Self {
        Self::with_cache(secret, DEFAULT_PAIRWISE_CACHE_ENTRIES)
    }

    /// A deriver keyed with `secret` keeping at most `entries` derived
    /// subjects (0: derive every time).
    pub fn with_cache(secret: Vec<u8>, entries: usize) -> Self {
        PairwiseSubjects {
            secret,
            cache: (entries > 0).then(|| Arc::new(Cache::new(entries))),
        }
    }

    /// The subject plugin `plugin_id` sees for the citizen `subject` of
    /// identity provider `issuer`: 32 lower-case hex characters.
    pub fn subject_for(&self, plugin_id: &str, issuer: &str, subject: &str) -> String {
        self.shared_subject_for(plugin_id, issuer, subject)
            .to_string()
    }

    /// [`PairwiseSubjects::subject_for`], shared with the cache.
    pub fn shared_subject_for(&self, plugin_id: &str, issuer: &str, subject: &str) -> Arc<str> {
        let Some(cache) = &self.cache else {
            return Arc::from(self.derive(plugin_id, issuer, subject));
        };
        if let Some(hit) = cache.get(&PairRef(plugin_id, issuer, subject)) {
            return hit;
        }
        let derived: Arc<str> = Arc::from(self.derive(plugin_id, issuer, subject));
        cache.insert(
            (plugin_id.into(), issuer.into(), subject.into()),
            derived.clone(),
        );
        derived
    }

    /// Subjects kept now.
    pub fn cached(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    fn derive(&self, plugin_id: &str, issuer: &str, subject: &str) -> String {
        // The key accepts any length, so new_from_slice cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return String::new();
        };
        for part in ["islet-pairwise-v1", plugin_id, issuer, subject] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_plugin_and_different_across_plugins() {
        for entries in [0, 16] {
            let p =
                PairwiseSubjects::with_cache(b"0123456789abcdef0123456789abcdef".to_vec(), entries);
            let a = p.subject_for("hello", "city", "alice");
            assert_eq!(a, p.subject_for("hello", "city", "alice"));
            assert_ne!(a, p.subject_for("community-report", "city", "alice"));
            assert_ne!(a, p.subject_for("hello", "city", "bob"));
            assert_eq!(a.len(), 32);
            let other_host = PairwiseSubjects::new(b"another-secret-another-secret-xx".to_vec());
            assert_ne!(a, other_host.subject_for("hello", "city", "alice"));
        }
    }

    #[test]
    fn cached_subjects_equal_derived_ones_and_parts_never_run_together() {
        let secret = b"0123456789abcdef0123456789abcdef".to_vec();
        let cached = PairwiseSubjects::new(secret.clone());
        let uncached = PairwiseSubjects::with_cache(secret, 0);
        // Same concatenation, different parts: different keys and subjects.
        let pairs = [("ab", "c", "d"), ("a", "bc", "d"), ("a", "b", "cd")];
        for _ in 0..2 {
            for (plugin, issuer, subject) in pairs {
                assert_eq!(
                    cached.subject_for(plugin, issuer, subject),
                    uncached.subject_for(plugin, issuer, subject)
                );
            }
        }
        assert_eq!(cached.cached(), 3);
        let subjects: std::collections::HashSet<String> = pairs
            .iter()
            .map(|(p, i, s)| cached.subject_for(p, i, s))
            .collect();
        assert_eq!(subjects.len(), 3);
    }

    #[test]
    fn a_new_secret_never_serves_the_old_subjects() {
        let old = PairwiseSubjects::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let before = old.subject_for("hello", "city", "alice");
        // A replaced secret file means a new deriver (with its own cache):
        // clones share the cache only with the same secret.
        let clone = old.clone();
        assert_eq!(clone.subject_for("hello", "city", "alice"), before);
        let new = PairwiseSubjects::new(b"replaced-secret-replaced-secret!".to_vec());
        let after = new.subject_for("hello", "city", "alice");
        assert_ne!(after, before);
        assert_eq!(new.subject_for("hello", "city", "alice"), after);
    }

    #[test]
    fn the_cache_is_bounded() {
        let p = PairwiseSubjects::with_cache(vec![7; 32], 100);
        for i in 0..5_000 {
            p.subject_for("hello", "city", &format!("citizen-{i}"));
        }
        assert!(p.cached() <= 110, "{} subjects kept", p.cached());
        assert_eq!(
            p.subject_for("hello", "city", "citizen-1"),
            PairwiseSubjects::with_cache(vec![7; 32], 0).subject_for("hello", "city", "citizen-1")
        );
    }
}
