//! Which citizen stands behind a plugin's pairwise subject, so a plugin can
//! address a message to a subject it knows and to nothing else.

use super::NAMESPACE;
use super::ledger::{ConsentError, Consents};
use crate::store::Expect;

fn subject_key(plugin: &str, subject: &str) -> String {
    format!("ps/{plugin}/{subject}")
}

/// (plugin, subject) pairs a host remembers having written.
pub(super) const SEEN_SUBJECTS: usize = 100_000;

/// A (plugin, subject) pair looked up without copying its strings (hashes
/// like the tuple of `String`s).
#[derive(Hash, PartialEq, Eq)]
struct SeenRef<'a>(&'a str, &'a str);

impl quick_cache::Equivalent<(String, String)> for SeenRef<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

impl Consents {
    /// Remember that `subject` in `plugin` is `citizen` (written once).
    pub fn remember_subject(
        &self,
        plugin: &str,
        subject: &str,
        citizen: &str,
    ) -> Result<(), ConsentError> {
        self.remember_subject_with(plugin, subject, || citizen.to_string())
    }

    /// [`Consents::remember_subject`], the citizen's key made by `citizen`
    /// only when the pair is not known yet (the common case costs one
    /// cache look-up and no allocation).
    pub fn remember_subject_with(
        &self,
        plugin: &str,
        subject: &str,
        citizen: impl FnOnce() -> String,
    ) -> Result<(), ConsentError> {
        if self.seen_subjects.contains_key(&SeenRef(plugin, subject)) {
            return Ok(());
        }
        let key = subject_key(plugin, subject);
        if self.store.get(NAMESPACE, key.as_bytes())?.is_none() {
            self.store.write(
                NAMESPACE,
                key.as_bytes(),
                Expect::Anything,
                Some(citizen().as_bytes()),
                None,
            )?;
        }
        self.seen_subjects
            .insert((plugin.to_string(), subject.to_string()), ());
        Ok(())
    }

    /// The citizen behind `plugin`'s `subject`, if the plugin ever saw them.
    pub fn citizen_of(&self, plugin: &str, subject: &str) -> Result<Option<String>, ConsentError> {
        Ok(self
            .store
            .get(NAMESPACE, subject_key(plugin, subject).as_bytes())?
            .and_then(|v| String::from_utf8(v).ok()))
    }
}
