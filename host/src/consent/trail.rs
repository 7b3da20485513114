//! The data-access trail: one entry per released personal data item, kept
//! for the citizen (`GET /api/v1/me/data-access`) and per plugin (admins).

use super::NAMESPACE;
use super::ledger::{ConsentError, Consents, decode, encode};
use crate::manifest::DataItem;
use crate::store::{Batch, page};
use serde::{Deserialize, Serialize};

/// One release of one personal data item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// The plugin that received it.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// The item.
    pub item: DataItem,
    /// The purpose declared in the manifest.
    pub purpose: String,
    /// The consent that allowed it.
    pub consent_id: String,
    /// The request during which it was released.
    pub request_id: String,
    /// The citizen as the plugin knows them (pairwise subject); shown to
    /// admins instead of the citizen's identity.
    pub subject: String,
}

fn entry_suffix(at_ms: u64) -> String {
    format!(
        "{:016x}-{}",
        u64::MAX - at_ms,
        hex::encode(rand::random::<[u8; 4]>())
    )
}

impl Consents {
    /// Append a release to `citizen`'s and the plugin's trails, durably.
    pub fn record_access(&self, citizen: &str, record: &AccessRecord) -> Result<(), ConsentError> {
        let suffix = entry_suffix(record.at_ms);
        let bytes = encode(record)?;
        let batch = Batch::new()
            .put(format!("a/{citizen}/{suffix}"), bytes.clone())
            .put(format!("pa/{}/{suffix}", record.plugin), bytes);
        self.store.commit(NAMESPACE, &batch)?;
        self.store.flush()?;
        Ok(())
    }

    /// A page of `citizen`'s trail, newest first, and the next cursor.
    pub fn trail_of_citizen(
        &self,
        citizen: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AccessRecord>, Option<String>), ConsentError> {
        self.page(&format!("a/{citizen}/"), cursor, limit)
    }

    /// A page of `plugin`'s trail, newest first, and the next cursor.
    pub fn trail_of_plugin(
        &self,
        plugin: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AccessRecord>, Option<String>), ConsentError> {
        self.page(&format!("pa/{plugin}/"), cursor, limit)
    }

    fn page(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AccessRecord>, Option<String>), ConsentError> {
        let (rows, next) = page(self.store.as_ref(), NAMESPACE, prefix, cursor, limit)?;
        let out = rows
            .iter()
            .map(|(_, value)| decode(value))
            .collect::<Result<_, _>>()?;
        Ok((out, next))
    }
}
