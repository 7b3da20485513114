//! Pairwise pseudonymous subjects, like WeChat's `openid`: one citizen gets a
//! different, stable id in every plugin, and ids cannot be linked across
//! plugins without the host's secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Derives pairwise subjects from the host's secret.
#[derive(Clone)]
pub struct PairwiseSubjects {
    secret: Vec<u8>,
}

impl PairwiseSubjects {
    /// A deriver keyed with `secret` (kept in the data folder).
    pub fn new(secret: Vec<u8>) -> Self {
        PairwiseSubjects { secret }
    }

    /// The subject plugin `plugin_id` sees for the citizen `subject` of
    /// identity provider `issuer`: 32 lower-case hex characters.
    pub fn subject_for(&self, plugin_id: &str, issuer: &str, subject: &str) -> String {
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
        let p = PairwiseSubjects::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let a = p.subject_for("hello", "city", "alice");
        assert_eq!(a, p.subject_for("hello", "city", "alice"));
        assert_ne!(a, p.subject_for("community-report", "city", "alice"));
        assert_ne!(a, p.subject_for("hello", "city", "bob"));
        assert_eq!(a.len(), 32);
        let other_host = PairwiseSubjects::new(b"another-secret-another-secret-xx".to_vec());
        assert_ne!(a, other_host.subject_for("hello", "city", "alice"));
    }
}
