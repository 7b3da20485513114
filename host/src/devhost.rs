//! What only a development host does (`islet dev`, `islet serve --dev`,
//! `islet demo`): install a plugin version with everything its manifest
//! requests granted, released to everyone at once, and open its
//! department's merchant account when it takes payments. A production host
//! never runs this: its versions go through review
//! (publish → submit → approve → release), and its HTTP route for this
//! ([`crate::http`]'s `POST /admin/v1/dev/plugins`) refuses.

use crate::manifest::{Capability, Manifest};
use crate::payment::Payments;
use crate::registry::{Installed, Registry, RegistryError};

/// Why a development install failed.
#[derive(Debug, thiserror::Error)]
pub enum DevInstallError {
    /// Installing the version failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Opening or granting the merchant account failed.
    #[error("opening the development merchant account: {0}")]
    Merchant(String),
}

/// What a development install did.
pub struct DevInstalled {
    /// The version installed, granted and released.
    pub installed: Installed,
    /// The merchant account opened and granted to a paying plugin.
    pub merchant: Option<String>,
}

/// The merchant account a paying plugin gets on a development host:
/// `<department>-fees`, as `islet plugin new --template paying` expects.
pub fn dev_merchant_id(manifest: &Manifest) -> Option<String> {
    manifest
        .capabilities
        .contains(&Capability::Payment)
        .then(|| format!("{}-fees", manifest.department))
}

/// Open [`dev_merchant_id`] (once) and let the plugin charge to it.
pub fn open_dev_merchant(
    payments: &Payments,
    manifest: &Manifest,
) -> Result<Option<String>, DevInstallError> {
    let Some(merchant) = dev_merchant_id(manifest) else {
        return Ok(None);
    };
    let failed = |e: &dyn std::fmt::Display| DevInstallError::Merchant(e.to_string());
    let ledger = payments.ledger();
    if ledger
        .merchant(&merchant)
        .map_err(|e| failed(&e))?
        .is_none()
    {
        let name = format!("{} (development)", manifest.department);
        ledger
            .create_merchant(
                &merchant,
                &manifest.department,
                &name,
                crate::clock::now_secs(),
            )
            .map_err(|e| failed(&e))?;
    }
    ledger
        .grant_merchant(&merchant, &manifest.id, true)
        .map_err(|e| failed(&e))?;
    Ok(Some(merchant))
}

/// Upload `component` with `manifest_text`, approve everything it
/// requests, release it to everyone, and open the merchant account a
/// paying plugin needs. Development hosts only: the caller checks.
pub fn install(
    registry: &Registry,
    payments: &Payments,
    manifest_text: &str,
    component: &[u8],
    actor: &str,
) -> Result<DevInstalled, DevInstallError> {
    let manifest: Manifest = manifest_text.parse().map_err(RegistryError::from)?;
    let installed = registry.install(manifest_text, component, actor)?;
    let merchant = open_dev_merchant(payments, &manifest)?;
    Ok(DevInstalled {
        installed,
        merchant,
    })
}
