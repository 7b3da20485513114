//! Which citizen stands behind a plugin's pairwise subject, so a plugin can
//! address a message to a subject it knows and to nothing else.

use super::NAMESPACE;
use super::ledger::{ConsentError, Consents};
use crate::store::Expect;

fn subject_key(plugin: &str, subject: &str) -> String {
    format!("ps/{plugin}/{subject}")
}

impl Consents {
    /// Remember that `subject` in `plugin` is `citizen` (written once).
    pub fn remember_subject(
        &self,
        plugin: &str,
        subject: &str,
        citizen: &str,
    ) -> Result<(), ConsentError> {
        let pair = (plugin.to_string(), subject.to_string());
        {
            let seen = self.seen_subjects.lock().unwrap_or_else(|e| e.into_inner());
            if seen.contains(&pair) {
                return Ok(());
            }
        }
        let key = subject_key(plugin, subject);
        if self.store.get(NAMESPACE, key.as_bytes())?.is_none() {
            self.store.write(
                NAMESPACE,
                key.as_bytes(),
                Expect::Anything,
                Some(citizen.as_bytes()),
                None,
            )?;
        }
        let mut seen = self.seen_subjects.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert(pair);
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
