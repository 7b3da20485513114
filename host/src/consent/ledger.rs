//! Consent records: one per citizen, plugin and data item or template.

use super::NAMESPACE;
use crate::manifest::{DataItem, TemplateKind};
use crate::store::{Batch, KvStore, StoreError, WriteError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most one-time consents one citizen can bank for one template.
pub const MAX_ONE_TIME: u32 = 100;

/// What a consent allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ConsentFor {
    /// Releasing a personal data item for the manifest's purpose.
    DataItem {
        /// The item.
        item: DataItem,
        /// The purpose the citizen saw.
        purpose: String,
    },
    /// Messages of a template.
    Template {
        /// The template id.
        template: String,
        /// Its title, as the citizen saw it.
        title: String,
        /// One-time or long-term.
        mode: TemplateKind,
        /// One-time consents not yet used (0 for long-term).
        remaining: u32,
    },
}

/// One consent of one citizen to one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// `cns_...`: what `DELETE /api/v1/consents/{id}` takes.
    pub id: String,
    /// The plugin.
    pub plugin: String,
    /// What it allows.
    #[serde(flatten)]
    pub what: ConsentFor,
    /// When it was (last) given, ms since the epoch.
    pub granted_ms: u64,
}

/// Why a consent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// No such consent of this citizen.
    #[error("no such consent")]
    NotFound,
    /// The citizen banked the most one-time consents allowed.
    #[error("at most {MAX_ONE_TIME} one-time consents can be kept for one template")]
    TooMany,
    /// The store failed.
    #[error("the consent ledger is unavailable: {0}")]
    Store(String),
}

impl From<StoreError> for ConsentError {
    fn from(e: StoreError) -> Self {
        ConsentError::Store(e.0)
    }
}

impl From<WriteError> for ConsentError {
    fn from(e: WriteError) -> Self {
        ConsentError::Store(e.to_string())
    }
}

/// The consent ledger.
pub struct Consents {
    pub(super) store: Arc<dyn KvStore>,
    /// (plugin, subject) pairs known to be written (a bounded cache).
    pub(super) seen_subjects: quick_cache::sync::Cache<(String, String), ()>,
}

/// Key of a data-item consent.
pub fn data_key(citizen: &str, plugin: &str, item: DataItem) -> String {
    format!("d/{citizen}/{plugin}/{item}")
}

/// Key of a template consent.
pub fn template_key(citizen: &str, plugin: &str, template: &str) -> String {
    format!("t/{citizen}/{plugin}/{template}")
}

fn id_key(id: &str) -> String {
    format!("id/{id}")
}

pub(super) use crate::clock::now_ms;

pub(super) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ConsentError> {
    serde_json::from_slice(bytes).map_err(|e| ConsentError::Store(format!("corrupt record: {e}")))
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ConsentError> {
    serde_json::to_vec(value).map_err(|e| ConsentError::Store(e.to_string()))
}

impl Consents {
    /// The ledger kept in `store`.
    pub fn new(store: Arc<dyn KvStore>) -> Self {
        Consents {
            store,
            seen_subjects: quick_cache::sync::Cache::new(super::subjects::SEEN_SUBJECTS),
        }
    }

    /// The store (notifications build their batches in the same namespace).
    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }

    /// Read a consent record by its key.
    pub fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Consent)>, ConsentError> {
        match self.store.get(NAMESPACE, key.as_bytes())? {
            Some(raw) => {
                let consent = decode(&raw)?;
                Ok(Some((raw, consent)))
            }
            None => Ok(None),
        }
    }

    /// Record `citizen`'s consent to `plugin` for `what`. A data item or a
    /// long-term template consent is given once (repeating refreshes it);
    /// one-time template consents accumulate.
    pub fn grant(
        &self,
        citizen: &str,
        plugin: &str,
        what: ConsentFor,
    ) -> Result<Consent, ConsentError> {
        let key = match &what {
            ConsentFor::DataItem { item, .. } => data_key(citizen, plugin, *item),
            ConsentFor::Template { template, .. } => template_key(citizen, plugin, template),
        };
        loop {
            let existing = self.read(&key)?;
            let id = existing
                .as_ref()
                .map(|(_, c)| c.id.clone())
                .unwrap_or_else(|| format!("cns_{}", hex::encode(rand::random::<[u8; 10]>())));
            let what = match (&what, existing.as_ref().map(|(_, c)| &c.what)) {
                (
                    ConsentFor::Template {
                        template,
                        title,
                        mode: TemplateKind::OneTime,
                        ..
                    },
                    Some(ConsentFor::Template {
                        mode: TemplateKind::OneTime,
                        remaining,
                        ..
                    }),
                ) => {
                    if *remaining >= MAX_ONE_TIME {
                        return Err(ConsentError::TooMany);
                    }
                    ConsentFor::Template {
                        template: template.clone(),
                        title: title.clone(),
                        mode: TemplateKind::OneTime,
                        remaining: remaining + 1,
                    }
                }
                (
                    ConsentFor::Template {
                        template,
                        title,
                        mode,
                        ..
                    },
                    _,
                ) => ConsentFor::Template {
                    template: template.clone(),
                    title: title.clone(),
                    mode: *mode,
                    remaining: u32::from(*mode == TemplateKind::OneTime),
                },
                (data, _) => data.clone(),
            };
            let consent = Consent {
                id: id.clone(),
                plugin: plugin.to_string(),
                what,
                granted_ms: now_ms(),
            };
            let batch = Batch::new()
                .expect(key.clone(), existing.map(|(raw, _)| raw))
                .put(key.clone(), encode(&consent)?)
                .put(id_key(&id), key.clone());
            match self.store.commit(NAMESPACE, &batch) {
                Ok(()) => {
                    self.store.flush()?;
                    return Ok(consent);
                }
                Err(WriteError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Withdraw `citizen`'s consent `id`; effective for the very next call.
    pub fn revoke(&self, citizen: &str, id: &str) -> Result<Consent, ConsentError> {
        let key = match self.store.get(NAMESPACE, id_key(id).as_bytes())? {
            Some(k) => String::from_utf8(k).map_err(|_| ConsentError::NotFound)?,
            None => return Err(ConsentError::NotFound),
        };
        let mine =
            key.starts_with(&format!("d/{citizen}/")) || key.starts_with(&format!("t/{citizen}/"));
        if !mine {
            return Err(ConsentError::NotFound);
        }
        let (_, consent) = self.read(&key)?.ok_or(ConsentError::NotFound)?;
        let batch = Batch::new().delete(key).delete(id_key(id));
        self.store.commit(NAMESPACE, &batch)?;
        self.store.flush()?;
        Ok(consent)
    }

    /// Every consent of `citizen`.
    pub fn list(&self, citizen: &str) -> Result<Vec<Consent>, ConsentError> {
        let mut out = Vec::new();
        for prefix in [format!("d/{citizen}/"), format!("t/{citizen}/")] {
            for (_, value) in self
                .store
                .scan(NAMESPACE, prefix.as_bytes(), None, usize::MAX)?
            {
                out.push(decode(&value)?);
            }
        }
        out.sort_by_key(|c: &Consent| std::cmp::Reverse(c.granted_ms));
        Ok(out)
    }

    /// `citizen`'s consent to release `item` to `plugin`, if any.
    pub fn data_consent(
        &self,
        citizen: &str,
        plugin: &str,
        item: DataItem,
    ) -> Result<Option<Consent>, ConsentError> {
        Ok(self.read(&data_key(citizen, plugin, item))?.map(|(_, c)| c))
    }
}
