//! Merchant accounts (a department's account at the payment platform) and
//! which plugins may charge to them.

use super::keys::{self, NAMESPACE};
use super::ledger::{Ledger, LedgerError, encode};
use crate::manifest::is_valid_id;
use crate::store::Batch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A merchant account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Merchant {
    /// Id used by plugins in `create-order`: `[a-z][a-z0-9-]{1,39}`.
    pub id: String,
    /// The department that owns it.
    pub department: String,
    /// Display name, shown in the cashier.
    pub name: String,
    /// Plugins granted to charge to it.
    #[serde(default)]
    pub plugins: BTreeSet<String>,
    /// Created, seconds since the epoch.
    pub created_at: u64,
}

/// Why a merchant change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    /// A field is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The id is taken.
    #[error("merchant {0:?} already exists")]
    Exists(String),
    /// No such merchant.
    #[error("no merchant {0:?}")]
    NotFound(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Ledger {
    /// Every merchant account, by id.
    pub fn merchants(&self) -> Result<Vec<Merchant>, LedgerError> {
        self.store()
            .scan(NAMESPACE, b"m/", None, usize::MAX)?
            .iter()
            .map(|(_, v)| super::ledger::decode(v))
            .collect()
    }

    /// Merchant `id`.
    pub fn merchant(&self, id: &str) -> Result<Option<Merchant>, LedgerError> {
        self.read(&keys::merchant(id))
    }

    /// Open a merchant account.
    pub fn create_merchant(
        &self,
        id: &str,
        department: &str,
        name: &str,
        now: u64,
    ) -> Result<Merchant, MerchantError> {
        if !is_valid_id(id) {
            return Err(MerchantError::Invalid(
                "id: use 2 to 40 characters of a-z, 0-9 and -, starting with a letter".into(),
            ));
        }
        if !is_valid_id(department) {
            return Err(MerchantError::Invalid(
                "department: use 2 to 40 characters of a-z, 0-9 and -".into(),
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(MerchantError::Invalid("name: 1 to 80 characters".into()));
        }
        let merchant = Merchant {
            id: id.to_string(),
            department: department.to_string(),
            name: name.to_string(),
            plugins: BTreeSet::new(),
            created_at: now,
        };
        let key = keys::merchant(id);
        let batch = Batch::new()
            .expect(key.clone(), None)
            .put(key, encode(&merchant)?);
        match self.store().commit(NAMESPACE, &batch) {
            Ok(()) => {
                self.store().flush().map_err(LedgerError::from)?;
                Ok(merchant)
            }
            Err(crate::store::WriteError::Conflict) => Err(MerchantError::Exists(id.to_string())),
            Err(e) => Err(LedgerError::Store(e.to_string()).into()),
        }
    }

    /// Grant (`allow`) or revoke plugin `plugin` charging to merchant `id`;
    /// returns the merchant before and after.
    pub fn grant_merchant(
        &self,
        id: &str,
        plugin: &str,
        allow: bool,
    ) -> Result<(Merchant, Merchant), MerchantError> {
        if !is_valid_id(plugin) {
            return Err(MerchantError::Invalid(format!(
                "{plugin:?} is not a plugin id"
            )));
        }
        let key = keys::merchant(id);
        loop {
            let raw = self
                .store()
                .get(NAMESPACE, key.as_bytes())
                .map_err(LedgerError::from)?
                .ok_or_else(|| MerchantError::NotFound(id.to_string()))?;
            let before: Merchant = super::ledger::decode(&raw)?;
            let mut after = before.clone();
            if allow {
                after.plugins.insert(plugin.to_string());
            } else {
                after.plugins.remove(plugin);
            }
            let batch = Batch::new()
                .expect(key.clone(), Some(raw))
                .put(key.clone(), encode(&after)?);
            match self.store().commit(NAMESPACE, &batch) {
                Ok(()) => {
                    self.store().flush().map_err(LedgerError::from)?;
                    return Ok((before, after));
                }
                Err(crate::store::WriteError::Conflict) => continue,
                Err(e) => return Err(LedgerError::Store(e.to_string()).into()),
            }
        }
    }

    /// Whether `plugin` may charge to merchant `id`.
    pub fn may_charge(&self, plugin: &str, id: &str) -> Result<bool, LedgerError> {
        Ok(self
            .merchant(id)?
            .is_some_and(|m| m.plugins.contains(plugin)))
    }
}
